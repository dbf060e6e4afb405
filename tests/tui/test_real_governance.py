"""The governance section against the real devnet: members, a proposal made through the form,
votes from the peer's operator arriving by the stream, a vote from the console and the node's
refusal of a second one; and the fake node refusing what the node refuses, with its codes.

The devnet has no anchor contract, so no checkpoint is made and nothing is adopted: proposals
stay ``open`` with the approvals the node merges from the blocks since its last checkpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static
from textual.widgets.data_table import RowDoesNotExist

from tests.tui.devnet import OWN, PEER, Devnet
from tests.tui.real import (
    api,
    column,
    console,
    focus,
    notes,
    peer_api,
    section,
    text,
    until,
    wait,
)
from tui.client.errors import ApiError
from tui.client.fake import FakeClient
from tui.client.governance import RemoveAgency, SetCheckpointInterval, SetQuorum
from tui.client.http import AdminClient
from tui.client.protocol import ClientProtocol
from tui.screens.confirm import ConfirmDialog
from tui.screens.governance import GovernanceScreen
from tui.screens.propose_form import ProposeForm

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio]


def cell(table: DataTable[object], proposal_id: str, index: int) -> str:
    """Column ``index`` of the proposal's row ("" while the console does not list it)."""
    try:
        return str(table.get_row_at(table.get_row_index(proposal_id))[index])
    except RowDoesNotExist:
        return ""


def approvals_of(table: DataTable[object], proposal_id: str) -> str:
    """The approvals cell: ``count/active members``."""
    return cell(table, proposal_id, 2)


async def governance_screen(pilot: Pilot[None], client: AdminClient) -> GovernanceScreen:
    """Open the section; its members table lists what ``GET /v1/governance`` lists."""
    screen = await section(pilot, "6", "governance")
    assert isinstance(screen, GovernanceScreen)
    served = await client.governance()
    members = screen.query_one("#members", DataTable)
    await wait(pilot, lambda: members.row_count == len(served.members))
    assert column(members, 0) == [m.agency_id for m in served.members] == [OWN, PEER, "gi.agency2"]
    assert column(members, 1) == [m.state for m in served.members]
    assert column(members, 2) == [str(m.since_epoch) for m in served.members]
    assert [c.strip() for c in column(members, 3)] == ["this node", "connected", "connected"]
    summary = text(screen.query_one("#gov-summary", Static))
    assert f"epoch {served.epoch}" in summary and f"quorum {served.quorum} of 3" in summary
    return screen


async def propose_interval(pilot: Pilot[None], screen: GovernanceScreen, seconds: int) -> str:
    """Propose through the screen's form; the new proposal's id once the console lists it."""
    app = pilot.app
    await pilot.press("p")
    await wait(pilot, lambda: isinstance(app.screen, ProposeForm))
    form = app.screen
    assert isinstance(form, ProposeForm)
    form.query_one("#kind", Select).value = "set_checkpoint_interval"
    await wait(pilot, lambda: form.kind == "set_checkpoint_interval")
    form.query_one("#seconds", Input).value = str(seconds)
    await focus(pilot, form.query_one("#seconds", Input))
    await pilot.press("enter")
    error = form.query_one("#form-error", Static)
    await wait(pilot, lambda: app.screen is screen, lambda: text(error))
    summary = f"checkpoint every {seconds} s"
    proposals = screen.query_one("#proposals", DataTable)
    await wait(pilot, lambda: summary in column(proposals, 1))
    assert screen.gov is not None
    return next(p.proposal_id for p in screen.gov.proposals if p.action.summary() == summary)


async def select_proposal(pilot: Pilot[None], screen: GovernanceScreen, proposal_id: str) -> None:
    table = screen.query_one("#proposals", DataTable)
    await focus(pilot, table)
    table.move_cursor(row=table.get_row_index(proposal_id))
    await wait(pilot, lambda: (p := screen.selected()) is not None and p.proposal_id == proposal_id)


def unique_seconds() -> int:
    """An interval no other proposal of this session names (5..604800 s)."""
    return 5 + uuid.uuid4().int % 600_000


async def test_governance_members_and_a_proposal_approved_by_the_peer(devnet: Devnet) -> None:
    async with console(devnet) as (app, pilot), api(devnet) as client, peer_api(devnet) as peer:
        screen = await governance_screen(pilot, client)
        proposals = screen.query_one("#proposals", DataTable)

        pid = await propose_interval(pilot, screen, unique_seconds())
        await wait(pilot, lambda: f"Proposal {pid[:12]}… committed at {OWN}" in notes(app))
        assert (approvals_of(proposals, pid), cell(proposals, pid, 3)) == ("1/3", "open")
        served = (await client.governance()).proposal(pid)
        assert served is not None and (served.state, served.approvals) == ("open", (OWN,))

        # The peer's operator votes once the proposal's block reached the peer's node.
        async def peer_knows() -> bool:
            return (await peer.governance()).proposal(pid) is not None

        await until(pilot, peer_knows, "the proposal to reach the peer's node")
        vote = await peer.vote(pid)

        async def console_node_has_the_vote() -> bool:
            heads = {h.agency_id: h.height for h in (await client.status()).heads}
            return heads[PEER] >= vote.height

        await until(pilot, console_node_has_the_vote, "the peer's vote block at the console's node")
        await wait(pilot, lambda: approvals_of(proposals, pid) == "2/3", lambda: str(proposals))
        shown = screen.gov.proposal(pid) if screen.gov else None
        assert shown is not None and (shown.state, shown.approvals) == ("open", (OWN, PEER))


async def test_governance_vote_on_the_peers_proposal_then_refused_twice(devnet: Devnet) -> None:
    async with console(devnet) as (app, pilot), api(devnet) as client, peer_api(devnet) as peer:
        screen = await governance_screen(pilot, client)
        proposals = screen.query_one("#proposals", DataTable)
        proposed = await peer.propose(SetCheckpointInterval(seconds=unique_seconds()))
        pid = proposed.proposal_id
        await wait(pilot, lambda: approvals_of(proposals, pid) == "1/3")  # from the stream

        await select_proposal(pilot, screen, pid)
        await pilot.press("v")
        await wait(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait(pilot, lambda: approvals_of(proposals, pid) == "2/3")
        await wait(pilot, lambda: f"Vote for {pid[:12]}… committed at {OWN}" in notes(app))
        served = (await client.governance()).proposal(pid)
        assert served is not None and set(served.approvals) == {OWN, PEER}

        # Again: the node refuses, and the console shows its words and code.
        await select_proposal(pilot, screen, pid)
        await pilot.press("v")
        refused = f"voting: {OWN} already approved this proposal [duplicate_vote]"
        await wait(pilot, lambda: refused in notes(app), lambda: notes(app))
        assert not isinstance(app.screen, ConfirmDialog)
        with pytest.raises(ApiError) as unknown:
            await client.vote("00" * 32)
        assert (unknown.value.code, unknown.value.status) == ("unknown_proposal", 404)


async def refusals(client: ClientProtocol, own: str) -> list[tuple[str, int, str]]:
    """What ``client`` answers to each governance request a node refuses (``own``: its agency,
    replaced by ``OWN`` in the messages so that the fake's and the node's compare)."""
    mine = await client.propose(SetQuorum(quorum=1), expires_s=1_900_000_000)
    again = await client.propose(SetQuorum(quorum=1), expires_s=1_900_000_000)
    assert again.proposal_id == mine.proposal_id  # the same change, the same proposal
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: client.vote("00" * 32),
        lambda: client.vote(mine.proposal_id),
        lambda: client.propose(SetQuorum(quorum=256)),
        lambda: client.propose(SetCheckpointInterval(seconds=4)),
        lambda: client.propose(SetQuorum(quorum=1), expires_s=1),
        lambda: client.propose(RemoveAgency(agency_id="GI.Bad")),
    ]
    answers = []
    for attempt in attempts:
        with pytest.raises(ApiError) as refused:
            await attempt()
        message = refused.value.message.replace(mine.proposal_id, "PID").replace(own, "OWN")
        answers.append((refused.value.code, refused.value.status, message))
    return answers


async def test_the_fake_refuses_governance_requests_as_the_node_does(devnet: Devnet) -> None:
    async with api(devnet) as client:
        real = await refusals(client, OWN)
    fake = await refusals(FakeClient(history=10), "gi.transport")
    assert [(code, status) for code, status, _ in fake] == [
        (code, status) for code, status, _ in real
    ]
    assert [c for c, _, _ in real] == ["unknown_proposal", "duplicate_vote"] + ["bad_request"] * 4
    assert fake[:5] == real[:5]  # the same words too, but for the agency id format error
