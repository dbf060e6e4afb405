"""``PeerNetwork``: the one object through which the node talks to other member agencies."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable
from typing import Any, TypeVar

import trio
from libp2p.host.basic_host import BasicHost
from libp2p.host.ping import PingService
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo as Libp2pPeerInfo
from libp2p.tools.anyio_service import background_trio_service
from multiaddr import Multiaddr

from node.core import errors
from node.network.api import GossipMessage, NetworkHandlers, PeerInfo
from node.network.config import NetworkConfig, StaticPeer
from node.network.gating import MemberGate
from node.network.gossip import (
    CalpePubsub,
    DeliveryQueue,
    ForwarderMemory,
    GossipValidator,
    build_router,
)
from node.network.host import (
    ConnectionNotifee,
    attach_libp2p_logging,
    build_host,
    dial_only,
    listen_multiaddrs,
)
from node.network.identity import key_pair_from_seed, parse_peer_id
from node.network.peers import Limits, PeerBook
from node.network.reqresp import RequestService

logger = logging.getLogger(__name__)

_PUBLISH_POLL = 0.01
_PING_TIMEOUT = 5.0
_MAINTENANCE_INTERVAL = 10.0
_SHUTDOWN_GRACE = 5.0
_T = TypeVar("_T")


async def _set_when_cancelled(event: trio.Event) -> None:
    try:
        await trio.sleep_forever()
    finally:
        event.set()


class PeerNetwork:
    """Runs the libp2p host, gossip and request/response for one member agency.

    Create it, then ``nursery.start(network.run)``: ``run`` returns only when cancelled, after
    closing every connection and the listening sockets. The other methods are called while it
    runs (``set_members`` and ``penalise`` also work before, and take effect at start).
    """

    def __init__(self, config: NetworkConfig, handlers: NetworkHandlers) -> None:
        self._config = config
        self._handlers = handlers
        self._key_pair = key_pair_from_seed(config.identity_seed)
        self._own_id = ID.from_pubkey(self._key_pair.public_key)
        self._gate = MemberGate(config.members)
        gossip = config.gossip
        self._book = PeerBook(
            Limits(
                gossip_rate=gossip.peer_rate_per_second,
                gossip_burst=gossip.peer_rate_burst,
                request_rate=config.requests.peer_rate_per_second,
                request_burst=config.requests.peer_rate_burst,
                max_offences=config.max_offences,
                offence_window=config.offence_window,
            )
        )
        self._forwarders = ForwarderMemory()
        self._delivery = DeliveryQueue(self._own_id, gossip.delivery_queue_size, self._forwarders)
        self._host: BasicHost | None = None
        self._pubsub: CalpePubsub | None = None
        self._requests: RequestService | None = None
        self._nursery: trio.Nursery | None = None
        self._connected: set[str] = set()
        self._changes: dict[str, trio.Event] = {}
        self._changed_peers: set[str] = set()
        self._change_wakeup = trio.Event()
        self._added_peers: list[StaticPeer] = []
        attach_libp2p_logging()

    # ----------------------------------------------------------------- identity and state
    @property
    def peer_id(self) -> str:
        return self._own_id.to_base58()

    @property
    def listen_addrs(self) -> list[str]:
        """The actual listening multiaddrs (with ``/p2p/<id>``), once ``run`` has started."""
        return [] if self._host is None else [str(a) for a in self._host.get_addrs()]

    @property
    def dropped_deliveries(self) -> int:
        """Accepted gossip messages dropped because the delivery queue was full."""
        return self._delivery.dropped

    def connected_peers(self) -> list[PeerInfo]:
        if self._host is None:
            return []
        network = self._host.get_network()
        peers = []
        for peer_id, conns in list(network.connections.items()):
            live = [conn for conn in conns if not conn.is_closed]
            if not live:
                continue
            addrs = tuple(str(a) for conn in live for a in conn.get_transport_addresses())
            key = peer_id.to_base58()
            peers.append(
                PeerInfo(
                    peer_id=key,
                    addrs=addrs,
                    score=self._book.score(key),
                    latency_ms=self._book.latency_ms(key),
                    last_seen=self._book.last_seen(key),
                )
            )
        return sorted(peers, key=lambda info: info.peer_id)

    def is_connected(self, peer_id: str) -> bool:
        return peer_id in self._connected

    # ------------------------------------------------------------------ membership, scoring
    def set_members(self, peer_ids: Iterable[str]) -> None:
        """Replace the allow-list. Removed members are disconnected; new ones may connect."""
        members = list(peer_ids)
        for peer_id in members:
            parse_peer_id(peer_id)
        removed = self._gate.set_members(members)
        logger.info("members updated: count=%s removed=%s", len(members), sorted(removed))
        for peer_id in removed:
            self._spawn(self._disconnect, peer_id, "removed from members")
        for peer_id in list(self._changes):
            self._signal(peer_id)

    def penalise(self, peer_id: str, reason: str) -> None:
        """Record an offence; after ``max_offences`` in the window, disconnect and ban the peer."""
        logger.warning("peer penalised: peer=%s reason=%s", peer_id, reason)
        if self._book.offend(peer_id):
            logger.warning("peer banned: peer=%s seconds=%s", peer_id, self._config.ban_duration)
            self._gate.ban(peer_id, self._config.ban_duration)
            self._book.forget_offences(peer_id)
            self._spawn(self._disconnect, peer_id, "too many offences")

    # --------------------------------------------------------------------------- traffic
    async def publish(self, topic: str, data: bytes) -> None:
        """Gossip ``data`` on ``topic`` (one of ``config.topics``). Best effort: completeness is
        the sync protocol's job. Waits (bounded) while peers' outbound queues are nearly full."""
        pubsub = self._require(self._pubsub)
        if topic not in self._config.topics:
            raise errors.NetworkError(f"not a configured topic: {topic}")
        limit = self._config.gossip.max_message_size
        if len(data) > limit:
            raise errors.MessageTooLargeError(
                f"gossip message of {len(data)} bytes exceeds max_message_size {limit}"
            )
        with trio.move_on_after(self._config.gossip.publish_queue_wait):
            while pubsub.outbound_pressure() >= 0.75:
                await trio.sleep(_PUBLISH_POLL)
        await pubsub.publish(topic, data)

    async def request(
        self, peer_id: str, protocol: str, data: bytes, *, timeout: float | None = None
    ) -> bytes:
        """Send one request and return the response. Raises a ``NetworkError`` subclass."""
        requests = self._require(self._requests)
        if not self._gate.is_allowed(peer_id):
            raise errors.PeerNotAllowedError(f"peer {peer_id} is not an allowed member")
        effective = self._config.requests.timeout if timeout is None else timeout
        return await requests.request(peer_id, protocol, data, effective)

    # ---------------------------------------------------------------------------- running
    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled, then close every connection and listener before returning.

        py-libp2p closes a connection's socket only if that close is not itself cancelled, so
        the stack runs under a shield: the caller's cancellation only asks for a graceful stop,
        which ``host.close()`` performs while libp2p's own tasks are still alive (bounded by
        ``_SHUTDOWN_GRACE`` seconds).
        """
        stop = trio.Event()
        async with trio.open_nursery() as guard:
            guard.start_soon(_set_when_cancelled, stop)
            with trio.CancelScope(shield=True) as shield:
                try:
                    await self._serve(stop, shield, task_status)
                finally:
                    guard.cancel_scope.cancel()

    async def _serve(self, stop: trio.Event, shield: trio.CancelScope, task_status: Any) -> None:
        host = build_host(self._config, self._key_pair, self._gate)
        router = build_router(self._config.gossip)
        pubsub = CalpePubsub(
            host,
            router,
            self._config.gossip,
            frozenset(self._config.topics),
            self._delivery.sink,
            self.penalise,
        )
        notifee = ConnectionNotifee(self._on_connection_change)
        host.get_network().register_notifee(notifee)
        self._host, self._pubsub = host, pubsub
        try:
            async with (
                host.run(listen_multiaddrs(self._config)),
                background_trio_service(pubsub),
                background_trio_service(router),
                trio.open_nursery() as nursery,
            ):
                await self._start(host, pubsub, nursery)
                nursery.start_soon(self._maintenance_loop, host)
                logger.info("network started: peer=%s addrs=%s", self.peer_id, self.listen_addrs)
                task_status.started()
                await stop.wait()
                shield.deadline = trio.current_time() + _SHUTDOWN_GRACE
                await self._close(host)
                nursery.cancel_scope.cancel()
        finally:
            await notifee.close_sockets()
            # The seen-message cache runs a sweeper thread that would outlive the service.
            await trio.to_thread.run_sync(pubsub.seen_messages.stop)
            self._host = self._pubsub = self._requests = None
            self._connected.clear()
            logger.info("network stopped: peer=%s", self.peer_id)

    async def _start(self, host: BasicHost, pubsub: CalpePubsub, nursery: trio.Nursery) -> None:
        if not host.get_transport_addrs():
            raise errors.ConfigError(f"could not listen on {list(self._config.listen_addrs)}")
        self._nursery = nursery
        self._requests = RequestService(host, self._config.requests, self._book, self.penalise)
        for protocol, handler in self._handlers.requests.items():
            self._requests.serve(protocol, handler)
        await pubsub.wait_until_ready()
        validator = GossipValidator(
            self._own_id,
            self._handlers,
            self._config.gossip,
            self._book,
            self.penalise,
            self._forwarders,
        )
        for topic in self._config.topics:
            pubsub.set_topic_validator(topic, validator, is_async_validator=True)
            await pubsub.subscribe(topic)
        nursery.start_soon(self._deliver_loop)
        nursery.start_soon(self._connection_events_loop)
        for peer in (*self._config.static_peers, *self._added_peers):
            nursery.start_soon(self._keep_connected, host, peer)

    def add_static_peer(self, peer: StaticPeer) -> None:
        """Also keep a connection to ``peer`` (a member admitted while the node runs)."""
        known = {p.peer_id for p in (*self._config.static_peers, *self._added_peers)}
        if peer.peer_id in known or peer.peer_id == self.peer_id:
            return
        self._added_peers.append(peer)
        if self._nursery is not None and self._host is not None:
            self._nursery.start_soon(self._keep_connected, self._host, peer)

    async def _close(self, host: BasicHost) -> None:
        self._nursery = None
        self._delivery.close()
        try:
            await host.close()
        except Exception:
            logger.exception("closing the libp2p host failed")

    # ------------------------------------------------------------------------- internals
    @staticmethod
    def _require(part: _T | None) -> _T:
        if part is None:
            raise errors.NetworkError("the peer network is not running")
        return part

    def _spawn(self, fn: Any, *args: Any) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(fn, *args)

    def _signal(self, peer_id: str) -> None:
        event = self._changes.pop(peer_id, None)
        if event is not None:
            event.set()

    def _change_event(self, peer_id: str) -> trio.Event:
        return self._changes.setdefault(peer_id, trio.Event())

    def _on_connection_change(self, peer_id: str) -> None:
        self._changed_peers.add(peer_id)
        self._change_wakeup.set()

    async def _disconnect(self, peer_id: str, reason: str) -> None:
        if self._host is None:
            return
        logger.info("disconnecting: peer=%s reason=%s", peer_id, reason)
        try:
            await self._host.disconnect(ID.from_base58(peer_id))
        except Exception:
            logger.exception("disconnect failed: peer=%s", peer_id)
        self._on_connection_change(peer_id)

    async def _connection_events_loop(self) -> None:
        while True:
            await self._change_wakeup.wait()
            self._change_wakeup = trio.Event()
            changed, self._changed_peers = self._changed_peers, set()
            for peer_id in sorted(changed):
                await self._apply_connection_change(peer_id)

    async def _apply_connection_change(self, peer_id: str) -> None:
        host = self._host
        if host is None:
            return
        live = [
            c
            for c in host.get_network().get_connections(ID.from_base58(peer_id))
            if not c.is_closed
        ]
        now_connected = bool(live)
        if now_connected == (peer_id in self._connected):
            return
        if now_connected:
            self._connected.add(peer_id)
            self._book.seen(peer_id)
            callback, event = self._handlers.on_peer_connected, "connected"
        else:
            self._connected.discard(peer_id)
            callback, event = self._handlers.on_peer_disconnected, "disconnected"
        logger.info("peer %s: peer=%s", event, peer_id)
        self._signal(peer_id)
        try:
            await callback(peer_id)
        except Exception:
            logger.exception("on_peer_%s callback failed: peer=%s", event, peer_id)

    async def _deliver_loop(self) -> None:
        async for message in self._delivery.receive:
            await self._deliver(message)

    async def _deliver(self, message: GossipMessage) -> None:
        try:
            await self._handlers.deliver(message)
        except Exception:
            logger.exception(
                "deliver callback failed: topic=%s from=%s", message.topic, message.origin
            )

    async def _keep_connected(self, host: BasicHost, peer: StaticPeer) -> None:
        """Dial ``peer`` whenever it is allowed and not connected, with exponential backoff."""
        config = self._config
        backoff = config.dial_backoff_initial
        info = Libp2pPeerInfo(ID.from_base58(peer.peer_id), [Multiaddr(a) for a in peer.addrs])
        dial_only(host, info)
        while True:
            event = self._change_event(peer.peer_id)
            if peer.peer_id in self._connected:
                backoff = config.dial_backoff_initial
                await event.wait()
                continue
            if self._gate.is_allowed(peer.peer_id) and await self._dial(host, info):
                await self._apply_connection_change(peer.peer_id)
                if peer.peer_id in self._connected:
                    continue
            # Also reached when connect() returned on a connection that is closing: back off
            # rather than spin (connect() may return without a checkpoint).
            with trio.move_on_after(backoff * random.uniform(0.8, 1.2)):
                await event.wait()
            backoff = min(backoff * 2, config.dial_backoff_max)

    async def _dial(self, host: BasicHost, info: Libp2pPeerInfo) -> bool:
        network = host.get_network()
        if isinstance(network, Swarm):
            network.unblock_peer(info.peer_id)  # we own the backoff; drop the swarm's 60 s memory
        try:
            with trio.fail_after(self._config.dial_timeout):
                await host.connect(info)
        except Exception as error:
            logger.debug("dial failed: peer=%s error=%r", info.peer_id, error)
            return False
        return True

    async def _maintenance_loop(self, host: BasicHost) -> None:
        ping = PingService(host)
        interval = min(self._config.ping_interval, _MAINTENANCE_INTERVAL)
        since_ping = self._config.ping_interval
        while True:
            if since_ping >= self._config.ping_interval:
                since_ping = 0.0
                async with trio.open_nursery() as nursery:
                    for peer_id in sorted(self._connected):
                        nursery.start_soon(self._ping, ping, peer_id)
            await trio.sleep(interval)
            since_ping += interval

    async def _ping(self, ping: PingService, peer_id: str) -> None:
        with trio.move_on_after(_PING_TIMEOUT):
            try:
                rtts = await ping.ping(ID.from_base58(peer_id), 1)
            except Exception as error:
                logger.debug("ping failed: peer=%s error=%r", peer_id, error)
                return
            if rtts:
                self._book.set_latency(peer_id, float(rtts[0]))
