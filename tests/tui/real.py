"""Helpers of the console's real-node tests: a console on the devnet's first node, the API of
either node as another operator, and waiting on what the screen shows (never a fixed sleep)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tests.tui.conftest import wait_for
from tests.tui.devnet import Devnet
from tui.app import CalpeApp, make_app
from tui.client.http import AdminClient
from tui.state import AppConfig

SIZE = (120, 40)
WAIT_S = 20.0
PAGE = 5


def config() -> AppConfig:
    """Status polls rarely, so what moves on screen comes from the live stream; quick retries."""
    return AppConfig(refresh_s=60.0, backoff_initial_s=0.2, backoff_max_s=1.0, page_size=PAGE)


@asynccontextmanager
async def console(devnet: Devnet) -> AsyncIterator[tuple[CalpeApp, Pilot[None]]]:
    app = make_app(AdminClient.for_socket(devnet.own.socket), config())
    async with app.run_test(size=SIZE) as pilot:
        await wait(pilot, lambda: app.status is not None and app.connection.up)
        yield app, pilot


@asynccontextmanager
async def api(devnet: Devnet) -> AsyncIterator[AdminClient]:
    """Another operator's client on the same node (writes the console did not make)."""
    async with AdminClient.for_socket(devnet.own.socket) as client:
        yield client


async def wait(
    pilot: Pilot[None], condition: Callable[[], object], shown: Callable[[], str] | None = None
) -> None:
    """``wait_for`` with a longer timeout; ``shown`` says what was on screen if it times out."""
    try:
        await wait_for(pilot, condition, timeout=WAIT_S)
    except pytest.fail.Exception:
        if shown is not None:
            pytest.fail(f"timed out; the screen showed: {shown()!r}")
        raise


async def section(pilot: Pilot[None], key: str, mode: str) -> Any:
    app = pilot.app
    assert isinstance(app, CalpeApp)
    await pilot.press(key)
    await wait(pilot, lambda: app.current_mode == mode)
    return app.screen


async def focus(pilot: Pilot[None], widget: Widget) -> None:
    """Focus ``widget`` and wait until it has it (``focus()`` only schedules the change, and a
    key pressed before it lands goes to the widget focused before)."""
    widget.focus()
    await wait(pilot, lambda: pilot.app.focused is widget)


def text(widget: Static) -> str:
    return str(widget.render())


def column(table: DataTable[object], index: int) -> list[str]:
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


@asynccontextmanager
async def peer_api(devnet: Devnet) -> AsyncIterator[AdminClient]:
    """The operator of ``PEER``'s node: votes and proposals made by another agency."""
    async with AdminClient.for_socket(devnet.peer.socket) as client:
        yield client


async def until(pilot: Pilot[None], check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Let the app run until the API answers ``check()`` true (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def notes(app: CalpeApp) -> str:
    return " | ".join(str(n.message) for n in app._notifications)
