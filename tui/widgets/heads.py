"""``HeadsTable``: each agency's head, its lag behind peers and how fresh it is."""

from __future__ import annotations

from textual.widgets import DataTable

from tui.client.models import BlockSummary, Head
from tui.format import ago, lag_tone
from tui.widgets.paint import badge

NO_BLOCKS = "no blocks yet"


def head_age(height: int, timestamp_ms: int, now_ms: int) -> str:
    """An agency with no block yet has height 0 and timestamp 0: say so, not "56 years ago"."""
    return NO_BLOCKS if height == 0 else ago(timestamp_ms, now_ms)


class HeadsTable(DataTable[object]):
    heights: dict[str, int] = {}  # noqa: RUF012 (replaced, never mutated, until first data)

    def show_heads(self, heads: tuple[Head, ...], now_ms: int) -> None:
        if not self.columns:  # added with the first data, so a node never seen shows no header
            self.cursor_type = "row"
            self.show_horizontal_scrollbar = False
            self.add_columns(*((name, name) for name in ("agency", "height", "lag", "age")))
        self.clear()
        self.heights = {h.agency_id: h.height for h in heads}
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
                head_age(head.height, head.timestamp_ms, now_ms),
                key=head.agency_id,
            )

    def advance(self, block: BlockSummary, now_ms: int) -> None:
        """A block just committed (from the live stream): show its height before the next status
        arrives. Only ever moves a shown row forward; the next status brings lag and the rest."""
        shown = self.heights.get(block.agency_id)
        if shown is None or block.height <= shown:
            return
        self.heights[block.agency_id] = block.height
        self.update_cell(block.agency_id, "height", f"{block.height:,}")
        self.update_cell(block.agency_id, "age", ago(block.timestamp_ms, now_ms))
