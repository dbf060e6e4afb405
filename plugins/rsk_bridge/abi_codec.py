"""Minimal ABI encoding for the checkpoint contract (flat argument types only, no tuples)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode, encode

from node.core.eip712 import keccak256

_BUILTIN_ERRORS: dict[bytes, tuple[str, list[str]]] = {
    keccak256(b"Error(string)")[:4]: ("Error", ["string"]),
    keccak256(b"Panic(uint256)")[:4]: ("Panic", ["uint256"]),
}

Abi = Sequence[dict[str, Any]]


def _types(params: Sequence[dict[str, Any]]) -> list[str]:
    return [str(p["type"]) for p in params]


def _entry(abi: Abi, kind: str, name: str | None = None) -> dict[str, Any]:
    for item in abi:
        if item["type"] == kind and (name is None or item.get("name") == name):
            return item
    raise KeyError(f"the ABI has no {kind} {name or ''}".rstrip())


def selector(name: str, types: Sequence[str]) -> bytes:
    return keccak256(f"{name}({','.join(types)})".encode())[:4]


def encode_call(abi: Abi, name: str, args: Sequence[Any]) -> bytes:
    types = _types(_entry(abi, "function", name)["inputs"])
    return selector(name, types) + encode(types, list(args))


def encode_constructor(abi: Abi, args: Sequence[Any]) -> bytes:
    return encode(_types(_entry(abi, "constructor")["inputs"]), list(args))


def decode_result(abi: Abi, name: str, data: bytes) -> tuple[Any, ...]:
    return tuple(decode(_types(_entry(abi, "function", name)["outputs"]), data))


def decode_error(abi: Abi, data: bytes) -> tuple[str, tuple[Any, ...]]:
    """Name and arguments of revert data: a custom error of ``abi``, ``Error(string)`` or
    ``Panic(uint256)``; ``("unknown", (data hex,))`` otherwise."""
    known = dict(_BUILTIN_ERRORS)
    for item in abi:
        if item["type"] == "error":
            types = _types(item["inputs"])
            known[selector(item["name"], types)] = (item["name"], types)
    match = known.get(data[:4])
    if match is None:
        return "unknown", ("0x" + data.hex(),)
    name, types = match
    try:
        return name, tuple(decode(types, data[4:]))
    except Exception:  # malformed arguments: still report the error's name
        return name, ()
