"""Credential events: closed schemas with no room for personal data.

Every field is a fixed-size hash, an integer, or a bounded enum. There is no free-text field: a
credential is named by ``credential_id``, a 32-byte hash the issuer derives from the credential with
a secret salt, so the ledger never learns who holds it.

Wire form: a CBOR array ``[kind, field, …]`` with the fields in the order of the dataclass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, TypeAlias

from node.core.encoding import as_bytes, as_list, as_uint, decode, encode
from node.core.errors import EncodingError, SchemaViolationError
from node.core.keys import is_ed25519_public
from node.core.proposals import Action, action_from_wire, action_to_wire, check_action, proposal_id

# Seconds since the Unix epoch; the ledger stops at year 9999, which is plenty.
MAX_TIMESTAMP_S = 253_402_300_799


class EventKind(IntEnum):
    CREDENTIAL_ISSUED = 1
    CREDENTIAL_REVOKED = 2
    CREDENTIAL_SUSPENDED = 3
    CREDENTIAL_REINSTATED = 4
    SCHEMA_PUBLISHED = 5
    AGENCY_KEY_ROTATED = 6
    GOVERNANCE_PROPOSED = 7
    GOVERNANCE_VOTED = 8

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    EventKind.CREDENTIAL_ISSUED: "credential.issued",
    EventKind.CREDENTIAL_REVOKED: "credential.revoked",
    EventKind.CREDENTIAL_SUSPENDED: "credential.suspended",
    EventKind.CREDENTIAL_REINSTATED: "credential.reinstated",
    EventKind.SCHEMA_PUBLISHED: "schema.published",
    EventKind.AGENCY_KEY_ROTATED: "agency.key_rotated",
    EventKind.GOVERNANCE_PROPOSED: "governance.proposed",
    EventKind.GOVERNANCE_VOTED: "governance.voted",
}
KIND_BY_LABEL = {label: kind for kind, label in _LABELS.items()}


class RevocationReason(IntEnum):
    """Why a credential was revoked (after RFC 5280 CRLReason, minus the certificate-only codes)."""

    UNSPECIFIED = 0
    KEY_COMPROMISE = 1
    SUPERSEDED = 2
    CEASED = 3
    PRIVILEGE_WITHDRAWN = 4
    ISSUED_IN_ERROR = 5
    HOLDER_DECEASED = 6


class SuspensionReason(IntEnum):
    UNSPECIFIED = 0
    UNDER_INVESTIGATION = 1
    PENDING_RENEWAL = 2
    COURT_ORDER = 3
    HOLDER_REQUEST = 4


class CredentialClass(IntEnum):
    """What kind of document a schema describes."""

    OTHER = 0
    DRIVING_LICENCE = 1
    VEHICLE_REGISTRATION = 2
    PROFESSIONAL_LICENCE = 3
    PERMIT = 4
    CERTIFICATE = 5
    RESIDENCE_PERMIT = 6
    BUSINESS_REGISTRATION = 7


@dataclass(frozen=True, slots=True)
class CredentialIssued:
    KIND: ClassVar[EventKind] = EventKind.CREDENTIAL_ISSUED
    credential_id: bytes
    schema_id: bytes
    valid_from: int
    valid_until: int | None = None

    def fields(self) -> list[Any]:
        return [self.credential_id, self.schema_id, self.valid_from, self.valid_until]


@dataclass(frozen=True, slots=True)
class CredentialRevoked:
    KIND: ClassVar[EventKind] = EventKind.CREDENTIAL_REVOKED
    credential_id: bytes
    reason: RevocationReason = RevocationReason.UNSPECIFIED

    def fields(self) -> list[Any]:
        return [self.credential_id, int(self.reason)]


@dataclass(frozen=True, slots=True)
class CredentialSuspended:
    KIND: ClassVar[EventKind] = EventKind.CREDENTIAL_SUSPENDED
    credential_id: bytes
    reason: SuspensionReason = SuspensionReason.UNSPECIFIED

    def fields(self) -> list[Any]:
        return [self.credential_id, int(self.reason)]


@dataclass(frozen=True, slots=True)
class CredentialReinstated:
    KIND: ClassVar[EventKind] = EventKind.CREDENTIAL_REINSTATED
    credential_id: bytes

    def fields(self) -> list[Any]:
        return [self.credential_id]


@dataclass(frozen=True, slots=True)
class SchemaPublished:
    """A credential schema of the publishing agency; the schema document itself lives off-ledger."""

    KIND: ClassVar[EventKind] = EventKind.SCHEMA_PUBLISHED
    schema_id: bytes
    credential_class: CredentialClass
    version: int = 1

    def fields(self) -> list[Any]:
        return [self.schema_id, int(self.credential_class), self.version]


@dataclass(frozen=True, slots=True)
class AgencyKeyRotated:
    """The agency's new keys; blocks after this one must be signed with the new Ed25519 key."""

    KIND: ClassVar[EventKind] = EventKind.AGENCY_KEY_ROTATED
    ed25519_public: bytes
    secp256k1_address: bytes

    def fields(self) -> list[Any]:
        return [self.ed25519_public, self.secp256k1_address]


@dataclass(frozen=True, slots=True)
class GovernanceProposed:
    """A proposal to the member agencies; it counts as its proposer's approving vote and lapses
    at ``expires_s`` if no checkpoint has adopted it by then."""

    KIND: ClassVar[EventKind] = EventKind.GOVERNANCE_PROPOSED
    action: Action
    expires_s: int

    def fields(self) -> list[Any]:
        return [action_to_wire(self.action), self.expires_s]

    def proposal_id(self, proposer: str) -> bytes:
        return proposal_id(proposer, self.action, self.expires_s)


@dataclass(frozen=True, slots=True)
class GovernanceVoted:
    """The signing agency approves proposal ``proposal_id`` (votes cannot be withdrawn)."""

    KIND: ClassVar[EventKind] = EventKind.GOVERNANCE_VOTED
    proposal_id: bytes

    def fields(self) -> list[Any]:
        return [self.proposal_id]


Event: TypeAlias = (
    CredentialIssued
    | CredentialRevoked
    | CredentialSuspended
    | CredentialReinstated
    | SchemaPublished
    | AgencyKeyRotated
    | GovernanceProposed
    | GovernanceVoted
)
CREDENTIAL_EVENTS = (CredentialIssued, CredentialRevoked, CredentialSuspended, CredentialReinstated)
GOVERNANCE_EVENTS = (AgencyKeyRotated, GovernanceProposed, GovernanceVoted)
"""Events the governance state follows (a self-signed key rotation changes the signer set)."""


def event_to_wire(event: Event) -> list[Any]:
    return [int(event.KIND), *event.fields()]


def encode_event(event: Event) -> bytes:
    check_event(event)
    return encode(event_to_wire(event))


def decode_event(data: bytes) -> Event:
    return event_from_wire(decode(data))


def event_from_wire(value: Any) -> Event:
    """Build an event from its decoded array, enforcing the closed schema."""
    items = as_list(value, "event")
    if not items:
        raise EncodingError("event: empty array")
    kind_code = as_uint(items[0], "event kind", maximum=255)
    parser = _PARSERS.get(kind_code)  # an IntEnum key matches its int: no EventKind() per event
    if parser is None:
        raise SchemaViolationError(f"event: unknown kind {kind_code}")
    return parser(items[1:])


def _id32(value: Any, what: str) -> bytes:
    return as_bytes(value, what, 32)


def _enum(enum: type[IntEnum], value: Any, what: str) -> Any:
    code = as_uint(value, what, maximum=255)
    try:
        return enum(code)
    except ValueError:
        names = [e.name for e in enum]
        raise SchemaViolationError(f"{what}: {code} is not one of {names}") from None


def _time(value: Any, what: str) -> int:
    return as_uint(value, what, maximum=MAX_TIMESTAMP_S)


def _fields(items: list[Any], n: int, what: str) -> list[Any]:
    if len(items) != n:
        raise SchemaViolationError(f"{what}: expected {n} fields, got {len(items)}")
    return items


def _issued(items: list[Any]) -> Event:
    cid, sid, start, until = _fields(items, 4, "credential.issued")
    event = CredentialIssued(
        _id32(cid, "credential_id"),
        _id32(sid, "schema_id"),
        _time(start, "valid_from"),
        None if until is None else _time(until, "valid_until"),
    )
    check_event(event)
    return event


def _revoked(items: list[Any]) -> Event:
    cid, reason = _fields(items, 2, "credential.revoked")
    return CredentialRevoked(
        _id32(cid, "credential_id"), _enum(RevocationReason, reason, "revocation reason")
    )


def _suspended(items: list[Any]) -> Event:
    cid, reason = _fields(items, 2, "credential.suspended")
    return CredentialSuspended(
        _id32(cid, "credential_id"), _enum(SuspensionReason, reason, "suspension reason")
    )


def _reinstated(items: list[Any]) -> Event:
    (cid,) = _fields(items, 1, "credential.reinstated")
    return CredentialReinstated(_id32(cid, "credential_id"))


def _schema(items: list[Any]) -> Event:
    sid, cls, version = _fields(items, 3, "schema.published")
    return SchemaPublished(
        _id32(sid, "schema_id"),
        _enum(CredentialClass, cls, "credential class"),
        as_uint(version, "schema version", maximum=65535),
    )


def _rotated(items: list[Any]) -> Event:
    pub, addr = _fields(items, 2, "agency.key_rotated")
    event = AgencyKeyRotated(as_bytes(pub, "ed25519_public", 32), as_bytes(addr, "address", 20))
    check_event(event)
    return event


def _proposed(items: list[Any]) -> Event:
    action, expires = _fields(items, 2, "governance.proposed")
    return GovernanceProposed(action_from_wire(action), _time(expires, "expires_s"))


def _voted(items: list[Any]) -> Event:
    (pid,) = _fields(items, 1, "governance.voted")
    return GovernanceVoted(_id32(pid, "proposal_id"))


_PARSERS: dict[int, Callable[[list[Any]], Event]] = {
    EventKind.CREDENTIAL_ISSUED: _issued,
    EventKind.CREDENTIAL_REVOKED: _revoked,
    EventKind.CREDENTIAL_SUSPENDED: _suspended,
    EventKind.CREDENTIAL_REINSTATED: _reinstated,
    EventKind.SCHEMA_PUBLISHED: _schema,
    EventKind.AGENCY_KEY_ROTATED: _rotated,
    EventKind.GOVERNANCE_PROPOSED: _proposed,
    EventKind.GOVERNANCE_VOTED: _voted,
}


def check_event(event: Event) -> None:
    """Field checks that the types alone do not express (used when authoring and decoding)."""
    if isinstance(event, CredentialIssued):
        if len(event.credential_id) != 32 or len(event.schema_id) != 32:
            raise SchemaViolationError("credential.issued: ids must be 32 bytes")
        if not 0 <= event.valid_from <= MAX_TIMESTAMP_S:
            raise SchemaViolationError("credential.issued: valid_from out of range")
        if event.valid_until is not None and not (
            event.valid_from < event.valid_until <= MAX_TIMESTAMP_S
        ):
            raise SchemaViolationError("credential.issued: valid_until must be after valid_from")
    elif isinstance(event, CREDENTIAL_EVENTS) and len(event.credential_id) != 32:
        raise SchemaViolationError(f"{event.KIND.label}: credential_id must be 32 bytes")
    elif isinstance(event, GovernanceProposed):
        check_action(event.action)
        if not 0 < event.expires_s <= MAX_TIMESTAMP_S:
            raise SchemaViolationError("governance.proposed: expires_s out of range")
    elif isinstance(event, AgencyKeyRotated) and not is_ed25519_public(event.ed25519_public):
        raise SchemaViolationError("agency.key_rotated: the key is not a point on the curve")
    elif isinstance(event, GovernanceVoted) and len(event.proposal_id) != 32:
        raise SchemaViolationError("governance.voted: proposal_id must be 32 bytes")
