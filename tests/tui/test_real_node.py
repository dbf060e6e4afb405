"""The console against a real devnet: three ``calpe node run`` processes, no fake.

Each test drives one section with ``App.run_test()`` on the admin socket of the first node and
checks what it shows against what the node's API says. The devnet is shared (session fixture);
the restart test stops and restarts the console's node, so it runs last in this module (the
governance section's real-node tests are in ``test_real_governance``, collected before this
one; the helpers are in ``tests.tui.real``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, RichLog, Select, Static

from node.core import smt
from node.core.hashing import sha256
from tests.integration.cluster import cid_for
from tests.tui.devnet import (
    OWN,
    OWN_PREFILL,
    PEER,
    Devnet,
    prefill_credential,
    prefill_schema,
    stop_node,
)
from tests.tui.real import PAGE, api, column, console, focus, section, text, wait
from tui.client.http import AdminClient
from tui.screens.block_detail import BlockDetailScreen
from tui.screens.change_form import ChangeForm
from tui.screens.checkpoints import NO_CHECKPOINTS
from tui.screens.confirm import ConfirmDialog
from tui.screens.credentials import CredentialsScreen
from tui.screens.export import ExportDialog
from tui.screens.forms import IssueForm
from tui.screens.ledger import EventFilter, LedgerScreen
from tui.screens.plugins import NO_PLUGINS
from tui.widgets.heads import NO_BLOCKS, HeadsTable

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio]


async def issue_new(client: AdminClient, label: str) -> tuple[str, int]:
    cid = cid_for(f"tui-real/{label}/{uuid.uuid4()}")
    result = await client.issue(cid, prefill_schema(OWN), 1_700_000_000, 2_000_000_000)
    return cid, result.height


async def test_dashboard_shows_three_agencies_and_live_blocks(devnet: Devnet) -> None:
    async with console(devnet) as (app, pilot), api(devnet) as client:
        heads = app.screen.query_one(HeadsTable)
        await wait(pilot, lambda: heads.row_count == 3)
        assert column(heads, 0) == ["gi.agency0", "gi.agency1", "gi.agency2"]
        assert column(heads, 3)[2] == NO_BLOCKS  # agency 2 has authored nothing
        identity = text(app.screen.query_one("#identity", Static))
        assert OWN in identity and "calpe-devnet" in identity and "peers 2/2" in identity
        assert "no alerts" in text(app.screen.query_one("#alerts", Static))
        assert "no checkpoint yet" in text(app.screen.query_one("#cp-title", Static))

        _, height = await issue_new(client, "dashboard")
        await wait(pilot, lambda: column(heads, 1)[0] == f"{height:,}")


async def test_peers_lists_both_other_agencies_connected(devnet: Devnet) -> None:
    async with console(devnet) as (_, pilot), api(devnet) as client:
        screen = await section(pilot, "2", "peers")
        table = screen.query_one(DataTable)
        await wait(pilot, lambda: table.row_count == 2)
        assert column(table, 0) == ["gi.agency1", "gi.agency2"]
        assert all("up" in state for state in column(table, 1))
        ids = {p.agency_id: p.peer_id for p in await client.peers()}
        assert column(table, 5)[0] == ids["gi.agency1"][:14] + "…"
        assert "2 of 2 peers connected" in text(screen.query_one("#peers-summary", Static))


async def test_ledger_pages_filters_and_opens_a_block(devnet: Devnet) -> None:
    async with console(devnet) as (app, pilot), api(devnet) as client:
        screen = await section(pilot, "3", "ledger")
        assert isinstance(screen, LedgerScreen)
        table = screen.query_one("#events", DataTable)
        await wait(pilot, lambda: table.row_count == PAGE)
        first = column(table, 2)
        await focus(pilot, table)
        await pilot.press("n")
        await wait(pilot, lambda: len(screen.cursors) == 2 and column(table, 2) != first)
        await pilot.press("p")
        await wait(pilot, lambda: len(screen.cursors) == 1 and column(table, 2) == first)

        screen.query_one("#f-agency", Select).value = PEER
        await wait(pilot, lambda: screen.filter.agency == PEER and screen.page is not None)
        await wait(pilot, lambda: column(table, 1) == [PEER] * 5)  # 1 schema + 4 credentials
        screen.query_one("#f-kind", Select).value = "schema.published"
        await wait(pilot, lambda: column(table, 3) == ["schema.published"])
        screen.query_one("#f-kind", Select).clear()
        screen.query_one("#f-agency", Select).clear()
        await wait(pilot, lambda: screen.filter == EventFilter() and table.row_count == PAGE)
        await pilot.pause()  # let both Select.Changed be handled (each focuses the table)
        credential = prefill_credential(OWN, 7)
        screen.query_one("#f-credential", Input).value = credential
        await focus(pilot, screen.query_one("#f-credential", Input))
        await pilot.press("enter")
        await wait(pilot, lambda: screen.filter == EventFilter(credential=credential))
        await wait(
            pilot, lambda: table.row_count == 1 and column(table, 4)[0] == credential[:12] + "…"
        )

        await focus(pilot, table)
        await pilot.press("enter")
        await wait(pilot, lambda: isinstance(app.screen, BlockDetailScreen))
        detail = app.screen
        assert isinstance(detail, BlockDetailScreen)
        expected = (await client.credential(OWN, credential)).history[0]
        assert (detail.agency, detail.height) == (OWN, expected.height)
        block = await client.block(OWN, expected.height)
        header = detail.query_one("#block-header", Static)
        await wait(pilot, lambda: block.block.block_hash in text(header), lambda: text(header))
        assert detail.query_one("#block-events", DataTable).row_count == block.block.event_count
        await pilot.press("escape")
        await wait(pilot, lambda: isinstance(app.screen, LedgerScreen))

        # Events flowing: a write elsewhere is counted live, and `t` shows it on top.
        screen.query_one("#f-credential", Input).value = ""
        await focus(pilot, screen.query_one("#f-credential", Input))
        await pilot.press("enter")
        await wait(pilot, lambda: screen.filter.credential is None and table.row_count == PAGE)
        cid, _ = await issue_new(client, "ledger")
        info = screen.query_one("#page-info", Static)
        await wait(pilot, lambda: "1 new" in text(info))
        await focus(pilot, table)
        await pilot.press("t")
        await wait(pilot, lambda: column(table, 4)[0] == cid[:12] + "…")


async def credentials_screen(pilot: Pilot[None]) -> CredentialsScreen:
    screen = await section(pilot, "4", "credentials")
    assert isinstance(screen, CredentialsScreen)
    await wait(pilot, lambda: screen.query_one("#issuer", Select).value == OWN)
    return screen


async def look_up(pilot: Pilot[None], screen: CredentialsScreen, issuer: str, cid: str) -> None:
    screen.query_one("#issuer", Select).value = issuer
    screen.query_one("#cid", Input).value = cid
    await focus(pilot, screen.query_one("#cid", Input))
    await pilot.press("enter")
    await wait(
        pilot, lambda: screen.record is not None and screen.record.credential.credential_id == cid
    )


async def change(
    pilot: Pilot[None], key: str, reason: str | None, confirm: str | None
) -> ChangeForm:
    app = pilot.app
    await pilot.press(key)
    await wait(pilot, lambda: isinstance(app.screen, ChangeForm))
    form = app.screen
    assert isinstance(form, ChangeForm)
    if reason is not None:
        form.query_one("#reason", Select).value = reason
    await pilot.click("#submit")
    if confirm is not None:
        await wait(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press(confirm)
    return form


async def test_credentials_lookup_issue_change_and_export(devnet: Devnet, tmp_path: Path) -> None:
    async with console(devnet) as (app, pilot), api(devnet) as client:
        screen = await credentials_screen(pilot)
        summary = screen.query_one("#cred-summary", Static)

        # Look up another agency's credential: shown, but only its issuer may change it.
        await look_up(pilot, screen, PEER, prefill_credential(PEER, 1))
        assert "ACTIVE" in text(summary) and PEER in text(summary)
        await pilot.press("x")
        await wait(pilot, lambda: any("Only gi.agency1" in n.message for n in app._notifications))
        assert not isinstance(app.screen, ChangeForm)

        # Issue through the form.
        cid = cid_for(f"tui-real/issued/{uuid.uuid4()}")
        await pilot.press("i")
        await wait(pilot, lambda: isinstance(app.screen, IssueForm))
        issue_form = app.screen
        issue_form.query_one("#credential_id", Input).value = cid
        issue_form.query_one("#schema_id", Input).value = prefill_schema(OWN)
        issue_form.query_one("#valid_from", Input).value = "2025-06-01"
        issue_form.query_one("#valid_until", Input).value = "2030-06-01"
        await focus(pilot, issue_form.query_one("#valid_until", Input))
        await pilot.press("enter")
        await wait(
            pilot,
            lambda: screen.record is not None and screen.record.credential.credential_id == cid,
        )
        assert "ACTIVE" in text(summary)
        assert (await client.credential(OWN, cid)).credential.valid_from_s == 1_748_736_000

        # Suspend (confirmed), reinstate (no confirmation needed).
        await change(pilot, "s", "court_order", "y")
        await wait(pilot, lambda: "SUSPENDED" in text(summary) and "court_order" in text(summary))
        assert (await client.credential(OWN, cid)).credential.status == "suspended"
        await change(pilot, "u", None, None)
        await wait(pilot, lambda: "ACTIVE" in text(summary))
        history = screen.query_one("#history", DataTable)
        await wait(pilot, lambda: history.row_count == 3)

        # Revoke: cancelling at the confirmation sends nothing; confirming is final.
        form = await change(pilot, "x", "superseded", "n")
        await wait(pilot, lambda: "cancelled" in text(form.query_one("#form-error", Static)))
        assert (await client.credential(OWN, cid)).credential.status == "active"
        await pilot.press("escape")
        await change(pilot, "x", "superseded", "y")
        await wait(pilot, lambda: "REVOKED" in text(summary))
        form = await change(pilot, "s", None, "y")
        error = form.query_one("#form-error", Static)
        await wait(pilot, lambda: "revoked_final" in text(error))
        await pilot.press("escape")

        # Export the proof bundle and check it as a verifier would.
        target = tmp_path / "bundle.json"
        await pilot.press("e")
        await wait(pilot, lambda: isinstance(app.screen, ExportDialog))
        app.screen.query_one("#path", Input).value = str(target)
        await pilot.click("#submit")
        await wait(pilot, lambda: target.exists() and target.read_text().endswith("}\n"))
    check_bundle(target, cid)


def check_bundle(path: Path, cid: str) -> None:
    bundle = json.loads(path.read_text())
    assert (bundle["format"], bundle["version"], bundle["issuer"]) == ("calpe-proof-bundle", 1, OWN)
    assert bundle["credential_id"] == cid and bundle["status"] == "revoked"
    proof = smt.SmtProof.from_bytes(bytes.fromhex(bundle["state_proof"]))
    root = bytes.fromhex(bundle["head"]["state_root"])
    smt.verify_membership(root, bytes.fromhex(cid), sha256(bytes.fromhex(bundle["record"])), proof)


async def test_checkpoints_show_what_the_node_serves(devnet: Devnet) -> None:
    async with console(devnet) as (_, pilot), api(devnet) as client:
        served = await client.checkpoints(limit=50)
        screen = await section(pilot, "5", "checkpoints")
        table = screen.query_one(DataTable)
        detail = screen.query_one("#cp-detail", Static)
        if not served:  # this devnet has no anchor contract: the node makes no checkpoints
            await wait(pilot, lambda: text(detail) == NO_CHECKPOINTS)
            assert table.row_count == 0
        else:
            await wait(pilot, lambda: table.row_count == len(served))
            assert column(table, 0) == [str(c.epoch) for c in served]


async def test_plugins_list_and_toggle(devnet: Devnet) -> None:
    async with console(devnet) as (_, pilot), api(devnet) as client:
        served = await client.plugins()
        screen = await section(pilot, "7", "plugins")
        table = screen.query_one(DataTable)
        empty = screen.query_one("#plugin-empty", Static)
        if not served:  # the node's plugin host serves no plugins yet
            await wait(pilot, lambda: empty.display)
            assert text(empty) == NO_PLUGINS and table.row_count == 0
            return
        await wait(pilot, lambda: table.row_count == len(served))
        assert column(table, 0) == [p.name for p in served] and not empty.display
        await focus(pilot, table)
        for wanted in (not served[0].enabled, served[0].enabled):  # toggle, then put it back
            await pilot.press("space")
            await wait(pilot, shows_enabled(table, wanted))
            assert (await client.plugins())[0].enabled is wanted


def shows_enabled(table: DataTable[object], enabled: bool) -> Callable[[], bool]:
    return lambda: ("on" in column(table, 1)[0]) is enabled


def log_lines(widget: RichLog) -> list[str]:
    return [strip.text for strip in widget.lines]


async def test_logs_filter_by_level(devnet: Devnet) -> None:
    async with console(devnet) as (_, pilot), api(devnet) as client:
        screen = await section(pilot, "8", "logs")
        log = screen.query_one(RichLog)
        await wait(pilot, lambda: any("admin API listening" in line for line in log_lines(log)))
        screen.query_one("#level", Select).value = "warning"
        await wait(pilot, lambda: not any("admin API listening" in s for s in log_lines(log)))
        served = await client.logs("warning", limit=200)
        assert all(line.level in ("warning", "error", "critical") for line in served)
        shown = log_lines(log)
        assert all(any(lv in s for lv in ("WARNING", "ERROR", "CRITICAL")) for s in shown)
        assert {line.message[:40] for line in served} <= {s.split(" ", 3)[-1][:40] for s in shown}
        screen.query_one("#level", Select).value = "info"
        await wait(pilot, lambda: any("admin API listening" in line for line in log_lines(log)))


async def test_node_restart_shows_banner_then_reconnects_by_itself(devnet: Devnet) -> None:
    async with console(devnet) as (app, pilot):
        banner = app.screen.query_one("#banner", Static)
        assert not banner.display
        await asyncio.to_thread(stop_node, devnet.own)
        await wait(pilot, lambda: app.connection.up is False and banner.display)
        assert "NODE UNREACHABLE" in text(banner) and str(devnet.own.socket) in text(banner)
        await asyncio.to_thread(devnet.own.start)
        await wait(pilot, lambda: app.connection.up is True and not banner.display)
        heads = app.screen.query_one(HeadsTable)
        await wait(pilot, lambda: heads.row_count == 3)
        assert int(column(heads, 1)[0].replace(",", "")) > OWN_PREFILL // 3  # ledger kept
