"""The fake node keeps the admin API's rules, so UI tests against it mean something."""

from __future__ import annotations

import pytest

from tui.client.errors import ApiError, NodeUnreachable
from tui.client.fake import FakeClient
from tui.client.fake_data import schema_id
from tui.client.fake_ledger import seeded_credential
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
    assert (bad.value.code, bad.value.status) == ("invalid_request", 400)
    with pytest.raises(ApiError, match="unknown_credential"):
        await fake.revoke(CID, "superseded")
    with pytest.raises(ApiError, match="schema_violation"):
        await fake.issue(CID, "00" * 32, 1)
    with pytest.raises(ApiError) as missing:
        await fake.credential(OWN, CID)
    assert missing.value.status == 404
    with pytest.raises(ApiError, match="invalid_request"):
        await fake.events(limit=501)
    with pytest.raises(ApiError, match="invalid_request"):
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
