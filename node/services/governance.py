"""Governance as a trio service: fold each signed checkpoint into the governance in force.

The checkpoints a node holds as signed form a chain (``prev_checkpoint_hash``). The service walks
it from the governance it last folded: for the next signed checkpoint it needs every block up to
the cut (it asks replication to fetch what it lacks, and peers for signed checkpoints it missed
while offline), reads the governance events between the two cuts from the store's index, and
computes the next :class:`~node.core.governance.Governance` with the pure
:func:`~node.core.governance.advance`. The store then admits, pins or re-keys agencies, and the
listeners (``on_changed``) update the peer allow-list, the checkpoint schedule and the signer set
on RSK. Every node folds the same checkpoints over the same blocks, so all reach the same result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import trio

from node.core.checkpoint import Checkpoint
from node.core.checkpoint_protocol import CheckpointRecord, decode_record
from node.core.encoding import as_list, as_uint, decode, encode
from node.core.errors import CalpeError, DuplicateVoteError, UnknownProposalError
from node.core.events import GovernanceProposed, GovernanceVoted
from node.core.genesis import Genesis
from node.core.governance import (
    CutEvent,
    Governance,
    advance,
    genesis_governance,
    with_pending,
)
from node.core.proposals import Action
from node.services.alerts import AlertBook
from node.services.bus import UpdateBus
from node.services.store_access import StoreAccess
from node.storage import checkpoint_table as table
from node.storage.store import LedgerStore

log = logging.getLogger(__name__)

CHECKPOINTS_PROTOCOL = "/calpe/checkpoints/1"
MAX_RECORDS_PER_REQUEST = 64
DEFAULT_PROPOSAL_LIFETIME_S = 7 * 86400
_CACHE = 64

Changed = Callable[[Governance, Governance], None]
FetchRecords = Callable[[int], Awaitable[list[bytes]]]
"""Ask peers for encoded signed checkpoint records after an epoch (oldest first)."""
VerifyRecord = Callable[[CheckpointRecord, Governance], bool]
"""Whether a fetched record carries a quorum of valid signatures under that governance."""


class GovernanceService:
    def __init__(
        self,
        store: StoreAccess,
        genesis: Genesis,
        agency_id: str,
        alerts: AlertBook,
        bus: UpdateBus,
        *,
        request_sync: Callable[[], None],
        tick_s: float = 1.0,
    ) -> None:
        self._store = store
        self.genesis = genesis
        self.agency_id = agency_id
        self._alerts = alerts
        self._bus = bus
        self._request_sync = request_sync
        self._tick_s = tick_s
        self.current: Governance = store.store.governance() or genesis_governance(genesis)
        self._recent: dict[int, Governance] = {self.current.epoch: self.current}
        self._wake = trio.Event()
        self.on_changed: list[Changed] = []
        """Called (synchronously) with ``(before, after)`` each time a checkpoint is folded."""
        self.fetch_records: FetchRecords | None = None
        self.verify_record: VerifyRecord | None = None
        self._missing_since: float | None = None

    # --- what others read ---------------------------------------------------------------------

    def in_force(self, epoch: int) -> Governance:
        """The governance that rules checkpoint ``epoch``: the newest folded before it."""
        if self.current.epoch < epoch:
            return self.current
        # the cache holds a contiguous tail of the folded chain; older epochs come from the store
        older = [e for e in self._recent if e < epoch]
        if older:
            return self._recent[max(older)]
        return self._store.store.governance(epoch - 1) or genesis_governance(self.genesis)

    def document(self) -> dict[str, Any]:
        """The admin API's ``GET /v1/governance`` document: the governance in force, with the
        proposals and votes written since the last folded checkpoint (not adopted before one)."""
        store = self._store.store
        heads = store.heads()
        gov = self.current
        events = _events_between(store, gov.cut_heights, {a: h.height for a, h in heads.items()})
        return with_pending(gov, events).to_json()

    def check_vote(self, proposal_id: bytes) -> None:
        """Refuse a vote this agency must not cast: unknown proposal, or voted already."""
        proposal = self.current.proposal(proposal_id)
        if proposal is not None and proposal.state != "open":
            raise DuplicateVoteError(f"proposal {proposal_id.hex()} is {proposal.state} already")
        proposer, voters = self._store.store.proposal_votes(proposal_id)
        if proposer is None:
            raise UnknownProposalError(
                f"no agency's log holds proposal {proposal_id.hex()}; check the id"
            )
        if self.agency_id in voters:
            raise DuplicateVoteError(f"{self.agency_id} already approved this proposal")

    @staticmethod
    def proposal_event(action: Action, expires_s: int | None) -> GovernanceProposed:
        expires = (
            expires_s if expires_s is not None else int(time.time()) + DEFAULT_PROPOSAL_LIFETIME_S
        )
        return GovernanceProposed(action, expires)

    @staticmethod
    def vote_event(proposal_id: bytes) -> GovernanceVoted:
        return GovernanceVoted(proposal_id)

    # --- the loop -----------------------------------------------------------------------------

    def wake(self) -> None:
        """A checkpoint was signed, or blocks arrived: try folding now."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await self._fold()
            except CalpeError as exc:
                log.warning("governance fold failed: %s", exc)
            except Exception:  # a bad record must never stop governance
                log.exception("governance fold failed")
            with trio.move_on_after(self._tick_s):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _fold(self) -> None:
        while True:
            gov = self.current
            record = await self._store.call(_next_record, self._store.store, gov)
            if record is None:
                await self._maybe_fetch(gov)
                return
            self._missing_since = None
            heights = {leaf.agency_id: leaf.height for leaf in record.checkpoint.cut.leaves}
            if not await self._store.call(_have_blocks, self._store.store, heights):
                self._request_sync()
                return
            new = await self._store.call(fold, self._store.store, gov, record.checkpoint)
            await self.install(new)

    async def install(self, new: Governance) -> None:
        """Make ``new`` the governance in force (folded here, or taken from a verified snapshot)."""
        before = self.current
        warnings = await self._store.call(self._store.store.apply_governance, new)
        for warning in warnings:
            self._alerts.raise_alert("critical", "governance", warning)
        self.current = new
        self._recent[new.epoch] = new
        for epoch in sorted(self._recent)[:-_CACHE]:
            del self._recent[epoch]
        self._announce(before, new)

    def _announce(self, before: Governance, after: Governance) -> None:
        for proposal in after.proposals:
            old = before.proposal(proposal.proposal_id)
            if proposal.state == "open" or (old is not None and old.state != "open"):
                continue
            log.info(
                "proposal %s %s at epoch=%s: %s%s",
                proposal.proposal_id.hex()[:16],
                proposal.state,
                after.epoch,
                proposal.action.summary(),
                f" ({proposal.reason})" if proposal.reason else "",
            )
            level = "warning" if proposal.state == "failed" else "info"
            self._alerts.raise_alert(
                level,
                "governance",
                f"proposal to {proposal.action.summary()} {proposal.state} at epoch {after.epoch}"
                + (f": {proposal.reason}" if proposal.reason else ""),
            )
        if _visible(before) != _visible(after):
            self._bus.publish("governance", after.to_json())
        for callback in self.on_changed:
            try:
                callback(before, after)
            except Exception:
                log.exception("governance listener failed epoch=%s", after.epoch)

    async def _maybe_fetch(self, gov: Governance) -> None:
        """Signed checkpoints after ours exist but none links to ours (we were offline), or this
        agency is not a member yet (it is joining): fetch signed checkpoints from peers."""
        later = await self._store.call(
            table.records, self._store.store, limit=1, newest_first=True, after_epoch=gov.epoch
        )
        joining = not gov.is_active(self.agency_id)  # admitted by a checkpoint we lack?
        if (not later and not joining) or self.fetch_records is None or not self.verify_record:
            return
        now = time.monotonic()
        if self._missing_since is None:
            self._missing_since = now
            return  # the votes may still be arriving by gossip
        if now - self._missing_since < 3 * self._tick_s:
            return
        for raw in await self.fetch_records(gov.epoch):
            try:
                record = decode_record(raw)
            except CalpeError as exc:
                log.warning("peer sent a malformed checkpoint record: %s", exc)
                continue
            if record.epoch <= gov.epoch or not record.is_signed:
                continue
            if not self.verify_record(record, self.in_force(record.epoch)):
                log.warning("peer sent checkpoint epoch=%s without a valid quorum", record.epoch)
                continue
            stored = await self._store.call(table.get_record, self._store.store, record.epoch)
            if stored is None or not stored.is_signed:
                await self._store.call(table.put_record, self._store.store, record)
        self._missing_since = None

    # --- serving peers ------------------------------------------------------------------------

    async def serve_records(self, peer_id: str, request: bytes) -> bytes:
        """``[after_epoch, max]`` → encoded signed records above it, oldest first."""
        after, limit = as_list(decode(request, max_bytes=64), "records request", 2)
        after_epoch = as_uint(after, "after_epoch")
        count = min(as_uint(limit, "max"), MAX_RECORDS_PER_REQUEST)
        found = await self._store.call(
            table.records,
            self._store.store,
            limit=count * 4,
            newest_first=False,
            after_epoch=after_epoch,
        )
        return encode([r.encode() for r in found if r.is_signed][:count])


def _visible(gov: Governance) -> tuple[object, ...]:
    """What an operator sees change (not the epoch and cut every checkpoint moves)."""
    return (gov.members, gov.quorum, gov.checkpoint_interval_s, gov.proposals, gov.early_votes)


def records_request(after_epoch: int) -> bytes:
    return encode([after_epoch, MAX_RECORDS_PER_REQUEST])


def decode_records(data: bytes) -> list[bytes]:
    items = as_list(decode(data), "records response")
    return [item for item in items if isinstance(item, bytes)][:MAX_RECORDS_PER_REQUEST]


# --- store reads (run in the store's thread) ------------------------------------------------


def fold(store: LedgerStore, gov: Governance, checkpoint: Checkpoint) -> Governance:
    """The governance after ``checkpoint``, which follows ``gov``'s (the store holds its cut)."""
    heights = {leaf.agency_id: leaf.height for leaf in checkpoint.cut.leaves}
    return advance(
        gov,
        epoch=checkpoint.epoch,
        checkpoint_hash=checkpoint.hash(),
        timestamp_ms=checkpoint.timestamp_ms,
        cut_heights=heights,
        events=_events_between(store, gov.cut_heights, heights),
    )


def _next_record(store: LedgerStore, gov: Governance) -> CheckpointRecord | None:
    """The signed checkpoint that follows ``gov``'s in the chain, if this node holds it."""
    for record in table.records(store, limit=256, newest_first=False, after_epoch=gov.epoch):
        if record.is_signed and record.checkpoint.prev_checkpoint_hash == gov.checkpoint_hash:
            return record
    return None


def _have_blocks(store: LedgerStore, heights: Mapping[str, int]) -> bool:
    heads = store.heads()
    return all(a in heads and heads[a].height >= h for a, h in heights.items())


def _events_between(
    store: LedgerStore, before: Mapping[str, int], after: Mapping[str, int]
) -> list[CutEvent]:
    found: list[CutEvent] = []
    for agency_id, height in after.items():
        start = before.get(agency_id, 0)
        if height > start:
            found.extend(store.governance_events(agency_id, start, height))
    return found
