"""Validated configuration of the peer network.

The values below are chosen for a permissioned network of at most ~50 member agencies that gossip
*batched* blocks (one block every ~200 ms per agency at most) and rely on the request/response sync
protocol, not on gossip, for completeness. py-libp2p 0.8.1's gossipsub defaults are tuned for an
open, lightly loaded network and are lossy for us; each departure from them says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.core.errors import ConfigError
from node.network.identity import ED25519_KEY_BYTES, parse_peer_id

KIB = 1024
MIB = 1024 * KIB

# py-libp2p frames a pubsub RPC with an outbound size check of 1 MiB that cannot be configured
# per peer queue; we raise the queue's limit ourselves (see gossip.py) but keep a hard ceiling.
MAX_GOSSIP_MESSAGE_CEILING = 4 * MIB


@dataclass(frozen=True)
class StaticPeer:
    """A member to dial: its peer ID and the multiaddrs it listens on (from genesis/config)."""

    peer_id: str
    addrs: tuple[str, ...]

    def __post_init__(self) -> None:
        parse_peer_id(self.peer_id)
        if not self.addrs:
            raise ConfigError(f"static peer {self.peer_id} has no address")


@dataclass(frozen=True)
class GossipParams:
    """Gossipsub parameters, each with the reason for its value."""

    degree: int = 6
    """D: mesh peers per topic. 6 (the spec default) reaches 50 members in ~3 hops."""
    degree_low: int = 4
    """D_lo: below this the heartbeat grafts more peers."""
    degree_high: int = 12
    """D_hi: above this the heartbeat prunes. Wide, so a small network is rarely churned."""
    heartbeat_interval: int = 1
    """Seconds. py-libp2p defaults to 120 s, which leaves a broken mesh unrepaired for two
    minutes; 1 s (go-libp2p's default) is cheap for <= 50 peers."""
    gossip_window: int = 3
    """Heartbeats of message ids advertised in IHAVE (spec default)."""
    gossip_history: int = 5
    """Heartbeats of full messages kept for IWANT (spec default)."""
    fanout_ttl: int = 60
    """Seconds a fanout topic is kept after our last publish to it (spec default)."""
    prune_backoff: int = 60
    """Seconds before re-grafting a peer that pruned us (spec default)."""
    seen_ttl: int = 120
    """Seconds a message id stays in the duplicate filter."""
    max_message_size: int = 1 * MIB - 16 * KIB
    """Largest gossip payload we publish or accept. A block batch must fit; bigger data travels
    over request/response. 16 KiB below 1 MiB leaves room for the RPC envelope, signature and
    the sender's signed peer record."""
    outbound_queue_size: int = 512
    """RPCs queued per peer before new ones are dropped. py-libp2p's 32 drops silently under a
    burst; 512 holds ~100 s of one agency's blocks at 5 blocks/s."""
    delivery_queue_size: int = 1024
    """Accepted messages waiting for the delivery callback. py-libp2p's subscription channel
    holds 32 and drops silently; we count and log each drop instead."""
    peer_rate_per_second: float = 300.0
    """Messages per second one neighbour may forward to us (all topics). py-libp2p's own spam
    protection (10/s per topic per forwarder) would drop relayed traffic of a 50-agency network
    (~250 blocks/s through one neighbour), is applied after local delivery and also throttles our
    own publishes, so we disable it and rate-limit per forwarder here instead."""
    peer_rate_burst: float = 600.0
    """Token-bucket burst for ``peer_rate_per_second``."""
    validation_timeout: float = 5.0
    """Seconds the validator may take before the message is treated as IGNOREd."""
    max_concurrent_validations: int = 16
    """Validator calls running at once; the rest wait (py-libp2p's semaphore)."""
    publish_queue_wait: float = 2.0
    """Seconds ``publish`` waits for room in peers' outbound queues before sending anyway."""

    def __post_init__(self) -> None:
        if not 1 <= self.degree_low <= self.degree <= self.degree_high:
            raise ConfigError(
                "gossip degrees must satisfy 1 <= degree_low <= degree <= degree_high"
            )
        if self.heartbeat_interval < 1:
            raise ConfigError("gossip heartbeat_interval must be >= 1 s")
        if not 1 <= self.max_message_size <= MAX_GOSSIP_MESSAGE_CEILING:
            raise ConfigError(f"gossip max_message_size must be 1..{MAX_GOSSIP_MESSAGE_CEILING}")
        for name in ("outbound_queue_size", "delivery_queue_size", "max_concurrent_validations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"gossip {name} must be >= 1")
        if self.peer_rate_per_second <= 0 or self.peer_rate_burst < 1:
            raise ConfigError("gossip peer rate and burst must be positive")


@dataclass(frozen=True)
class RequestLimits:
    """Request/response limits; one large response per batch is the fast path (DESIGN.md)."""

    max_request_size: int = 64 * KIB
    """Requests are small (a range or a hash list); anything larger is refused."""
    max_response_size: int = 16 * MIB
    """One sync batch. The server refuses to send more; the client refuses to read more."""
    timeout: float = 30.0
    """Default seconds for a whole exchange (open stream, write, read) when the caller gives none;
    also the server's bound on handling one request."""
    max_concurrent_inbound: int = 16
    """Inbound requests handled at once per protocol; more are reset (back-pressure)."""
    peer_rate_per_second: float = 20.0
    """Inbound requests per second one peer may make (all protocols)."""
    peer_rate_burst: float = 40.0
    """Token-bucket burst for ``peer_rate_per_second``."""

    def __post_init__(self) -> None:
        if self.max_request_size < 1 or self.max_response_size < 1:
            raise ConfigError("request/response sizes must be positive")
        if self.timeout <= 0 or self.max_concurrent_inbound < 1:
            raise ConfigError("request timeout and concurrency must be positive")
        if self.peer_rate_per_second <= 0 or self.peer_rate_burst < 1:
            raise ConfigError("request peer rate and burst must be positive")


@dataclass(frozen=True)
class NetworkConfig:
    """Everything the peer network needs; the node builds it from genesis and its config file."""

    identity_seed: bytes = field(repr=False)
    """The agency's 32-byte Ed25519 private seed; also its libp2p identity."""
    members: tuple[str, ...]
    """Peer IDs allowed to connect (the member agencies). Live-updatable with ``set_members``."""
    topics: tuple[str, ...]
    """Gossip topics to join, e.g. ``topic_name(network_id, "blocks")``."""
    listen_addrs: tuple[str, ...] = ("/ip4/127.0.0.1/tcp/0",)
    """TCP multiaddrs to listen on; port 0 picks a free port (read back via ``listen_addrs``)."""
    static_peers: tuple[StaticPeer, ...] = ()
    """Members to dial and keep connected to."""
    gossip: GossipParams = GossipParams()
    requests: RequestLimits = RequestLimits()
    dial_backoff_initial: float = 0.5
    """Seconds before the first redial of a lost or failed peer; doubles up to the maximum."""
    dial_backoff_max: float = 30.0
    dial_timeout: float = 10.0
    """Seconds for one dial (TCP connect + Noise + yamux)."""
    ping_interval: float = 15.0
    """Seconds between latency probes of each connected peer."""
    max_offences: int = 5
    """Offences (REJECTed messages, rate-limit breaches, ``penalise`` calls) within
    ``offence_window`` after which a peer is disconnected and banned."""
    offence_window: float = 60.0
    ban_duration: float = 60.0
    """Seconds a disconnected offender is refused (both directions) before it may reconnect."""
    max_connections: int = 256
    """Global cap on connections; two per member (one each way) is the normal worst case."""

    def __post_init__(self) -> None:
        if len(self.identity_seed) != ED25519_KEY_BYTES:
            raise ConfigError("identity_seed must be a 32-byte Ed25519 seed")
        for peer_id in self.members:
            parse_peer_id(peer_id)
        if not self.listen_addrs:
            raise ConfigError("network listen_addrs is empty")
        for addr in self.listen_addrs:
            if "/tcp/" not in addr or "/quic" in addr or "/ws" in addr:
                raise ConfigError(f"only plain TCP multiaddrs may be listened on: {addr}")
        members = set(self.members)
        for peer in self.static_peers:
            if peer.peer_id not in members:
                raise ConfigError(f"static peer {peer.peer_id} is not a member")
        if self.dial_backoff_initial <= 0 or self.dial_backoff_max < self.dial_backoff_initial:
            raise ConfigError("dial backoff must satisfy 0 < initial <= max")
        if self.max_offences < 1 or self.offence_window <= 0 or self.ban_duration < 0:
            raise ConfigError("offence limits must be positive")


def topic_name(network_id: str, kind: str) -> str:
    """The gossip topic of one kind of message on one network (network id = genesis hash hex)."""
    return f"/calpe/{network_id}/{kind}/1"
