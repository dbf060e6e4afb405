"""``NodeLink``: the app's two long-running workers, status polling and the live stream.

Both retry with exponential backoff while the node is unreachable; ``wake()`` retries at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from textual import work
from textual.app import App

from tui.client.errors import ApiError, ClientError, NodeUnreachable
from tui.client.protocol import ClientProtocol
from tui.messages import ConnectionChanged, StatusUpdated, StreamReceived
from tui.state import AppConfig, Backoff, ConnectionState

log = logging.getLogger(__name__)


class NodeLink(App[None]):
    """Mixed into the app: keeps ``status`` fresh and relays ``/v1/stream`` as messages."""

    client: ClientProtocol
    config: AppConfig

    def start_link(self) -> None:
        self._wake_status = asyncio.Event()
        self._wake_stream = asyncio.Event()
        self.poll_status()
        if self.config.stream:
            self.follow_stream()

    def wake(self) -> None:
        """Retry now instead of waiting for the backoff delay."""
        self._wake_status.set()
        self._wake_stream.set()

    @staticmethod
    async def _sleep(event: asyncio.Event, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=delay)
        event.clear()

    def _backoff(self) -> Backoff:
        return Backoff(self.config.backoff_initial_s, self.config.backoff_max_s)

    @work(exclusive=True, group="status")
    async def poll_status(self) -> None:
        backoff = self._backoff()
        where = self.client.where
        while True:
            try:
                status = await self.client.status()
            except NodeUnreachable as exc:
                delay = backoff.next()
                self.post_message(ConnectionChanged(ConnectionState(False, where, str(exc), delay)))
            except ApiError as exc:  # 503 while starting, 401 with a wrong token, …
                delay = backoff.next()
                detail = f"{exc.message} [{exc.code}]"
                self.post_message(ConnectionChanged(ConnectionState(False, where, detail, delay)))
            else:
                backoff.reset()
                delay = self.config.refresh_s
                self.post_message(StatusUpdated(status))
                self.post_message(ConnectionChanged(ConnectionState(True, where)))
            await self._sleep(self._wake_status, delay)

    @work(exclusive=True, group="stream")
    async def follow_stream(self) -> None:
        backoff = self._backoff()
        while True:
            try:
                async for event in self.client.stream():
                    backoff.reset()
                    self.post_message(StreamReceived(event))
            except ClientError as exc:
                log.info("stream ended: %s", exc)
                self._wake_status.set()  # let the status poll tell the user at once
            await self._sleep(self._wake_stream, backoff.next())
