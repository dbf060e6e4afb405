"""Who may talk to the node: the 0600 socket, TCP with a bearer token, the public endpoint."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from node.admin.public import TokenBuckets
from node.admin.server import bind_unix_socket
from node.core.errors import ConfigError
from node.devnet import LocalNetwork
from tests.admin.conftest import AGENCY, BASE_BLOCKS, TOKEN, Running, cid, make_network, start_node

pytestmark = [pytest.mark.integration]

_CONNECT = """
import os, socket, sys
os.setgid(65534); os.setuid(65534)
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(exc.errno); sys.exit(0)
print("connected")
"""


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A world-traversable directory, so only the socket's own mode protects it."""
    path = Path(tempfile.mkdtemp(prefix="calpe-open", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.trio
async def test_socket_is_private(nursery: trio.Nursery, open_dir: Path) -> None:
    net = make_network(f'\n[admin]\nsocket = "{open_dir}/admin.sock"\n')
    async with start_node(nursery, net) as running:
        mode = os.stat(running.endpoints.socket).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        assert (await running.get("/health")).status_code == 200
        if os.geteuid() == 0:
            other = await trio.to_thread.run_sync(
                lambda: subprocess.run(
                    [sys.executable, "-c", _CONNECT, str(running.endpoints.socket)],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                )
            )
            assert other.stdout.strip() == "13"  # EACCES
    assert not (open_dir / "admin.sock").exists()  # removed at shutdown
    shutil.rmtree(net.root.parent, ignore_errors=True)


def test_stale_socket_replaced_live_socket_refused(open_dir: Path) -> None:
    path = open_dir / "admin.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens
    live = bind_unix_socket(path)
    try:
        with pytest.raises(ConfigError, match="already serving"):
            bind_unix_socket(path)
    finally:
        live.close()
    path.unlink()
    path.write_text("not a socket")
    with pytest.raises(ConfigError, match="not a socket"):
        bind_unix_socket(path)


@pytest.mark.trio
async def test_tcp_needs_the_bearer_token(running: Running) -> None:
    assert running.endpoints.tcp is not None
    url = f"http://{running.endpoints.tcp}"
    async with httpx.AsyncClient(base_url=url) as http:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": TOKEN},
            {"Authorization": f"Bearer {TOKEN}x"},
        ):
            response = await http.get("/v1/status", headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
        ok = await http.get("/v1/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["agency_id"] == AGENCY


@pytest.mark.trio
async def test_public_serves_status_and_proofs_only(running: Running) -> None:
    assert running.endpoints.public is not None
    async with httpx.AsyncClient(base_url=f"http://{running.endpoints.public}") as http:
        doc = (await http.get(f"/v1/credentials/{AGENCY}/{cid(1).hex()}")).json()
        assert doc["status"] == "active" and doc["credential"]["issued_height"] == 2
        assert doc["proof"]["format"] == "calpe-proof-bundle"
        bundle = (await http.get(f"/v1/credentials/{AGENCY}/{cid(1).hex()}/proof")).json()
        assert bundle["state_proof"] == doc["proof"]["state_proof"]
        unknown = (await http.get(f"/v1/credentials/{AGENCY}/{cid(50).hex()}")).json()
        assert unknown["status"] == "unknown"
        assert (await http.get(f"/v1/credentials/{AGENCY}/nothex")).status_code == 400
        for path in (
            "/",
            "/health",
            "/metrics",
            "/openapi.json",
            "/v1/status",
            "/v1/peers",
            "/v1/events",
            "/v1/blocks",
            "/v1/blocks/gi.health/1",
            "/v1/logs",
            "/v1/stream",
            "/v1/plugins",
            "/v1/checkpoints",
            "/admin",
            "/v1/backup",
        ):
            response = await http.get(path)
            assert response.status_code == 404, path
        for path in (
            "/v1/credentials/issue",
            "/v1/schemas",
            "/v1/backup",
            f"/v1/credentials/{cid(1).hex()}/revoke",
        ):
            response = await http.post(path, json={"request_id": "x"})
            assert response.status_code in (404, 405), path
        again = (await http.get(f"/v1/credentials/{AGENCY}/{cid(1).hex()}")).json()
        assert again["status"] == "active"  # the POSTs changed nothing


@pytest.fixture
def limited_net() -> Iterator[LocalNetwork]:
    net = make_network('\n[public]\nlisten = "127.0.0.1:0"\nrequests_per_minute = 3\n')
    yield net
    shutil.rmtree(net.root.parent, ignore_errors=True)


@pytest.mark.trio
async def test_public_rate_limit(nursery: trio.Nursery, limited_net: LocalNetwork) -> None:
    async with start_node(nursery, limited_net, BASE_BLOCKS) as running:
        assert running.endpoints.public is not None
        async with httpx.AsyncClient(base_url=f"http://{running.endpoints.public}") as http:
            path = f"/v1/credentials/{AGENCY}/{cid(1).hex()}"
            codes = [(await http.get(path)).status_code for _ in range(3)]
            assert codes == [200, 200, 200]
            limited = await http.get("/nothing-here")
            assert limited.status_code == 429
            assert limited.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(limited.headers["retry-after"]) <= 20


def test_token_bucket_refills() -> None:
    buckets = TokenBuckets(per_minute=60)
    assert all(buckets.take("a", now=100.0) == 0 for _ in range(60))
    assert buckets.take("a", now=100.0) == pytest.approx(1.0)
    assert buckets.take("b", now=100.0) == 0  # per client
    assert buckets.take("a", now=101.0) == 0  # one token per second
    assert buckets.take("a", now=101.0) > 0
