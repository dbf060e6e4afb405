"""In-process fan-out of live updates (committed blocks, alerts, checkpoints, logs).

The admin API's stream and the plugins subscribe here. Each subscriber has a bounded buffer; a
subscriber that falls behind loses its oldest updates (and is told how many) rather than slowing
the node down.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio


@dataclass(frozen=True, slots=True)
class Update:
    kind: str  # "block" | "alert" | "checkpoint" | "log" | "dropped"
    data: dict[str, Any]


@dataclass(eq=False)
class Subscription:
    capacity: int
    _buffer: deque[Update] = field(default_factory=deque)
    _ready: trio.Event = field(default_factory=trio.Event)
    dropped: int = 0

    def offer(self, update: Update) -> None:
        if len(self._buffer) >= self.capacity:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(update)
        self._ready.set()

    async def next(self) -> Update:
        while not self._buffer:
            await self._ready.wait()
            self._ready = trio.Event()
        if self.dropped:
            count, self.dropped = self.dropped, 0
            return Update("dropped", {"count": count})
        return self._buffer.popleft()


class UpdateBus:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        update = Update(kind, data)
        for subscriber in self._subscribers:
            subscriber.offer(update)

    @asynccontextmanager
    async def subscribe(self, capacity: int = 1000) -> AsyncIterator[Subscription]:
        subscription = Subscription(capacity)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)
