"""One write at a time per request id, so that a retry racing its original waits for it and then
finds its durable receipt instead of both being queued."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio


class PerRequestId:
    """Runs writes of one request id one at a time."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[trio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, request_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(request_id, (trio.Lock(), 0))
        self._locks[request_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[request_id]
            if users == 1:
                del self._locks[request_id]
            else:
                self._locks[request_id] = (lock, users - 1)
