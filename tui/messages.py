"""Messages the app's network workers post; screens follow the app's state they update."""

from __future__ import annotations

from textual.message import Message

from tui.client.models import Status
from tui.client.stream import StreamEvent
from tui.state import ConnectionState


class StatusUpdated(Message):
    def __init__(self, status: Status) -> None:
        super().__init__()
        self.status = status


class ConnectionChanged(Message):
    def __init__(self, state: ConnectionState) -> None:
        super().__init__()
        self.state = state


class StreamReceived(Message):
    def __init__(self, event: StreamEvent) -> None:
        super().__init__()
        self.event = event
