"""SIGKILL real node processes at random moments while credentials are being issued.

Three ``calpe node run`` processes, each under steady issuing load through its admin API. Rounds
kill one to three random nodes after a random number of further acknowledgements (zero kills a
node right after it came back, in the middle of its catch-up), check the killed databases offline
with ``calpe db verify`` every few rounds, restart them, and query every credential they had
acknowledged. At the end: every node stops cleanly, verifies, restarts and the three converge.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.load import Issuer
from tests.faults.nodes import db_verify, in_parallel, log_tail, missing_credentials
from tests.integration.cluster import Cluster, NodeProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 30
VERIFY_EVERY = 3  # rounds; a verify costs a process start per killed node
MAX_ACKS_BEFORE_KILL = 8


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, 3)
    try:
        in_parallel(cluster.nodes, NodeProcess.start)
        yield cluster
    finally:
        cluster.stop()


def _kill_round(
    cluster: Cluster, issuers: list[Issuer], victims: list[int], rng: random.Random
) -> None:
    for i in victims:
        issuer = issuers[i]
        wanted = issuer.acked_count() + rng.randint(0, MAX_ACKS_BEFORE_KILL)
        assert issuer.wait_for_acks(wanted, 60), (
            f"{cluster[i].agency_id} stopped acknowledging:\n{log_tail(cluster[i])}"
        )
        issuer.up.clear()
        cluster[i].kill()


def _check_acked(cluster: Cluster, issuers: list[Issuer], i: int, since: int) -> int:
    """Query node ``i`` for what it acked from position ``since``; the new position."""
    acked = issuers[i].acked_since(since)
    node = cluster[i]
    lost = missing_credentials(node, node.agency_id, acked)
    assert not lost, f"{node.agency_id} lost {len(lost)} acknowledged credentials: {lost[:5]}"
    return since + len(acked)


@pytest.mark.timeout(240)
def test_sigkill_under_load_loses_nothing_acknowledged(cluster: Cluster) -> None:
    rng = random.Random()
    schemas = [node.publish_schema() for node in cluster.nodes]
    issuers = [
        Issuer(node, schema, f"crash-load/{node.agency_id}")
        for node, schema in zip(cluster.nodes, schemas, strict=True)
    ]
    for issuer in issuers:
        issuer.start()
    checked = [0, 0, 0]
    kills = rounds = 0
    try:
        while kills < KILLS:
            victims = rng.sample(range(3), rng.choice((1, 1, 2, 3)))
            _kill_round(cluster, issuers, victims, rng)
            kills += len(victims)
            rounds += 1
            if rounds % VERIFY_EVERY == 0:
                in_parallel([cluster[i] for i in victims], lambda n: db_verify(n.config))
            in_parallel([cluster[i] for i in victims], NodeProcess.start)
            for i in victims:
                issuers[i].up.set()
                checked[i] = _check_acked(cluster, issuers, i, checked[i])
    finally:
        for issuer in issuers:
            issuer.stop()

    in_parallel(cluster.nodes, lambda n: n.stop())
    reports = in_parallel(cluster.nodes, lambda n: db_verify(n.config))
    in_parallel(cluster.nodes, NodeProcess.start)
    wait_until(cluster.converged, 90, "the three nodes to converge after the kills")
    for i in range(3):
        _check_acked(cluster, issuers, i, 0)
        sample = rng.sample(issuers[i].counts.acked, min(20, len(issuers[i].counts.acked)))
        for other in (j for j in range(3) if j != i):
            assert not missing_credentials(cluster[other], cluster[i].agency_id, sample)
    acked = sum(len(issuer.counts.acked) for issuer in issuers)
    assert kills >= KILLS and acked > 0
    assert all(report["blocks_checked"] > 0 for report in reports)
    print(f"crash-under-load: {kills} kills in {rounds} rounds, {acked} acknowledged credentials")
