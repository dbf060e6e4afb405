"""Shared fixtures: a frozen-clock fake node and an app wired to it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from textual.pilot import Pilot

from tests.tui.devnet import Devnet, start_devnet, stop_devnet
from tui.app import CalpeApp, make_app
from tui.client.fake import FakeClient
from tui.client.fake_data import FAKE_NOW_MS
from tui.state import AppConfig

SIZES = [(80, 24), (120, 40)]


def frozen_config(**overrides: object) -> AppConfig:
    """No live stream, a frozen clock, quick retries: deterministic screens."""
    base: dict[str, object] = {
        "clock": lambda: FAKE_NOW_MS / 1000,
        "stream": False,
        "refresh_s": 60.0,
        "backoff_initial_s": 0.02,
        "backoff_max_s": 0.05,
    }
    base.update(overrides)
    return AppConfig(**base)  # type: ignore[arg-type]


def fake_app(fake: FakeClient | None = None, **overrides: object) -> CalpeApp:
    return make_app(fake or FakeClient(), frozen_config(**overrides))


async def wait_for(
    pilot: Pilot[None], condition: Callable[[], object], timeout: float = 5.0
) -> None:
    """Let the app run until ``condition()`` holds; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {condition}")
        await pilot.pause(0.01)


async def ready(pilot: Pilot[None]) -> CalpeApp:
    """Wait for the first status from the node."""
    app = pilot.app
    assert isinstance(app, CalpeApp)
    await wait_for(pilot, lambda: app.status is not None and app.connection.up)
    await pilot.pause()
    return app


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """Three real node processes, shared by every real-node test of the session."""
    running = start_devnet(tmp_path_factory.mktemp("devnet"))
    yield running
    stop_devnet(running)
