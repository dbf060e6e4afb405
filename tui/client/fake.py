"""``FakeClient``: an in-memory node for fast tests and development; never the default.

It behaves like the admin API: the same shapes, the same ledger rules (a revoked credential is
final, suspend twice is refused, …), the same error codes and HTTP statuses, idempotent writes.
Time is frozen at ``FAKE_NOW_MS`` unless a clock is given, so snapshots stay stable.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from tui.client import fake_data as data
from tui.client import fake_status
from tui.client.errors import ApiError, NodeUnreachable
from tui.client.fake_governance import DEFAULT_LIFETIME_S, FakeGovernance
from tui.client.fake_ledger import FakeLedger
from tui.client.governance import Governance, KnownAction, ProposalReceipt
from tui.client.models import (
    CREDENTIAL_CLASSES,
    LOG_LEVELS,
    REVOCATION_REASONS,
    SUSPENSION_REASONS,
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
from tui.client.protocol import MAX_EVENTS_LIMIT, request_id
from tui.client.stream import StreamEvent

_HEX64 = re.compile(r"[0-9a-f]{64}")
_GOV_PROPOSED: dict[str, object] = {"kind": "governance.proposed"}
_GOV_VOTED: dict[str, object] = {"kind": "governance.voted"}


def _bad(message: str) -> ApiError:
    return ApiError("bad_request", message, 400)


def _unknown_credential(issuer: str, credential_id: str) -> ApiError:
    return ApiError("unknown_credential", f"{issuer} never issued credential {credential_id}", 404)


def _check_hex(value: str, what: str) -> None:
    if not _HEX64.fullmatch(value):
        raise _bad(f"{what} must be 64 lowercase hex characters")


class FakeClient:
    """A three-agency devnet seen from ``gi.transport``, with ``history`` synthetic past events.

    ``stream_interval_s`` paces the live stream (a new block per tick); ``None`` keeps the stream
    silent, for deterministic tests. ``set_reachable(False)`` makes every call fail as a stopped
    node would; ``busy = True`` makes every governance write fail as a node with a full block
    queue does (503 ``busy``).
    """

    def __init__(
        self,
        *,
        history: int = 2_000,
        clock: Callable[[], float] | None = None,
        stream_interval_s: float | None = None,
    ) -> None:
        self._clock = clock
        self.ledger = FakeLedger(history, self.now_ms())
        self.stream_interval_s = stream_interval_s
        self.reachable = True
        self.busy = False
        self.calls: list[str] = []
        self._down = asyncio.Event()
        self._writes: dict[str, WriteResult] = {}
        self._proposals: dict[str, ProposalReceipt] = {}
        self._plugins = data.plugins()
        self._checkpoints = data.checkpoints(self.now_ms())
        self._logs = data.logs(self.now_ms())
        self.ledger.seed(self.now_ms())
        self.gov = FakeGovernance(self.now_ms() // 1000)
        self._pushed: deque[StreamEvent] = deque()
        self._poke = asyncio.Event()

    @property
    def where(self) -> str:
        return "fake node (in memory)"

    def now_ms(self) -> int:
        return data.FAKE_NOW_MS if self._clock is None else int(self._clock() * 1000)

    def set_reachable(self, reachable: bool) -> None:
        self.reachable = reachable
        if reachable:
            self._down = asyncio.Event()
        else:
            self._down.set()
            self._poke.set()

    def _enter(self, name: str) -> None:
        self.calls.append(name)
        if not self.reachable:
            raise NodeUnreachable(self.where, "connection refused")

    def _enter_write(self, name: str) -> None:
        self._enter(name)
        if self.busy:
            raise ApiError("busy", "12 events are waiting; retry shortly", 503)

    async def aclose(self) -> None:
        self._down.set()
        self._poke.set()

    # -- reads ----------------------------------------------------------------------------------

    async def status(self) -> Status:
        self._enter("status")
        return self._build_status()

    def _build_status(self) -> Status:
        return fake_status.build_status(self.ledger, self._checkpoints[0], self.now_ms())

    async def peers(self) -> tuple[Peer, ...]:
        self._enter("peers")
        return fake_status.peers(self.now_ms())

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
    ) -> EventPage:
        self._enter("events")
        if not 1 <= limit <= MAX_EVENTS_LIMIT:
            raise _bad(f"limit must be 1..{MAX_EVENTS_LIMIT}")
        if cursor is not None and not cursor.isdigit():
            raise ApiError("bad_cursor", "cursor is not one this node issued", 400)
        start = int(cursor) if cursor is not None else None
        return self.ledger.page(
            start=start,
            limit=limit,
            agency=agency,
            kind=kind,
            credential=credential,
            since_ms=since_ms,
            until_ms=until_ms,
        )

    async def blocks(
        self, *, agency: str | None = None, before_height: int | None = None, limit: int = 50
    ) -> tuple[BlockSummary, ...]:
        self._enter("blocks")
        return self.ledger.blocks(agency, before_height, limit)

    async def block(self, agency: str, height: int) -> BlockDetail:
        self._enter("block")
        detail = self.ledger.block(agency, height)
        if detail is None:
            raise ApiError("unknown_block", f"{agency} has no block at height {height}", 404)
        return detail

    async def credential(self, issuer: str, credential_id: str) -> CredentialRecord:
        self._enter("credential")
        record = self.ledger.credential(issuer, credential_id)
        if record is None:
            raise _unknown_credential(issuer, credential_id)
        return record

    async def proof(self, issuer: str, credential_id: str) -> ProofBundle:
        self._enter("proof")
        record = self.ledger.credential(issuer, credential_id)
        if record is None:
            raise _unknown_credential(issuer, credential_id)
        checkpoint = self._checkpoints[0]
        raw: dict[str, Any] = {
            "version": 1,
            "credential_id": credential_id,
            "issuer": issuer,
            "status_record": record.credential.model_dump(),
            "state_proof": {"siblings": [data.hexhash("sibling", i) for i in range(4)]},
            "cut_leaf_proof": {"index": 0, "path": [data.hexhash("cut", 1)]},
            "checkpoint": checkpoint.model_dump(),
            "signatures": [
                {"signer": s, "sig": data.hexhash("sig", s)} for s in checkpoint.signers
            ],
        }
        return ProofBundle(raw=raw)

    async def checkpoints(self, limit: int = 20) -> tuple[Checkpoint, ...]:
        self._enter("checkpoints")
        return tuple(self._checkpoints[:limit])

    async def plugins(self) -> tuple[Plugin, ...]:
        self._enter("plugins")
        return tuple(self._plugins.values())

    async def logs(self, level: str | None = None, limit: int = 200) -> tuple[LogLine, ...]:
        self._enter("logs")
        if level is not None and level not in LOG_LEVELS:
            raise _bad(f"level must be one of {', '.join(LOG_LEVELS)}")
        floor = LOG_LEVELS.index(level) if level else 0
        lines = [ln for ln in self._logs if LOG_LEVELS.index(ln.level) >= floor]
        return tuple(lines[-limit:])

    # -- writes ---------------------------------------------------------------------------------

    async def issue(
        self,
        credential_id: str,
        schema_id: str,
        valid_from_s: int,
        valid_until_s: int | None = None,
        *,
        request_id: str | None = None,
    ) -> WriteResult:
        self._enter("issue")
        rid = _rid(request_id)
        if rid in self._writes:
            return self._writes[rid]
        _check_hex(credential_id, "credential_id")
        _check_hex(schema_id, "schema_id")
        if valid_until_s is not None and valid_until_s <= valid_from_s:
            raise _bad("valid_until_s must be after valid_from_s")
        result = self.ledger.issue(rid, credential_id, schema_id, valid_from_s, valid_until_s)
        self._writes[rid] = result
        return result

    async def revoke(
        self, credential_id: str, reason: str, *, request_id: str | None = None
    ) -> WriteResult:
        return self._change("revoke", credential_id, reason, request_id, REVOCATION_REASONS)

    async def suspend(
        self, credential_id: str, reason: str, *, request_id: str | None = None
    ) -> WriteResult:
        return self._change("suspend", credential_id, reason, request_id, SUSPENSION_REASONS)

    async def reinstate(self, credential_id: str, *, request_id: str | None = None) -> WriteResult:
        return self._change("reinstate", credential_id, None, request_id, ())

    def _change(
        self,
        action: str,
        credential_id: str,
        reason: str | None,
        given_rid: str | None,
        reasons: tuple[str, ...],
    ) -> WriteResult:
        self._enter(action)
        rid = _rid(given_rid)
        if rid in self._writes:
            return self._writes[rid]
        _check_hex(credential_id, "credential_id")
        if reason is not None and reason not in reasons:
            raise _bad(f"reason must be one of {', '.join(reasons)}")
        result = self.ledger.change(rid, action, credential_id, reason)
        self._writes[rid] = result
        return result

    async def publish_schema(
        self, schema_id: str, credential_class: str, version: int, *, request_id: str | None = None
    ) -> WriteResult:
        self._enter("publish_schema")
        rid = _rid(request_id)
        if rid in self._writes:
            return self._writes[rid]
        _check_hex(schema_id, "schema_id")
        if credential_class not in CREDENTIAL_CLASSES:
            raise _bad(f"credential_class must be one of {', '.join(CREDENTIAL_CLASSES)}")
        if not 0 <= version <= 65_535:
            raise _bad("version must be 0..65535")
        result = self.ledger.publish_schema(rid, schema_id)
        self._writes[rid] = result
        return result

    async def set_plugin(self, name: str, enabled: bool) -> Plugin:
        self._enter("set_plugin")
        if name not in self._plugins:
            raise ApiError("unknown_plugin", f"no plugin named {name}", 404)
        plugin = Plugin(name=name, enabled=enabled, state="running" if enabled else "stopped")
        self._plugins[name] = plugin
        return plugin

    # -- governance -----------------------------------------------------------------------------

    async def governance(self) -> Governance:
        self._enter("governance")
        return self.gov.document()

    async def propose(
        self,
        action: KnownAction,
        *,
        expires_s: int | None = None,
        request_id: str | None = None,
    ) -> ProposalReceipt:
        self._enter_write("propose")
        rid = _rid(request_id)
        if rid in self._proposals:
            return self._proposals[rid]
        checked = self.gov.parse(action.model_dump())
        now_s = self.now_ms() // 1000
        expires = now_s + DEFAULT_LIFETIME_S if expires_s is None else expires_s
        height = self.ledger.height(self.ledger.own) + 1
        pid = self.gov.propose(self.ledger.own, checked, expires, height, now_s)
        detail = self.ledger.append_block(self.ledger.own, self.now_ms(), [_GOV_PROPOSED])
        receipt = ProposalReceipt(proposal_id=pid, receipt=self.ledger.committed(rid, detail))
        self._proposals[rid] = receipt
        self.push(StreamEvent("governance", self.gov.document()))
        return receipt

    async def vote(self, proposal_id: str, *, request_id: str | None = None) -> WriteResult:
        self._enter_write("vote")
        rid = _rid(request_id)
        if rid in self._writes:
            return self._writes[rid]
        self.gov.vote(self.ledger.own, proposal_id, self.now_ms() // 1000)
        detail = self.ledger.append_block(self.ledger.own, self.now_ms(), [_GOV_VOTED])
        result = self.ledger.committed(rid, detail)
        self._writes[rid] = result
        self.push(StreamEvent("governance", self.gov.document()))
        return result

    def vote_as(self, agency: str, proposal_id: str) -> None:
        """Another member's vote arriving (as the node would learn it from gossip)."""
        self.gov.vote(agency, proposal_id, self.now_ms() // 1000)
        self.ledger.append_block(agency, self.now_ms(), [_GOV_VOTED])
        self.push(StreamEvent("governance", self.gov.document()))

    # -- live -----------------------------------------------------------------------------------

    def push(self, event: StreamEvent) -> None:
        """Send ``event`` on the live stream now (what a node does when its state changes)."""
        self._pushed.append(event)
        self._poke.set()

    async def stream(self) -> AsyncIterator[StreamEvent]:
        self._enter("stream")
        down = self._down
        ticks = 0
        loop = asyncio.get_running_loop()
        next_tick = None if self.stream_interval_s is None else loop.time() + self.stream_interval_s
        while True:
            timeout = None if next_tick is None else max(next_tick - loop.time(), 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout=timeout)
            self._poke.clear()
            if down.is_set():
                raise NodeUnreachable(self.where, "connection reset")
            while self._pushed:
                yield self._pushed.popleft()
            if next_tick is not None and loop.time() >= next_tick:
                next_tick += self.stream_interval_s or 0
                ticks += 1
                for event in self._tick(ticks):
                    yield event

    def _tick(self, ticks: int) -> list[StreamEvent]:
        now = self.now_ms()
        block = self.ledger.live_block(ticks, now)
        out = [StreamEvent("block", block)]
        line = LogLine(
            at_ms=now,
            level="info",
            logger="node.ledger",
            message=f"block committed agency={block.agency_id} height={block.height}",
        )
        self._logs.append(line)
        out.append(StreamEvent("log", line))
        if ticks % 4 == 0:
            self._snapshot_status_into(out)
        return out

    def _snapshot_status_into(self, out: list[StreamEvent]) -> None:
        out.append(StreamEvent("status", self._build_status()))


def _rid(given: str | None) -> str:
    try:
        return request_id(given)
    except ValueError as exc:
        raise _bad(str(exc)) from exc
