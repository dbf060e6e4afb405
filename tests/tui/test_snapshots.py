"""Snapshots of the main screens at 80x24 and 120x40, dark and light, with frozen fake data.

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and review the SVGs under ``__snapshots__`` before committing them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, RichLog, Select

from tests.tui.conftest import SIZES, fake_app, ready, wait_for
from tui.client.fake import FakeClient
from tui.client.fake_ledger import seeded_credential

SnapCompare = Callable[..., bool]


def go(key: str, until: Callable[[Pilot[Any]], bool]) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await ready(pilot)
        if key:
            await pilot.press(key)
        await wait_for(pilot, lambda: until(pilot))

    return run_before


def rows(selector: str, count: int) -> Callable[[Pilot[Any]], bool]:
    def check(pilot: Pilot[Any]) -> bool:
        tables = pilot.app.screen.query(selector)
        return bool(tables) and tables.first(DataTable).row_count >= count

    return check


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_dashboard(snap_compare: SnapCompare, size: tuple[int, int], theme: str) -> None:
    app = fake_app()

    async def run_before(pilot: Pilot[Any]) -> None:
        pilot.app.theme = theme
        await go("", rows("#heads", 3))(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_ledger(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    assert snap_compare(fake_app(), terminal_size=size, run_before=go("3", rows("#events", 50)))


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_credential_lookup(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await go("4", lambda p: p.app.screen.query_one("#issuer", Select).value == "gi.transport")(
            pilot
        )
        field = pilot.app.screen.query_one("#cid", Input)
        field.value = seeded_credential("gi.transport", 1)
        field.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: rows("#history", 2)(pilot))

    assert snap_compare(fake_app(), terminal_size=size, run_before=run_before)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_governance(snap_compare: SnapCompare, size: tuple[int, int]) -> None:
    """Members, proposals in every state, and the first (open) proposal's detail."""
    assert snap_compare(fake_app(), terminal_size=size, run_before=go("6", rows("#proposals", 6)))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("key", "ready_when"),
    [
        ("2", rows("#peers-table", 2)),
        ("5", rows("#cp-table", 12)),
        ("7", rows("#plugin-table", 3)),
        ("8", lambda p: len(p.app.screen.query_one(RichLog).lines) >= 8),
        ("question_mark", lambda p: p.app.current_mode == "help"),
    ],
    ids=["peers", "checkpoints", "plugins", "logs", "help"],
)
def test_sections_at_80x24(
    snap_compare: SnapCompare, key: str, ready_when: Callable[[Pilot[Any]], bool]
) -> None:
    assert snap_compare(fake_app(), terminal_size=(80, 24), run_before=go(key, ready_when))


@pytest.mark.slow
def test_unreachable_banner(snap_compare: SnapCompare) -> None:
    fake = FakeClient()
    fake.set_reachable(False)
    app = fake_app(fake, backoff_initial_s=30.0, backoff_max_s=30.0)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_for(pilot, lambda: pilot.app.connection.up is False)  # type: ignore[attr-defined]

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.slow
def test_issue_form_with_errors(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await go("4", lambda p: p.app.screen.query_one("#issuer", Select).value == "gi.transport")(
            pilot
        )
        pilot.app.screen.query_one("#history").focus()
        await pilot.press("i")
        await wait_for(pilot, lambda: bool(pilot.app.screen.query("#credential_id")))
        pilot.app.screen.query_one("#credential_id", Input).value = "0x12"
        pilot.app.screen.query_one("#credential_id", Input).focus()
        await pilot.press("enter")

    assert snap_compare(fake_app(), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.slow
def test_propose_form_with_errors(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await go("6", rows("#proposals", 6))(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: bool(pilot.app.screen.query("#agency_id")))
        form = pilot.app.screen
        for name, value in [("agency_id", "Gi.X"), ("ed25519", "12"), ("addresses", "nope")]:
            form.query_one(f"#{name}", Input).value = value
        form.query_one("#addresses", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "nope" in str(form.query_one("#form-error").render()))

    assert snap_compare(fake_app(), terminal_size=(80, 24), run_before=run_before)
