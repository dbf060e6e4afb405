"""Bundles from a real three-node network (three ``calpe node run`` processes) whose checkpoints
the nodes themselves co-sign and anchor on anvil behind the RSK-strict proxy.

Credentials are written through the admin API; once an epoch after the last write is anchored
and confirmed, the nodes stop and each bundle is made by ``proof_bundle`` from a node's own
store (the public endpoint does not know the ``[anchor]`` contract yet, see the report), then
verified with ``calpe verify`` against the chain.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from node.admin.proofs import proof_bundle
from node.config import load_config
from node.core.checkpoint import Cut, CutLeaf
from node.storage.store import LedgerStore
from plugins.rsk_bridge.anvil import Anvil, find_anvil, start_anvil
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.devnet_anchor import AnchorSetup, anchor_devnet
from plugins.rsk_bridge.rsk_strict import RskStrictProxy
from tests.integration.cluster import Cluster, NodeProcess, cid_for, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIRMATIONS = 2
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Network:
    anvil: Anvil
    proxy: RskStrictProxy
    nodes: list[NodeProcess]
    setup: AnchorSetup

    def chain(self) -> ChainClient:
        return ChainClient(self.anvil.url, 33, contract=self.setup.contract, poll_interval=0.05)


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm install` at the repository root")
    cluster = Cluster(tmp_path, 3, checkpoint_interval_s=5)
    nodes = cluster.nodes
    with start_anvil(block_time=0.5) as anvil, RskStrictProxy(anvil.url) as proxy:
        setup = anchor_devnet(
            cluster.configs,
            cluster.genesis,
            proxy.url,
            anvil.dev_keys[0],
            scrypt_n=2**10,
            bridge={"confirmations": CONFIRMATIONS, "poll_interval_s": 0.3},
        )
        try:
            for node in nodes:
                node.start()
            yield Network(anvil, proxy, nodes, setup)
        finally:
            for node in nodes:
                if node.running:
                    node.stop()
        assert proxy.rejections == [], "something did what RSK refuses"


def _change(node: NodeProcess, credential_id: str, action: str, reason: str) -> None:
    body = {"request_id": str(uuid.uuid4()), "reason": reason}
    response = node.post(f"/v1/credentials/{credential_id}/{action}", body)
    assert response.status_code == 200, response.text


def _issue(node: NodeProcess, credential_id: str, schema: str, until: int) -> None:
    response = node.post(
        "/v1/credentials/issue",
        {
            "request_id": str(uuid.uuid4()),
            "credential_id": credential_id,
            "schema_id": schema,
            "valid_from_s": 1_600_000_000,
            "valid_until_s": until,
        },
    )
    assert response.status_code == 200, response.text


def _verify(bundle: dict[str, Any], net: Network, tmp: Path, *extra: str) -> tuple[int, Any]:
    path = tmp / f"{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(bundle))
    args = ["verify", str(path), "--rpc", net.proxy.url, "--contract", net.setup.contract]
    result = subprocess.run(
        [sys.executable, "-m", "node.cli", *args, "--min-confirmations", "1", "--json", *extra],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_bundles_of_a_three_node_network_verify(network: Network, tmp_path: Path) -> None:
    issuer = network.nodes[1]
    schema = issuer.publish_schema("verify-e2e")
    ids = {label: cid_for(f"e2e/{label}") for label in ("valid", "revoked", "suspended", "old")}
    for label, credential_id in ids.items():
        _issue(issuer, credential_id, schema, 1_700_000_000 if label == "old" else 2_000_000_000)
    _change(issuer, ids["revoked"], "revoke", "key_compromise")
    _change(issuer, ids["suspended"], "suspend", "court_order")
    wanted = issuer.heads()[issuer.agency_id]["height"]
    wait_until(
        lambda: all(n.heads()[issuer.agency_id]["height"] >= wanted for n in network.nodes),
        30,
        "every node to hold the issuer's writes",
    )
    heads = issuer.heads().values()
    expected_root = Cut.of(
        CutLeaf(
            h["agency_id"],
            h["height"],
            bytes.fromhex(h["block_hash"]),
            bytes.fromhex(h["log_root"]),
            bytes.fromhex(h["state_root"]),
        )
        for h in heads
    ).root()
    chain = network.chain()

    def confirmed_epoch() -> int | None:
        """The ledger is quiet now: the next checkpoint is of exactly these heads."""
        latest = chain.latest_epoch()
        anchored = chain.checkpoint_of(latest)
        if anchored.root != expected_root:
            return None
        return latest if chain.block_number() - anchored.block_number + 1 > CONFIRMATIONS else None

    def recorded(epoch: int) -> bool:
        """The issuer's bridge has marked the epoch confirmed in its store (it logs it)."""
        return f"checkpoint confirmed epoch={epoch} " in issuer.log_path.read_text()

    epoch = wait_until(confirmed_epoch, 90, "a checkpoint of the writes on chain", every=0.5)
    wait_until(lambda: recorded(epoch), 30, "the issuer to record the confirmation", every=0.3)
    for node in network.nodes:
        node.stop()
    config = load_config(issuer.config)
    with LedgerStore.open(config.node.data_dir, config.load_genesis()) as store:
        bundles = {
            label: proof_bundle(
                store, issuer.agency_id, bytes.fromhex(cid), contract=network.setup.contract
            )
            for label, cid in {**ids, "never": cid_for("e2e/never")}.items()
        }
    expected = {"valid": 0, "revoked": 10, "suspended": 11, "old": 12, "never": 14}
    for label, code in expected.items():
        assert bundles[label]["checkpoint"]["epoch"] == epoch
        assert bundles[label]["head"]["height"] >= wanted
        returncode, report = _verify(bundles[label], network, tmp_path)
        assert returncode == code, (label, report)
        assert report["checkpoint"]["threshold"] == 2 and len(report["checkpoint"]["signers"]) >= 2
