"""Replication: other agencies' blocks arrive by gossip (fast path) and by sync (completeness).

Gossip is lossy by design (bounded queues, rate limits), so it only carries new blocks quickly.
Whether a node has *everything* is the job of sync: on every new connection, periodically, and
whenever a gossiped block reveals a gap, the node asks a peer for its heads and fetches the
missing blocks in large batches. A node serves only blocks it has validated and committed.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

import trio

from node.core.errors import CalpeError, EncodingError, HeightError, ValidationError
from node.network import GossipMessage, PeerNetwork, Verdict
from node.services import sync_protocol as wire
from node.services.store_access import StoreAccess
from node.storage.store import IngestResult

log = logging.getLogger(__name__)

OnIngested = Callable[[IngestResult], Awaitable[None]]
OnRejected = Callable[[str, str, bool], None]  # (peer_id, reason, penalise)


class Replicator:
    def __init__(
        self,
        store: StoreAccess,
        own_agency: str,
        on_ingested: OnIngested,
        on_rejected: OnRejected,
        *,
        sync_interval: float = 5.0,
        batch_blocks: int = 200,
        max_response_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self._store = store
        self._own = own_agency
        self._on_ingested = on_ingested
        self._on_rejected = on_rejected
        self._sync_interval = sync_interval
        self._batch = batch_blocks
        self._max_response = max_response_bytes
        self._network: PeerNetwork | None = None
        self._wanted: trio.MemorySendChannel[str]
        self._wanted_rx: trio.MemoryReceiveChannel[str]
        self._wanted, self._wanted_rx = trio.open_memory_channel(64)
        self.best_seen: dict[str, int] = {}
        """Highest height any peer reported per agency (for lag)."""
        self.blocks_synced = 0

    def attach(self, network: PeerNetwork) -> None:
        self._network = network

    # --- gossip ---------------------------------------------------------------------------

    async def validate_gossip(self, message: GossipMessage) -> Verdict:
        """Full validation and commit of a gossiped block: only then may it be relayed."""
        try:
            result = await self._ingest(message.data)
        except HeightError as exc:
            if "gap" in str(exc):
                self.want_sync(message.forwarder)
            return Verdict.IGNORE
        except (ValidationError, EncodingError) as exc:
            log.warning("rejected gossip block peer=%s reason=%s", message.forwarder, exc)
            # REJECT itself is the offence: the network layer scores the forwarder.
            self._on_rejected(message.forwarder, getattr(exc, "reason", "malformed"), False)
            return Verdict.REJECT
        if result.outcome == "duplicate":
            return Verdict.IGNORE
        return Verdict.ACCEPT

    async def deliver_gossip(self, message: GossipMessage) -> None:
        """Accepted blocks were committed during validation; nothing is left to do."""

    def want_sync(self, peer_id: str) -> None:
        # A full queue already holds sync rounds that will cover this peer.
        with contextlib.suppress(trio.WouldBlock):
            self._wanted.send_nowait(peer_id)

    async def on_peer_connected(self, peer_id: str) -> None:
        self.want_sync(peer_id)

    # --- serving ----------------------------------------------------------------------------

    async def serve_heads(self, peer_id: str, request: bytes) -> bytes:
        heads = await self._store.call(self._store.store.heads)
        return wire.encode_heads({a: (h.height, h.block_hash) for a, h in heads.items()})

    async def serve_blocks(self, peer_id: str, request: bytes) -> bytes:
        agency, start, count = wire.decode_blocks_request(request)
        store = self._store.store

        def read() -> list[bytes]:
            return store.blocks_bytes(agency, start, count) if agency in store.heads() else []

        blocks = await self._store.call(read)
        budget, kept = self._max_response - 64 * 1024, []
        for raw in blocks:  # stop before the response would outgrow the limit
            budget -= len(raw) + 8
            if budget < 0:
                break
            kept.append(raw)
        return wire.encode_blocks(kept)

    # --- catching up ----------------------------------------------------------------------

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._periodic)
            async for peer_id in self._wanted_rx:
                await self.sync_with(peer_id)

    async def _periodic(self) -> None:
        while True:
            await trio.sleep(self._sync_interval * random.uniform(0.8, 1.2))
            if self._network is not None:
                for peer in self._network.connected_peers():
                    self.want_sync(peer.peer_id)

    async def sync_with(self, peer_id: str) -> int:
        """Fetch every block ``peer_id`` has and we lack; return how many were committed."""
        network = self._network
        if network is None or not network.is_connected(peer_id):
            return 0
        try:
            theirs = wire.decode_heads(
                await network.request(peer_id, wire.HEADS_PROTOCOL, b"", timeout=10)
            )
            ours = await self._store.call(self._store.store.heads)
            total = 0
            for agency, (height, block_hash) in sorted(theirs.items()):
                mine = ours.get(agency)
                if mine is None:
                    continue  # not a member we know (yet)
                self.best_seen[agency] = max(self.best_seen.get(agency, 0), height)
                # Our own agency too: a node restored from an older backup must fetch the
                # blocks it already signed before it signs another (else it equivocates).
                if mine.frozen:
                    continue
                if height > mine.height or (
                    height == mine.height and block_hash != mine.block_hash
                ):
                    start = mine.height + 1 if height > mine.height else mine.height
                    try:
                        total += await self._fetch(peer_id, agency, start, height)
                    finally:
                        # Trust a peer's claimed height only as far as it served valid blocks:
                        # a made-up height must neither stall our own block producer nor show
                        # a lag that never goes away.
                        head = await self._store.call(self._store.store.head, agency)
                        self.best_seen[agency] = head.height
            return total
        except (CalpeError, trio.TooSlowError, OSError) as exc:
            log.info("sync with peer=%s stopped: %s", peer_id, exc)
        except Exception:  # a misbehaving peer must never stop sync for the others
            log.exception("sync with peer=%s failed", peer_id)
        return 0

    async def _fetch(self, peer_id: str, agency: str, start: int, until: int) -> int:
        assert self._network is not None
        committed = 0
        height = start
        while height <= until:
            request = wire.encode_blocks_request(agency, height, self._batch)
            started = time.perf_counter()
            data = await self._network.request(peer_id, wire.BLOCKS_PROTOCOL, request, timeout=60)
            blocks = wire.decode_blocks(data, max_bytes=self._max_response)
            if not blocks:
                break
            outcome = await self._store.call(
                self._store.store.ingest_many, blocks, now_ms=int(time.time() * 1000)
            )
            results = outcome.results
            for result in results:
                await self._on_ingested(result)
            fresh = sum(1 for r in results if r.outcome != "duplicate")
            committed += fresh
            self.blocks_synced += fresh
            log.debug(
                "synced agency=%s from=%s blocks=%s in %.3fs",
                agency,
                height,
                len(blocks),
                time.perf_counter() - started,
            )
            if outcome.rejected is not None:
                reason = getattr(outcome.rejected, "reason", "malformed")
                self._on_rejected(peer_id, reason, True)
                log.warning(
                    "peer=%s served an invalid block of agency=%s: %s",
                    peer_id,
                    agency,
                    outcome.rejected,
                )
                return committed
            if any(r.outcome == "equivocation" for r in results):
                return committed
            height += len(blocks)
        return committed

    async def _ingest(self, data: bytes) -> IngestResult:
        result = await self._store.call(
            self._store.store.ingest, data, now_ms=int(time.time() * 1000)
        )
        if result.outcome != "duplicate":
            await self._on_ingested(result)
        return result
