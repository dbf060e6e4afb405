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
from node.core.errors import CalpeError, NetworkError, TransitionError
from node.core.events import GOVERNANCE_EVENTS, AgencyKeyRotated, Event
from node.core.genesis import Genesis
from node.core.governance import Governance
from node.core.keys import AgencyKeys
from node.core.ledger import AppliedBlock
from node.core.proposals import Action
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
from node.services.governance import (
    CHECKPOINTS_PROTOCOL,
    GovernanceService,
    decode_records,
    records_request,
)
from node.services.key_rotation import KeyRotation
from node.services.producer import BlockProducer, Receipt
from node.services.replication import Replicator
from node.services.signer_changes import SignerChanges
from node.services.snapshot import SnapshotServer
from node.services.store_access import StoreAccess
from node.services.sync_protocol import BLOCKS_PROTOCOL, HEADS_PROTOCOL
from node.storage.store import IngestResult, LedgerStore

log = logging.getLogger(__name__)

VERSION = "0.1.0"


@dataclass(frozen=True)
class NodeParams:
    """Tunables with defaults fit for production; tests shorten the intervals."""

    block_max_events: int = 1000
    """Under load, larger blocks spread each block's gossip, signature and commit over more
    events: five nodes on two cores carried 5,040-5,357 events/s with 1000, 4,755-4,830 with 500
    (``bench.network``). At low load blocks are cut by ``block_max_delay`` instead."""
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
        self.key_rotation = KeyRotation(config, keys)
        if self.agency_id in store.heads():
            keys = self.key_rotation.reconcile(store.head(self.agency_id).ed25519_public)
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
        self.governance_topic = topic_name(genesis.network_id.hex(), "governance")
        self.governance = GovernanceService(
            self.store, genesis, self.agency_id, self.alerts, self.bus, request_sync=self._sync_all
        )
        self.checkpointer = CheckpointService(
            self.store,
            genesis,
            self.agency_id,
            keys,
            config.anchor,
            self.alerts,
            self.bus,
            self.governance,
            publish=self._publish_vote,
            request_sync=self._sync_all,
        )
        self.signer_changes = SignerChanges(
            self.store, self.agency_id, self.checkpointer, publish=self._publish_governance
        )
        self.governance.fetch_records = self._fetch_records
        self.governance.verify_record = self.checkpointer.verify_record
        self.governance.on_changed.append(self._on_governance)
        self.governance.on_changed.append(self.signer_changes.on_governance)
        self.checkpointer.on_signed.append(lambda _record: self.governance.wake())
        for previous in self.key_rotation.previous_keys():
            self.checkpointer.add_signing_key(previous.secp256k1_private)
        self.plugins = PluginHost(config.plugins, str(config.source), self.alerts, self.store)
        self.checkpointer.on_signed.append(
            lambda r: self.plugins.checkpoint_signed(r.epoch, r.checkpoint.checkpoint_root)
        )
        self.snapshots = SnapshotServer(self.store)  # serves /calpe/snapshot/1 to joiners
        self.network = PeerNetwork(self._network_config(keys, store), self._handlers())
        self.replicator.attach(self.network)
        self.peer_agency: dict[str, str] = {}
        self._refresh_peers()
        self._network_restart = trio.Event()
        self._rotation_lock = trio.Lock()
        self.ready = trio.Event()
        self._admin_api = params.admin_api
        self.admin: Endpoints | None = None
        """Where the admin API listens, once ``run`` has started it."""

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self._run_network)
            nursery.start_soon(self.producer.run)
            nursery.start_soon(self.replicator.run)
            nursery.start_soon(self.governance.run)
            nursery.start_soon(self.checkpointer.run)
            nursery.start_soon(self.signer_changes.run)
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

    async def _run_network(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """The peer network; restarted in place with a new identity after a key rotation."""
        started = False
        while True:
            async with trio.open_nursery() as inner:
                await inner.start(self.network.run)
                if not started:
                    task_status.started()
                    started = True
                await self._network_restart.wait()
                inner.cancel_scope.cancel()
            self._network_restart = trio.Event()
            keys = self.producer.keys
            self.network = PeerNetwork(
                self._network_config(keys, self.store.store), self._handlers()
            )
            self.replicator.attach(self.network)
            log.info("peer network restarted with identity %s", self.network.peer_id)

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
        return [r.to_json(self.checkpointer.quorum(r.epoch)) for r in found]

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

    # --- governance ----------------------------------------------------------------------

    def governance_document(self) -> dict[str, Any]:
        """``GET /v1/governance``: members, quorum, interval and proposals in force."""
        return self.governance.document()

    async def propose(
        self, action: Action, expires_s: int | None = None, request_id: str | None = None
    ) -> tuple[bytes, Receipt]:
        """Put a governance proposal in this agency's log (it counts as our approval)."""
        event = self.governance.proposal_event(action, expires_s)
        receipt = await self.producer.submit([event], request_id)
        return event.proposal_id(self.agency_id), receipt

    async def vote(self, proposal_id: bytes, request_id: str | None = None) -> Receipt:
        """Approve a proposal; refuses an unknown proposal and a second vote."""
        if request_id is None or self.store.store.request_receipt(request_id) is None:
            await self.store.call(self.governance.check_vote, proposal_id)
        return await self.producer.submit([self.governance.vote_event(proposal_id)], request_id)

    async def rotate_own_keys(self, request_id: str | None = None) -> dict[str, Any]:
        """Replace this agency's keys, signed by the current ones, without stopping the node.

        The new keystore is written before the rotation is committed; the block announcing it
        is the last one signed with the old key. The network identity follows at once; the
        old secp256k1 key keeps co-signing checkpoints until governance adopts the new address.
        """
        async with self._rotation_lock:
            return await self._rotate_own_keys(request_id)

    async def _rotate_own_keys(self, request_id: str | None) -> dict[str, Any]:
        store = self.store.store
        if request_id is not None and store.request_receipt(request_id) is not None:
            # a retry: answer with the keys that request announced, generate nothing
            keys = self.producer.keys
            event = AgencyKeyRotated(keys.ed25519_public, keys.secp256k1_address)
            receipt = await self.producer.submit([event], request_id)
            return _rotation_json(keys, receipt)
        listed = self.governance.current.member(self.agency_id)
        if (
            listed is not None
            and listed.ed25519_public != store.head(self.agency_id).ed25519_public
        ):
            raise TransitionError(
                "the previous key rotation is not adopted by a checkpoint yet; rotate again "
                "after it is (the contract still knows only the key before it)"
            )
        new = await trio.to_thread.run_sync(self.key_rotation.prepare)
        event = AgencyKeyRotated(new.ed25519_public, new.secp256k1_address)
        receipt = await self.producer.submit([event], request_id)
        await trio.to_thread.run_sync(self.key_rotation.promote, new)
        self.producer.keys_changed(new)
        self.checkpointer.add_signing_key(new.secp256k1_private)
        self._refresh_peers()
        self._network_restart.set()
        log.info("keys rotated agency=%s at height=%s", self.agency_id, receipt.height)
        return _rotation_json(new, receipt)

    def _on_governance(self, before: Governance, after: Governance) -> None:
        if before.members == after.members:
            return
        self._refresh_peers()
        for member in after.members:
            if before.member(member.agency_id) is None and member.agency_id != self.agency_id:
                for address in member.addresses:
                    peer = peer_id_from_ed25519_public(member.ed25519_public)
                    self.network.add_static_peer(StaticPeer(peer, (f"{address}/p2p/{peer}",)))

    def _refresh_peers(self) -> None:
        """Allow every active member's peer ID (the key governance lists and, after a self-signed
        rotation not yet adopted, the key its log now uses); disconnect everyone else."""
        gov = self.governance.current
        heads = self.store.store.heads()
        allowed: dict[str, str] = {}
        for member in gov.active:
            keys = {member.ed25519_public}
            if member.agency_id in heads:
                keys.add(heads[member.agency_id].ed25519_public)
            for key in keys:
                allowed[peer_id_from_ed25519_public(key)] = member.agency_id
        self.peer_agency = allowed
        self.network.set_members(p for p, a in allowed.items() if a != self.agency_id)

    async def _fetch_records(self, after_epoch: int) -> list[bytes]:
        for peer in self.network.connected_peers():
            try:
                data = await self.network.request(
                    peer.peer_id, CHECKPOINTS_PROTOCOL, records_request(after_epoch), timeout=10
                )
                return decode_records(data)
            except (NetworkError, CalpeError) as exc:
                log.info("checkpoint records from %s failed: %s", peer.peer_id[:12], exc)
        return []

    def _behind_on_own_blocks(self) -> bool:
        """True while a peer has reported a later block of this agency than we have."""
        seen = self.replicator.best_seen.get(self.agency_id, 0)
        head = self.store.store.heads().get(self.agency_id)
        return head is not None and seen > head.height

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
            if any(isinstance(e, AgencyKeyRotated) for e in result.applied.block.events):
                self._refresh_peers()  # the rotated agency connects with its new identity

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
        if any(isinstance(e, GOVERNANCE_EVENTS) for e in block.events):
            self.bus.publish("governance", self.governance.document())
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

    async def _publish_governance(self, data: bytes) -> None:
        await self.network.publish(self.governance_topic, data)

    def _sync_all(self) -> None:
        for peer in self.network.connected_peers():
            self.replicator.want_sync(peer.peer_id)

    async def _validate(self, message: GossipMessage) -> Verdict:
        if message.topic == self.checkpoints_topic:
            return await self.checkpointer.validate_gossip(message)
        if message.topic == self.governance_topic:
            return await self.signer_changes.validate_gossip(message)
        return await self.replicator.validate_gossip(message)

    async def _deliver(self, message: GossipMessage) -> None:
        if message.topic == self.checkpoints_topic:
            await self.checkpointer.deliver_gossip(message)
        elif message.topic == self.governance_topic:
            await self.signer_changes.deliver_gossip(message)
        else:
            await self.replicator.deliver_gossip(message)
            self.governance.wake()

    def _handlers(self) -> NetworkHandlers:
        return NetworkHandlers(
            validate=self._validate,
            deliver=self._deliver,
            requests={
                HEADS_PROTOCOL: self.replicator.serve_heads,
                BLOCKS_PROTOCOL: self.replicator.serve_blocks,
                CHECKPOINTS_PROTOCOL: self.governance.serve_records,
                **self.snapshots.handlers(),
            },
            on_peer_connected=self.replicator.on_peer_connected,
        )

    def _network_config(self, keys: AgencyKeys, store: LedgerStore) -> NetworkConfig:
        heads = store.heads()
        gov = self.governance.current
        members = {
            m.agency_id: peer_id_from_ed25519_public(
                heads[m.agency_id].ed25519_public if m.agency_id in heads else m.ed25519_public
            )
            for m in gov.active
        }
        own = members.pop(self.agency_id, None)
        if own is not None and own != peer_id_from_ed25519_public(keys.ed25519_public):
            raise ValueError("the keystore's Ed25519 key is not this agency's current key")
        static = [
            StaticPeer(members[p.agency_id], (p.address,))
            for p in self.config.network.peers
            if p.agency_id in members
        ]
        return NetworkConfig(
            identity_seed=keys.ed25519_seed,
            members=tuple(members.values()),
            topics=(self.blocks_topic, self.checkpoints_topic, self.governance_topic),
            listen_addrs=tuple(self.config.network.listen),
            static_peers=tuple(static),
        )


def _rotation_json(keys: AgencyKeys, receipt: Receipt) -> dict[str, Any]:
    return {
        "ed25519": keys.ed25519_public.hex(),
        "secp256k1_address": "0x" + keys.secp256k1_address.hex(),
        "receipt": receipt,
    }


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
