"""Console responsiveness against a fake node of 1M events, or a real one; prints one JSON object.

Usage: ``python -m bench.tui [--smoke] [--json] [--pages 40] [--history 1000000]``, or
``python -m bench.tui --socket DIR/gi.transport/admin.sock`` against a running node (``calpe init``
a devnet, ``calpe node run`` it, fill it, then bench: paging stops at the ledger's last page).
Measures, headless at 120x40: time to first paint (app ready) and to first data (the dashboard's
heads filled), then key-press-to-repaint when paging the ledger with ``n`` and back with ``p``
(the fake builds each page lazily, so this is the console's own cost plus a cheap fetch).

Key-press-to-repaint (``next_page``, ``prev_page``) runs from posting the key event to the end of
the first frame the compositor renders with the new page in it. ``pilot_round_trip`` is the older
figure, ``Pilot.press`` then ``Pilot.pause`` until the rows changed: Pilot waits for the process to
look idle in 20 ms slices (twice in ``press``, once in ``pause``), so it carries a floor of about
60 ms of test-harness waiting and moves in 20 ms steps; it is kept to compare with old results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import DataTable

from tui.app import CalpeApp, make_app
from tui.client.fake import FakeClient
from tui.client.fake_data import FAKE_NOW_MS
from tui.client.http import AdminClient
from tui.client.protocol import ClientProtocol
from tui.screens.ledger import LedgerScreen
from tui.state import AppConfig
from tui.widgets.heads import HeadsTable

SIZE = (120, 40)


async def _until(pilot: Pilot[None], condition: Any, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the console did not reach the expected state")
        await pilot.pause(0)


def _first_row(table: DataTable[object]) -> object:
    if table.row_count == 0:
        return None
    return next(iter(table.rows)).value


class FrameProbe:
    """Times a key press to the end of the first frame that shows a new first row in ``table``.

    It wraps the app's ``_display`` (where each composited frame goes to the terminal; headless,
    the frame is fully rendered and then dropped), the one place that sees every frame.
    """

    def __init__(self, app: CalpeApp, table: DataTable[object]) -> None:
        self.table = table
        self.before: object = None
        self.shown_at = 0.0
        self.shown = asyncio.Event()
        display = app._display

        def probe(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is None or self.shown.is_set():
                return
            if _first_row(self.table) not in (None, self.before):
                self.shown_at = time.perf_counter()
                self.shown.set()

        app._display = probe  # type: ignore[method-assign]

    async def press(self, app: CalpeApp, key: str, timeout: float = 30.0) -> float:
        self.before = _first_row(self.table)
        self.shown.clear()
        start = time.perf_counter()
        app.post_message(events.Key(key, key))
        await asyncio.wait_for(self.shown.wait(), timeout)
        return (self.shown_at - start) * 1000


async def _pilot_press(pilot: Pilot[None], table: DataTable[object], key: str) -> float:
    before = _first_row(table)
    start = time.perf_counter()
    await pilot.press(key)
    await _until(pilot, lambda: _first_row(table) not in (None, before))
    await pilot.pause()  # the repaint after the rows changed
    return (time.perf_counter() - start) * 1000


def _summary(samples: list[float]) -> dict[str, float] | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
        "max_ms": round(ordered[-1], 2),
    }


def _has_next(ledger: LedgerScreen) -> bool:
    return ledger.page is not None and ledger.page.next_cursor is not None


async def _page_through(
    pilot: Pilot[None], ledger: LedgerScreen, table: DataTable[object], pages: int
) -> dict[str, Any]:
    app = ledger.calpe
    probe = FrameProbe(app, table)
    forward: list[float] = []
    while len(forward) < pages and _has_next(ledger):
        forward.append(await probe.press(app, "n"))
        await pilot.pause()  # settle, so one press's leftovers do not count in the next
    back: list[float] = []
    for _ in forward:
        back.append(await probe.press(app, "p"))
        await pilot.pause()
    pilot_forward: list[float] = []
    while len(pilot_forward) < pages and _has_next(ledger):
        pilot_forward.append(await _pilot_press(pilot, table, "n"))
    return {
        "pages": len(forward),
        "next_page": _summary(forward),
        "prev_page": _summary(back),
        "pilot_round_trip": _summary(pilot_forward),
    }


async def _run(client: ClientProtocol, config: AppConfig, pages: int) -> dict[str, Any]:
    app: CalpeApp = make_app(client, config)
    start = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        first_paint_ms = (time.perf_counter() - start) * 1000
        heads = app.screen.query_one(HeadsTable)
        await _until(pilot, lambda: heads.row_count == 3)
        first_data_ms = (time.perf_counter() - start) * 1000
        await pilot.press("3")
        await _until(pilot, lambda: isinstance(app.screen, LedgerScreen))
        table = app.screen.query_one("#events", DataTable)
        await _until(pilot, lambda: table.row_count > 0)
        table.focus()
        await pilot.pause()
        ledger = app.screen
        assert isinstance(ledger, LedgerScreen)
        paging = await _page_through(pilot, ledger, table, pages)
    return {
        "page_size": config.page_size,
        "first_paint_ms": round(first_paint_ms, 1),
        "first_data_ms": round(first_data_ms, 1),
        **paging,
    }


async def _fake(history: int, pages: int) -> dict[str, Any]:
    config = AppConfig(clock=lambda: FAKE_NOW_MS / 1000, stream=False, refresh_s=3600)
    fake = FakeClient(history=history)
    report = await _run(fake, config, pages)
    return {
        "node": "fake",
        "history_events": history,
        **report,
        "events_requests": fake.calls.count("events"),
    }


async def _real(socket: Path, pages: int) -> dict[str, Any]:
    async with AdminClient.for_socket(socket) as client:
        status = await client.status()
        report = await _run(client, AppConfig(refresh_s=3600), pages)
    history = sum(h.height for h in status.heads)
    return {"node": "real", "socket": str(socket), "blocks_in_ledger": history, **report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.tui", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a few pages: check it runs")
    parser.add_argument("--json", action="store_true", help="print only JSON (always the case)")
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--socket", type=Path, help="a running node's admin socket (not the fake)")
    args = parser.parse_args(argv)
    pages = 3 if args.smoke else args.pages
    if args.socket is not None:
        report = asyncio.run(_real(args.socket, pages))
    else:
        report = asyncio.run(_fake(args.history, pages))
    print(json.dumps({"bench": "tui", **report}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
