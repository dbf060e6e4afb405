"""Peers: every member node this one knows, whether it is connected, how fast and how trusted."""

from __future__ import annotations

from collections.abc import Iterable

from textual import work
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.client.errors import ClientError
from tui.client.models import Peer, Status
from tui.format import ago, short
from tui.screens.base import CalpeScreen
from tui.widgets.paint import badge


class PeersLoaded(Message):
    def __init__(self, peers: tuple[Peer, ...]) -> None:
        super().__init__()
        self.peers = peers


class PeersScreen(CalpeScreen):
    NAV = "peers"

    def compose_body(self) -> Iterable[Widget]:
        yield Static("", id="peers-summary", classes="hint")
        yield DataTable[object](id="peers-table", cursor_type="row")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one(DataTable)
        table.add_columns("agency", "state", "latency", "score", "last seen", "peer id", "address")
        self.watch(self.calpe, "status", self._from_status)

    def _from_status(self, status: Status | None) -> None:
        if status is not None:
            self._show(status.peers)

    def reload(self) -> None:
        self._fetch()

    @work(exclusive=True, group="load")
    async def _fetch(self) -> None:
        try:
            self.post_message(PeersLoaded(await self.client.peers()))
        except ClientError as exc:
            self.report(exc, "loading peers")

    def on_peers_loaded(self, message: PeersLoaded) -> None:
        self._show(message.peers)

    def _show(self, peers: tuple[Peer, ...]) -> None:
        now = self.now_ms()
        table = self.query_one(DataTable)
        table.clear()
        for peer in sorted(peers, key=lambda p: (not p.connected, p.agency_id)):
            state = (
                badge(self.app, "up", "active")
                if peer.connected
                else badge(self.app, "down", "critical")
            )
            latency = "-" if peer.latency_ms is None else f"{peer.latency_ms:.0f} ms"
            table.add_row(
                peer.agency_id,
                state,
                latency,
                f"{peer.score:+.1f}",
                ago(peer.last_seen_ms, now),
                short(peer.peer_id, 14),
                peer.addrs[0] if peer.addrs else "-",
                key=peer.peer_id,
            )
        up = sum(p.connected for p in peers)
        self.query_one("#peers-summary", Static).update(f"{up} of {len(peers)} peers connected")
