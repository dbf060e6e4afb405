"""``AdminClient`` against a real HTTP server on a Unix socket (and one on TCP with a token)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from tests.tui.admin_stub import TOKEN, running_stub
from tui.client.errors import ApiError, NodeUnreachable
from tui.client.governance import (
    AddAgency,
    Governance,
    OtherAction,
    RotateKeys,
    SetCheckpointInterval,
    SetQuorum,
)
from tui.client.http import AdminClient
from tui.client.models import Checkpoint, LogLine, Status

pytestmark = pytest.mark.integration


@pytest.fixture
def sock(tmp_path: Path) -> Path:
    return tmp_path / "admin.sock"


@pytest.mark.asyncio
async def test_status_and_events_over_a_unix_socket(sock: Path) -> None:
    async with running_stub(f"unix:{sock}") as seen, AdminClient.for_socket(sock) as client:
        status = await client.status()
        assert status.agency_id == "gi.transport" and len(status.heads) == 3
        page = await client.events(agency="gi.civil", kind="credential.issued", cursor="77")
        assert len(page.events) == 1 and page.next_cursor is not None
        _, path, query, _ = seen.requests[-1]
        assert path == "/v1/events"
        assert query == {
            "agency": "gi.civil",
            "kind": "credential.issued",
            "cursor": "77",
            "limit": "100",
        }


@pytest.mark.asyncio
async def test_errors_are_typed(sock: Path) -> None:
    async with running_stub(f"unix:{sock}"), AdminClient.for_socket(sock) as client:
        with pytest.raises(ApiError) as refused:
            await client.revoke("ab" * 32, "superseded")
        assert (refused.value.code, refused.value.status) == ("revoked_final", 409)
        with pytest.raises(ApiError) as bad:
            await client.events(limit=0)
        assert (bad.value.code, bad.value.status) == ("bad_request", 400)
        with pytest.raises(ApiError) as broken:
            await client.checkpoints()
        assert (broken.value.code, broken.value.status) == ("http_500", 500)
        with pytest.raises(ApiError) as missing:
            await client.plugins()
        assert missing.value.status == 404


@pytest.mark.asyncio
async def test_writes_carry_a_request_id(sock: Path) -> None:
    async with running_stub(f"unix:{sock}") as seen, AdminClient.for_socket(sock) as client:
        result = await client.issue("ab" * 32, "cd" * 32, 1_700_000_000)
        body = seen.requests[-1][3]
        assert uuid.UUID(body["request_id"]).version == 4
        assert "valid_until_s" not in body
        assert result.request_id == body["request_id"]
        assert result.credential is not None and result.credential.status == "active"
        await client.issue("ab" * 32, "cd" * 32, 1, 2, request_id="case:7")
        assert seen.requests[-1][3]["request_id"] == "case:7"
        with pytest.raises(ValueError, match="request_id"):
            await client.issue("ab" * 32, "cd" * 32, 1, request_id="no spaces")


@pytest.mark.asyncio
async def test_stream_parses_known_events_and_skips_the_rest(sock: Path) -> None:
    async with running_stub(f"unix:{sock}"), AdminClient.for_socket(sock) as client:
        events = [event async for event in client.stream()]
    assert [e.kind for e in events] == ["status", "log", "checkpoint", "governance"]
    assert isinstance(events[0].data, Status)
    assert isinstance(events[1].data, LogLine)
    assert isinstance(events[2].data, Checkpoint)
    assert isinstance(events[3].data, Governance) and events[3].data.quorum == 2


@pytest.mark.asyncio
async def test_governance_document_tolerates_what_it_does_not_know(sock: Path) -> None:
    async with running_stub(f"unix:{sock}"), AdminClient.for_socket(sock) as client:
        gov = await client.governance()
    assert (gov.epoch, gov.quorum, gov.checkpoint_interval_s) == (42, 2, 600)
    assert [m.state for m in gov.members] == ["active", "active", "removed", "active"]
    kinds = [type(p.action) for p in gov.proposals]
    assert kinds[:2] == [SetCheckpointInterval, RotateKeys]
    unknown = gov.proposals[-1].action
    assert isinstance(unknown, OtherAction) and unknown.type == "freeze_agency"
    assert "unknown to this console" in unknown.summary()


@pytest.mark.asyncio
async def test_propose_and_vote_bodies_and_errors(sock: Path) -> None:
    async with running_stub(f"unix:{sock}") as seen, AdminClient.for_socket(sock) as client:
        action = AddAgency(
            agency_id="gi.justice",
            ed25519="ab" * 32,
            secp256k1_address="0x" + "cd" * 20,
            addresses=("/ip4/10.0.0.5/tcp/7400",),
        )
        proposed = await client.propose(action, expires_s=1_750_000_000, request_id="gov:1")
        assert proposed.proposal_id == "ee" * 32 and proposed.receipt.height == 12
        method, path, _, body = seen.requests[-1]
        assert (method, path) == ("POST", "/v1/governance/proposals")
        assert body == {
            "request_id": "gov:1",
            "expires_s": 1_750_000_000,
            "action": {
                "type": "add_agency",
                "agency_id": "gi.justice",
                "ed25519": "ab" * 32,
                "secp256k1_address": "0x" + "cd" * 20,
                "addresses": ["/ip4/10.0.0.5/tcp/7400"],
            },
        }
        await client.propose(SetCheckpointInterval(seconds=60))
        body = seen.requests[-1][3]
        assert "expires_s" not in body and uuid.UUID(body["request_id"]).version == 4
        assert body["action"] == {"type": "set_checkpoint_interval", "seconds": 60}
        with pytest.raises(ApiError) as refused:
            await client.propose(SetQuorum(quorum=256))
        assert (refused.value.code, refused.value.status) == ("bad_request", 400)
        assert refused.value.message == "action.quorum must be between 1 and 255"

        receipt = await client.vote("22" * 32)
        assert receipt.agency_id == "gi.transport" and receipt.height == 12
        assert seen.requests[-1][1] == f"/v1/governance/proposals/{'22' * 32}/votes"
        with pytest.raises(ApiError) as twice:
            await client.vote("11" * 32)
        assert (twice.value.code, twice.value.status) == ("duplicate_vote", 409)
        with pytest.raises(ApiError) as unknown:
            await client.vote("00" * 32)
        assert (unknown.value.code, unknown.value.status) == ("unknown_proposal", 404)


@pytest.mark.asyncio
async def test_missing_socket_is_node_unreachable(sock: Path) -> None:
    async with AdminClient.for_socket(sock) as client:
        with pytest.raises(NodeUnreachable, match="calpe node run"):
            await client.status()
        with pytest.raises(NodeUnreachable):
            async for _ in client.stream():
                pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.asyncio
async def test_tcp_with_bearer_token() -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    async with running_stub(f"127.0.0.1:{port}", need_token=True):
        async with AdminClient.for_url(url, TOKEN) as client:
            assert (await client.status()).network == "gibraltar-devnet"
        async with AdminClient.for_url(url, "wrong") as client:
            with pytest.raises(ApiError) as denied:
                await client.status()
            assert denied.value.status == 401
    async with AdminClient.for_url(url, TOKEN) as client:
        with pytest.raises(NodeUnreachable):
            await client.status()
