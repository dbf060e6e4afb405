"""``calpe verify`` as a user runs it: files, exit codes, ``--json``, ``--node``."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from node.core.events import CredentialRevoked, RevocationReason
from tests.verify.world import CREDENTIALS, ISSUER, World, _author, checkpoint_now

REPO = Path(__file__).resolve().parents[2]


def calpe_verify(world: World, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["verify", str(path), "--rpc", world.rpc_url, "--contract", world.contract, *extra]
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def write(tmp_path: Path, doc: dict[str, Any], name: str = "bundle.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_exit_codes_and_output(world: World, tmp_path: Path) -> None:
    # the verifier's clock is the real one here: "future" (2028) is not valid yet, "expired" is
    expected = {"valid": 0, "revoked": 10, "suspended": 11, "expired": 12, "never": 14}
    for label, code in expected.items():
        result = calpe_verify(world, write(tmp_path, world.bundle(label)))
        assert result.returncode == code, (label, result.stdout, result.stderr)
        assert result.stdout.startswith(("VALID", "REVOKED", "SUSPENDED", "EXPIRED", "UNKNOWN"))
        assert "checkpoint epoch 1" in result.stdout and "ago" in result.stdout


def test_json_report_and_invalid(world: World, tmp_path: Path) -> None:
    doc = world.bundle("valid")
    doc["state_proof"] = doc["state_proof"][:-2] + (
        "00" if doc["state_proof"][-2:] != "00" else "11"
    )
    result = calpe_verify(world, write(tmp_path, doc), "--json")
    assert result.returncode == 20
    report = json.loads(result.stdout)
    assert report["outcome"] == "INVALID" and report["reason"] == "bad_state_proof"
    ok = json.loads(calpe_verify(world, write(tmp_path, world.bundle("valid")), "--json").stdout)
    assert ok["outcome"] == "VALID" and ok["checkpoint"]["epoch"] == 1
    assert ok["checkpoint"]["confirmations"] >= 12 and ok["checkpoint"]["age_s"] >= 0


def test_compact_bundles_and_stdin(world: World, tmp_path: Path) -> None:
    compact = tmp_path / "bundle.cbor"
    saved = calpe_verify(
        world, write(tmp_path, world.bundle("revoked")), "--save-compact", str(compact)
    )
    assert saved.returncode == 10 and compact.stat().st_size < 2048
    assert calpe_verify(world, compact).returncode == 10


def test_unreachable_endpoint_and_bad_contract(world: World, tmp_path: Path) -> None:
    path = write(tmp_path, world.bundle("valid"))
    down = subprocess.run(
        [
            sys.executable,
            "-m",
            "node.cli",
            "verify",
            str(path),
            "--rpc",
            "http://127.0.0.1:9",
            "--contract",
            world.contract,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert down.returncode == 3 and "cannot check" in down.stderr
    bad = calpe_verify(world, path, "--contract", "0x1234")
    # the last --contract wins in click: a malformed address is a usage error
    assert bad.returncode == 2


class _Serve(BaseHTTPRequestHandler):
    provide: Callable[[str], dict[str, Any] | None]

    def do_GET(self) -> None:
        doc = type(self).provide(self.path)
        body = json.dumps(doc).encode()
        self.send_response(200 if doc is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def served(fresh_world: World) -> Iterator[tuple[World, str]]:
    """The node's ``proof_bundle`` served at the public endpoint's path over real HTTP."""

    def provide(path: str) -> dict[str, Any] | None:
        parts = path.strip("/").split("/")
        if len(parts) != 5 or parts[:2] != ["v1", "credentials"] or parts[4] != "proof":
            return None
        return fresh_world.bundle(next(k for k, v in CREDENTIALS.items() if v.hex() == parts[3]))

    handler = type("Handler", (_Serve,), {"provide": staticmethod(provide)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fresh_world, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_node_reports_a_later_status_change(served: tuple[World, str], tmp_path: Path) -> None:
    world, url = served
    checkpoint_now(world)
    old = write(tmp_path, world.bundle("valid"))
    same = calpe_verify(world, old, "--node", url, "--json")
    assert same.returncode == 0 and json.loads(same.stdout)["status_changed"] is False
    _author(
        world.store,
        world.net,
        ISSUER,
        [CredentialRevoked(CREDENTIALS["valid"], RevocationReason.SUPERSEDED)],
    )
    checkpoint_now(world)
    changed = calpe_verify(world, old, "--node", url)
    assert changed.returncode == 10, changed.stdout
    assert "STATUS CHANGED: was VALID, now REVOKED" in changed.stdout
    report = json.loads(calpe_verify(world, old, "--node", url, "--json").stdout)
    assert report["outcome"] == "VALID" and report["checkpoint"]["epoch"] == 1
    assert report["fresh"]["outcome"] == "REVOKED" and report["fresh"]["checkpoint"]["epoch"] == 2
    assert report["status_changed"] is True
