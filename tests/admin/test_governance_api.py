"""Governance through the admin API of a real node: proposals of every action type, input checks,
votes (404, 409, idempotency), the node's own key rotation, and adoption at a signed checkpoint
with its ``governance`` stream event."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from node.admin.client import AdminHttp
from node.core.events import GovernanceProposed
from node.core.proposals import (
    Action,
    AddAgency,
    RemoveAgency,
    RotateKeys,
    SetCheckpointInterval,
    SetQuorum,
    action_to_json,
    proposal_id,
)
from node.devnet import LocalNetwork, create_local_network
from node.keyfiles import load_keystore
from tests.admin.conftest import AGENCY, BASE_BLOCKS, Running, free_base_port, open_node, start_node

pytestmark = [pytest.mark.trio, pytest.mark.integration]

PEER = "gi.registry"
EXPIRES = int(time.time()) + 3 * 86400
ACTIONS: list[Action] = [
    AddAgency(
        "gi.tax", bytes.fromhex("a1" * 32), bytes.fromhex("b2" * 20), ("/ip4/10.0.0.9/tcp/7400",)
    ),
    RemoveAgency("gi.transport"),
    RotateKeys(PEER, bytes.fromhex("c3" * 32), bytes.fromhex("d4" * 20)),
    SetQuorum(3),
    SetCheckpointInterval(60),
]


def assert_receipt(receipt: dict[str, Any], request_id: str | None) -> None:
    assert receipt["request_id"] == request_id and receipt["status"] == "committed"
    assert receipt["agency_id"] == AGENCY and receipt["height"] >= 4
    assert len(receipt["block_hash"]) == 64 and receipt["event_index"] == 0


async def test_document_is_the_genesis_before_any_checkpoint(running: Running) -> None:
    doc = (await running.get("/v1/governance")).json()
    genesis = running.net.genesis
    assert {k: doc[k] for k in ("epoch", "quorum", "checkpoint_interval_s", "signer_nonce")} == {
        "epoch": 0,
        "quorum": genesis.quorum,
        "checkpoint_interval_s": genesis.checkpoint_interval_s,
        "signer_nonce": 1,
    }
    assert doc["proposals"] == []
    assert [m["agency_id"] for m in doc["members"]] == [a.agency_id for a in genesis.agencies]
    health = doc["members"][0]
    assert health == {
        "agency_id": AGENCY,
        "ed25519": genesis.agencies[0].ed25519_public.hex(),
        "secp256k1_address": "0x" + genesis.agencies[0].secp256k1_address.hex(),
        "addresses": [],
        "state": "active",
        "since_epoch": 0,
        "removed_height": None,
    }


async def test_propose_every_action_type(running: Running) -> None:
    for n, action in enumerate(ACTIONS):
        body = {"action": action_to_json(action), "expires_s": EXPIRES, "request_id": f"gov-{n}"}
        response = await running.post("/v1/governance/proposals", body)
        assert response.status_code == 200, response.text
        doc = response.json()
        assert doc["proposal_id"] == proposal_id(AGENCY, action, EXPIRES).hex()
        assert_receipt(doc["receipt"], f"gov-{n}")
        again = await running.post("/v1/governance/proposals", body)  # a retry: same answer
        assert again.json() == doc
    events = (await running.get("/v1/events", kind="governance.proposed")).json()["events"]
    assert sorted(e["proposal_id"] for e in events) == sorted(
        proposal_id(AGENCY, a, EXPIRES).hex() for a in ACTIONS
    )


async def test_default_expiry_is_a_week(running: Running) -> None:
    action = SetQuorum(2)
    before = int(time.time())
    response = await running.post(
        "/v1/governance/proposals", {"action": {"type": "set_quorum", "quorum": 2}}
    )
    after = int(time.time())
    assert response.status_code == 200, response.text
    doc = response.json()
    assert_receipt(doc["receipt"], None)
    week = 7 * 86400
    candidates = {proposal_id(AGENCY, action, t + week).hex(): t for t in range(before, after + 1)}
    assert doc["proposal_id"] in candidates


KEY = "a1" * 32
ADDRESS = "0x" + "b2" * 20


def add(**fields: Any) -> dict[str, Any]:
    doc = {
        "type": "add_agency",
        "agency_id": "gi.tax",
        "ed25519": KEY,
        "secp256k1_address": ADDRESS,
    }
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not None}


BAD_PROPOSALS: list[tuple[Any, str]] = [
    ({}, "missing field(s): action"),
    ({"action": {"type": "set_quorum", "quorum": 2}, "extra": 1}, "unknown field(s): extra"),
    ({"action": "set_quorum"}, "action.type must be one of add_agency"),
    ({"action": {"type": "make_king"}}, "action.type must be one of"),
    ({"action": {"type": ["set_quorum"]}}, "action.type must be one of"),
    ({"action": {"type": "set_quorum"}}, "action: missing field(s): quorum"),
    ({"action": {"type": "set_quorum", "quorum": 0}}, "action.quorum must be between 1 and 255"),
    ({"action": {"type": "set_quorum", "quorum": "2"}}, "action.quorum must be an integer"),
    ({"action": {"type": "set_quorum", "quorum": 2, "seconds": 9}}, "unknown field(s): seconds"),
    ({"action": {"type": "set_checkpoint_interval", "seconds": 1}}, "action.seconds"),
    ({"action": {"type": "remove_agency", "agency_id": "Gi Tax"}}, "action.agency_id"),
    ({"action": {"type": "remove_agency", "agency_id": 7}}, "action.agency_id"),
    ({"action": add(ed25519="zz" * 32)}, "action.ed25519 must be 64 hex digits"),
    ({"action": add(ed25519=None)}, "missing field(s): ed25519"),
    ({"action": add(ed25519="02" + "00" * 31)}, "not a point on the curve"),
    ({"action": add(secp256k1_address="0x1234")}, "action.secp256k1_address must be 40 hex"),
    ({"action": add(addresses="/ip4/1.2.3.4/tcp/1")}, "action.addresses must be a list"),
    ({"action": add(addresses=["10.0.0.9:7400"])}, "is not a multiaddr"),
    ({"action": add(addresses=["/ip4/1.2.3.4/tcp/1"] * 5)}, "at most 4 addresses"),
    (
        {"action": add(addresses=["/ip4/10.0.0.9/tcp/7400/p2p/" + "Q" * 80])},
        "each at most 96 characters",
    ),
    ({"action": {"type": "set_quorum", "quorum": 2}, "expires_s": 1_000}, "expires_s"),
    ({"action": {"type": "set_quorum", "quorum": 2}, "request_id": "no spaces"}, "request_id"),
]


async def test_bad_proposals_are_400_naming_the_field(running: Running) -> None:
    for body, message in BAD_PROPOSALS:
        response = await running.post("/v1/governance/proposals", body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert error["code"] == "bad_request" and message in error["message"], (body, error)
    not_json = await running.http.post("/v1/governance/proposals", content=b"{")
    assert not_json.status_code == 400
    nothing = (await running.get("/v1/events", kind="governance.proposed")).json()["events"]
    assert nothing == []


async def test_vote_errors(running: Running) -> None:
    unknown = await running.post(f"/v1/governance/proposals/{'ab' * 32}/votes", {})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_proposal"
    bad_id = await running.post("/v1/governance/proposals/nothex/votes", {})
    assert bad_id.status_code == 400 and "proposal_id" in bad_id.json()["error"]["message"]
    bad_body = await running.post(f"/v1/governance/proposals/{'ab' * 32}/votes", {"why": 1})
    assert bad_body.status_code == 400
    own = (
        await running.post(
            "/v1/governance/proposals", {"action": {"type": "set_quorum", "quorum": 3}}
        )
    ).json()
    duplicate = await running.post(f"/v1/governance/proposals/{own['proposal_id']}/votes", {})
    assert duplicate.status_code == 409  # a proposal counts as its proposer's vote
    assert duplicate.json()["error"]["code"] == "duplicate_vote"


def seed_peer_proposal(net: LocalNetwork, action: Action) -> bytes:
    """Commit a proposal block of :data:`PEER` (with its own keys) into our node's store."""
    directory = net.root / PEER
    passphrase = (directory / "passphrase").read_text().strip()
    _, keys = load_keystore(directory / "keystore.json", passphrase)
    _, store, own_keys = open_node(net)
    with store:
        now = int(time.time() * 1000)
        for i, events in enumerate(BASE_BLOCKS):
            store.author(AGENCY, events, own_keys, now_ms=now - 5000 + i)
        store.author(PEER, [GovernanceProposed(action, EXPIRES)], keys, now_ms=now - 1000)
    return proposal_id(PEER, action, EXPIRES)


async def test_vote_on_a_peer_proposal(nursery: trio.Nursery, net: LocalNetwork) -> None:
    pid = seed_peer_proposal(net, SetCheckpointInterval(120))
    async with start_node(nursery, net) as running:
        path = f"/v1/governance/proposals/{pid.hex()}/votes"
        first = await running.post(path, {"request_id": "vote-1"})
        assert first.status_code == 200, first.text
        assert_receipt(first.json()["receipt"], "vote-1")
        retry = await running.post(path, {"request_id": "vote-1"})
        assert retry.json() == first.json()  # the retry finds the committed vote
        again = await running.http.post(path)  # no body at all is fine too
        assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_vote"
        votes = (await running.get("/v1/events", kind="governance.voted")).json()["events"]
        assert [e["proposal_id"] for e in votes] == [pid.hex()]


async def test_rotate_own_keys(running: Running) -> None:
    keystore = running.config.node.keystore
    before = json.loads(keystore.read_text())["public"]
    response = await running.post("/v1/governance/rotate-keys", {"request_id": "rotate-1"})
    assert response.status_code == 200, response.text
    doc = response.json()
    assert_receipt(doc["receipt"], "rotate-1")
    assert json.loads(keystore.read_text())["public"] == {
        "ed25519": doc["ed25519"],
        "secp256k1_address": doc["secp256k1_address"],
    }
    assert doc["ed25519"] != before["ed25519"]
    retry = await running.post("/v1/governance/rotate-keys", {"request_id": "rotate-1"})
    assert retry.json() == doc  # the keys it announced, not new ones
    assert json.loads(keystore.read_text())["public"]["ed25519"] == doc["ed25519"]
    await running.post(
        "/v1/governance/proposals",
        {"action": {"type": "set_quorum", "quorum": 2}, "request_id": "p-1"},
    )
    reused = await running.post("/v1/governance/rotate-keys", {"request_id": "p-1"})
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "request_id_reused"
    rotated = (await running.get("/v1/events", kind="agency.key_rotated")).json()["events"]
    assert [e["height"] for e in rotated] == [doc["receipt"]["height"]]
    later = await running.post(  # the next block is signed with the new key and accepted
        "/v1/governance/proposals", {"action": {"type": "set_quorum", "quorum": 2}}
    )
    assert later.status_code == 200 and later.json()["receipt"]["height"] > rotated[0]["height"]


# --- adoption at a signed checkpoint ------------------------------------------------------------


def solo_network() -> LocalNetwork:
    """One agency, quorum 1, a checkpoint every 5 s (signing needs only the [anchor] address)."""
    root = Path(tempfile.mkdtemp(prefix="calpe", dir="/tmp"))
    net = create_local_network(
        root / "net",
        [(AGENCY, "Health Authority")],
        quorum=1,
        checkpoint_interval_s=5,
        base_port=free_base_port(1),
        scrypt_n=2**10,
    )
    config = net.configs[AGENCY]
    config.write_text(config.read_text() + f'\n[anchor]\ncontract = "0x{"11" * 20}"\n')
    return net


@pytest.fixture
def solo() -> Iterator[LocalNetwork]:
    net = solo_network()
    yield net
    shutil.rmtree(net.root.parent, ignore_errors=True)


@pytest.mark.slow
async def test_adopted_at_the_next_checkpoint(nursery: trio.Nursery, solo: LocalNetwork) -> None:
    async with start_node(nursery, solo) as running:
        seen: list[dict[str, Any]] = []
        subscribed = trio.Event()

        def listen() -> None:  # the CLI's sync client, in a thread
            with AdminHttp(running.endpoints.socket, hint="-") as api:
                for event, data in api.stream():
                    if event == "status" and not subscribed.is_set():
                        trio.from_thread.run_sync(subscribed.set)
                    elif event == "governance":
                        seen.append(data)
                        if data["proposals"] and data["proposals"][0]["state"] == "adopted":
                            return

        with trio.fail_after(30):
            async with trio.open_nursery() as inner:
                inner.start_soon(trio.to_thread.run_sync, listen)
                await subscribed.wait()
                body = {"action": {"type": "set_checkpoint_interval", "seconds": 6}}
                proposed = (await running.post("/v1/governance/proposals", body)).json()
        doc = (await running.get("/v1/governance")).json()
        assert doc["proposals"] == seen[-1]["proposals"]
        assert doc["checkpoint_interval_s"] == 6 and doc["epoch"] >= 1
        (proposal,) = doc["proposals"]
        assert proposal["proposal_id"] == proposed["proposal_id"]
        assert proposal["approvals"] == [AGENCY] and proposal["proposer"] == AGENCY
        assert proposal["summary"] == "checkpoint every 6 s"
        assert proposal["state"] == "adopted" and proposal["reason"] is None
        assert proposal["effective_epoch"] == seen[-1]["epoch"]
