"""Snapshot join vs full replay with real node processes (``bench.snapshot_join --mode nodes``).

Three ``calpe node run`` processes anchor on anvil (behind the RSK-strict proxy). Agency 0's
ledger of N credentials is authored offline before they start, and copied to the others (a
ledger is the same bytes on every node of a network), so they agree at once and anchor a
checkpoint covering it. Then agency 2's server is replaced twice by a fresh one with an empty data
directory, timed from process start until its admin API answers a read of the last credential:
once with ``--snapshot-join``, once without (full replay through block sync).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from node.config import load_config
from tests.integration.cluster import REPO, Cluster, NodeProcess, anchored_chain, wait_until

BRIDGE = {"confirmations": 3, "poll_interval_s": 0.3, "relay_delay_s": 20.0, "stuck_after_s": 20.0}
PREFILL_BLOCK = 500


def measure_nodes(credentials: int, root: Path) -> dict[str, Any]:
    cluster = Cluster(root, 3, checkpoint_interval_s=5)
    started = time.monotonic()
    cluster.prefill(0, credentials, PREFILL_BLOCK)
    data = [load_config(n.config).node.data_dir for n in cluster.nodes]
    for target in data[1:]:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(data[0], target)
    prefill_s = time.monotonic() - started
    probe = _probe(cluster, credentials)
    with anchored_chain(cluster.configs, cluster.genesis, BRIDGE):
        try:
            cluster.start()
            wait_until(lambda: _confirmed(cluster.nodes[0]), 180, "a confirmed checkpoint", 0.5)
            fresh = cluster.nodes[2]
            snapshot = _replace(fresh, data[2], probe, ["--snapshot-join"])
            replay = _replace(fresh, data[2], probe, [])
        finally:
            for node in cluster.nodes:
                if node.running:
                    node.kill()
    return {
        "prefill_s": round(prefill_s, 1),
        "snapshot": snapshot,
        "replay": replay,
    }


def _probe(cluster: Cluster, credentials: int) -> str:
    agency = cluster.nodes[0].agency_id
    last = hashlib.sha256(f"{agency}/prefill/{credentials - 1}".encode()).hexdigest()
    return f"/v1/credentials/{agency}/{last}"


def _confirmed(node: NodeProcess) -> bool:
    records = node.get("/v1/checkpoints", limit=20)["checkpoints"]
    return any(r["state"] == "confirmed" for r in records)


def _replace(node: NodeProcess, data_dir: Path, probe: str, flags: list[str]) -> dict[str, Any]:
    """Stop the node, empty its data directory, start it with ``flags``; time the first read."""
    if node.running:
        node.stop()
    shutil.rmtree(data_dir, ignore_errors=True)
    command = [sys.executable, "-m", "node.cli", "node", "run", "--config", str(node.config)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = time.monotonic()
    with node.log_path.open("ab") as log:
        node.process = subprocess.Popen(
            [*command, *flags], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO
        )
    api_s = wait_until(lambda: _answers(node) and time.monotonic() - started, 3600, "the API")
    reads_s = wait_until(lambda: _reads(node, probe) and time.monotonic() - started, 3600, "a read")
    return {"api_s": round(api_s, 2), "serves_reads_s": round(reads_s, 2)}


def _answers(node: NodeProcess) -> bool:
    try:
        return bool(node._answers())
    except (httpx.HTTPError, OSError):
        return False


def _reads(node: NodeProcess, probe: str) -> bool:
    with node.client() as client:
        return client.get(probe).status_code == 200
