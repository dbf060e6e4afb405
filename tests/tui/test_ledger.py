"""Ledger section: paging by cursor, filters, block detail."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from tests.tui.conftest import fake_app, ready, wait_for
from tui.app import CalpeApp
from tui.client.fake import FakeClient
from tui.client.fake_data import FAKE_NOW_MS, summarise
from tui.client.fake_ledger import seeded_credential
from tui.client.stream import StreamEvent
from tui.screens.block_detail import BlockDetailScreen
from tui.screens.ledger import LedgerScreen


async def open_ledger(pilot: Pilot[None]) -> tuple[CalpeApp, LedgerScreen, DataTable[object]]:
    app = await ready(pilot)
    await pilot.press("3")
    await wait_for(pilot, lambda: isinstance(app.screen, LedgerScreen))
    screen = app.screen
    assert isinstance(screen, LedgerScreen)
    table = screen.query_one("#events", DataTable)
    await wait_for(pilot, lambda: table.row_count > 0)
    return app, screen, table


def first_key(table: DataTable[object]) -> str:
    return str(table.coordinate_to_cell_key((0, 0)).row_key.value)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_pages_forward_and_back_without_loading_everything() -> None:
    fake = FakeClient(history=1_000_000)
    app = fake_app(fake, page_size=50)
    async with app.run_test(size=(80, 24)) as pilot:
        _, screen, table = await open_ledger(pilot)
        assert table.row_count == 50
        top = first_key(table)
        await pilot.press("n")
        await wait_for(pilot, lambda: first_key(table) != top)
        second = first_key(table)
        assert len(screen.cursors) == 2
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.cursors) == 3 and first_key(table) != second)
        await pilot.press("p")
        await wait_for(pilot, lambda: first_key(table) == second)
        await pilot.press("t")
        await wait_for(pilot, lambda: first_key(table) == top)
        assert table.row_count == 50
        assert fake.calls.count("events") == 5


@pytest.mark.asyncio
async def test_filters_by_agency_kind_and_credential() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        _, screen, table = await open_ledger(pilot)
        screen.query_one("#f-agency", Select).value = "gi.civil"
        await wait_for(pilot, lambda: screen.filter.agency == "gi.civil")
        await wait_for(pilot, lambda: first_key(table).startswith("gi.civil/"))
        assert all(str(k.value).startswith("gi.civil/") for k in table.rows)
        screen.query_one("#f-kind", Select).value = "credential.revoked"
        await wait_for(pilot, lambda: screen.filter.kind == "credential.revoked")
        await wait_for(pilot, lambda: table.row_count > 0 and screen.page is not None)
        await wait_for(
            pilot,
            lambda: all(e.kind == "credential.revoked" for e in screen.page.events),  # type: ignore[union-attr]
        )
        cid = seeded_credential("gi.civil", 2)
        field = screen.query_one("#f-credential", Input)
        field.value = cid
        field.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.filter.credential == cid)
        await wait_for(pilot, lambda: table.row_count == 1)


@pytest.mark.asyncio
async def test_time_filter_and_bad_input() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        _, screen, table = await open_ledger(pilot)
        since = screen.query_one("#f-since", Input)
        since.value = "last tuesday"
        since.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.filter.since_ms is None
        assert any("time filter" in str(n.message) for n in app._notifications)
        since.value = "-1m"
        since.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.filter.since_ms is not None)
        bound = screen.filter.since_ms
        assert bound is not None
        await wait_for(pilot, lambda: table.row_count > 0)
        for _ in range(3):  # page to the end of the last minute
            page = screen.page
            assert page is not None
            assert all(e.timestamp_ms >= bound for e in page.events)
            if page.next_cursor is None:
                break
            await pilot.press("n")
            await wait_for(pilot, lambda page=page: screen.page is not page)
        assert screen.page is not None and screen.page.next_cursor is None


@pytest.mark.asyncio
async def test_enter_opens_the_block() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        _, screen, table = await open_ledger(pilot)
        table.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BlockDetailScreen))
        detail = app.screen.query_one("#block-events", DataTable)
        await wait_for(pilot, lambda: detail.row_count >= 1)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


@pytest.mark.asyncio
async def test_page_info_grows_when_it_wraps() -> None:
    app = fake_app(FakeClient(history=1_000))
    async with app.run_test(size=(60, 24)) as pilot:
        _, screen, table = await open_ledger(pilot)
        info = screen.query_one("#page-info", Static)
        assert info.size.height == 1
        table.focus()
        await pilot.press("n")
        await wait_for(pilot, lambda: len(screen.cursors) == 2 and "p prev" in str(info.render()))
        block = summarise("gi.civil", 999, FAKE_NOW_MS, 12)
        app.stream_signal.publish(StreamEvent("block", block))
        await wait_for(pilot, lambda: "12 new" in str(info.render()))
        await wait_for(pilot, lambda: info.size.height == 2)  # the line wrapped: laid out again
        await pilot.press("t")
        await wait_for(pilot, lambda: info.size.height == 1)
