"""Console responsiveness against a fake node of 1M events, or a real one; prints one JSON object.

Usage: ``python -m bench.tui [--smoke] [--json] [--pages 40] [--history 1000000]``, or
``python -m bench.tui --socket DIR/gi.transport/admin.sock`` against a running node (``calpe init``
a devnet, ``calpe node run`` it, fill it, then bench: paging stops at the ledger's last page).
Measures, headless at 120x40: time to first paint (app ready) and to first data (the dashboard's
heads filled), then key-press-to-repaint when paging the ledger with ``n`` and back with ``p``
(the fake builds each page lazily, so this is the console's own cost plus a cheap fetch).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

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


async def _press_to_repaint(pilot: Pilot[None], table: DataTable[object], key: str) -> float:
    before = _first_row(table)
    start = time.perf_counter()
    await pilot.press(key)
    await _until(pilot, lambda: _first_row(table) not in (None, before))
    await pilot.pause()  # the repaint after the rows changed
    return (time.perf_counter() - start) * 1000


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 2),
        "max_ms": round(ordered[-1], 2),
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
        ledger = app.screen
        assert isinstance(ledger, LedgerScreen)
        forward: list[float] = []
        while len(forward) < pages and ledger.page is not None and ledger.page.next_cursor:
            forward.append(await _press_to_repaint(pilot, table, "n"))
        back = [await _press_to_repaint(pilot, table, "p") for _ in forward]
    return {
        "page_size": config.page_size,
        "pages": len(forward),
        "first_paint_ms": round(first_paint_ms, 1),
        "first_data_ms": round(first_data_ms, 1),
        "next_page": _summary(forward) if forward else None,
        "prev_page": _summary(back) if back else None,
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
