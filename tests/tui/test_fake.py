"""The fake node keeps the admin API's rules, so UI tests against it mean something."""

from __future__ import annotations

import pytest

from tui.client.errors import ApiError, NodeUnreachable
from tui.client.fake import FakeClient
from tui.client.fake_data import schema_id
from tui.client.fake_ledger import seeded_credential
from tui.client.governance import SetQuorum
from tui.client.protocol import ClientProtocol

OWN = "gi.transport"
CID = "ef" * 32


def test_fake_implements_the_protocol() -> None:
    assert isinstance(FakeClient(history=10), ClientProtocol)


@pytest.mark.asyncio
async def test_status_transitions_and_errors() -> None:
    fake = FakeClient(history=10)
    issued = await fake.issue(CID, schema_id(OWN, 0), 1_700_000_000)
    assert issued.credential is not None and issued.credential.status == "active"
    with pytest.raises(ApiError) as dup:
        await fake.issue(CID, schema_id(OWN, 0), 1_700_000_000)
    assert (dup.value.code, dup.value.status) == ("duplicate_credential", 409)
    with pytest.raises(ApiError, match="bad_transition"):
        await fake.reinstate(CID)
    assert (await fake.suspend(CID, "court_order")).credential.status == "suspended"  # type: ignore[union-attr]
    with pytest.raises(ApiError, match="bad_transition"):
        await fake.suspend(CID, "court_order")
    assert (await fake.reinstate(CID)).credential.status == "active"  # type: ignore[union-attr]
    assert (await fake.revoke(CID, "superseded")).credential.status == "revoked"  # type: ignore[union-attr]
    with pytest.raises(ApiError, match="revoked_final"):
        await fake.reinstate(CID)
    history = (await fake.credential(OWN, CID)).history
    assert [e.kind.split(".")[1] for e in history] == [
        "issued",
        "suspended",
        "reinstated",
        "revoked",
    ]


@pytest.mark.asyncio
async def test_input_errors_and_unknowns() -> None:
    fake = FakeClient(history=10)
    with pytest.raises(ApiError) as bad:
        await fake.revoke(CID, "because")
    assert (bad.value.code, bad.value.status) == ("bad_request", 400)
    with pytest.raises(ApiError, match="unknown_credential"):
        await fake.revoke(CID, "superseded")
    with pytest.raises(ApiError, match="schema_violation"):
        await fake.issue(CID, "00" * 32, 1)
    with pytest.raises(ApiError) as missing:
        await fake.credential(OWN, CID)
    assert missing.value.status == 404
    with pytest.raises(ApiError, match="bad_request"):
        await fake.events(limit=501)
    with pytest.raises(ApiError, match="bad_request"):
        await fake.issue(CID, schema_id(OWN, 0), 1, request_id="has space")


@pytest.mark.asyncio
async def test_writes_are_idempotent_by_request_id() -> None:
    fake = FakeClient(history=10)
    first = await fake.issue(CID, schema_id(OWN, 0), 1, request_id="case-42")
    again = await fake.issue(CID, schema_id(OWN, 0), 1, request_id="case-42")
    assert again == first
    page = await fake.events(credential=CID)
    assert len(page.events) == 1


@pytest.mark.asyncio
async def test_a_million_events_page_lazily() -> None:
    fake = FakeClient(history=1_000_000)
    page = await fake.events(limit=500)
    assert len(page.events) == 500 and page.next_cursor is not None
    stamps = [e.timestamp_ms for e in page.events]
    assert stamps == sorted(stamps, reverse=True)
    deeper = await fake.events(limit=500, cursor=page.next_cursor)
    assert deeper.events[0] != page.events[-1]
    civil = await fake.events(agency="gi.civil", limit=20)
    assert {e.agency_id for e in civil.events} == {"gi.civil"}
    block = await fake.block("gi.civil", 1)
    assert block.block.event_count == len(block.events) == 4


@pytest.mark.asyncio
async def test_seeded_credentials_and_unreachable() -> None:
    fake = FakeClient(history=10)
    states = [
        (await fake.credential(OWN, seeded_credential(OWN, n))).credential.status for n in range(4)
    ]
    assert states == ["active", "suspended", "revoked", "active"]
    fake.set_reachable(False)
    with pytest.raises(NodeUnreachable, match="calpe node run"):
        await fake.status()
    with pytest.raises(NodeUnreachable):
        async for _ in fake.stream():
            pass


@pytest.mark.asyncio
async def test_plugins_toggle_and_unknown() -> None:
    fake = FakeClient(history=10)
    plugin = await fake.set_plugin("prometheus_push", True)
    assert (plugin.enabled, plugin.state) == (True, "running")
    with pytest.raises(ApiError) as unknown:
        await fake.set_plugin("nope", True)
    assert unknown.value.status == 404


@pytest.mark.asyncio
async def test_governance_rules() -> None:
    fake = FakeClient(history=10)
    gov = await fake.governance()
    interval = next(p for p in gov.proposals if p.action.summary() == "checkpoint every 300 s")
    rotate = next(p for p in gov.proposals if p.action.type == "rotate_keys")
    adopted = next(p for p in gov.proposals if p.state == "adopted")
    with pytest.raises(ApiError) as twice:
        await fake.vote(rotate.proposal_id)  # proposed by this agency: its approval already
    assert (twice.value.code, twice.value.status) == ("duplicate_vote", 409)
    assert twice.value.message == f"{OWN} already approved this proposal"
    with pytest.raises(ApiError) as closed:
        await fake.vote(adopted.proposal_id)
    assert (closed.value.code, closed.value.status) == ("duplicate_vote", 409)
    assert closed.value.message == f"proposal {adopted.proposal_id} is adopted already"
    with pytest.raises(ApiError) as unknown:
        await fake.vote("00" * 32)
    assert (unknown.value.code, unknown.value.status) == ("unknown_proposal", 404)
    receipt = await fake.vote(interval.proposal_id, request_id="vote-1")
    assert await fake.vote(interval.proposal_id, request_id="vote-1") == receipt  # idempotent
    after = (await fake.governance()).proposal(interval.proposal_id)
    assert after is not None and (after.state, after.effective_epoch) == ("adopted", 43)
    assert (await fake.governance()).checkpoint_interval_s == 300
    block = await fake.block(OWN, receipt.height)
    assert [e.kind for e in block.events] == ["governance.voted"]


@pytest.mark.asyncio
async def test_proposals_are_checked_and_idempotent() -> None:
    fake = FakeClient(history=10)
    first = await fake.propose(SetQuorum(quorum=3), expires_s=1_800_000_000, request_id="p-1")
    assert await fake.propose(SetQuorum(quorum=3), request_id="p-1") == first
    again = await fake.propose(SetQuorum(quorum=3), expires_s=1_800_000_000)
    assert again.proposal_id == first.proposal_id  # as a node: the same change names one proposal
    with pytest.raises(ApiError) as too_big:
        await fake.propose(SetQuorum(quorum=256))
    assert (too_big.value.code, too_big.value.status) == ("bad_request", 400)
    assert too_big.value.message == "action.quorum must be between 1 and 255"
    with pytest.raises(ApiError) as past:
        await fake.propose(SetQuorum(quorum=1), expires_s=1)
    assert (past.value.code, past.value.status) == ("bad_request", 400)
    newest = (await fake.governance()).proposals[0]
    assert (newest.proposal_id, newest.approvals, newest.state) == (
        first.proposal_id,
        (OWN,),
        "open",
    )


@pytest.mark.asyncio
async def test_a_proposal_whose_precondition_fails_is_accepted_then_fails() -> None:
    fake = FakeClient(history=10)
    receipt = await fake.propose(SetQuorum(quorum=4))  # 3 active members: the node accepts it
    fake.vote_as("gi.civil", receipt.proposal_id)
    failed = (await fake.governance()).proposal(receipt.proposal_id)
    assert failed is not None and failed.state == "failed" and failed.reason
    assert "1..3" in failed.reason and (await fake.governance()).quorum == 2


@pytest.mark.asyncio
async def test_a_busy_node_refuses_governance_writes() -> None:
    fake = FakeClient(history=10)
    fake.busy = True
    with pytest.raises(ApiError) as busy:
        await fake.propose(SetQuorum(quorum=3))
    assert (busy.value.code, busy.value.status, busy.value.retryable) == ("busy", 503, True)
