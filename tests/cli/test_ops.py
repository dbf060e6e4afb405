"""The ``calpe`` operations commands against a real ``calpe node run`` process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from node.cli.ops import EXIT_UNREACHABLE
from tests.admin.conftest import AGENCY, SCHEMA, cid, make_network
from tests.cli.conftest import MAIN, NodeProcess, calpe, calpe_json, start_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_unreachable_node_is_explained() -> None:
    net = make_network()
    try:
        config = net.configs[AGENCY]
        done = calpe("status", "--config", config)
        assert done.returncode == EXIT_UNREACHABLE
        socket = config.parent / "admin.sock"
        assert (
            f"no node is listening on {socket}; start it with 'calpe node run --config {config}'"
            in done.stderr
        )
        by_socket = calpe("peers", "--socket", socket, "--json")
        assert (
            by_socket.returncode == EXIT_UNREACHABLE and "no node is listening" in by_socket.stderr
        )
        assert calpe("status").returncode == 2  # neither --config nor --socket
        assert calpe("status", "--config", config, "--socket", socket).returncode == 2
    finally:
        shutil.rmtree(net.root.parent, ignore_errors=True)


def test_status(node_process: NodeProcess) -> None:
    doc = calpe_json("status", "--config", node_process.config)
    assert doc["agency_id"] == AGENCY and doc["checkpoint"] is None
    assert {h["agency_id"]: h["height"] for h in doc["heads"]}[AGENCY] == 3
    table = calpe("status", "--config", node_process.config)
    assert table.returncode == 0
    assert "Health Authority (gi.health)" in table.stdout
    assert "AGENCY" in table.stdout and "gi.registry" in table.stdout


def test_peers(node_process: NodeProcess) -> None:
    doc = calpe_json("peers", "--socket", node_process.socket)
    assert sorted(p["agency_id"] for p in doc["peers"]) == ["gi.registry", "gi.transport"]
    assert set(doc["peers"][0]) == {
        "peer_id",
        "agency_id",
        "addrs",
        "connected",
        "score",
        "latency_ms",
        "last_seen_ms",
    }
    table = calpe("peers", "--socket", node_process.socket).stdout
    assert "PEER" in table and "down" in table


def test_credential_show_and_proof(node_process: NodeProcess, tmp_path: Path) -> None:
    config = node_process.config
    doc = calpe_json("credential", "show", cid(1).hex(), "--config", config)
    assert doc["credential"]["status"] == "active"
    assert [e["kind"] for e in doc["history"]] == ["credential.issued"]
    table = calpe("credential", "show", cid(1).hex(), "--issuer", AGENCY, "--config", config)
    assert "is" not in table.stderr and f"{cid(1).hex()} issued by {AGENCY}: active" in table.stdout
    bundle = json.loads(calpe("credential", "proof", cid(1).hex(), "--config", config).stdout)
    assert bundle["format"] == "calpe-proof-bundle" and bundle["status"] == "active"
    out = tmp_path / "bundle.json"
    written = calpe_json("credential", "proof", cid(1).hex(), "--out", out, "--config", config)
    assert written == {"path": str(out), "status": "active"}
    assert json.loads(out.read_text())["state_proof"] == bundle["state_proof"]
    missing = calpe("credential", "show", cid(404).hex(), "--config", config)
    assert missing.returncode == 1 and "unknown_credential" in missing.stderr


def test_writes_and_their_json(node_process: NodeProcess) -> None:
    config = node_process.config
    schema_id = "ee" * 32
    published = calpe_json("schema", "publish", schema_id, "--class", "permit", "--config", config)
    assert published["schema_id"] == schema_id and published["status"] == "committed"
    credential = cid(500).hex()
    issued = calpe_json(
        "credential",
        "issue",
        credential,
        "--schema",
        schema_id,
        "--valid-from",
        "1700000000",
        "--valid-until",
        "1900000000",
        "--request-id",
        "cli-issue-500",
        "--config",
        config,
    )
    assert set(issued) == {
        "request_id",
        "status",
        "agency_id",
        "height",
        "block_hash",
        "event_index",
        "credential",
    }
    assert issued["request_id"] == "cli-issue-500"
    assert issued["credential"]["valid_until_s"] == 1_900_000_000
    retried = calpe_json(
        "credential",
        "issue",
        credential,
        "--schema",
        schema_id,
        "--valid-from",
        "1700000000",
        "--valid-until",
        "1900000000",
        "--request-id",
        "cli-issue-500",
        "--config",
        config,
    )
    assert retried == issued
    suspended = calpe_json(
        "credential", "suspend", credential, "--reason", "holder_request", "--config", config
    )
    assert suspended["credential"]["status"] == "suspended"
    reinstated = calpe("credential", "reinstate", credential, "--config", config)
    assert reinstated.returncode == 0 and f"credential {credential} is active" in reinstated.stdout
    revoked = calpe(
        "credential", "revoke", credential, "--reason", "superseded", "--config", config
    )
    assert revoked.returncode == 0 and "is revoked (superseded)" in revoked.stdout
    refused = calpe("credential", "reinstate", credential, "--config", config)
    assert refused.returncode == 1
    assert "the node refused: revoked_final" in refused.stderr
    bad = calpe("credential", "revoke", credential, "--reason", "boredom", "--config", config)
    assert bad.returncode == 1 and "reason must be one of" in bad.stderr


def test_events_tail_follows_the_stream(node_process: NodeProcess) -> None:
    config = node_process.config
    tail = subprocess.Popen(
        [
            sys.executable,
            "-c",
            MAIN,
            "events",
            "tail",
            "--count",
            "1",
            "--json",
            "--config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the stream's first status event shows it is connected; a write then yields a block
        issued = None
        for attempt in range(100):
            if tail.poll() is not None:
                break
            issued = calpe_json(
                "credential",
                "issue",
                cid(600 + attempt).hex(),
                "--schema",
                SCHEMA.hex(),
                "--config",
                config,
            )
            try:
                out, err = tail.communicate(timeout=1)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            raise AssertionError("events tail printed nothing")
        if tail.returncode is None:
            out, err = tail.communicate(timeout=10)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.communicate()
    assert tail.returncode == 0, err
    doc = json.loads(out)
    assert doc["event"] == "block" and doc["data"]["agency_id"] == AGENCY
    assert issued is not None and doc["data"]["height"] <= issued["height"]


def test_backup_and_restore(tmp_path: Path) -> None:
    net = make_network()
    node = start_process(net)
    try:
        backup = calpe_json("backup", "--name", "cli.tar", "--config", node.config)
        assert backup["manifest"]["heads"][AGENCY]["height"] == 3
        assert Path(backup["path"]) == node.config.parent / "backups" / "cli.tar"
        table = calpe("backup", "--config", node.config)
        assert table.returncode == 0 and "backup written to" in table.stdout
        traversal = calpe("backup", "--name", "../../etc", "--config", node.config)
        assert traversal.returncode == 1 and "bad_path" in traversal.stderr
    finally:
        node.stop()
    refused = calpe("restore", backup["path"], "--config", node.config)
    assert refused.returncode == 4 and "pass --force" in refused.stderr
    restored = calpe_json("restore", backup["path"], "--config", node.config, "--force")
    assert restored["moved_aside"] and Path(restored["moved_aside"]).is_dir()
    assert restored["manifest"]["heads"] == backup["manifest"]["heads"]
    verify = calpe("db", "verify", "--config", node.config)
    assert verify.returncode == 0, verify.stderr
    again = start_process(net)
    try:
        status = calpe_json("status", "--config", net.configs[AGENCY])
        assert {h["agency_id"]: h["height"] for h in status["heads"]}[AGENCY] == 3
    finally:
        again.stop()
        shutil.rmtree(net.root.parent, ignore_errors=True)
