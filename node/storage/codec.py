"""Storage-only encodings: values the database holds that never travel on the wire.

Status records are stored without their issuer and credential id (both are in the key), which saves
~45 bytes per credential; :func:`decode_status` puts them back.
"""

from __future__ import annotations

from typing import Any

import cbor2

from node.core import merkle_log
from node.core.encoding import as_bytes, as_list, as_text, as_uint, decode, encode, expect_version
from node.core.errors import EncodingError
from node.core.ledger import AgencyHead
from node.core.status import Status, StatusRecord


def encode_head(head: AgencyHead) -> bytes:
    return encode(
        [
            1,
            head.agency_id,
            head.height,
            head.block_hash,
            head.timestamp_ms,
            head.state_root,
            head.log.to_bytes(),
            head.ed25519_public,
            head.secp256k1_address,
            head.frozen,
        ]
    )


def decode_head(data: bytes) -> AgencyHead:
    items = as_list(decode(data), "agency head", 10)
    expect_version(items[0], "agency head")
    frozen = items[9]
    if not isinstance(frozen, bool):
        raise EncodingError("agency head: frozen must be a boolean")
    log_bytes = items[6]
    if not isinstance(log_bytes, bytes):
        raise EncodingError("agency head: log must be bytes")
    return AgencyHead(
        agency_id=as_text(items[1], "agency_id", 32),
        height=as_uint(items[2], "height"),
        block_hash=as_bytes(items[3], "block_hash", 32),
        timestamp_ms=as_uint(items[4], "timestamp_ms"),
        state_root=as_bytes(items[5], "state_root", 32),
        log=merkle_log.CompactRange.from_bytes(log_bytes),
        ed25519_public=as_bytes(items[7], "ed25519_public", 32),
        secp256k1_address=as_bytes(items[8], "secp256k1_address", 20),
        frozen=frozen,
    )


def encode_status(record: StatusRecord) -> bytes:
    # The fields are typed by StatusRecord already: skip encode()'s generic type walk (hot path).
    return cbor2.dumps(
        [
            record.schema_id,
            int(record.status),
            record.valid_from,
            record.valid_until,
            record.issued_height,
            record.updated_height,
            record.reason,
        ],
        canonical=True,
    )


def decode_status(issuer: str, credential_id: bytes, data: bytes) -> StatusRecord:
    items: list[Any] = as_list(decode(data), "stored status record", 7)
    try:
        status = Status(as_uint(items[1], "status", maximum=255))
    except ValueError:
        raise EncodingError(f"stored status record: unknown status {items[1]}") from None
    until = items[3]
    return StatusRecord(
        issuer=issuer,
        credential_id=credential_id,
        schema_id=as_bytes(items[0], "schema_id", 32),
        status=status,
        valid_from=as_uint(items[2], "valid_from"),
        valid_until=None if until is None else as_uint(until, "valid_until"),
        issued_height=as_uint(items[4], "issued_height"),
        updated_height=as_uint(items[5], "updated_height"),
        reason=as_uint(items[6], "reason", maximum=255),
    )


def encode_positions(positions: list[bytes]) -> bytes:
    """A journal value: each SMT position prefixed by its length (positions are <= 34 bytes)."""
    lengths = _LENGTHS
    return b"".join([lengths[len(p)] + p for p in positions])


_LENGTHS = [bytes((n,)) for n in range(256)]


def decode_positions(data: bytes, prefix: bytes = b"", suffix: bytes = b"") -> list[bytes]:
    """The positions of a journal value, each between ``prefix`` and ``suffix`` (pruning turns
    them straight into undo keys: one pass, no list of bare positions)."""
    keys = []
    size, offset = len(data), 0
    while offset < size:
        end = offset + 1 + data[offset]
        keys.append(prefix + data[offset + 1 : end] + suffix)
        offset = end
    if offset != size:
        raise EncodingError("SMT journal entry is truncated")
    return keys


def encode_receipt(agency_id: str, height: int, block_hash: bytes, index: int) -> bytes:
    return encode([agency_id, height, block_hash, index])


def decode_receipt(data: bytes) -> tuple[str, int, bytes, int]:
    agency, height, block_hash, index = as_list(decode(data), "request receipt", 4)
    return (
        as_text(agency, "agency_id", 32),
        as_uint(height, "height"),
        as_bytes(block_hash, "block_hash", 32),
        as_uint(index, "event index"),
    )
