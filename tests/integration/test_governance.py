"""Governance end to end: three ``calpe node run`` processes anchored on anvil (behind the
RSK-strict proxy) vote a fourth agency in, which joins by snapshot, issues and co-signs; then
one agency is voted out, and another rotates its keys — with no restart of the others."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.keyfiles import create_keystore, write_private_file
from node.network import peer_id_from_ed25519_public
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.settings import create_fee_keystore
from tests.integration.cluster import (
    AnchoredCluster,
    NodeProcess,
    _rewrite_network,
    anchored_cluster,
    cid_for,
    free_port,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NEW = "gi.agency3"
BRIDGE = {"confirmations": 2, "poll_interval_s": 0.3, "relay_delay_s": 3.0}


@pytest.fixture
def network(tmp_path: Path) -> Iterator[AnchoredCluster]:
    with anchored_cluster(tmp_path, BRIDGE) as anchored:
        yield anchored


def _new_member_node(net: AnchoredCluster, agency_id: str) -> tuple[NodeProcess, dict[str, Any]]:
    """What a joining agency does on its own server: keys, a fee account, a node config."""
    template = net.cluster.nodes[0]
    directory = template.config.parent.parent / agency_id
    directory.mkdir()
    passphrase = "joining-" + uuid.uuid4().hex
    write_private_file(directory / "passphrase", passphrase + "\n")
    keys = create_keystore(directory / "keystore.json", agency_id, passphrase, n=2**10)
    fee = create_fee_keystore(directory / "fee_keystore.json", passphrase, scrypt_n=2**10)
    funder = ChainClient(net.anvil.url, 33, net.anvil.dev_keys[0], poll_interval=0.05)
    funder.wait_for_success(funder.transfer(fee, 10**18), timeout=60)
    text = template.config.read_text().replace(template.agency_id, agency_id)
    config = directory / "node.toml"
    config.write_text(text)
    port = free_port()
    _rewrite_network(config, port, [(n.agency_id, n.port) for n in net.cluster.nodes])
    action = {
        "type": "add_agency",
        "agency_id": agency_id,
        "ed25519": keys.ed25519_public.hex(),
        "secp256k1_address": "0x" + keys.secp256k1_address.hex(),
        "addresses": [f"/ip4/127.0.0.1/tcp/{port}"],
    }
    return NodeProcess(agency_id, config, port), action


def _governance(node: NodeProcess) -> dict[str, Any]:
    doc: dict[str, Any] = node.get("/v1/governance")
    return doc


def _propose(node: NodeProcess, action: dict[str, Any]) -> str:
    response = node.post(
        "/v1/governance/proposals", {"action": action, "request_id": str(uuid.uuid4())}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["proposal_id"])


def _vote(node: NodeProcess, proposal_id: str) -> None:
    response = node.post(f"/v1/governance/proposals/{proposal_id}/votes", {})
    assert response.status_code == 200, response.text


def _state(node: NodeProcess, proposal_id: str) -> str:
    for proposal in _governance(node)["proposals"]:
        if proposal["proposal_id"] == proposal_id:
            return str(proposal["state"])
    return "unknown"


def _member_state(node: NodeProcess, agency_id: str) -> str | None:
    for member in _governance(node)["members"]:
        if member["agency_id"] == agency_id:
            return str(member["state"])
    return None


def _adopted_everywhere(nodes: list[NodeProcess], proposal_id: str) -> bool:
    return all(_state(n, proposal_id) == "adopted" for n in nodes)


def _issue(node: NodeProcess, label: str) -> str:
    schema = node.publish_schema(label)
    cid = cid_for(f"{node.agency_id}/{label}")
    node.issue(cid, schema)
    return cid


def _has_credential(node: NodeProcess, issuer: str, cid: str) -> bool:
    with node.client() as client:
        return client.get(f"/v1/credentials/{issuer}/{cid}").status_code == 200


def _connected(node: NodeProcess) -> set[str]:
    return {p["peer_id"] for p in node.get("/v1/peers")["peers"]}


def _chain_signers(net: AnchoredCluster) -> set[str]:
    return {a.lower() for a in net.chain().signers()}


def test_an_agency_joins_another_leaves_and_a_third_rotates_its_keys(
    network: AnchoredCluster,
) -> None:
    net = network
    a, b, c = net.nodes
    for node in (a, b, c):
        _issue(node, "before")
    wait_until(lambda: net.chain().latest_epoch() >= 1, 90, "a first anchored checkpoint")

    # --- a proposal short of quorum stays open; a repeated vote counts once -----------------
    lonely = _propose(a, {"type": "set_checkpoint_interval", "seconds": 3600})
    response = a.post(f"/v1/governance/proposals/{lonely}/votes", {})
    assert response.status_code == 409, response.text

    # --- the fourth agency is voted in by two of three --------------------------------------
    joiner, action = _new_member_node(net, NEW)
    added = _propose(a, action)
    wait_until(lambda: _state(b, added) == "open", 30, "b to see the proposal")
    _vote(b, added)
    wait_until(lambda: _adopted_everywhere([a, b, c], added), 90, "the addition to be adopted")
    assert all(_member_state(n, NEW) == "active" for n in (a, b, c))
    assert _state(a, lonely) == "open"  # one approval of a quorum of two, many epochs later
    new_address = action["secp256k1_address"].lower()
    wait_until(lambda: new_address in _chain_signers(net), 90, "the contract's new signer set")

    # --- it joins by snapshot, syncs, issues and co-signs -----------------------------------
    net.nodes.append(joiner)  # killed with the others at the end
    joiner.start(args=("--snapshot-join",), timeout=120)
    wait_until(lambda: net.cluster.converged([0, 1, 2]) and _synced(joiner, a), 120, "joiner sync")
    issued = _issue(joiner, "joined")
    wait_until(lambda: _has_credential(a, NEW, issued), 30, "a to hold the joiner's credential")
    epoch_before = net.chain().latest_epoch()
    wait_until(
        lambda: any(NEW in r["signers"] for r in a.get("/v1/checkpoints")["checkpoints"]),
        90,
        "a checkpoint co-signed by the new agency",
    )
    wait_until(lambda: net.chain().latest_epoch() > epoch_before, 90, "anchoring to go on")

    # --- agency 2 is voted out: it can no longer connect or contribute ----------------------
    removed = _propose(a, {"type": "remove_agency", "agency_id": c.agency_id})
    wait_until(lambda: _state(joiner, removed) == "open", 30, "the joiner to see the removal")
    _vote(joiner, removed)
    wait_until(lambda: _adopted_everywhere([a, b, joiner], removed), 90, "the removal")
    c_peer = net.cluster.peer_id(2)
    wait_until(lambda: c_peer not in _connected(a) | _connected(b), 30, "c to be disconnected")
    pinned = a.heads()[c.agency_id]["height"]
    late = c.post(
        "/v1/schemas",
        {
            "request_id": str(uuid.uuid4()),
            "schema_id": cid_for("late"),
            "credential_class": "permit",
            "version": 1,
        },
    )
    assert late.status_code == 409 and "removed" in late.text, late.text
    c_address = _member(a, c.agency_id)["secp256k1_address"].lower()
    wait_until(lambda: c_address not in _chain_signers(net), 90, "c to leave the contract")
    assert a.heads()[c.agency_id]["height"] == pinned
    assert c_peer not in _connected(a)

    # --- agency 1 rotates its keys; nobody restarts -----------------------------------------
    before = _member(a, b.agency_id)
    rotated = b.post("/v1/governance/rotate-keys", {"request_id": str(uuid.uuid4())})
    assert rotated.status_code == 200, rotated.text
    new_keys = rotated.json()
    new_peer = peer_id_from_ed25519_public(bytes.fromhex(new_keys["ed25519"]))
    wait_until(lambda: new_peer in _connected(a), 60, "b to reconnect with its new identity")
    after_rotation = _issue(b, "rotated")
    wait_until(
        lambda: (
            _has_credential(a, b.agency_id, after_rotation)
            and _has_credential(joiner, b.agency_id, after_rotation)
        ),
        30,
        "b's credential signed with the new key everywhere",
    )
    wait_until(lambda: _member(a, b.agency_id)["ed25519"] == new_keys["ed25519"], 90, "adoption")
    assert before["ed25519"] != new_keys["ed25519"]
    wait_until(
        lambda: new_keys["secp256k1_address"].lower() in _chain_signers(net),
        90,
        "the contract to list b's new address",
    )
    epoch = net.chain().latest_epoch()
    _issue(b, "after-adoption")
    wait_until(lambda: net.chain().latest_epoch() > epoch, 90, "anchoring with the new keys")
    newest = a.get("/v1/checkpoints")["checkpoints"][0]
    assert b.agency_id in newest["signers"] or NEW in newest["signers"]
    for node in (a, b, joiner):
        assert node.running


def _member(node: NodeProcess, agency_id: str) -> dict[str, Any]:
    return next(m for m in _governance(node)["members"] if m["agency_id"] == agency_id)


def _synced(joiner: NodeProcess, reference: NodeProcess) -> bool:
    try:
        mine = joiner.heads()
    except Exception:
        return False
    theirs = reference.heads()
    return all(
        agency in mine and mine[agency]["height"] >= head["height"] - 5
        for agency, head in theirs.items()
    )
