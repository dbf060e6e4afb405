"""Governance section against the fake node: tables, detail, vote (confirm/cancel), propose."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from tests.tui.conftest import fake_app, ready, wait_for
from tui.app import CalpeApp
from tui.client.errors import ApiError
from tui.client.fake import FakeClient
from tui.client.governance import Governance
from tui.screens.confirm import ConfirmDialog
from tui.screens.governance import NO_GOVERNANCE, GovernanceScreen
from tui.screens.propose_form import ProposeForm

OWN = "gi.transport"
ED = "c3" * 32  # a point on Ed25519: the node refuses other keys
ADDRESS = "0x" + "cd" * 20


async def open_governance(pilot: Pilot[None]) -> tuple[CalpeApp, GovernanceScreen]:
    app = await ready(pilot)
    await pilot.press("6")
    await wait_for(pilot, lambda: isinstance(app.screen, GovernanceScreen))
    screen = app.screen
    assert isinstance(screen, GovernanceScreen)
    await wait_for(pilot, lambda: screen.query_one("#proposals", DataTable).row_count > 0)
    return app, screen


def cells(screen: GovernanceScreen, table: str, row: int) -> list[str]:
    return [str(c) for c in screen.query_one(table, DataTable).get_row_at(row)]


def detail(screen: GovernanceScreen) -> str:
    return str(screen.query_one("#gov-detail", Static).render())


def notes(app: CalpeApp) -> str:
    return " | ".join(str(n.message) for n in app._notifications)


def row_of(screen: GovernanceScreen, summary: str) -> int:
    table = screen.query_one("#proposals", DataTable)
    return next(r for r in range(table.row_count) if cells(screen, "#proposals", r)[1] == summary)


async def select(pilot: Pilot[None], screen: GovernanceScreen, summary: str) -> str:
    """Put the proposals cursor on ``summary``; its proposal id."""
    table = screen.query_one("#proposals", DataTable)
    table.focus()
    table.move_cursor(row=row_of(screen, summary))
    await wait_for(pilot, lambda: summary in detail(screen))
    proposal = screen.selected()
    assert proposal is not None
    return proposal.proposal_id


@pytest.mark.asyncio
async def test_members_proposals_and_detail() -> None:
    app = fake_app()
    async with app.run_test(size=(120, 40)) as pilot:
        _, screen = await open_governance(pilot)
        members = screen.query_one("#members", DataTable)
        assert app.focused is screen.query_one("#proposals")  # arrows move the proposals cursor
        assert [cells(screen, "#members", r)[:3] for r in range(members.row_count)] == [
            ["gi.civil", "active", "0"],
            ["gi.health", "active", "12"],
            ["gi.port", "removed", "30"],
            ["gi.transport", "active", "0"],
        ]
        assert "this node" in cells(screen, "#members", 3)[3]
        assert cells(screen, "#proposals", 0) == [
            "interval",
            "checkpoint every 300 s",
            "1/3",
            "open",
            "in 2d 1h",
        ]
        assert [cells(screen, "#proposals", r)[3] for r in range(6)] == [
            "open",
            "open",
            "failed",
            "expired",
            "adopted",
            "adopted",
        ]
        summary = str(screen.query_one("#gov-summary", Static).render())
        assert "epoch 42" in summary and "quorum 2 of 3" in summary
        assert "approvals 1 of 2 needed: gi.civil" in detail(screen)
        await select(pilot, screen, "add gi.health")
        assert "in force from epoch 12" in detail(screen)
        assert "ed25519 " in detail(screen)


@pytest.mark.asyncio
async def test_vote_after_confirming() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        _, screen = await open_governance(pilot)
        pid = await select(pilot, screen, "checkpoint every 300 s")
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "cannot be withdrawn" in str(app.screen.query_one(".dialog-body", Static).render())
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: (
                cells(screen, "#proposals", row_of(screen, "checkpoint every 300 s"))[3]
                == "adopted"
            ),
        )
        assert fake.calls.count("vote") == 1
        assert fake.gov.document().proposal(pid).approvals == ("gi.civil", OWN)  # type: ignore[union-attr]
        assert "2/3" in cells(screen, "#proposals", row_of(screen, "checkpoint every 300 s"))
        assert "committed at gi.transport" in notes(app)
        assert screen.selected() is not None and screen.selected().proposal_id == pid  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_cancelled_vote_sends_nothing() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        _, screen = await open_governance(pilot)
        await select(pilot, screen, "checkpoint every 300 s")
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")  # "Cancel" has the focus: Enter alone never votes
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert "vote" not in fake.calls
        assert "Vote cancelled: nothing was sent" in notes(app)


@pytest.mark.asyncio
async def test_no_vote_on_closed_or_already_approved_proposals() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        _, screen = await open_governance(pilot)
        await select(pilot, screen, "remove gi.port")
        await pilot.press("v")
        await wait_for(pilot, lambda: "is adopted: it takes no votes" in notes(app))
        assert app.screen is screen and "vote" not in fake.calls
        # Approved already (proposed by this node): nothing to confirm, the node says why.
        await select(pilot, screen, "rotate the keys of gi.health")
        await pilot.press("v")
        expected = f"voting: {OWN} already approved this proposal [duplicate_vote]"
        await wait_for(pilot, lambda: expected in notes(app))
        assert app.screen is screen and fake.calls.count("vote") == 1


@pytest.mark.asyncio
async def test_a_refused_vote_is_reported() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        _, screen = await open_governance(pilot)
        pid = await select(pilot, screen, "checkpoint every 300 s")
        await fake.vote(pid)  # another operator of this node was quicker (and it was adopted)
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        refused = f"voting: proposal {pid} is adopted already [duplicate_vote]"
        await wait_for(pilot, lambda: refused in notes(app))
        assert fake.calls.count("vote") == 2


async def open_form(pilot: Pilot[None], kind: str) -> ProposeForm:
    app = pilot.app
    await pilot.press("p")
    await wait_for(pilot, lambda: isinstance(app.screen, ProposeForm))
    form = app.screen
    assert isinstance(form, ProposeForm)
    form.query_one("#kind", Select).value = kind
    await wait_for(pilot, lambda: form.kind == kind)
    return form


async def fill_and_submit(pilot: Pilot[None], form: ProposeForm, typed: dict[str, str]) -> None:
    for name, value in typed.items():
        form.query_one(f"#{name}", Input).value = value
    last = form.query_one(f"#{next(reversed(typed))}", Input)
    last.focus()
    await wait_for(pilot, lambda: pilot.app.focused is last)
    await pilot.press("enter")


def error_text(form: ProposeForm) -> str:
    return str(form.query_one("#form-error", Static).render())


VALID = [
    (
        "add_agency",
        {
            "agency_id": "gi.justice",
            "ed25519": ED.upper(),
            "secp256k1_address": ADDRESS,
            "addresses": "/ip4/10.0.0.5/tcp/7400, /dns/justice.gov.gi/tcp/7400",
        },
        "add gi.justice",
    ),
    ("remove_agency", {"agency_id": "gi.health"}, "remove gi.health"),
    (
        "rotate_keys",
        {"agency_id": "gi.civil", "ed25519": ED, "secp256k1_address": ADDRESS},
        "rotate the keys of gi.civil",
    ),
    ("set_quorum", {"quorum": "3"}, "quorum 3"),
    ("set_checkpoint_interval", {"seconds": "900"}, "checkpoint every 900 s"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("kind", "typed", "summary"), VALID, ids=[v[0] for v in VALID])
async def test_propose_each_type(kind: str, typed: dict[str, str], summary: str) -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        _, screen = await open_governance(pilot)
        form = await open_form(pilot, kind)
        await fill_and_submit(pilot, form, typed)
        await wait_for(pilot, lambda: app.screen is screen)
        await wait_for(pilot, lambda: cells(screen, "#proposals", 0)[1] == summary)
        newest = fake.gov.document().proposals[0]
        assert (newest.action.type, newest.proposer, newest.approvals) == (kind, OWN, (OWN,))
        if kind == "add_agency":
            assert newest.action.model_dump()["ed25519"] == ED  # sent in lowercase
            assert len(newest.action.model_dump()["addresses"]) == 2
        assert "Proposal " in notes(app) and "committed at gi.transport" in notes(app)


INVALID = [
    (
        "add_agency",
        {"agency_id": "Gi.Justice", "ed25519": "12", "secp256k1_address": "0x12", "addresses": ""},
        ["agency id 'Gi.Justice'", "Ed25519 public key must be 64 hex", "0x and 40 hex"],
    ),
    (
        "add_agency",
        {"agency_id": "gi.port", "ed25519": ED, "secp256k1_address": ADDRESS, "addresses": "x"},
        ["gi.port is already a member", "address 'x' is not like"],
    ),
    ("remove_agency", {"agency_id": "gi.port"}, ["gi.port is not an active member"]),
    (
        "rotate_keys",
        {"agency_id": "gi.nobody", "ed25519": ED, "secp256k1_address": ADDRESS[:-1]},
        ["gi.nobody is not an active member", "0x and 40 hex"],
    ),
    ("set_quorum", {"quorum": "4"}, ["quorum must be a whole number 1..3"]),
    ("set_quorum", {"quorum": "0"}, ["quorum must be a whole number 1..3"]),
    ("set_checkpoint_interval", {"seconds": "4"}, ["5..604800"]),
    ("set_checkpoint_interval", {"seconds": "604801"}, ["5..604800"]),
    ("set_checkpoint_interval", {"seconds": "900", "expires": "2025-05-01"}, ["in the future"]),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("kind", "typed", "expected"), INVALID)
async def test_propose_validation_errors(
    kind: str, typed: dict[str, str], expected: list[str]
) -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_governance(pilot)
        form = await open_form(pilot, kind)
        await fill_and_submit(pilot, form, typed)
        await wait_for(pilot, lambda: bool(error_text(form)))
        for text in expected:
            assert text in error_text(form)
        assert app.screen is form and "propose" not in fake.calls


@pytest.mark.asyncio
async def test_node_refusal_stays_in_the_form_and_escape_cancels() -> None:
    fake = FakeClient()
    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        _, screen = await open_governance(pilot)
        fake.busy = True  # a full block queue: 503 busy
        form = await open_form(pilot, "set_checkpoint_interval")
        await fill_and_submit(pilot, form, {"seconds": "900", "expires": "2025-06-10"})
        await wait_for(pilot, lambda: bool(error_text(form)))
        assert error_text(form) == "refused: 12 events are waiting; retry shortly [busy]"
        assert app.screen is form and fake.calls.count("propose") == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


@pytest.mark.asyncio
async def test_tables_follow_governance_stream_events() -> None:
    fake = FakeClient(stream_interval_s=None)  # a silent stream, but for what is pushed
    app = fake_app(fake, stream=True)
    async with app.run_test(size=(120, 40)) as pilot:
        _, screen = await open_governance(pilot)
        await wait_for(pilot, lambda: "stream" in fake.calls)
        loads = fake.calls.count("governance")
        pid = await select(pilot, screen, "checkpoint every 300 s")
        fake.vote_as("gi.health", pid)
        row = row_of(screen, "checkpoint every 300 s")
        await wait_for(pilot, lambda: cells(screen, "#proposals", row)[2:4] == ["2/3", "adopted"])
        assert "in force from epoch 43" in detail(screen)  # still selected, detail refreshed
        assert fake.calls.count("governance") == loads  # from the event, not a new request
        assert "every 5m 0s" in str(screen.query_one("#gov-summary", Static).render())


class OlderNode(FakeClient):
    """A node whose admin API predates governance (the route is missing)."""

    async def governance(self) -> Governance:
        self._enter("governance")
        raise ApiError("http_404", "Not Found", 404)


@pytest.mark.asyncio
async def test_a_node_without_governance_says_so() -> None:
    app = fake_app(OlderNode())
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("6")
        screen = app.screen
        summary = screen.query_one("#gov-summary", Static)
        await wait_for(pilot, lambda: NO_GOVERNANCE in str(summary.render()))
        await pilot.press("p")
        await wait_for(pilot, lambda: "not loaded yet" in notes(app))


@pytest.mark.slow
@pytest.mark.asyncio
async def test_command_palette_opens_the_proposal_form() -> None:
    app = fake_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_governance(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"propose a governance")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProposeForm))
