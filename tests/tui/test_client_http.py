"""``AdminClient`` against a real HTTP server on a Unix socket (and one on TCP with a token)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from tests.tui.admin_stub import TOKEN, running_stub
from tui.client.errors import ApiError, NodeUnreachable
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
        assert (bad.value.code, bad.value.status) == ("invalid_request", 400)
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
    assert [e.kind for e in events] == ["status", "log", "checkpoint"]
    assert isinstance(events[0].data, Status)
    assert isinstance(events[1].data, LogLine)
    assert isinstance(events[2].data, Checkpoint)


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
