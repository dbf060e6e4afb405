"""Alerts a sysadmin must see: equivocation, lagging peers, stale checkpoints, plugin failures."""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from node.services.bus import UpdateBus

log = logging.getLogger(__name__)

LEVELS = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    level: str
    kind: str
    message: str
    at_ms: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class AlertBook:
    """The recent alerts, newest last; repeated alerts of one kind and subject are folded."""

    def __init__(self, bus: UpdateBus, keep: int = 200) -> None:
        self._bus = bus
        self._alerts: deque[Alert] = deque(maxlen=keep)
        self._ids = itertools.count(1)
        self._last: dict[tuple[str, str], float] = {}

    def raise_alert(self, level: str, kind: str, message: str, *, fold_s: float = 60.0) -> None:
        assert level in LEVELS
        key = (kind, message)
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < fold_s:
            return
        self._last[key] = now
        alert = Alert(next(self._ids), level, kind, message, int(time.time() * 1000))
        self._alerts.append(alert)
        getattr(log, "critical" if level == "critical" else level)(
            "alert kind=%s %s", kind, message
        )
        self._bus.publish("alert", alert.to_json())

    def recent(self, limit: int = 50) -> list[Alert]:
        return list(self._alerts)[-limit:]
