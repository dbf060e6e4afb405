"""Typed models of the admin API's JSON shapes (``docs/admin-api.md``).

Every model is frozen and ignores fields it does not know, so a newer node can add fields without
breaking an older console. Parse with ``Model.model_validate(json_dict)``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CredentialStatus = Literal["active", "suspended", "revoked"]
CheckpointState = Literal["proposed", "signed", "submitted", "confirmed", "reorged"]
AlertLevel = Literal["info", "warning", "critical"]
PluginState = Literal["running", "stopped", "failed"]

EVENT_KINDS = (
    "credential.issued",
    "credential.revoked",
    "credential.suspended",
    "credential.reinstated",
    "schema.published",
    "agency.key_rotated",
    "governance.proposed",
    "governance.voted",
)
REVOCATION_REASONS = (
    "unspecified",
    "key_compromise",
    "superseded",
    "ceased",
    "privilege_withdrawn",
    "issued_in_error",
    "holder_deceased",
)
SUSPENSION_REASONS = (
    "unspecified",
    "under_investigation",
    "pending_renewal",
    "court_order",
    "holder_request",
)
CREDENTIAL_CLASSES = (
    "other",
    "driving_licence",
    "vehicle_registration",
    "professional_licence",
    "permit",
    "certificate",
    "residence_permit",
    "business_registration",
)
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class Model(BaseModel):
    """Base of every API shape: immutable, tolerant of extra fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Peer(Model):
    peer_id: str
    agency_id: str
    addrs: tuple[str, ...] = ()
    connected: bool
    score: float = 0.0
    latency_ms: float | None = None
    last_seen_ms: int | None = None


class Head(Model):
    agency_id: str
    name: str
    height: int
    block_hash: str
    timestamp_ms: int
    state_root: str
    log_root: str
    lag_blocks: int = Field(description="Best height seen at peers minus ours.")
    frozen: bool = False


class Checkpoint(Model):
    epoch: int
    checkpoint_root: str
    timestamp_ms: int
    signers: tuple[str, ...] = ()
    signatures: int
    quorum: int
    state: CheckpointState
    tx_hash: str | None = None
    confirmations: int = 0


class RskAccount(Model):
    account: str
    balance_wei: str
    chain_id: int
    endpoint: str

    @property
    def balance_rbtc(self) -> float:
        return int(self.balance_wei) / 10**18


class Alert(Model):
    id: str
    level: AlertLevel
    kind: str
    message: str
    at_ms: int


class Status(Model):
    agency_id: str
    agency_name: str
    network: str
    network_id: str
    version: str
    started_ms: int
    uptime_s: float
    events_per_s: float
    heads: tuple[Head, ...] = ()
    peers: tuple[Peer, ...] = ()
    checkpoint: Checkpoint | None = None
    rsk: RskAccount | None = None
    alerts: tuple[Alert, ...] = ()


class Event(Model):
    agency_id: str
    height: int
    index: int
    kind: str
    timestamp_ms: int
    block_hash: str
    credential_id: str | None = None
    schema_id: str | None = None
    reason: str | None = None
    valid_from_s: int | None = None
    valid_until_s: int | None = None


class EventPage(Model):
    events: tuple[Event, ...]
    next_cursor: str | None = None


class BlockSummary(Model):
    agency_id: str
    height: int
    block_hash: str
    prev_hash: str
    timestamp_ms: int
    event_count: int
    events_root: str
    state_root: str


class BlockDetail(Model):
    block: BlockSummary
    events: tuple[Event, ...]


class Credential(Model):
    issuer: str
    credential_id: str
    schema_id: str
    status: CredentialStatus
    valid_from_s: int
    valid_until_s: int | None = None
    issued_height: int
    updated_height: int
    reason: str | None = None


class CredentialRecord(Model):
    """``GET /v1/credentials/{issuer}/{id}``: the credential and its events, oldest first."""

    credential: Credential
    history: tuple[Event, ...]


class WriteResult(Model):
    """The answer to a committed write (credential change or schema)."""

    request_id: str
    status: Literal["committed"]
    agency_id: str
    height: int
    block_hash: str
    event_index: int
    credential: Credential | None = None
    schema_id: str | None = None


class Plugin(Model):
    name: str
    enabled: bool
    state: PluginState
    errors: tuple[str, ...] = ()


class LogLine(Model):
    at_ms: int
    level: str
    logger: str
    message: str


class ProofBundle(Model):
    """A proof bundle, kept whole: its format belongs to ``docs/proof-bundle.md``.

    The console only stores and exports it; ``raw`` is the JSON exactly as the node sent it.
    """

    raw: dict[str, Any]

    @property
    def credential_id(self) -> str | None:
        value = self.raw.get("credential_id")
        return value if isinstance(value, str) else None
