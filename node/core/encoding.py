"""The one canonical encoding of Calpe: deterministic CBOR (RFC 8949 §4.2.1).

Every structure that is hashed, signed, stored or sent is encoded here. Decoding is strict: bytes
are accepted only if re-encoding the decoded value gives back exactly the same bytes, so each value
has exactly one encoding and a hash commits to a value, not to one of its spellings. Only a small,
closed set of types is allowed (no floats, no tags, no undefined, no indefinite lengths).

Encoded structures are CBOR arrays led by a small integer version, so the format can evolve.
"""

from __future__ import annotations

from typing import Any

import cbor2

from node.core.errors import EncodingError

ENCODING_VERSION = 1
# Hard ceiling for any single decoded item, before any schema check.
MAX_ENCODED_BYTES = 4 * 1024 * 1024

_ALLOWED_ATOMS = (int, bytes, str, bool, type(None))


def encode(value: Any) -> bytes:
    """Deterministic CBOR of ``value``: ints, bytes, str, bool, None, lists, str-keyed dicts.

    Callers pass typed records' ``to_wire()`` output, so the types are not walked again here
    (this is the ingest hot path); :func:`decode` enforces them on everything that comes in.
    """
    return cbor2.dumps(value, canonical=True)


def encode_checked(value: Any) -> bytes:
    """:func:`encode` for values of unknown origin: refuses types outside the closed set."""
    _check_types(value, depth=0)
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes, *, max_bytes: int = MAX_ENCODED_BYTES) -> Any:
    """Decode canonical CBOR; raise :class:`EncodingError` for anything else."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > max_bytes:
        raise EncodingError(f"encoding of {len(data)} bytes exceeds the limit of {max_bytes}")
    try:
        value = cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several types (CBORDecodeError, ValueError, …)
        raise EncodingError(f"not valid CBOR: {exc}") from exc
    _check_types(value, depth=0)
    if cbor2.dumps(value, canonical=True) != data:
        raise EncodingError("CBOR is not in canonical (deterministic) form")
    return value


def _check_types(value: Any, depth: int) -> None:
    if depth > 16:
        raise EncodingError("structure nested too deeply")
    if isinstance(value, _ALLOWED_ATOMS):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_types(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EncodingError("map keys must be text strings")
            _check_types(item, depth + 1)
        return
    raise EncodingError(f"type {type(value).__name__} is not allowed in Calpe encodings")


# --- small field readers used by every decoder: they turn shape errors into EncodingError ---


def as_list(value: Any, what: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise EncodingError(f"{what}: expected an array")
    if length is not None and len(value) != length:
        raise EncodingError(f"{what}: expected {length} fields, got {len(value)}")
    return value


def as_uint(value: Any, what: str, *, maximum: int = 2**64 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise EncodingError(f"{what}: expected an unsigned integer <= {maximum}")
    return value


def as_bytes(value: Any, what: str, length: int) -> bytes:
    if not isinstance(value, bytes) or len(value) != length:
        raise EncodingError(f"{what}: expected {length} bytes")
    return value


def as_text(value: Any, what: str, max_len: int) -> str:
    if not isinstance(value, str) or len(value) > max_len:
        raise EncodingError(f"{what}: expected text of at most {max_len} characters")
    return value


def expect_version(value: Any, what: str) -> None:
    if as_uint(value, f"{what} version") != ENCODING_VERSION:
        raise EncodingError(f"{what}: unsupported encoding version {value}")
