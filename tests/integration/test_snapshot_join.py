"""Snapshot join end to end: three ``calpe node run`` processes anchor checkpoints on anvil (behind
the RSK-strict proxy); agency 1's server is replaced by a fresh one with an empty data directory
and ``--snapshot-join``. It installs the state of the newest confirmed checkpoint, syncs only the
blocks after the cut, and converges with the others."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from node.config import load_config
from node.storage import integrity, schema, snapshot_install
from node.storage.store import LedgerStore
from tests.integration.cluster import Cluster, NodeProcess, anchored_cluster, cid_for, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIRMATIONS = 3
BRIDGE = {
    "confirmations": CONFIRMATIONS,
    "poll_interval_s": 0.3,
    "relay_delay_s": 20.0,
    "stuck_after_s": 20.0,
}


def _issue(node: NodeProcess, label: str, count: int) -> list[str]:
    schema_id = node.publish_schema(label)
    ids = [cid_for(f"{node.agency_id}/{label}/{i}") for i in range(count)]
    for cid in ids:
        node.issue(cid, schema_id)
    return ids


def _confirmed_epochs(node: NodeProcess) -> list[int]:
    records = node.get("/v1/checkpoints", limit=50)["checkpoints"]
    return [r["epoch"] for r in records if r["state"] == "confirmed"]


def test_a_replacement_node_joins_by_snapshot(tmp_path: Path) -> None:
    with anchored_cluster(tmp_path, BRIDGE) as anchored:
        cluster = anchored.cluster
        a, b, c = cluster.nodes
        before = {n.agency_id: _issue(n, "before", k) for n, k in ((a, 12), (b, 8), (c, 3))}
        wait_until(cluster.converged, 30, "the three nodes to converge")
        heads = {x: h["height"] for x, h in a.heads().items()}
        # The cut of every epoch starting from now on holds all of those blocks.
        first_epoch = _epoch_now(cluster) + 1
        epoch = wait_until(
            lambda: max((e for e in _confirmed_epochs(c) if e >= first_epoch), default=0),
            90,
            "a confirmed checkpoint covering the issued credentials",
        )
        assert anchored.chain().checkpoint_of(epoch).root != bytes(32)

        after_b = _issue(b, "after", 2)  # B's own blocks after the cut come back by sync
        wait_until(cluster.converged, 30, "B's late blocks to reach A and C")
        b.stop()
        _issue(a, "after", 3)

        data_dir = load_config(b.config).node.data_dir
        data_dir.rename(data_dir.with_name("data.replaced"))
        b.start(args=("--snapshot-join",), timeout=120)  # the join runs before the API is up
        wait_until(cluster.converged, 60, "the joined node to catch up")
        assert "joined by snapshot" in b.log_path.read_text()
        for issuer, ids in (*before.items(), (b.agency_id, after_b)):
            found = b.get(f"/v1/credentials/{issuer}/{ids[-1]}")
            assert found["credential"]["status"] == "active", found
        bundle = b.get(f"/v1/credentials/{a.agency_id}/{before[a.agency_id][0]}/proof")
        assert bundle["checkpoint"]["epoch"] >= epoch, bundle
        b.stop()
    _check_joined_store(b, heads)


def _epoch_now(cluster: Cluster) -> int:
    elapsed = int(time.time() * 1000) - cluster.genesis.created_ms
    return elapsed // (cluster.genesis.checkpoint_interval_s * 1000)


def _check_joined_store(node: NodeProcess, heads_at_issue: dict[str, int]) -> None:
    config = load_config(node.config)
    with LedgerStore.open(config.node.data_dir, config.load_genesis()) as store:
        assert snapshot_install.join_state(store) == "complete"
        for agency_id, head in store.heads().items():
            num = store._num(agency_id)
            base = snapshot_install.base_at(store.raw_db, num)
            assert base is not None and base.height >= heads_at_issue[agency_id]
            stored = [
                schema.height_of_block_key(k)
                for k in store.raw_db.iterator(prefix=schema.blocks(num), include_value=False)
            ]
            # Only the blocks after the cut were fetched: none at or below the base height.
            assert stored == list(range(base.height + 1, head.height + 1)), agency_id
        report = integrity.verify(store)
        assert report.ok, report.summary()
