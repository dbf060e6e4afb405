"""``PageTable``: a ``DataTable`` that draws rows of :class:`Cell` itself, for fast paging.

Paging the ledger replaces every visible cell at once, and ``DataTable`` renders each new cell
through Rich (padding, styling, line splitting), about half of a page turn's time. A row of
one-line ``Cell``s needs none of that: ``render_line`` builds the same segments directly (the same
styles and the same click metadata, so the output is identical; ``tests/tui/test_page_table.py``
compares the two). Anything else (the header, a hovered row, non-``Cell`` data, fixed rows or
columns, row labels, other cursor settings) goes through ``DataTable`` unchanged, as do the
cursor, keys, messages, scrolling and column widths.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from tui.widgets.cell import Cell


@dataclass(frozen=True, slots=True)
class _Palette:
    """The styles a repaint needs, looked up once for all its lines."""

    base: Style
    even: Style
    odd: Style
    cursor: Style
    cursor_post: Style


class PageTable(DataTable[object]):
    _fast = False
    _palette = _Palette(Style(), Style(), Style(), Style(), Style())

    def render_lines(self, crop: Region) -> list[Strip]:
        self.prepare()
        return super().render_lines(crop)

    def prepare(self) -> bool:
        """Decide whether this repaint can take the fast path, and look up its styles."""
        self._fast = self._fast_path_applies()
        if self._fast:
            base = self.rich_style
            if self.zebra_stripes:
                even = self.get_component_styles("datatable--even-row").rich_style
                odd = self.get_component_styles("datatable--odd-row").rich_style
            else:
                even = odd = base
            cursor = self.get_component_rich_style("datatable--cursor")
            post = Style.from_color(color=cursor.color) + Style.null()
            self._palette = _Palette(base, even, odd, cursor, post)
        return self._fast

    def render_line(self, y: int) -> Strip:
        row_index = y - (self.header_height if self.show_header else 0)
        if row_index < 0 or not self._fast:
            return super().render_line(y)
        row_index += self.scroll_offset.y
        if not 0 <= row_index < self.row_count or row_index == self.hover_row:
            return super().render_line(y)
        cells = self.get_row_at(row_index)
        widths = [column.content_width for column in self.ordered_columns]
        if not all(
            isinstance(c, Cell) and c.width <= w for c, w in zip(cells, widths, strict=True)
        ):
            return super().render_line(y)  # (a cell wider than its column: DataTable crops it)
        return self._row_strip(row_index, cells)  # type: ignore[arg-type]

    def _fast_path_applies(self) -> bool:
        return (
            self.cursor_type in ("row", "none")
            and self.cursor_foreground_priority == "css"
            and self.cursor_background_priority == "renderable"
            and not self.fixed_rows
            and not self.fixed_columns
            and not any(row.label is not None for row in self.rows.values())
            and all(row.height == 1 for row in self.rows.values())
        )

    def _row_styles(self, row_index: int) -> tuple[Style, Style, Style]:
        """The row's base style, the cursor's component style and its post style."""
        palette = self._palette
        row_style = palette.odd if row_index % 2 else palette.even
        on_cursor = self.show_cursor and self.cursor_type == "row" and row_index == self.cursor_row
        if not on_cursor:
            return row_style, Style(), Style.null()
        return row_style, palette.cursor, palette.cursor_post

    def _row_strip(self, row_index: int, cells: list[Cell]) -> Strip:
        row_style, cursor, post = self._row_styles(row_index)
        pad = self.cell_padding
        segments: list[Segment] = []
        table_width = 0
        for column_index, (column, cell) in enumerate(
            zip(self.ordered_columns, cells, strict=True)
        ):
            width = column.get_render_width(self)
            table_width += width
            meta = Style.from_meta({"row": row_index, "column": column_index})
            pre = row_style + meta + cursor
            blank = pre + post
            segments.append(Segment(" " * pad, blank))
            segments.append(Segment(cell.text, pre + cell.style + post))
            segments.append(Segment(" " * (width - pad - cell.width), blank))
        out_of_bounds = Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        extend = Segment(
            " " * max(0, self.size.width - table_width), row_style + cursor + out_of_bounds
        )
        segments.append(extend)
        x, width = self.scroll_offset.x, self.size.width
        strip = Strip(segments, table_width + len(extend.text)).crop(x, x + width)
        return strip.adjust_cell_length(width, self._palette.base).simplify()
