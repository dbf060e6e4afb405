"""The contract between the peer network and the node that uses it.

The network is ledger-agnostic: it moves bytes between member agencies. The node plugs ledger
rules in through :class:`NetworkHandlers`. Every callback runs inside the network's trio tasks;
the network catches and logs anything a callback raises, so a buggy callback never takes the host
down, but callbacks SHOULD NOT raise: a validator that raises counts as IGNORE, a request handler
that raises resets the requester's stream.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field


class Verdict(enum.Enum):
    """What a gossip validator decided about one message."""

    ACCEPT = "accept"
    """Valid: deliver it locally and relay it to the mesh."""
    REJECT = "reject"
    """Invalid (bad signature, wrong network, ...): drop it and penalise the peer that sent it."""
    IGNORE = "ignore"
    """Not useful now (duplicate, too far ahead, ...): drop it without penalty."""


@dataclass(frozen=True)
class GossipMessage:
    """One gossip message as the node sees it."""

    topic: str
    origin: str
    """Peer ID of the member that published it (proven by the pubsub signature)."""
    forwarder: str
    """Peer ID of the neighbour that handed it to us (the one penalised on REJECT)."""
    data: bytes


@dataclass(frozen=True)
class PeerInfo:
    """A snapshot of one peer, for health screens and the admin API."""

    peer_id: str
    addrs: tuple[str, ...]
    """Remote multiaddrs of the open connections."""
    score: float
    """0 is clean; each offence within the offence window subtracts 1."""
    latency_ms: float | None
    """Last measured round trip (libp2p ping), if any."""
    last_seen: float | None
    """Wall-clock time (``time.time()``) of the last message or response from this peer."""


Validator = Callable[[GossipMessage], Awaitable[Verdict]]
"""MUST fully validate the message (relay happens only on ACCEPT). MUST NOT block for long:
it runs under ``GossipParams.validation_timeout``."""
Deliverer = Callable[[GossipMessage], Awaitable[None]]
"""Receives each ACCEPTed message once, in arrival order. Slow delivery fills a bounded queue;
messages beyond it are dropped (and counted): sync, not gossip, guarantees completeness."""
RequestHandler = Callable[[str, bytes], Awaitable[bytes]]
"""``(peer_id, request) -> response`` for one protocol id. The response MUST fit
``RequestLimits.max_response_size``; raising resets the requester's stream."""
PeerCallback = Callable[[str], Awaitable[None]]


async def _ignore_peer(_peer_id: str) -> None:
    return None


@dataclass(frozen=True)
class NetworkHandlers:
    """The node's callbacks. Our own published messages are neither validated nor delivered."""

    validate: Validator
    deliver: Deliverer
    requests: Mapping[str, RequestHandler] = field(default_factory=dict)
    """Request handlers by protocol id, e.g. ``"/calpe/sync/blocks/1"``."""
    on_peer_connected: PeerCallback = _ignore_peer
    """Called once when a member's first connection opens."""
    on_peer_disconnected: PeerCallback = _ignore_peer
    """Called once when a member's last connection closes."""
