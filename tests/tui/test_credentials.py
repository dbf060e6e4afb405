"""Credentials section: lookup, issue form validation and success, revoke with confirmation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from tests.tui.conftest import fake_app, ready, wait_for
from tui.app import CalpeApp
from tui.client.fake import FakeClient
from tui.client.fake_data import schema_id
from tui.client.fake_ledger import seeded_credential
from tui.screens.change_form import ChangeForm
from tui.screens.confirm import ConfirmDialog
from tui.screens.credentials import CredentialsScreen
from tui.screens.export import ExportDialog
from tui.screens.forms import IssueForm

OWN = "gi.transport"
NEW_CID = "ab" * 32


async def open_credentials(pilot: Pilot[None]) -> CalpeApp:
    app = await ready(pilot)
    await pilot.press("4")
    await wait_for(pilot, lambda: isinstance(app.screen, CredentialsScreen))
    screen = app.screen
    await wait_for(pilot, lambda: screen.query_one("#issuer").value == OWN)  # type: ignore[attr-defined]
    return app


async def look_up(pilot: Pilot[None], app: CalpeApp, cid: str) -> CredentialsScreen:
    screen = app.screen
    assert isinstance(screen, CredentialsScreen)
    screen.query_one("#cid", Input).value = cid
    screen.query_one("#cid", Input).focus()
    await pilot.press("enter")
    await wait_for(
        pilot, lambda: screen.record is not None and screen.record.credential.credential_id == cid
    )
    return screen


def summary(app: CalpeApp) -> str:
    return str(app.screen.query_one("#cred-summary", Static).render())


@pytest.mark.asyncio
async def test_lookup_shows_status_and_history() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_credentials(pilot)
        screen = await look_up(pilot, app, seeded_credential(OWN, 1))
        assert "SUSPENDED" in summary(app)
        assert screen.query_one("#history", DataTable).row_count == 2


@pytest.mark.asyncio
async def test_lookup_of_unknown_credential_says_so() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_credentials(pilot)
        app.screen.query_one("#cid", Input).value = "cd" * 32
        app.screen.query_one("#cid", Input).focus()
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: any("never issued credential" in str(n.message) for n in app._notifications),
        )


async def fill_issue_form(pilot: Pilot[None], app: CalpeApp, **values: str) -> IssueForm:
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, IssueForm))
    form = app.screen
    assert isinstance(form, IssueForm)
    for field, value in values.items():
        form.query_one(f"#{field}", Input).value = value
    await submit(pilot, form)
    return form


async def submit(pilot: Pilot[None], form: IssueForm) -> None:
    """Enter in a field submits (a second click within 0.2 s is a Button debounce no-op)."""
    form.query_one("#credential_id", Input).focus()
    await pilot.press("enter")


@pytest.mark.asyncio
async def test_issue_form_shows_validation_errors() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_credentials(pilot)
        form = await fill_issue_form(
            pilot, app, credential_id="0xabc", schema_id="", valid_from="yesterday"
        )
        await pilot.pause()
        error = str(form.query_one("#form-error", Static).render())
        assert "without 0x" in error
        assert "schema id is required" in error
        assert "YYYY-MM-DD" in error
        assert "issue" not in fake.calls
        form.query_one("#credential_id", Input).value = NEW_CID
        form.query_one("#schema_id", Input).value = schema_id(OWN, 0)
        form.query_one("#valid_from", Input).value = "2025-06-01"
        form.query_one("#valid_until", Input).value = "2025-05-01"
        await submit(pilot, form)
        await pilot.pause()
        assert "after valid from" in str(form.query_one("#form-error", Static).render())


@pytest.mark.asyncio
async def test_issue_success_shows_the_new_credential() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_credentials(pilot)
        await fill_issue_form(
            pilot,
            app,
            credential_id=NEW_CID,
            schema_id=schema_id(OWN, 0),
            valid_from="2025-06-01",
            valid_until="2030-06-01",
        )
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialsScreen))
        screen = app.screen
        assert isinstance(screen, CredentialsScreen)
        await wait_for(pilot, lambda: screen.record is not None)
        assert "ACTIVE" in summary(app)
        stored = (await fake.credential(OWN, NEW_CID)).credential
        midnight = datetime(2030, 6, 1, tzinfo=UTC).timestamp()
        assert stored.valid_until_s == int(midnight)


@pytest.mark.asyncio
async def test_issue_refused_by_the_node_keeps_the_form_open() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_credentials(pilot)
        form = await fill_issue_form(
            pilot,
            app,
            credential_id=seeded_credential(OWN, 0),
            schema_id=schema_id(OWN, 0),
            valid_from="2025-06-01",
        )
        error = form.query_one("#form-error", Static)
        await wait_for(pilot, lambda: "duplicate_credential" in str(error.render()))
        assert app.screen is form
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialsScreen))


async def start_change(pilot: Pilot[None], app: CalpeApp, key: str, cid: str) -> ChangeForm:
    await look_up(pilot, app, cid)
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, ChangeForm))
    form = app.screen
    assert isinstance(form, ChangeForm)
    await pilot.click("#submit")
    return form


@pytest.mark.asyncio
async def test_revoke_asks_and_cancel_sends_nothing() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_credentials(pilot)
        form = await start_change(pilot, app, "x", seeded_credential(OWN, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")  # focus starts on Cancel
        await wait_for(pilot, lambda: app.screen is form)
        assert "revoke" not in fake.calls
        assert "cancelled" in str(form.query_one("#form-error", Static).render())


@pytest.mark.slow
@pytest.mark.asyncio
async def test_revoke_confirmed_is_committed_and_final() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    cid = seeded_credential(OWN, 0)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_credentials(pilot)
        await start_change(pilot, app, "x", cid)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.click("#yes")
        await wait_for(pilot, lambda: "REVOKED" in summary(app))
        # A second revoke is refused by the node's rule, shown in the form.
        form = await start_change(pilot, app, "x", cid)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        error = form.query_one("#form-error", Static)
        await wait_for(pilot, lambda: "revoked_final" in str(error.render()))


@pytest.mark.asyncio
async def test_suspend_then_reinstate() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_credentials(pilot)
        await start_change(pilot, app, "s", seeded_credential(OWN, 3))
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: "SUSPENDED" in summary(app))
        await start_change(pilot, app, "u", seeded_credential(OWN, 3))  # no confirmation
        await wait_for(pilot, lambda: "ACTIVE" in summary(app))


@pytest.mark.asyncio
async def test_changes_to_another_agencys_credential_are_refused_locally() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_credentials(pilot)
        app.screen.query_one("#issuer").value = "gi.civil"  # type: ignore[attr-defined]
        await look_up(pilot, app, seeded_credential("gi.civil", 0))
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, CredentialsScreen)
        assert any("Only gi.civil" in str(n.message) for n in app._notifications)


@pytest.mark.asyncio
async def test_export_proof_writes_a_json_bundle(tmp_path: Path) -> None:
    app = fake_app()
    cid = seeded_credential(OWN, 2)
    target = tmp_path / "bundle.json"
    async with app.run_test(size=(80, 24)) as pilot:
        await open_credentials(pilot)
        await look_up(pilot, app, cid)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.click("#submit")
        await wait_for(pilot, target.exists)
    bundle = json.loads(target.read_text())
    assert bundle["credential_id"] == cid
    assert bundle["status_record"]["status"] == "revoked"
