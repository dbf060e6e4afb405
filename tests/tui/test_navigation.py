"""Every section opens at 80x24 and 120x40, from keys and from the command palette."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, RichLog, Static

from tests.tui.conftest import SIZES, fake_app, ready, wait_for
from tui.widgets.heads import HeadsTable
from tui.widgets.nav import SECTIONS


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.parametrize("size", SIZES)
async def test_every_section_by_key(size: tuple[int, int]) -> None:
    app = fake_app()
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        for mode, key, _ in SECTIONS:
            await pilot.press(key)
            await wait_for(pilot, lambda wanted=mode: app.current_mode == wanted)  # type: ignore[misc]
        await pilot.press("1")
        await wait_for(pilot, lambda: app.current_mode == "dashboard")


@pytest.mark.asyncio
async def test_dashboard_shows_heads_checkpoint_and_alerts() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        heads = app.screen.query_one(HeadsTable)
        await wait_for(pilot, lambda: heads.row_count == 3)
        identity = str(app.screen.query_one("#identity", Static).render())
        assert "gi.transport" in identity and "gibraltar-devnet" in identity
        assert "SUBMITTED" in str(app.screen.query_one("#cp-title", Static).render())
        assert "behind" in str(app.screen.query_one("#alerts", Static).render())


@pytest.mark.asyncio
async def test_sections_load_their_data() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 2)
        await pilot.press("5")
        await wait_for(pilot, lambda: app.screen.query_one(DataTable).row_count == 12)
        await pilot.press("6")
        await wait_for(pilot, lambda: app.screen.query_one("#members", DataTable).row_count == 4)
        await wait_for(pilot, lambda: app.screen.query_one("#proposals", DataTable).row_count == 6)
        await pilot.press("8")
        log = app.screen.query_one(RichLog)
        await wait_for(pilot, lambda: len(log.lines) >= 5)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_command_palette_goes_to_a_section() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"go to checkpoints")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.current_mode == "checkpoints")


@pytest.mark.asyncio
async def test_light_theme_toggle() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        dark = app.current_theme.dark
        await pilot.press("ctrl+t")
        assert app.current_theme.dark is not dark
