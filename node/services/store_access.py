"""Serialised, non-blocking access to the LedgerStore from trio.

LevelDB calls block, and an ingest of a 500-event block takes tens of milliseconds, so every store
call runs in a worker thread. One thread at a time: the store is single-writer by contract, and
queuing reads behind a write is cheaper than reasoning about their interleaving.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

import trio

from node.storage.store import LedgerStore

P = ParamSpec("P")
T = TypeVar("T")


class StoreAccess:
    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self._limiter = trio.CapacityLimiter(1)
        self.failed = trio.Event()
        """Set once a write failed: the store refuses writes and the node must stop."""

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` in the store's worker thread."""

        def bound() -> T:
            return fn(*args, **kwargs)

        try:
            return await trio.to_thread.run_sync(bound, limiter=self._limiter)
        finally:
            if self.store.write_failure is not None:
                self.failed.set()
