"""Dashboard: who this node is, heads and lag, throughput, the checkpoint, RSK funds, alerts."""

from __future__ import annotations

from collections.abc import Iterable

from textual.containers import Grid, Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from tui.client.models import BlockSummary, Checkpoint, Status
from tui.client.stream import StreamEvent
from tui.format import LOW_BALANCE_RBTC, duration, short
from tui.screens.base import CalpeScreen
from tui.widgets.alerts import AlertList
from tui.widgets.checkpoint_card import CheckpointCard
from tui.widgets.heads import HeadsTable


def _panel(title: str, *children: Widget, id: str) -> Vertical:
    panel = Vertical(*children, id=id, classes="panel")
    panel.border_title = title
    return panel


class DashboardScreen(CalpeScreen):
    NAV = "dashboard"

    def compose_body(self) -> Iterable[Widget]:
        yield Static("waiting for the node…", id="identity")
        with Grid(id="dash-grid"):
            yield _panel("Heads", HeadsTable(id="heads"), id="heads-panel")
            yield _panel(
                "Events/s",
                Static("-", id="eps-now"),
                Sparkline([], id="eps"),
                id="eps-panel",
            )
            yield _panel("Checkpoint", CheckpointCard(id="checkpoint"), id="cp-panel")
            yield _panel("RSK", Static("no RSK account configured", id="rsk"), id="rsk-panel")
        yield _panel("Alerts", AlertList(id="alerts"), id="alerts-panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.watch(self.calpe, "status", self._show)
        self.calpe.stream_signal.subscribe(self, self._on_stream)

    def _on_stream(self, event: StreamEvent) -> None:
        data = event.data
        if isinstance(data, BlockSummary):
            self.query_one(HeadsTable).advance(data, self.now_ms())
        elif isinstance(data, Checkpoint) and self.calpe.status is not None:
            self.query_one(CheckpointCard).show(data, len(self.calpe.status.heads), self.now_ms())

    def _show(self, status: Status | None) -> None:
        if status is None:
            return
        now = self.now_ms()
        self._show_identity(status)
        self.query_one(HeadsTable).show_heads(status.heads, now)
        history = list(self.calpe.eps_history)
        self.query_one("#eps", Sparkline).data = history
        peak = max(history, default=0.0)
        self.query_one("#eps-now", Static).update(
            Content.from_markup(
                "[b]$now[/b] ev/s  [dim]peak $peak[/]",
                now=f"{status.events_per_s:.1f}",
                peak=f"{peak:.1f}",
            )
        )
        self.query_one(CheckpointCard).show(status.checkpoint, len(status.heads), now)
        self._show_rsk(status)
        self.query_one(AlertList).show(status.alerts, now)

    def _show_identity(self, status: Status) -> None:
        up = sum(p.connected for p in status.peers)
        health = "success" if up == len(status.peers) else "warning" if up else "error"
        self.query_one("#identity", Static).update(
            Content.from_markup(
                f"[b ${health}]●[/] [b]$agency[/b] $name · net [b]$net[/b] · v$version"
                f" · up $uptime · peers [b ${health}]$up/$total[/]",
                agency=status.agency_id,
                name=status.agency_name,
                net=status.network,
                version=status.version,
                uptime=duration(status.uptime_s),
                up=str(up),
                total=str(len(status.peers)),
            )
        )

    def _show_rsk(self, status: Status) -> None:
        rsk = self.query_one("#rsk", Static)
        if status.rsk is None:
            rsk.update("no RSK account configured")
            return
        balance = status.rsk.balance_rbtc
        level = "error" if balance < LOW_BALANCE_RBTC else "success"
        rsk.update(
            Content.from_markup(
                f"[b ${level}]$balance RBTC[/]\nchain $chain · $account",
                balance=f"{balance:.4f}",
                chain=str(status.rsk.chain_id),
                account=short(status.rsk.account, 12),
            )
        )
