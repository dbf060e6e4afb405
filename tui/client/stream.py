"""The live stream's events: ``/v1/stream`` server-sent events, parsed by their ``event:`` name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tui.client.governance import Governance
from tui.client.models import Alert, BlockSummary, Checkpoint, LogLine, Model, Status


class Dropped(Model):
    """The stream fell behind and skipped ``count`` updates (the node's bus is bounded)."""

    count: int


StreamPayload = BlockSummary | Alert | Status | LogLine | Checkpoint | Dropped | Governance


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One server-sent event from ``/v1/stream``, parsed by its ``event:`` name."""

    kind: str
    data: StreamPayload


STREAM_MODELS: dict[str, type[Model]] = {
    "block": BlockSummary,
    "alert": Alert,
    "status": Status,
    "log": LogLine,
    "checkpoint": Checkpoint,
    "dropped": Dropped,
    "governance": Governance,
}
"""Event name -> model of its data; ``governance`` carries the whole ``GET /v1/governance``."""


def stream_event(kind: str, data: dict[str, Any]) -> StreamEvent | None:
    """Parse one SSE message; ``None`` for an event name this console does not know."""
    model = STREAM_MODELS.get(kind)
    if model is None:
        return None
    payload = model.model_validate(data)
    return StreamEvent(kind, payload)  # type: ignore[arg-type]
