"""A credential's status record: the value the issuer's state tree commits to.

The sparse Merkle tree maps ``credential_id -> sha256(encode(record))``. Schemas an agency published
live in the same tree under a domain-separated key, so the state root covers everything an agency's
log has decided.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from node.core.encoding import as_bytes, as_list, as_text, as_uint, decode, encode, expect_version
from node.core.errors import EncodingError
from node.core.events import RevocationReason, SuspensionReason
from node.core.hashing import sha256

SCHEMA_KEY_DOMAIN = b"calpe/schema-key/v1\x00"


class Status(IntEnum):
    ACTIVE = 1
    SUSPENDED = 2
    REVOKED = 3


@dataclass(frozen=True, slots=True)
class StatusRecord:
    issuer: str
    credential_id: bytes
    schema_id: bytes
    status: Status
    valid_from: int
    valid_until: int | None
    issued_height: int
    updated_height: int
    reason: int = 0

    def to_wire(self) -> list[Any]:
        return [
            1,
            self.issuer,
            self.credential_id,
            self.schema_id,
            int(self.status),
            self.valid_from,
            self.valid_until,
            self.issued_height,
            self.updated_height,
            self.reason,
        ]

    def encode(self) -> bytes:
        return encode(self.to_wire())

    def value_hash(self) -> bytes:
        return sha256(self.encode())

    def changed(self, status: Status, height: int, reason: int = 0) -> StatusRecord:
        return replace(self, status=status, updated_height=height, reason=reason)


def decode_status_record(data: bytes) -> StatusRecord:
    return status_record_from_wire(decode(data))


def status_record_from_wire(value: Any) -> StatusRecord:
    items = as_list(value, "status record", 10)
    expect_version(items[0], "status record")
    until = items[6]
    try:
        status = Status(as_uint(items[4], "status", maximum=255))
    except ValueError:
        raise EncodingError(f"status record: unknown status {items[4]}") from None
    reason = as_uint(items[9], "reason", maximum=255)
    reasons = {Status.REVOKED: RevocationReason, Status.SUSPENDED: SuspensionReason}.get(status)
    if reasons is not None and reason not in set(reasons):
        raise EncodingError(f"status record: {reason} is not a {status.name.lower()} reason")
    return StatusRecord(
        issuer=as_text(items[1], "issuer", 32),
        credential_id=as_bytes(items[2], "credential_id", 32),
        schema_id=as_bytes(items[3], "schema_id", 32),
        status=status,
        valid_from=as_uint(items[5], "valid_from"),
        valid_until=None if until is None else as_uint(until, "valid_until"),
        issued_height=as_uint(items[7], "issued_height"),
        updated_height=as_uint(items[8], "updated_height"),
        reason=reason,
    )


@dataclass(frozen=True, slots=True)
class SchemaRecord:
    schema_id: bytes
    credential_class: int
    version: int
    height: int

    def encode(self) -> bytes:
        return encode([1, self.schema_id, self.credential_class, self.version, self.height])

    def value_hash(self) -> bytes:
        return sha256(self.encode())


def decode_schema_record(data: bytes) -> SchemaRecord:
    items = as_list(decode(data), "schema record", 5)
    expect_version(items[0], "schema record")
    return SchemaRecord(
        as_bytes(items[1], "schema_id", 32),
        as_uint(items[2], "credential_class", maximum=255),
        as_uint(items[3], "version", maximum=65535),
        as_uint(items[4], "height"),
    )


def schema_state_key(schema_id: bytes) -> bytes:
    """Where a schema sits in the agency's state tree (apart from any credential id)."""
    return sha256(SCHEMA_KEY_DOMAIN + schema_id)
