"""``HeadsTable``: each agency's head, its lag behind peers and how fresh it is."""

from __future__ import annotations

from textual.widgets import DataTable

from tui.client.models import Head
from tui.format import ago, lag_tone
from tui.widgets.paint import badge


class HeadsTable(DataTable[object]):
    def show_heads(self, heads: tuple[Head, ...], now_ms: int) -> None:
        if not self.columns:
            self.cursor_type = "row"
            self.add_columns("agency", "height", "lag", "age")
            self.show_horizontal_scrollbar = False
        self.clear()
        for head in heads:
            if head.frozen:
                lag = badge(self.app, "FROZEN", "critical")
            elif head.lag_blocks > 0:
                lag = badge(self.app, f"-{head.lag_blocks}", lag_tone(head.lag_blocks))
            else:
                lag = badge(self.app, "in sync", "active")
            self.add_row(
                head.agency_id,
                f"{head.height:,}",
                lag,
                ago(head.timestamp_ms, now_ms),
                key=head.agency_id,
            )
