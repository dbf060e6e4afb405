"""The node going away and coming back: banner, backoff, automatic reconnect, live stream."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from tests.tui.conftest import fake_app, ready, wait_for
from tui.client.fake import FakeClient
from tui.state import Backoff
from tui.widgets.banner import ConnectionBanner


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    backoff = Backoff(1.0, 5.0)
    assert [backoff.next() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next() == 1.0


@pytest.mark.asyncio
async def test_unreachable_node_shows_banner_then_reconnects() -> None:
    fake = FakeClient()
    fake.set_reachable(False)
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        banner = app.screen.query_one(ConnectionBanner)
        await wait_for(pilot, lambda: app.connection.up is False)
        assert banner.display
        assert "NODE UNREACHABLE" in str(banner.render())
        assert "calpe node run" in str(banner.render())
        polls = fake.calls.count("status")
        await wait_for(pilot, lambda: fake.calls.count("status") >= polls + 2)  # retrying
        fake.set_reachable(True)
        await wait_for(pilot, lambda: app.connection.up is True)
        await wait_for(pilot, lambda: not banner.display)
        assert app.status is not None


@pytest.mark.asyncio
async def test_node_lost_while_running_and_retry_now_key() -> None:
    fake = FakeClient()
    app = fake_app(fake, backoff_initial_s=30.0, backoff_max_s=30.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("2")
        fake.set_reachable(False)
        await pilot.press("7")  # the plugins request fails: the banner shows at once
        await wait_for(pilot, lambda: app.connection.up is False)
        assert app.screen.query_one(ConnectionBanner).display
        fake.set_reachable(True)
        await pilot.press("r")  # without it the next retry is 30 s away
        await wait_for(pilot, lambda: app.connection.up is True)
        assert not app.screen.query_one(ConnectionBanner).display


@pytest.mark.asyncio
async def test_stream_drives_the_dashboard_and_drop_is_noticed() -> None:
    fake = FakeClient(stream_interval_s=0.01)
    app = fake_app(fake, stream=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: len(app.eps_history) >= 3)  # status events from the stream
        eps = app.screen.query_one("#eps-now", Static)
        await wait_for(pilot, lambda: "peak" in str(eps.render()))
        fake.set_reachable(False)  # closes the open stream
        await wait_for(pilot, lambda: app.connection.up is False)
        fake.set_reachable(True)
        await wait_for(pilot, lambda: app.connection.up is True)
        # The fake appends live blocks only while someone reads its stream: it was re-subscribed.
        size = len(fake.ledger.tail)
        await wait_for(pilot, lambda: len(fake.ledger.tail) > size)
