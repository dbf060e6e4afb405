"""A bounded in-memory ring of recent log records, for ``GET /v1/logs`` and the live stream."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from typing import Any

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class LogRing(logging.Handler):
    """Keeps the last ``capacity`` records as LogLine dicts, each with a sequence number.

    Records arrive from any thread (the store's worker logs too), so the ring has its own lock
    and never touches trio; the stream polls :meth:`since`.
    """

    def __init__(self, capacity: int = 2000, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._lines: deque[tuple[int, int, dict[str, Any]]] = deque(maxlen=capacity)
        self._seq = itertools.count(1)
        self._mutex = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = {
                "at_ms": int(record.created * 1000),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage()[:2000],
            }
        except Exception:  # a bad format string must not break logging
            self.handleError(record)
            return
        with self._mutex:
            self._lines.append((next(self._seq), record.levelno, line))

    def recent(self, min_level: int = logging.DEBUG, limit: int = 200) -> list[dict[str, Any]]:
        """Newest last."""
        with self._mutex:
            lines = [line for _, levelno, line in self._lines if levelno >= min_level]
        return lines[-limit:] if limit else []

    def since(self, seq: int) -> tuple[int, list[dict[str, Any]]]:
        """Lines after sequence number ``seq``, and the sequence number to ask from next."""
        with self._mutex:
            new = [(s, line) for s, _, line in self._lines if s > seq]
        return (new[-1][0] if new else seq), [line for _, line in new]

    @property
    def last_seq(self) -> int:
        with self._mutex:
            return self._lines[-1][0] if self._lines else 0

    def attach(self) -> None:
        logging.getLogger().addHandler(self)

    def detach(self) -> None:
        logging.getLogger().removeHandler(self)
