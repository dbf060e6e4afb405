"""``AlertList``: the node's alerts, worst first, coloured by level."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tui.client.models import Alert
from tui.format import ago, tone

_RANK = {"critical": 0, "warning": 1, "info": 2}


class AlertList(Static):
    def show(self, alerts: tuple[Alert, ...], now_ms: int) -> None:
        if not alerts:
            self.update(Content.from_markup("[$success]✔ no alerts[/]"))
            return
        ordered = sorted(alerts, key=lambda a: (_RANK.get(a.level, 3), -a.at_ms))
        lines = [
            Content.from_markup(
                f"[b ${tone(a.level)}]$level[/] $message [dim]($kind, $age)[/]",
                level=a.level.upper(),
                message=a.message,
                kind=a.kind,
                age=ago(a.at_ms, now_ms),
            )
            for a in ordered
        ]
        self.update(Content("\n").join(lines))
