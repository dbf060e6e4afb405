"""Issue 3's network behaviour with real node processes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cluster import Cluster, cid_for, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def line(tmp_path: Path) -> Iterator[Cluster]:
    """A - B - C: A and C never dial each other."""
    cluster = Cluster(tmp_path, 3, links=[(0, 1), (1, 2)])
    cluster.start()
    yield cluster
    cluster.stop()


def test_events_cross_a_line_and_every_node_agrees(line: Cluster) -> None:
    a, _, c = line.nodes
    schema = a.publish_schema()
    receipts = [a.issue(cid_for(f"line/{i}"), schema) for i in range(5)]
    last = receipts[-1]
    wait_until(
        lambda: c.heads()[a.agency_id]["height"] >= last["height"], 20, "C to commit A's blocks"
    )
    credential = c.get(f"/v1/credentials/{a.agency_id}/{cid_for('line/4')}")
    assert credential["credential"]["status"] == "active"
    wait_until(line.converged, 20, "all three nodes to agree on heads and roots")


def test_a_killed_node_catches_up_after_restart(line: Cluster) -> None:
    a, _, c = line.nodes
    schema = a.publish_schema()
    a.issue(cid_for("restart/0"), schema)
    wait_until(line.converged, 20, "initial convergence")
    c.kill()
    for i in range(1, 30):
        a.issue(cid_for(f"restart/{i}"), schema)
    c.start()
    wait_until(
        lambda: c.heads()[a.agency_id]["height"] == a.heads()[a.agency_id]["height"],
        30,
        "the restarted node to catch up",
    )
    wait_until(line.converged, 20, "convergence after restart")


def test_a_new_node_catches_up_100k_events(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, 2)
    cluster.prefill(0, 100_000)
    try:
        cluster.start()
        source, fresh = cluster.nodes
        target = source.heads()[source.agency_id]
        wait_until(
            lambda: fresh.heads()[source.agency_id]["height"] == target["height"],
            180,
            "the fresh node to sync 100,000 events",
            every=0.5,
        )
        assert fresh.heads()[source.agency_id]["state_root"] == target["state_root"]
    finally:
        cluster.stop()


def test_partition_and_heal_converge_without_operator_action(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, 4, proxied=True)
    cluster.start()
    try:
        schemas = {i: cluster[i].publish_schema() for i in range(4)}
        wait_until(cluster.converged, 30, "initial convergence")
        cluster.cut([0, 1], [2, 3])
        for round_ in range(10):
            cluster[0].issue(cid_for(f"west/{round_}"), schemas[0])
            cluster[3].issue(cid_for(f"east/{round_}"), schemas[3])
        wait_until(lambda: cluster.converged([0, 1]), 20, "the west half to agree")
        wait_until(lambda: cluster.converged([2, 3]), 20, "the east half to agree")
        assert not cluster.converged()
        cluster.heal([0, 1], [2, 3])
        wait_until(cluster.converged, 60, "all four nodes to converge after healing")
    finally:
        cluster.stop()


def test_a_node_restored_from_an_old_copy_fetches_its_own_blocks_before_signing(
    tmp_path: Path,
) -> None:
    """Authoring on a stale copy would sign a second block at a used height: equivocation."""
    import shutil

    cluster = Cluster(tmp_path, 2)
    cluster.start()
    a, b = cluster.nodes
    try:
        schema = a.publish_schema()
        a.issue(cid_for("old/0"), schema)
        wait_until(cluster.converged, 20, "initial convergence")
        a.stop()
        data = a.config.parent / "data"
        shutil.copytree(data, tmp_path / "old-copy")
        a.start()
        for i in range(1, 6):
            a.issue(cid_for(f"old/{i}"), schema)
        wait_until(cluster.converged, 20, "convergence before the restore")
        a.stop()
        shutil.rmtree(data)
        shutil.copytree(tmp_path / "old-copy", data)
        a.start()
        a.issue(cid_for("old/after-restore"), schema)
        wait_until(cluster.converged, 30, "convergence after the restore")
        heads = b.heads()
        assert not heads[a.agency_id]["frozen"]
        assert heads[a.agency_id]["height"] == 8  # schema, 6 issues, 1 after the restore
        assert all(alert["kind"] != "equivocation" for alert in b.get("/v1/status")["alerts"])
    finally:
        cluster.stop()
