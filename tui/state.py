"""The console's own state, free of Textual: connection health, retry pacing, settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AppConfig:
    """How the console paces its talk with the node."""

    refresh_s: float = 5.0
    """Seconds between status polls while the node answers (the stream adds a status every 2 s)."""
    backoff_initial_s: float = 1.0
    """First retry delay after the node stops answering; doubles up to ``backoff_max_s``."""
    backoff_max_s: float = 30.0
    page_size: int = 100
    """Events per page in the ledger browser (the API allows up to 500)."""
    sparkline_points: int = 60
    clock: Callable[[], float] = field(default=time.time)
    """Wall clock in seconds; tests freeze it so snapshots are stable."""
    stream: bool = True
    """Follow ``/v1/stream``; off only in tests that want a silent node."""


@dataclass
class Backoff:
    """Retry delays from ``initial``, doubling up to ``maximum``; ``reset`` after a success."""

    initial: float
    maximum: float
    _next: float = 0.0

    def __post_init__(self) -> None:
        self._next = self.initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


@dataclass(frozen=True, slots=True)
class ConnectionState:
    """``up`` is ``None`` while the first answer is awaited."""

    up: bool | None
    where: str
    detail: str = ""
    retry_in_s: float | None = None

    @classmethod
    def connecting(cls, where: str) -> ConnectionState:
        return cls(None, where)
