"""``calpe governance`` against a real ``calpe node run`` process whose store holds a proposal of
another agency (to vote on)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.admin.client import AdminHttp
from node.core.proposals import AddAgency, SetCheckpointInterval, proposal_id
from node.keyfiles import create_keystore
from tests.admin.conftest import AGENCY, make_network
from tests.admin.test_governance_api import PEER, seed_peer_proposal, solo_network
from tests.cli.conftest import MAIN, NodeProcess, calpe, calpe_json, start_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "a1" * 32
ADDRESS = "0x" + "b2" * 20


@pytest.fixture(scope="module")
def node() -> Iterator[tuple[NodeProcess, bytes]]:
    net = make_network()
    pid = seed_peer_proposal(net, SetCheckpointInterval(120))
    process = start_process(net)
    yield process, pid
    process.stop()
    shutil.rmtree(net.root.parent, ignore_errors=True)


def answering(text: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``calpe ARGS`` with ``text`` on its standard input (a confirmation answer)."""
    return subprocess.run(
        [sys.executable, "-c", MAIN, *map(str, args)],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def proposed_ids(node: NodeProcess) -> list[str]:
    transport = httpx.HTTPTransport(uds=str(node.socket))
    with httpx.Client(transport=transport, base_url="http://node", timeout=10) as http:
        events = http.get("/v1/events", params={"kind": "governance.proposed"}).json()["events"]
    return [e["proposal_id"] for e in events if e["agency_id"] == AGENCY]


def test_show(node: tuple[NodeProcess, bytes]) -> None:
    process, _ = node
    doc = calpe_json("governance", "show", "--config", process.config)
    assert doc["epoch"] == 0 and doc["quorum"] == 2
    # the peer's proposal is in a block, not yet in a checkpoint: listed open with its approval
    assert [(p["proposer"], p["state"], p["approvals"]) for p in doc["proposals"]] == [
        (PEER, "open", [PEER])
    ]
    assert [m["agency_id"] for m in doc["members"]] == [AGENCY, PEER, "gi.transport"]
    table = calpe("governance", "show", "--socket", process.socket)
    assert table.returncode == 0, table.stderr
    assert "epoch 0: quorum 2 of 3 active members, a checkpoint every 30 s" in table.stdout
    assert "AGENCY" in table.stdout and "gi.transport" in table.stdout
    assert "open" in table.stdout and "checkpoint every 120 s" in table.stdout


def test_propose_every_action_type(node: tuple[NodeProcess, bytes], tmp_path: Path) -> None:
    process, _ = node
    config = ("--config", str(process.config))
    joining = create_keystore(tmp_path / "tax.json", "gi.tax2", "secret", n=2**10)
    commands: list[tuple[str, ...]] = [
        ("quorum", "3"),
        ("interval", "60"),
        ("remove-agency", "gi.transport"),
        ("rotate-keys", PEER, "--ed25519", "c3" * 32, "--secp256k1-address", "0x" + "d4" * 20),
        (
            "add-agency",
            "--agency-id",
            "gi.tax",
            "--ed25519",
            KEY,
            "--secp256k1-address",
            ADDRESS,
            "--address",
            "/ip4/10.0.0.9/tcp/7400",
        ),
    ]
    entry = tmp_path / "member.json"  # what 'calpe keys new' prints
    entry.write_text(
        json.dumps(
            {
                "agency_id": "gi.tax4",
                "name": "Tax",
                "ed25519": "e5" * 32,
                "secp256k1_address": "0x" + "f6" * 20,
            }
        )
    )
    commands.append(("add-agency", "--from-keystore", str(entry)))
    ids = [calpe_json("governance", "propose", *c, *config)["proposal_id"] for c in commands]
    before = int(time.time())
    by_keystore = calpe(
        "governance",
        "propose",
        "add-agency",
        "--from-keystore",
        tmp_path / "tax.json",
        "--expires-in-days",
        "2",
        *config,
    )
    after = int(time.time())
    assert by_keystore.returncode == 0, by_keystore.stderr
    first_line = by_keystore.stdout.splitlines()[0]
    assert first_line.startswith("proposal ")
    keystore_id = first_line.removeprefix("proposal ")
    assert f"calpe governance vote {keystore_id}" in by_keystore.stdout
    action = AddAgency("gi.tax2", joining.ed25519_public, joining.secp256k1_address)
    assert keystore_id in {
        proposal_id(AGENCY, action, t + 2 * 86400).hex() for t in range(before, after + 1)
    }
    assert sorted(proposed_ids(process)) == sorted([*ids, keystore_id])


def test_propose_errors(node: tuple[NodeProcess, bytes], tmp_path: Path) -> None:
    process, _ = node
    config = ("--config", str(process.config))
    refused = calpe("governance", "propose", "quorum", "0", *config)
    assert refused.returncode == 1 and "action.quorum must be between" in refused.stderr
    bad_address = calpe(
        "governance",
        "propose",
        "rotate-keys",
        PEER,
        "--ed25519",
        KEY,
        "--secp256k1-address",
        "0x12",
        *config,
    )
    assert bad_address.returncode == 1 and "action.secp256k1_address" in bad_address.stderr
    missing = calpe("governance", "propose", "add-agency", "--agency-id", "gi.tax", *config)
    assert missing.returncode == 2 and "missing --ed25519, --secp256k1-address" in missing.stderr
    keystore = tmp_path / "k.json"
    create_keystore(keystore, "gi.tax3", "secret", n=2**10)
    both = calpe(
        "governance",
        "propose",
        "add-agency",
        "--from-keystore",
        keystore,
        "--ed25519",
        KEY,
        *config,
    )
    assert both.returncode == 2 and "either --from-keystore" in both.stderr
    other = calpe(
        "governance",
        "propose",
        "add-agency",
        "--from-keystore",
        keystore,
        "--agency-id",
        "gi.tax",
        *config,
    )
    assert other.returncode == 2 and "holds the keys of gi.tax3" in other.stderr
    junk = tmp_path / "junk.json"
    junk.write_text("{}")
    unreadable = calpe("governance", "propose", "add-agency", "--from-keystore", junk, *config)
    assert unreadable.returncode == 3 and "not a keystore" in unreadable.stderr
    assert calpe("governance", "propose", "quorum", "3").returncode == 2  # no node given


def test_vote(node: tuple[NodeProcess, bytes]) -> None:
    process, peer_proposal = node
    config = ("--config", str(process.config))
    pid = peer_proposal.hex()
    unknown = calpe("governance", "vote", "ab" * 32, "--yes", *config)
    assert unknown.returncode == 1 and "unknown_proposal" in unknown.stderr
    prefix = calpe("governance", "vote", "abcdef12", "--yes", *config)
    assert prefix.returncode == 2 and "give the full 64-hex id" in prefix.stderr
    declined = answering("n\n", "governance", "vote", pid, *config)
    assert declined.returncode == 2 and "aborted" in declined.stderr
    assert f"Approve proposal {pid[:16]}" in declined.stderr
    assert "to checkpoint every 120 s by gi.registry" in declined.stderr
    accepted = answering("y\n", "governance", "vote", pid, "--json", *config)
    assert accepted.returncode == 0, accepted.stderr
    doc: dict[str, Any] = json.loads(accepted.stdout)
    assert doc["proposal_id"] == pid and doc["receipt"]["agency_id"] == AGENCY
    again = calpe("governance", "vote", pid, "--yes", *config)
    assert again.returncode == 1 and "duplicate_vote" in again.stderr


def test_rotate_keys(node: tuple[NodeProcess, bytes]) -> None:
    process, _ = node
    config = ("--config", str(process.config))
    keystore = process.config.parent / "keystore.json"
    before = json.loads(keystore.read_text())["public"]
    declined = answering("n\n", "governance", "rotate-keys", *config)
    assert declined.returncode == 2 and f"Rotate the keys of {AGENCY}?" in declined.stderr
    assert json.loads(keystore.read_text())["public"] == before
    done = calpe_json("governance", "rotate-keys", "--yes", *config)
    assert done["ed25519"] != before["ed25519"]
    assert json.loads(keystore.read_text())["public"] == {
        "ed25519": done["ed25519"],
        "secp256k1_address": done["secp256k1_address"],
    }
    # a second rotation waits until a checkpoint adopts the first (the contract knows one key)
    again = calpe("governance", "rotate-keys", "--yes", *config)
    assert again.returncode == 1 and "not adopted by a checkpoint yet" in again.stderr


def wait_adopted(socket: Path, pid: str, timeout: float = 30) -> None:
    """Until the node's stream says proposal ``pid`` is no longer open."""
    deadline = time.monotonic() + timeout
    checked = False

    def listed(doc: dict[str, Any]) -> bool:
        return any(p["proposal_id"] == pid and p["state"] != "open" for p in doc["proposals"])

    with AdminHttp(socket, hint="-") as api:
        for event, data in api.stream():  # a status event every 2 s bounds each wait
            if event == "status" and not checked:  # subscribed: no fold can be missed now
                checked = True
                if listed(api.governance()):
                    return
            if event == "governance" and listed(data):
                return
            assert time.monotonic() < deadline, f"proposal {pid} not adopted in {timeout} s"


def test_show_and_vote_after_a_checkpoint() -> None:
    net = solo_network()  # one agency, quorum 1: its proposals are adopted at the next checkpoint
    process = start_process(net)
    try:
        config = ("--config", str(process.config))
        pid = calpe_json("governance", "propose", "interval", "6", *config)["proposal_id"]
        wait_adopted(process.socket, pid)
        doc = calpe_json("governance", "show", *config)
        assert doc["checkpoint_interval_s"] == 6 and doc["proposals"][0]["state"] == "adopted"
        table = calpe("governance", "show", *config).stdout
        assert f"{pid[:16]}  adopted@{doc['epoch']}  {AGENCY}  1/1 {AGENCY}" in table
        assert "checkpoint every 6 s" in table
        closed = calpe("governance", "vote", pid[:12], *config)  # a prefix shown by show
        assert closed.returncode == 1 and "is adopted at epoch" in closed.stderr
    finally:
        process.stop()
        shutil.rmtree(net.root.parent, ignore_errors=True)
