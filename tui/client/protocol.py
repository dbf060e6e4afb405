"""``ClientProtocol``: what the console needs from a node (the real and fake clients)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from tui.client.governance import Governance, KnownAction, ProposalReceipt
from tui.client.models import (
    BlockDetail,
    BlockSummary,
    Checkpoint,
    CredentialRecord,
    EventPage,
    LogLine,
    Peer,
    Plugin,
    ProofBundle,
    Status,
    WriteResult,
)
from tui.client.stream import StreamEvent

MAX_EVENTS_LIMIT = 500
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(given: str | None = None) -> str:
    """The idempotency key of a write: ``given`` if valid, else a fresh uuid4."""
    if given is None:
        return str(uuid.uuid4())
    if not _REQUEST_ID.fullmatch(given):
        raise ValueError(f"request_id {given!r} must be 1-64 chars of [A-Za-z0-9._:-]")
    return given


@runtime_checkable
class ClientProtocol(Protocol):
    """One method per admin API endpoint (``docs/admin-api.md``).

    Every method MUST raise ``NodeUnreachable`` when no node answers and ``ApiError`` when the node
    refuses; writes MUST carry a ``request_id`` (a fresh uuid4 unless the caller gives one).
    """

    @property
    def where(self) -> str:
        """Where the node is expected (socket path or URL), for messages."""
        ...

    async def status(self) -> Status: ...

    async def peers(self) -> tuple[Peer, ...]: ...

    async def events(
        self,
        *,
        agency: str | None = None,
        kind: str | None = None,
        credential: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> EventPage: ...

    async def blocks(
        self, *, agency: str | None = None, before_height: int | None = None, limit: int = 50
    ) -> tuple[BlockSummary, ...]: ...

    async def block(self, agency: str, height: int) -> BlockDetail: ...

    async def credential(self, issuer: str, credential_id: str) -> CredentialRecord: ...

    async def issue(
        self,
        credential_id: str,
        schema_id: str,
        valid_from_s: int,
        valid_until_s: int | None = None,
        *,
        request_id: str | None = None,
    ) -> WriteResult: ...

    async def revoke(
        self, credential_id: str, reason: str, *, request_id: str | None = None
    ) -> WriteResult: ...

    async def suspend(
        self, credential_id: str, reason: str, *, request_id: str | None = None
    ) -> WriteResult: ...

    async def reinstate(
        self, credential_id: str, *, request_id: str | None = None
    ) -> WriteResult: ...

    async def publish_schema(
        self, schema_id: str, credential_class: str, version: int, *, request_id: str | None = None
    ) -> WriteResult: ...

    async def proof(self, issuer: str, credential_id: str) -> ProofBundle: ...

    async def checkpoints(self, limit: int = 20) -> tuple[Checkpoint, ...]: ...

    async def plugins(self) -> tuple[Plugin, ...]: ...

    async def set_plugin(self, name: str, enabled: bool) -> Plugin: ...

    async def logs(self, level: str | None = None, limit: int = 200) -> tuple[LogLine, ...]: ...

    async def governance(self) -> Governance:
        """``GET /v1/governance``: members, quorum, interval and proposals (newest first)."""
        ...

    async def propose(
        self,
        action: KnownAction,
        *,
        expires_s: int | None = None,
        request_id: str | None = None,
    ) -> ProposalReceipt:
        """Propose ``action`` (it counts as this agency's approval); ``expires_s`` is when it
        lapses, in Unix seconds (the node picks a default when ``None``)."""
        ...

    async def vote(self, proposal_id: str, *, request_id: str | None = None) -> WriteResult:
        """Approve ``proposal_id`` as this node's agency. A vote cannot be withdrawn; a second
        one is refused with 409, an unknown proposal with 404."""
        ...

    def stream(self) -> AsyncIterator[StreamEvent]:
        """Server-sent events until the connection ends; ``NodeUnreachable`` when it drops."""
        ...

    async def aclose(self) -> None: ...
