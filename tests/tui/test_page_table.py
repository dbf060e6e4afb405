"""``PageTable`` draws rows of ``Cell`` exactly as ``DataTable`` would, only faster."""

from __future__ import annotations

import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.strip import Strip
from textual.widgets import DataTable

from tui.widgets.cell import Cell
from tui.widgets.page_table import PageTable

KINDS = ("credential.issued", "credential.revoked", "schema.published")


class TableApp(App[None]):
    def __init__(self, zebra: bool) -> None:
        super().__init__()
        self.zebra = zebra

    def compose(self) -> ComposeResult:
        yield PageTable(id="t", cursor_type="row", zebra_stripes=self.zebra)
        yield DataTable[object](id="other")  # somewhere for the focus to go


def fill(table: PageTable, rows: int) -> None:
    table.add_columns("time", "agency", "kind", "detail")
    for n in range(rows):
        table.add_row(
            Cell(f"2025-06-01 12:{n % 60:02d}:00"),
            Cell("gi.transport" if n % 2 else "gi.civil"),
            Cell(KINDS[n % 3], Style.parse("bold #ff0000" if n % 3 == 1 else "#00ff00")),
            Cell("superseded" if n % 5 == 0 else ""),
            key=str(n),
        )


def both(table: PageTable) -> tuple[list[Strip], list[Strip]]:
    """Every visible line drawn by ``PageTable`` and by ``DataTable``."""
    assert table.prepare()
    lines = range(table.size.height)
    return (
        [table.render_line(y) for y in lines],
        [DataTable.render_line(table, y) for y in lines],
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("zebra", [True, False])
@pytest.mark.parametrize("width", [30, 80, 120])
async def test_rows_are_drawn_exactly_as_datatable_draws_them(zebra: bool, width: int) -> None:
    app = TableApp(zebra)
    async with app.run_test(size=(width, 20)) as pilot:
        table = app.query_one(PageTable)
        fill(table, 40)
        table.focus()
        await pilot.pause()
        for _ in range(3):  # cursor on a row; focused and not; scrolled down (and right)
            fast, slow = both(table)
            assert fast == slow
            table.move_cursor(row=table.cursor_row + 7)
            await pilot.pause()
        app.query_one("#other").focus()
        await pilot.pause()
        assert both(table)[0] == both(table)[1]
        table.scroll_to(x=5, y=12, animate=False)
        await pilot.pause()
        assert both(table)[0] == both(table)[1]


@pytest.mark.asyncio
async def test_other_rows_go_through_datatable() -> None:
    app = TableApp(zebra=False)
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(PageTable)
        fill(table, 3)
        table.add_row("a plain str", "x", "y", "z", key="plain")
        await pilot.pause()
        assert table.render_line(4) == DataTable.render_line(table, 4)  # str cells
        table.add_row(Cell("x"), Cell("y"), Cell("z"), Cell("w"), key="labelled", label="L")
        await pilot.pause()
        assert not table._fast_path_applies()
