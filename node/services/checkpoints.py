"""The checkpoint protocol as a trio service: propose, verify, co-sign and collect a quorum.

Every ``tick`` the service looks at the current epoch: when it is this agency's turn (see
:class:`~node.core.checkpoint_protocol.Schedule`) and the ledger moved since the previous
checkpoint, it proposes its current cut. Votes arrive on the ``checkpoints`` gossip topic; the
validator checks only that the signer is a member whose current secp256k1 address recovers from
the EIP-712 digest, so that relaying is safe. The service then, in one task and in arrival order,
recomputes each cut leaf from its own store (asking replication to fetch what it lacks, and
retrying), refuses cuts that go backwards, co-signs at most one checkpoint per epoch, and persists
a record once ``k`` signatures are in. Gossip is lossy, so a node re-publishes its vote for recent
epochs until the epoch has passed; votes are idempotent.

Without an ``[anchor]`` section the contract address, and hence the digest, is unknown: the
service then does nothing and ignores votes.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from node.config import AnchorSection
from node.core import eip712
from node.core.checkpoint import Checkpoint
from node.core.checkpoint_protocol import (
    CheckpointRecord,
    CheckpointVote,
    Schedule,
    check_cut,
    check_timing,
    decode_vote,
)
from node.core.errors import CalpeError, CheckpointRefusedError, SignatureError
from node.core.genesis import Genesis
from node.core.governance import Governance
from node.core.hashing import ZERO_HASH
from node.core.keys import AgencyKeys
from node.network import GossipMessage, Verdict
from node.services.alerts import AlertBook
from node.services.bus import UpdateBus
from node.services.governance import GovernanceService
from node.services.store_access import StoreAccess
from node.storage import checkpoint_table as table
from node.storage.store import LedgerStore

log = logging.getLogger(__name__)

Publish = Callable[[bytes], Awaitable[None]]
OnSigned = Callable[[CheckpointRecord], None]


def _now_ms() -> int:
    return int(time.time() * 1000)


class CheckpointService:
    def __init__(
        self,
        store: StoreAccess,
        genesis: Genesis,
        agency_id: str,
        keys: AgencyKeys,
        anchor: AnchorSection | None,
        alerts: AlertBook,
        bus: UpdateBus,
        governance: GovernanceService,
        *,
        publish: Publish,
        request_sync: Callable[[], None],
        tick_s: float = 0.5,
        skew_ms: int = 2_000,
        rebroadcast_s: float = 2.0,
    ) -> None:
        self._store = store
        self.genesis = genesis
        self.agency_id = agency_id
        self._signing_keys = {
            eip712.address_bytes(eip712.address_of(keys.secp256k1_private)): keys.secp256k1_private
        }
        self.contract = anchor.contract if anchor else None
        self._takeover = int(anchor.takeover_s * 1000) if anchor and anchor.takeover_s else None
        self.governance = governance
        self._alerts = alerts
        self._bus = bus
        self._publish = publish
        self._request_sync = request_sync
        self._tick_s = tick_s
        self._skew_ms = skew_ms
        self._rebroadcast_s = rebroadcast_s
        self._inbox_tx, self._inbox_rx = trio.open_memory_channel[CheckpointVote](256)
        self._pending: dict[bytes, CheckpointRecord] = {}
        self._my_votes: dict[int, tuple[float, CheckpointVote]] = {}
        self._signed_event = trio.Event()
        self._last_signed = -1  # unknown until the first tick reads the table
        self.on_signed: list[OnSigned] = []
        """Called (synchronously) with each record that reaches quorum."""

    @property
    def enabled(self) -> bool:
        return self.contract is not None

    @property
    def schedule(self) -> Schedule:
        """The schedule of the governance in force now."""
        return self.schedule_of(self.governance.current)

    def schedule_of(self, gov: Governance) -> Schedule:
        return Schedule.of(
            gov.schedule_base_ms,
            gov.checkpoint_interval_s,
            gov.active_ids,
            self._takeover,
            gov.schedule_base_epoch,
        )

    def quorum(self, epoch: int) -> int:
        return self.governance.in_force(epoch).quorum

    def add_signing_key(self, secp256k1_private: bytes) -> None:
        """Also sign with this key when the governance in force lists its address (a rotated
        agency signs with its old key until the rotation is adopted, then with the new one)."""
        address = eip712.address_bytes(eip712.address_of(secp256k1_private))
        self._signing_keys[address] = secp256k1_private

    def signing_key_for(self, address: bytes) -> bytes | None:
        """This node's secp256k1 private key for ``address``, if it holds it."""
        return self._signing_keys.get(address)

    def verify_record(self, record: CheckpointRecord, gov: Governance) -> bool:
        """Whether ``record`` holds ``gov.quorum`` valid signatures of ``gov``'s active members."""
        if not self.enabled or record.checkpoint.network_id != self.genesis.network_id:
            return False
        digest = self.digest(record.epoch, record.checkpoint.checkpoint_root)
        valid = 0
        for signer, signature in record.signatures.items():
            member = gov.member(signer)
            if member is None or not member.active:
                continue
            try:
                recovered = eip712.address_bytes(eip712.recover_signer(digest, signature))
            except SignatureError:
                continue
            valid += recovered == member.secp256k1_address
        return valid >= gov.quorum

    def digest(self, epoch: int, root: bytes) -> bytes:
        assert self.contract is not None
        return eip712.checkpoint_digest(
            self.genesis.rsk_chain_id, self.contract, self.genesis.network_id, epoch, root
        )

    # --- gossip -------------------------------------------------------------------------------

    async def validate_gossip(self, message: GossipMessage) -> Verdict:
        """Relay only votes by a member whose current address signed the digest."""
        if not self.enabled:
            return Verdict.IGNORE
        try:
            vote = decode_vote(message.data)
        except CalpeError as exc:
            log.warning("malformed checkpoint vote peer=%s: %s", message.forwarder, exc)
            return Verdict.REJECT
        checkpoint = vote.checkpoint
        if checkpoint.network_id != self.genesis.network_id:
            return Verdict.REJECT
        if checkpoint.epoch > self.schedule.epoch_at(_now_ms() + self._skew_ms):
            return Verdict.IGNORE
        gov = self.governance.in_force(checkpoint.epoch)
        signer_member = gov.member(vote.signer)
        proposer_member = gov.member(vote.proposer)
        if signer_member is None or proposer_member is None:
            # a member this node does not know yet (it has not folded the checkpoint that
            # admitted it): not evidence of misbehaviour
            return Verdict.IGNORE
        if not signer_member.active:
            return Verdict.REJECT
        expected = signer_member.secp256k1_address
        try:
            signer = eip712.recover_signer(
                self.digest(checkpoint.epoch, checkpoint.checkpoint_root), vote.signature
            )
        except SignatureError:
            return Verdict.REJECT
        if eip712.address_bytes(signer) != expected:
            log.warning(
                "checkpoint vote epoch=%s claims signer=%s but %s signed it",
                checkpoint.epoch,
                vote.signer,
                signer,
            )
            return Verdict.REJECT
        return Verdict.ACCEPT

    async def deliver_gossip(self, message: GossipMessage) -> None:
        with contextlib.suppress(trio.WouldBlock, CalpeError):
            self._inbox_tx.send_nowait(decode_vote(message.data))

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        if not self.enabled:
            log.info("no [anchor] contract configured: checkpoints are not signed")
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._ticker)
            async for vote in self._inbox_rx:
                await self._guarded(self._on_vote(vote, fresh=True))

    async def _ticker(self) -> None:
        while True:
            await self._inbox_tx.send(_TICK)
            await trio.sleep(self._tick_s)

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except CalpeError as exc:
            log.warning("checkpoint step failed: %s", exc)
        except Exception:  # one bad vote must never stop the protocol
            log.exception("checkpoint step failed")

    async def _on_vote(self, vote: CheckpointVote, *, fresh: bool) -> None:
        if vote is _TICK:
            await self._tick()
            return
        checkpoint = vote.checkpoint
        record = await self._record_for(checkpoint, vote.proposer)
        record = record.with_signature(vote.signer, vote.signature)
        await self._advance(record, retry=fresh)

    async def _record_for(self, checkpoint: Checkpoint, proposer: str) -> CheckpointRecord:
        stored = await self._store.call(table.get_record, self._store.store, checkpoint.epoch)
        key = checkpoint.hash()
        if stored is not None and stored.checkpoint.hash() == key:
            return stored
        return self._pending.get(key) or CheckpointRecord(checkpoint, proposer)

    async def _advance(self, record: CheckpointRecord, *, retry: bool) -> None:
        """Co-sign if we may, count the quorum, persist what must be kept."""
        epoch = record.epoch
        stored = await self._store.call(table.get_record, self._store.store, epoch)
        same = stored is not None and stored.checkpoint.hash() == record.checkpoint.hash()
        signed_other = (
            stored is not None
            and not same
            and (self.agency_id in stored.signatures or stored.is_signed)
        )
        if self.agency_id not in record.signatures and not signed_other:
            try:
                record = await self._cosign(record)
            except _NotYetError:
                pass
            except CheckpointRefusedError as exc:
                log.warning("refusing checkpoint epoch=%s: %s", epoch, exc)
        record = record.reached(self.quorum(epoch), _now_ms())
        keep = self.agency_id in record.signatures or record.is_signed
        if keep and not (signed_other and not record.is_signed):
            if stored is not None and same:
                record = _merge(stored, record)
            await self._store.call(table.put_record, self._store.store, record)
            self._pending.pop(record.checkpoint.hash(), None)
            if record.is_signed and (stored is None or not stored.is_signed or not same):
                self._announce(record)
        else:
            self._pending[record.checkpoint.hash()] = record

    async def _cosign(self, record: CheckpointRecord) -> CheckpointRecord:
        checkpoint = record.checkpoint
        gov = self.governance.in_force(checkpoint.epoch)
        key = self._signing_key(gov)
        if key is None:
            raise _NotYetError  # not a signer of this epoch, or our key is not the listed one
        vote = CheckpointVote(checkpoint, record.proposer, record.proposer, b"")
        check_timing(self.schedule_of(gov), vote, _now_ms(), self._skew_ms)
        await self._verify(checkpoint, gov)
        signature = eip712.sign_digest(
            key, self.digest(checkpoint.epoch, checkpoint.checkpoint_root)
        )
        mine = CheckpointVote(checkpoint, record.proposer, self.agency_id, signature)
        log.info("co-signed checkpoint epoch=%s proposer=%s", checkpoint.epoch, record.proposer)
        await self._send(mine)
        return record.with_signature(self.agency_id, signature)

    def _signing_key(self, gov: Governance) -> bytes | None:
        member = gov.member(self.agency_id)
        if member is None or not member.active:
            return None
        return self._signing_keys.get(member.secp256k1_address)

    async def _verify(self, checkpoint: Checkpoint, gov: Governance) -> None:
        store = self._store.store
        local = await self._store.call(table.local_leaves, store, checkpoint.cut)
        if len(local) < len(checkpoint.cut.leaves):
            self._request_sync()
            raise _NotYetError
        previous = await self._store.call(table.latest_signed, store, checkpoint.epoch)
        members = {m.agency_id for m in gov.members}
        pinned = {
            m.agency_id: m.removed_height for m in gov.members if m.removed_height is not None
        }
        check_cut(
            checkpoint.cut, local, members, previous.checkpoint.cut if previous else None, pinned
        )
        prev_hash = checkpoint.prev_checkpoint_hash
        if prev_hash != (previous.checkpoint.hash() if previous else ZERO_HASH):
            known = await self._store.call(table.records, store, limit=10_000, after_epoch=0)
            if not any(r.checkpoint.hash() == prev_hash and r.is_signed for r in known):
                raise CheckpointRefusedError(
                    f"epoch {checkpoint.epoch} builds on a checkpoint this node does not know"
                )

    async def _send(self, vote: CheckpointVote) -> None:
        self._my_votes[vote.checkpoint.epoch] = (trio.current_time(), vote)
        try:
            await self._publish(vote.encode())
        except Exception as exc:  # the re-broadcast will try again
            log.info("publishing checkpoint vote epoch=%s failed: %s", vote.checkpoint.epoch, exc)

    def _announce(self, record: CheckpointRecord) -> None:
        log.info(
            "checkpoint signed epoch=%s root=%s signers=%s",
            record.epoch,
            record.checkpoint.checkpoint_root.hex(),
            ",".join(sorted(record.signatures)),
        )
        self._bus.publish("checkpoint", record.to_json(self.quorum(record.epoch)))
        self._last_signed = max(self._last_signed, record.epoch)
        self._signed_event.set()
        self._signed_event = trio.Event()
        for callback in self.on_signed:
            try:
                callback(record)
            except Exception:
                log.exception("checkpoint-signed callback failed epoch=%s", record.epoch)

    # --- each tick ----------------------------------------------------------------------------

    async def _tick(self) -> None:
        now = _now_ms()
        epoch = self.schedule.epoch_at(now)
        for record in list(self._pending.values()):
            if record.epoch < epoch - 1:
                del self._pending[record.checkpoint.hash()]
            elif self.agency_id not in record.signatures:
                await self._advance(record, retry=True)
        await self._rebroadcast(epoch)
        if epoch >= 1:
            await self._maybe_propose(epoch, now)
            await self._check_stale(epoch)

    async def _rebroadcast(self, epoch: int) -> None:
        for vote_epoch, (sent, vote) in list(self._my_votes.items()):
            if vote_epoch < epoch - 1:
                del self._my_votes[vote_epoch]
            elif trio.current_time() - sent >= self._rebroadcast_s:
                await self._send(vote)

    async def _maybe_propose(self, epoch: int, now: int) -> None:
        gov = self.governance.in_force(epoch)
        schedule = self.schedule_of(gov)
        attempt = schedule.attempt_at(epoch, now)
        turns = {schedule.proposer(epoch, a) for a in range(attempt + 1)}
        if self.agency_id not in turns:
            return
        store = self._store.store
        stored = await self._store.call(table.get_record, store, epoch)
        if stored is not None:
            return  # proposed already, or co-signed someone's
        if any(r.epoch == epoch for r in self._pending.values()):
            return  # another proposal is being verified
        pinned = {
            m.agency_id: m.removed_height for m in gov.members if m.removed_height is not None
        }
        cut = await self._store.call(table.current_cut, store, pinned)
        if {leaf.agency_id for leaf in cut.leaves} != {m.agency_id for m in gov.members}:
            return  # the store has not caught up with the governance in force yet
        previous = await self._store.call(table.latest_signed, store, epoch)
        last = await self._store.call(table.records, store, limit=1)
        if last and last[0].checkpoint.checkpoint_root == cut.root():
            return  # nothing new since the last checkpoint: save the gas
        checkpoint = Checkpoint(
            self.genesis.network_id,
            epoch,
            cut.root(),
            cut,
            now,
            previous.checkpoint.hash() if previous else ZERO_HASH,
        )
        log.info("proposing checkpoint epoch=%s attempt=%s", epoch, attempt)
        await self._advance(CheckpointRecord(checkpoint, self.agency_id), retry=False)

    async def _check_stale(self, epoch: int) -> None:
        if self._last_signed < 0:
            found = await self._store.call(table.latest_signed, self._store.store)
            self._last_signed = found.epoch if found else 0
        # an idle ledger needs no checkpoint: measure from the first epoch after the last one
        newest = self._last_signed
        if epoch - newest > 5 and epoch > 5 and await self._ledger_moved():
            self._alerts.raise_alert(
                "warning",
                "stale_checkpoint",
                f"no checkpoint co-signed for {epoch - newest} epochs: check that at least "
                f"{self.governance.current.quorum} agencies are online and agree on the "
                "[anchor] contract",
                fold_s=600,
            )

    async def _ledger_moved(self) -> bool:
        store = self._store.store
        last = await self._store.call(table.latest_signed, store)
        cut = await self._store.call(table.current_cut, store, self._pinned())
        return last is None or last.checkpoint.checkpoint_root != cut.root()

    # --- what the node and plugins call -------------------------------------------------------

    async def records(self, limit: int = 50) -> list[CheckpointRecord]:
        return await self._store.call(table.records, self._store.store, limit=limit)

    async def signed_after(self, epoch: int) -> list[CheckpointRecord]:
        """Signed records with an epoch above ``epoch``, oldest first."""
        found = await self._store.call(
            table.records, self._store.store, limit=10_000, newest_first=False, after_epoch=epoch
        )
        return [r for r in found if r.is_signed]

    async def wait_signed(self, timeout: float) -> None:
        """Return when a checkpoint reaches quorum, or after ``timeout`` seconds."""
        with trio.move_on_after(timeout):
            await self._signed_event.wait()

    async def set_anchor_state(
        self, epoch: int, state: str, tx_hash: str | None, confirmations: int
    ) -> None:
        """Record how anchoring of ``epoch`` stands (the bridge calls this)."""
        store = self._store.store
        record = await self._store.call(table.get_record, store, epoch)
        if record is None:
            return
        updated = record.anchored(state, tx_hash, confirmations)
        if updated != record:
            await self._store.call(table.put_record, store, updated)
            if state == "confirmed" and record.state != "confirmed":
                # proofs are served against the newest confirmed checkpoint: the state history
                # below its cut is no longer needed
                await self._store.call(_prune_below_cut, store, updated)
            self._bus.publish("checkpoint", updated.to_json(self.quorum(epoch)))

    async def status(self) -> dict[str, Any] | None:
        """The checkpoint a sysadmin asks about: the newest one on its way to (or on) RSK,
        else the newest signed or proposed one."""
        recent = await self.records(limit=16)
        views = [r.to_json(self.quorum(r.epoch)) for r in recent]
        anchoring = [v for v in views if v["state"] in ("submitted", "confirmed", "reorged")]
        chosen = anchoring or views
        return chosen[0] if chosen else None

    def _pinned(self) -> dict[str, int]:
        gov = self.governance.current
        return {m.agency_id: m.removed_height for m in gov.members if m.removed_height is not None}


def _prune_below_cut(store: LedgerStore, record: CheckpointRecord) -> None:
    heads = store.heads()
    store.prune_history_through(
        {
            leaf.agency_id: leaf.height
            for leaf in record.checkpoint.cut.leaves
            if leaf.agency_id in heads
        }
    )


class _NotYetError(Exception):
    """The cut names blocks this node has not fetched yet: retry after sync."""


def _merge(stored: CheckpointRecord, new: CheckpointRecord) -> CheckpointRecord:
    """``new``'s signatures over ``stored``'s anchoring progress."""
    merged = stored
    for signer, signature in new.signatures.items():
        merged = merged.with_signature(signer, signature)
    if new.is_signed and not merged.is_signed:
        merged = merged.reached(0, new.signed_ms)
    return merged


_TICK: Any = object()
