"""Per-peer bookkeeping: offences, rate limits, latency, last seen. Pure; no libp2p, no trio."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """Classic token bucket; ``take`` is False when the peer is over its rate."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass
class PeerRecord:
    gossip_bucket: TokenBucket
    request_bucket: TokenBucket
    offences: deque[float] = field(default_factory=deque)
    latency_ms: float | None = None
    last_seen: float | None = None


@dataclass(frozen=True)
class Limits:
    gossip_rate: float
    gossip_burst: float
    request_rate: float
    request_burst: float
    max_offences: int
    offence_window: float


class PeerBook:
    """What we know about each member we have talked to."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._records: dict[str, PeerRecord] = {}

    def _record(self, peer_id: str) -> PeerRecord:
        record = self._records.get(peer_id)
        if record is None:
            limits = self._limits
            record = PeerRecord(
                gossip_bucket=TokenBucket(limits.gossip_rate, limits.gossip_burst),
                request_bucket=TokenBucket(limits.request_rate, limits.request_burst),
            )
            self._records[peer_id] = record
        return record

    def seen(self, peer_id: str) -> None:
        self._record(peer_id).last_seen = time.time()

    def allow_gossip(self, peer_id: str) -> bool:
        return self._record(peer_id).gossip_bucket.take()

    def allow_request(self, peer_id: str) -> bool:
        return self._record(peer_id).request_bucket.take()

    def set_latency(self, peer_id: str, latency_ms: float) -> None:
        self._record(peer_id).latency_ms = latency_ms

    def offend(self, peer_id: str) -> bool:
        """Record one offence; True when the peer has now reached the disconnect threshold."""
        offences = self._record(peer_id).offences
        now = time.monotonic()
        offences.append(now)
        self._expire(offences, now)
        return len(offences) >= self._limits.max_offences

    def score(self, peer_id: str) -> float:
        record = self._records.get(peer_id)
        if record is None:
            return 0.0
        self._expire(record.offences, time.monotonic())
        return float(-len(record.offences))

    def latency_ms(self, peer_id: str) -> float | None:
        record = self._records.get(peer_id)
        return None if record is None else record.latency_ms

    def last_seen(self, peer_id: str) -> float | None:
        record = self._records.get(peer_id)
        return None if record is None else record.last_seen

    def forget_offences(self, peer_id: str) -> None:
        record = self._records.get(peer_id)
        if record is not None:
            record.offences.clear()

    def _expire(self, offences: deque[float], now: float) -> None:
        horizon = now - self._limits.offence_window
        while offences and offences[0] < horizon:
            offences.popleft()
