"""Structure-aware mutations of valid encodings, driven by a ``random.Random``.

Two levels: raw bytes (bit flips, truncation, insertion, deletion, duplication of a slice, an
interesting byte) and the decoded structure (a CBOR or JSON tree: swap a node's type, drop or
duplicate an array element, drop or add a map member, push an integer to a boundary, resize a byte
string, descend into byte strings that are themselves CBOR — a vote's checkpoint, a sync response's
blocks). The hypothesis test passes ``st.randoms()``, so its failures shrink; the long run passes
a seeded ``random.Random``.
"""

from __future__ import annotations

import random
from typing import Any

import cbor2

_INTERESTING_BYTES = (0x00, 0x01, 0x17, 0x18, 0x1F, 0x3F, 0x5F, 0x7F, 0x80, 0x9F, 0xBF, 0xFF)
_INTERESTING_INTS = (0, 1, 23, 24, 255, 256, 2**16, 2**32 - 1, 2**32, 2**63, 2**64 - 1, 2**64, -1)


def mutate_bytes(data: bytes, rng: random.Random, rounds: int = 0) -> bytes:
    """``data`` after 1 to 4 byte-level edits (``rounds`` fixes the count)."""
    out = bytearray(data)
    for _ in range(rounds or rng.randint(1, 4)):
        _byte_edit(out, rng)
    return bytes(out)


def _byte_edit(out: bytearray, rng: random.Random) -> None:
    op = rng.randrange(7)
    pos = rng.randrange(len(out) + 1)
    if op == 0 and out:
        out[pos % len(out)] ^= 1 << rng.randrange(8)
    elif op == 1:
        del out[pos:]
    elif op == 2:
        out[pos:pos] = rng.randbytes(rng.randint(1, 8))
    elif op == 3:
        del out[pos : pos + rng.randint(1, 8)]
    elif op == 4 and out:
        end = min(len(out), pos + rng.randint(1, 16))
        out[pos:pos] = out[pos:end]
    elif op == 5 and out:
        out[pos % len(out)] = rng.choice(_INTERESTING_BYTES)
    elif op == 6:
        out[pos:pos] = bytes([rng.choice(_INTERESTING_BYTES)])


def mutate_cbor(data: bytes, rng: random.Random) -> bytes:
    """Decode ``data`` as CBOR, mutate the tree, re-encode canonically; bytes-level if not CBOR."""
    try:
        tree = cbor2.loads(data)
    except Exception:
        return mutate_bytes(data, rng)
    mutated = mutate_tree(tree, rng, binary=True)
    try:
        return bytes(cbor2.dumps(mutated, canonical=True))
    except Exception:  # a tree cbor2 cannot encode (a bytes map key, …): fall back
        return mutate_bytes(data, rng)


def mutate_json(doc: Any, rng: random.Random) -> Any:
    """A mutated copy of a JSON document (only JSON types appear in it)."""
    return mutate_tree(doc, rng, binary=False)


def mutate_tree(value: Any, rng: random.Random, *, binary: bool) -> Any:
    """A copy of ``value`` with one node replaced, found by a random walk from the root."""
    if isinstance(value, list) and value and rng.random() < 0.7:
        i = rng.randrange(len(value))
        return _edit_list(value, i, rng, binary)
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        return _edit_dict(value, key, rng, binary)
    return _replace(value, rng, binary)


def _edit_list(value: list[Any], i: int, rng: random.Random, binary: bool) -> list[Any]:
    copy = list(value)
    roll = rng.random()
    if roll < 0.1:
        del copy[i]
    elif roll < 0.15:
        copy.insert(i, copy[i])
    else:
        copy[i] = mutate_tree(copy[i], rng, binary=binary)
    return copy


def _edit_dict(value: dict[Any, Any], key: Any, rng: random.Random, binary: bool) -> dict[Any, Any]:
    copy = dict(value)
    roll = rng.random()
    if roll < 0.1:
        del copy[key]
    elif roll < 0.15:
        copy[_random_key(rng)] = copy[key]
    else:
        copy[key] = mutate_tree(copy[key], rng, binary=binary)
    return copy


def _random_key(rng: random.Random) -> str:
    return rng.choice(["", "x", "format", "head", "0x" + "00" * 20, "é" * 40])


def _replace(value: Any, rng: random.Random, binary: bool) -> Any:
    """Change a leaf in kind (type swap) or in value (boundary, resize, nested CBOR)."""
    if rng.random() < 0.35:
        return _other_type(rng, binary)
    if isinstance(value, bool) or value is None:
        return _other_type(rng, binary)
    if isinstance(value, int):
        return rng.choice([*_INTERESTING_INTS, value + 1, value - 1, -value])
    if isinstance(value, bytes):
        if rng.random() < 0.5:
            return mutate_cbor(value, rng)
        return mutate_bytes(value, rng)
    if isinstance(value, str):
        return _mutate_text(value, rng)
    if isinstance(value, list):
        return [*value, _other_type(rng, binary)] if rng.random() < 0.5 else []
    if isinstance(value, dict):
        return {} if rng.random() < 0.5 else {**value, _random_key(rng): None}
    return _other_type(rng, binary)


def _mutate_text(value: str, rng: random.Random) -> str:
    roll = rng.randrange(5)
    if roll == 0:
        return value.upper()
    if roll == 1:
        return value[: rng.randrange(len(value) + 1)]
    if roll == 2:
        return value + rng.choice(["0", "g", "\x00", "é", "00" * 33])
    if roll == 3 and value:
        i = rng.randrange(len(value))
        return value[:i] + chr(rng.randrange(32, 0x2FF)) + value[i + 1 :]
    return value * 2


def _other_type(rng: random.Random, binary: bool) -> Any:
    choices: list[Any] = [
        None,
        True,
        False,
        rng.choice(_INTERESTING_INTS),
        1.5,
        "",
        "a" * rng.randint(1, 70),
        [],
        [0, 1],
        {},
        {"a": 1},
    ]
    if binary:
        choices += [b"", rng.randbytes(rng.choice((1, 20, 31, 32, 33, 64, 65)))]
    return rng.choice(choices)


def mutate_input(seed: Any, rng: random.Random, *, json_doc: bool) -> Any:
    """One mutated input derived from ``seed``: structure edits, byte edits, or both."""
    if json_doc:
        doc = seed
        for _ in range(rng.randint(1, 3)):
            doc = mutate_json(doc, rng)
        return doc
    roll = rng.random()
    if roll < 0.45:
        return mutate_cbor(seed, rng)
    if roll < 0.9:
        return mutate_bytes(seed, rng)
    return mutate_bytes(mutate_cbor(seed, rng), rng, rounds=1)
