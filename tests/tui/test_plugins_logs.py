"""Plugins (toggle) and logs (level filter, live tail)."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, RichLog, Select, Static

from tests.tui.conftest import fake_app, ready, wait_for
from tui.client.fake import FakeClient
from tui.screens.logs import LogsScreen
from tui.screens.plugins import PluginsScreen


@pytest.mark.asyncio
async def test_plugin_toggle_disables_and_enables() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("7")
        await wait_for(pilot, lambda: isinstance(app.screen, PluginsScreen))
        screen = app.screen
        assert isinstance(screen, PluginsScreen)
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        assert screen.plugins["rsk_bridge"].enabled
        await pilot.press("space")
        await wait_for(pilot, lambda: not screen.plugins["rsk_bridge"].enabled)
        assert screen.plugins["rsk_bridge"].state == "stopped"
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.plugins["rsk_bridge"].enabled)


@pytest.mark.asyncio
async def test_failed_plugin_shows_its_errors() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("7")
        screen = app.screen
        table = screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press("down", "down")
        errors = screen.query_one("#plugin-errors", Static)
        await wait_for(pilot, lambda: "connection refused" in str(errors.render()))


@pytest.mark.asyncio
async def test_log_level_filter_and_live_tail() -> None:
    fake = FakeClient(stream_interval_s=0.05)
    app = fake_app(fake, stream=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("8")
        await wait_for(pilot, lambda: isinstance(app.screen, LogsScreen))
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        log = screen.query_one(RichLog)
        await wait_for(pilot, lambda: len(log.lines) > 10)  # history plus live lines
        await pilot.press("space")  # pause the tail so the count is stable
        screen.query_one("#level", Select).value = "error"
        await wait_for(pilot, lambda: len(log.lines) == 1)
        assert "ERROR" in log.lines[0].text
