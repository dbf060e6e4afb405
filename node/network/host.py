"""Building the libp2p host: TCP, Noise (gated) as the only security, yamux as the only muxer.

No QUIC, WebSocket, mplex, plaintext, secio or TLS is offered; no DHT, mDNS, UPnP, bootstrap or
observed-address discovery runs. The swarm's own dial retries and auto-connector are turned off:
the service dials its static peers itself, with its own backoff.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable, Iterable, Sequence

from libp2p import new_swarm
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.keys import KeyPair
from libp2p.crypto.x25519 import create_new_key_pair as new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.host.basic_host import BasicHost
from libp2p.network.auto_connector import AutoConnector
from libp2p.network.config import ConnectionConfig, RetryConfig
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import PeerStore
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.transport.tcp.tcp import TCP
from multiaddr import Multiaddr

from node.network.config import NetworkConfig
from node.network.gating import GatedNoiseTransport, MemberGate

logger = logging.getLogger(__name__)

LIBP2P_LOGGER = "libp2p"
FORWARDED_LOGGER = "node.network.libp2p"


YAMUX_TUNING = {"PY_YAMUX_RELEASE_ON_READ": "0"}
"""py-libp2p 0.8.1's yamux reads its tuning from the environment, at each use. By default it
returns receive credit after every read, and the pubsub reader takes each message's length prefix
a byte at a time: several WINDOW_UPDATE frames, each encrypted and sent on its own, per gossiped
block. Off, credit goes back as go-yamux returns it, once half the window is read. Settings an
operator exports win."""


def build_host(config: NetworkConfig, key_pair: KeyPair, gate: MemberGate) -> BasicHost:
    """A host that has not started yet; ``host.run(listen_addrs)`` starts it."""
    for name, value in YAMUX_TUNING.items():
        os.environ.setdefault(name, value)
    noise = GatedNoiseTransport(key_pair, new_x25519_key_pair().private_key, gate)
    connections = ConnectionConfig(
        max_connections=config.max_connections,
        min_connections=0,
        low_watermark=0,  # never auto-connect: static peers are dialled by the service
        high_watermark=config.max_connections,
        max_connections_per_peer=2,  # one each way when two members dial each other at once
        dial_timeout=config.dial_timeout,
        inbound_upgrade_timeout=config.dial_timeout,
        outbound_upgrade_timeout=config.dial_timeout,
    )
    swarm = new_swarm(
        key_pair=key_pair,
        sec_opt={NOISE_PROTOCOL_ID: noise},
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        transports=[TCP()],
        retry_config=RetryConfig(max_retries=0),
        connection_config=connections,
        peerstore_opt=MemberPeerStore(),
    )
    if not isinstance(swarm, Swarm):
        raise TypeError(f"unexpected swarm type {type(swarm).__name__}")
    swarm.auto_connector = _StaticPeersOnly(swarm)
    return BasicHost(network=swarm, disable_identify_address_discovery=True)


class MemberPeerStore(PeerStore):
    """A peerstore that keeps, for each member, only the addresses the service dials it at.

    py-libp2p stores the addresses a peer announces (identify's listen addresses, signed peer
    records) and dials them whenever a connection or a stream is opened to a peer that is not
    connected: the service's redial, or a sync request racing a dropped link. Members' addresses
    are an operator decision (genesis and config), so no other address is kept. Without this, a
    node could reach a member around a path the operator chose, e.g. a firewall's or a test's
    link proxy.
    """

    def __init__(self) -> None:
        super().__init__()
        self._dialable: dict[ID, frozenset[Multiaddr]] = {}

    def set_dialable(self, peer_id: ID, addrs: Iterable[Multiaddr]) -> None:
        self._dialable[peer_id] = frozenset(addrs)

    def add_addrs(self, peer_id: ID, addrs: Sequence[Multiaddr], ttl: int = 0) -> None:
        allowed = self._dialable.get(peer_id, frozenset())
        super().add_addrs(peer_id, [addr for addr in addrs if addr in allowed], ttl)


def dial_only(host: BasicHost, info: PeerInfo) -> None:
    """Make ``info.addrs`` the only addresses ``host`` ever dials ``info.peer_id`` at."""
    peerstore = host.get_peerstore()
    if not isinstance(peerstore, MemberPeerStore):
        raise TypeError("the host was not built by build_host")
    peerstore.set_dialable(info.peer_id, info.addrs)


class _StaticPeersOnly(AutoConnector):
    """The service dials its static peers itself, with its own backoff and member checks; the
    swarm must not also dial whatever its peerstore happens to hold."""

    async def maybe_connect(self) -> None:
        return None


def listen_multiaddrs(config: NetworkConfig) -> list[Multiaddr]:
    return [Multiaddr(addr) for addr in config.listen_addrs]


_CHURN_LOGGERS = frozenset(
    {
        "libp2p.transport.tcp.tcp",
        "libp2p.protocol_muxer.multiselect_client",
        "libp2p.stream_muxer.yamux.yamux",
        "libp2p.host.basic_host",
        "libp2p.network.swarm",
    }
)
"""py-libp2p logs every failed redial of a peer that is down, and every stream cut by a closing
connection, at ERROR. For us that is expected churn, which the service reports itself (peer
connected/disconnected, refused connections), so those records are demoted to DEBUG."""


class _Forward(logging.Handler):
    """Hands py-libp2p's records to our logger tree (``node.network.libp2p``)."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.name in _CHURN_LOGGERS and record.levelno > logging.DEBUG:
            record = logging.makeLogRecord(
                {**record.__dict__, "levelno": logging.DEBUG, "levelname": "DEBUG"}
            )
        target = logging.getLogger(FORWARDED_LOGGER)
        if target.isEnabledFor(record.levelno):
            target.handle(record)


def attach_libp2p_logging(level: int = logging.WARNING) -> None:
    """Route the ``libp2p`` logger (which does not propagate) into ours. Idempotent."""
    source = logging.getLogger(LIBP2P_LOGGER)
    source.setLevel(level)
    if not any(isinstance(handler, _Forward) for handler in source.handlers):
        source.addHandler(_Forward())


class ConnectionNotifee(INotifee):
    """Reports connection opens and closes (by peer ID) without blocking the swarm, and
    remembers every connection so that shutdown can make sure its socket is closed."""

    def __init__(self, on_change: Callable[[str], None]) -> None:
        self._on_change = on_change
        self._seen: weakref.WeakSet[INetConn] = weakref.WeakSet()

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._seen.add(conn)
        self._on_change(conn.muxed_conn.peer_id.to_base58())

    async def close_sockets(self) -> None:
        """Close the secured (hence TCP) layer of every connection ever opened. py-libp2p 0.8.1
        leaks the socket when a connection's own close is cancelled half-way (for example by the
        remote closing at the same moment we shut down); closing a closed socket is a no-op."""
        for conn in list(self._seen):
            secured = getattr(conn.muxed_conn, "secured_conn", None)
            if secured is None:
                continue
            try:
                await secured.close()
            except Exception:
                logger.debug("closing a connection's socket failed", exc_info=True)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._on_change(conn.muxed_conn.peer_id.to_base58())

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        return None

    async def listen(self, network: INetwork, multiaddr: Multiaddr) -> None:
        return None

    async def listen_close(self, network: INetwork, multiaddr: Multiaddr) -> None:
        return None
