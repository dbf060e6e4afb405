"""The ledger node: one agency's store, keys, peer network, block producer and replication.

``LedgerNode.run`` is the whole node under one trio nursery; cancelling it stops every part in
order and closes the sockets. The admin API and the plugins use the methods here, never the
parts directly.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import trio

from node.admin.server import Endpoints, serve_admin
from node.config import NodeConfig
from node.core.checkpoint_protocol import CheckpointRecord
from node.core.events import Event
from node.core.genesis import Genesis
from node.core.keys import AgencyKeys
from node.core.ledger import AppliedBlock
from node.network import (
    GossipMessage,
    NetworkConfig,
    NetworkHandlers,
    PeerInfo,
    PeerNetwork,
    StaticPeer,
    Verdict,
    peer_id_from_ed25519_public,
    topic_name,
)
from node.plugins_host import PluginHost
from node.services.alerts import AlertBook
from node.services.bus import UpdateBus
from node.services.checkpoints import CheckpointService
from node.services.producer import BlockProducer, Receipt
from node.services.replication import Replicator
from node.services.store_access import StoreAccess
from node.services.sync_protocol import BLOCKS_PROTOCOL, HEADS_PROTOCOL
from node.storage.store import IngestResult, LedgerStore

log = logging.getLogger(__name__)

VERSION = "0.1.0"


@dataclass(frozen=True)
class NodeParams:
    """Tunables with defaults fit for production; tests shorten the intervals."""

    block_max_events: int = 500
    block_max_delay: float = 0.2
    sync_interval: float = 5.0
    admin_api: bool = True
    """Serve the admin API (and the public endpoint, if configured) inside ``run``."""


class LedgerNode:
    def __init__(
        self,
        config: NodeConfig,
        genesis: Genesis,
        keys: AgencyKeys,
        store: LedgerStore,
        params: NodeParams = NodeParams(),
    ) -> None:
        self.config = config
        self.genesis = genesis
        self.agency_id = config.node.agency_id
        self.store = StoreAccess(store)
        self.bus = UpdateBus()
        self.alerts = AlertBook(self.bus)
        self.started_ms = int(time.time() * 1000)
        self.events_committed = 0
        self.rejections: Counter[str] = Counter()  # peers' refused blocks by reason (metrics)
        self._rate = _RateMeter()
        self.producer = BlockProducer(
            self.store,
            self.agency_id,
            keys,
            self._on_own_block,
            max_events=params.block_max_events,
            max_delay=params.block_max_delay,
            behind=self._behind_on_own_blocks,
        )
        self.replicator = Replicator(
            self.store,
            self.agency_id,
            self._on_ingested,
            self._on_rejected,
            sync_interval=params.sync_interval,
        )
        self.blocks_topic = topic_name(genesis.network_id.hex(), "blocks")
        self.checkpoints_topic = topic_name(genesis.network_id.hex(), "checkpoints")
        self.checkpointer = CheckpointService(
            self.store,
            genesis,
            self.agency_id,
            keys,
            config.anchor,
            self.alerts,
            self.bus,
            publish=self._publish_vote,
            request_sync=self._sync_all,
        )
        self.plugins = PluginHost(config.plugins, str(config.source), self.alerts, self.store)
        self.checkpointer.on_signed.append(
            lambda r: self.plugins.checkpoint_signed(r.epoch, r.checkpoint.checkpoint_root)
        )
        self.network = PeerNetwork(self._network_config(keys, store), self._handlers())
        self.replicator.attach(self.network)
        self.peer_agency = {
            peer_id_from_ed25519_public(h.ed25519_public): a for a, h in store.heads().items()
        }
        self.ready = trio.Event()
        self._admin_api = params.admin_api
        self.admin: Endpoints | None = None
        """Where the admin API listens, once ``run`` has started it."""

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.network.run)
            nursery.start_soon(self.producer.run)
            nursery.start_soon(self.replicator.run)
            nursery.start_soon(self.checkpointer.run)
            await nursery.start(self.plugins.run, self)
            if self._admin_api:
                self.admin = await nursery.start(serve_admin, self)
            log.info(
                "node running agency=%s peer=%s listen=%s",
                self.agency_id,
                self.network.peer_id,
                ",".join(self.network.listen_addrs),
            )
            self.ready.set()
            task_status.started()

    # --- what the admin API and plugins call ---------------------------------------------

    async def submit(self, events: Sequence[Event], request_id: str | None = None) -> Receipt:
        """Commit ``events`` in one of this agency's blocks; returns once durable.

        A ``request_id`` makes the call idempotent: a retry returns the first receipt.
        """
        return await self.producer.submit(events, request_id)

    def peers(self) -> list[PeerInfo]:
        return self.network.connected_peers()

    def events_per_second(self) -> float:
        return self._rate.rate()

    async def checkpoints(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` checkpoint records, newest first (admin ``Checkpoint`` shape)."""
        found: list[CheckpointRecord] = await self.checkpointer.records(limit)
        return [r.to_json(self.genesis.quorum) for r in found]

    async def checkpoint_status(self) -> dict[str, Any] | None:
        """The newest checkpoint record (the ``checkpoint`` field of ``/v1/status``)."""
        return await self.checkpointer.status()

    def rsk_status(self) -> dict[str, Any] | None:
        """The RSK bridge's ``{"account", "balance_wei", "chain_id", "endpoint"}``, if running."""
        rsk: dict[str, Any] | None = self.plugins.status_fields().get("rsk")
        return rsk

    def plugin_states(self) -> list[dict[str, Any]]:
        """Every installed plugin: ``{"name", "enabled", "state", "errors"}``."""
        return self.plugins.states()

    async def set_plugin_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        """Enable or disable a plugin (persisted); raises ``UnknownPluginError``."""
        return await self.plugins.set_enabled(name, enabled)

    def _behind_on_own_blocks(self) -> bool:
        """True while a peer has reported a later block of this agency than we have."""
        seen = self.replicator.best_seen.get(self.agency_id, 0)
        return seen > self.store.store.head(self.agency_id).height

    # --- callbacks -------------------------------------------------------------------------

    async def _on_own_block(self, applied: AppliedBlock) -> None:
        self._committed(applied)
        try:
            await self.network.publish(self.blocks_topic, applied.block.encode())
        except Exception as exc:  # peers will fetch it by sync
            log.warning("publishing block height=%s failed: %s", applied.block.height, exc)

    async def _on_ingested(self, result: IngestResult) -> None:
        if result.outcome == "equivocation":
            self.alerts.raise_alert(
                "critical",
                "equivocation",
                f"{result.agency_id} signed two different blocks at height {result.height}; its "
                "log is frozen until governance decides",
            )
        elif result.applied is not None:
            self._committed(result.applied)

    def _on_rejected(self, peer_id: str, reason: str, penalise: bool) -> None:
        self.rejections[reason] += 1
        if penalise:
            self.network.penalise(peer_id, reason)
        agency = self.peer_agency.get(peer_id, "unknown")
        self.alerts.raise_alert(
            "warning", "peer_rejected", f"{agency} ({peer_id[:12]}…) sent invalid data: {reason}"
        )

    def _committed(self, applied: AppliedBlock) -> None:
        block = applied.block
        self.events_committed += len(block.events)
        self._rate.add(len(block.events))
        self.bus.publish(
            "block",
            {
                "agency_id": block.agency_id,
                "height": block.height,
                "block_hash": block.hash.hex(),
                "event_count": len(block.events),
                "timestamp_ms": block.header.timestamp_ms,
            },
        )

    # --- wiring ----------------------------------------------------------------------------

    async def _publish_vote(self, data: bytes) -> None:
        await self.network.publish(self.checkpoints_topic, data)

    def _sync_all(self) -> None:
        for peer in self.network.connected_peers():
            self.replicator.want_sync(peer.peer_id)

    async def _validate(self, message: GossipMessage) -> Verdict:
        if message.topic == self.checkpoints_topic:
            return await self.checkpointer.validate_gossip(message)
        return await self.replicator.validate_gossip(message)

    async def _deliver(self, message: GossipMessage) -> None:
        if message.topic == self.checkpoints_topic:
            await self.checkpointer.deliver_gossip(message)
        else:
            await self.replicator.deliver_gossip(message)

    def _handlers(self) -> NetworkHandlers:
        return NetworkHandlers(
            validate=self._validate,
            deliver=self._deliver,
            requests={
                HEADS_PROTOCOL: self.replicator.serve_heads,
                BLOCKS_PROTOCOL: self.replicator.serve_blocks,
            },
            on_peer_connected=self.replicator.on_peer_connected,
        )

    def _network_config(self, keys: AgencyKeys, store: LedgerStore) -> NetworkConfig:
        heads = store.heads()
        members = {a: peer_id_from_ed25519_public(h.ed25519_public) for a, h in heads.items()}
        own = members.pop(self.agency_id)
        if own != peer_id_from_ed25519_public(keys.ed25519_public):
            raise ValueError("the keystore's Ed25519 key is not this agency's current key")
        static = [
            StaticPeer(members[p.agency_id], (p.address,))
            for p in self.config.network.peers
            if p.agency_id in members
        ]
        return NetworkConfig(
            identity_seed=keys.ed25519_seed,
            members=tuple(members.values()),
            topics=(self.blocks_topic, self.checkpoints_topic),
            listen_addrs=tuple(self.config.network.listen),
            static_peers=tuple(static),
        )


class _RateMeter:
    """Events per second over the last ten seconds."""

    def __init__(self, window: float = 10.0) -> None:
        self._window = window
        self._samples: list[tuple[float, int]] = []

    def add(self, count: int) -> None:
        now = time.monotonic()
        self._samples.append((now, count))
        self._trim(now)

    def rate(self) -> float:
        now = time.monotonic()
        self._trim(now)
        return sum(c for _, c in self._samples) / self._window

    def _trim(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self._window:
            self._samples.pop(0)
