"""JSON shapes of the admin API (``docs/admin-api.md``), built from the core's types.

Enums travel as lowercase names; ids and hashes as lowercase hex without ``0x``; times in ms
unless named ``*_s``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from node.core.block import BlockHeader
from node.core.events import (
    KIND_BY_LABEL,
    CredentialClass,
    CredentialIssued,
    CredentialRevoked,
    CredentialSuspended,
    Event,
    GovernanceProposed,
    GovernanceVoted,
    RevocationReason,
    SchemaPublished,
    SuspensionReason,
)
from node.core.ledger import AgencyHead
from node.core.status import Status, StatusRecord

Json = dict[str, Any]

EVENT_KINDS = tuple(KIND_BY_LABEL)
REVOCATION_REASONS = tuple(r.name.lower() for r in RevocationReason)
SUSPENSION_REASONS = tuple(r.name.lower() for r in SuspensionReason)
CREDENTIAL_CLASSES = tuple(c.name.lower() for c in CredentialClass)
STATUSES = tuple(s.name.lower() for s in Status)


def enum_name(value: IntEnum) -> str:
    return value.name.lower()


def parse_enum(enum: type[IntEnum], name: str) -> IntEnum:
    """``"key_compromise"`` -> ``RevocationReason.KEY_COMPROMISE``; ``KeyError`` if unknown."""
    if not name.islower():
        raise KeyError(name)
    return enum[name.upper()]


def event_json(header: BlockHeader, block_hash: bytes, index: int, event: Event) -> Json:
    out: Json = {
        "agency_id": header.agency_id,
        "height": header.height,
        "index": index,
        "kind": event.KIND.label,
        "timestamp_ms": header.timestamp_ms,
        "block_hash": block_hash.hex(),
    }
    credential_id = getattr(event, "credential_id", None)
    if credential_id is not None:
        out["credential_id"] = credential_id.hex()
    if isinstance(event, CredentialIssued | SchemaPublished):
        out["schema_id"] = event.schema_id.hex()
    if isinstance(event, CredentialRevoked | CredentialSuspended):
        out["reason"] = enum_name(event.reason)
    if isinstance(event, GovernanceProposed):
        out["proposal_id"] = event.proposal_id(header.agency_id).hex()
    elif isinstance(event, GovernanceVoted):
        out["proposal_id"] = event.proposal_id.hex()
    if isinstance(event, CredentialIssued):
        out["valid_from_s"] = event.valid_from
        if event.valid_until is not None:
            out["valid_until_s"] = event.valid_until
    return out


def block_summary_json(header: BlockHeader, block_hash: bytes) -> Json:
    return {
        "agency_id": header.agency_id,
        "height": header.height,
        "block_hash": block_hash.hex(),
        "prev_hash": header.prev_hash.hex(),
        "timestamp_ms": header.timestamp_ms,
        "event_count": header.event_count,
        "events_root": header.events_root.hex(),
        "state_root": header.state_root.hex(),
    }


def reason_name(record: StatusRecord) -> str | None:
    if record.status is Status.REVOKED:
        return enum_name(RevocationReason(record.reason))
    if record.status is Status.SUSPENDED:
        return enum_name(SuspensionReason(record.reason))
    return None


def credential_json(record: StatusRecord) -> Json:
    return {
        "issuer": record.issuer,
        "credential_id": record.credential_id.hex(),
        "schema_id": record.schema_id.hex(),
        "status": enum_name(record.status),
        "valid_from_s": record.valid_from,
        "valid_until_s": record.valid_until,
        "issued_height": record.issued_height,
        "updated_height": record.updated_height,
        "reason": reason_name(record),
    }


def head_json(head: AgencyHead, name: str, best_seen: int | None) -> Json:
    lag = 0 if best_seen is None else max(0, best_seen - head.height)
    return {
        "agency_id": head.agency_id,
        "name": name,
        "height": head.height,
        "block_hash": head.block_hash.hex(),
        "timestamp_ms": head.timestamp_ms,
        "state_root": head.state_root.hex(),
        "log_root": head.log_root.hex(),
        "lag_blocks": lag,
        "frozen": head.frozen,
    }


def error_body(code: str, message: str) -> Json:
    return {"error": {"code": code, "message": message}}
