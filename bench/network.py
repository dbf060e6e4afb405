"""Network benchmark: real node processes on loopback, measured through their admin APIs.

Three figures, each against a target from issue 3:

- **latency**: one credential issued at a node (admin API, round-robin over the nodes) until its
  block is committed at *every* node, seen on each node's ``/v1/stream`` ``block`` events
  (p50 <= 250 ms, p99 <= 1 s);
- **throughput**: concurrent issuers sending batches (``/v1/credentials/batch``, as an agency's
  case system would) for ``--duration`` seconds, spread over every node; events per
  second acknowledged, and events per second committed at all nodes (>= 5,000 events/s);
- **catch-up**: a node prefilled offline with ``--catchup-events`` events, then a fresh node
  started; events per second from the fresh node's start until its head matches (>= 10,000/s).
  The result's ``mode`` says how the fresh node caught up: ``replay`` (every block, the only
  mode nodes have today).

Prints JSON (and a short table unless ``--json``); ``--smoke`` runs 3 nodes and a few events.

    python -m bench.network            # 5 nodes, full sizes (a few minutes)
    python -m bench.network --smoke
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.report import emit
from tests.integration.cluster import Cluster, NodeProcess, cid_for, wait_until

TARGETS = {
    "latency_p50_ms": 250.0,
    "latency_p99_ms": 1000.0,
    "throughput_events_per_s": 5000.0,
    "catchup_events_per_s": 10000.0,
}
PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)
MAX_KEPT_SAMPLES = 1000
"""Latency samples kept in the JSON, in issue order (for the distribution's figure)."""
CATCHUP_MODE = "replay"
"""How the fresh node catches up: by replaying every block. A snapshot join, when nodes have
one, is measured as a second catch-up result with its own ``mode``."""


@dataclass(frozen=True)
class Sizes:
    nodes: int
    latency_samples: int
    duration_s: float
    issuers: int
    batch: int
    """Credentials per request (``/v1/credentials/batch``), as an agency's systems send them."""
    catchup_events: int


FULL = Sizes(
    nodes=5, latency_samples=100, duration_s=20.0, issuers=20, batch=250, catchup_events=200_000
)
SMOKE = Sizes(nodes=3, latency_samples=5, duration_s=2.0, issuers=3, batch=20, catchup_events=2_000)


# ------------------------------------------------------------------------- commit watching
class CommitWatch:
    """Follows ``/v1/stream`` of every node; records when each ``(agency, height)`` committed."""

    def __init__(self, nodes: Sequence[NodeProcess]) -> None:
        self._seen: list[dict[tuple[str, int], float]] = [{} for _ in nodes]
        self._cond = threading.Condition()
        self._stop = False
        self._ready = threading.Barrier(len(nodes) + 1)
        self._threads = [
            threading.Thread(target=self._follow, args=(i, n), daemon=True)
            for i, n in enumerate(nodes)
        ]
        for thread in self._threads:
            thread.start()
        self._ready.wait(timeout=30)

    def _follow(self, index: int, node: NodeProcess) -> None:
        with node.client() as client, client.stream("GET", "/v1/stream", timeout=None) as resp:
            event = ""
            first = True
            for line in resp.iter_lines():
                if self._stop:
                    return
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    if first:  # the stream opens with a status event: subscribed from here on
                        first = False
                        self._ready.wait(timeout=30)
                    if event == "block":
                        self._record(index, json.loads(line[6:]))

    def _record(self, index: int, block: dict[str, Any]) -> None:
        now = time.monotonic()
        with self._cond:
            self._seen[index].setdefault((block["agency_id"], block["height"]), now)
            self._cond.notify_all()

    def committed_everywhere(self, agency: str, height: int, timeout: float) -> float:
        """Wait until every node committed the block; the latest node's commit time."""
        key = (agency, height)
        with self._cond:
            ok = self._cond.wait_for(lambda: all(key in s for s in self._seen), timeout)
            if not ok:
                raise TimeoutError(f"block {key} not committed everywhere in {timeout} s")
            return max(s[key] for s in self._seen)

    def close(self) -> None:
        self._stop = True


# ------------------------------------------------------------------------------ measuring
def issue(client: httpx.Client, schema: str) -> dict[str, Any]:
    response = client.post("/v1/credentials/issue", json=_issue_body(schema))
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def measure_latency(cluster: Cluster, schemas: list[str], samples: int) -> dict[str, Any]:
    watch = CommitWatch(cluster.nodes)
    latencies = []
    try:
        clients = [n.client() for n in cluster.nodes]
        for k in range(samples):
            i = k % len(cluster.nodes)
            node = cluster.nodes[i]
            started = time.monotonic()
            receipt = issue(clients[i], schemas[i])
            done = watch.committed_everywhere(node.agency_id, receipt["height"], 30)
            latencies.append((done - started) * 1000)
        for client in clients:
            client.close()
    finally:
        watch.close()
    return {
        "samples": samples,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1),
        "percentiles_ms": {f"p{q}": round(percentile(latencies, q), 1) for q in PERCENTILES},
        "samples_ms": [round(x, 1) for x in latencies[:MAX_KEPT_SAMPLES]],
    }


def measure_throughput(
    cluster: Cluster, schemas: list[str], duration: float, issuers: int, batch: int
) -> dict[str, Any]:
    """``issuers`` concurrent batch requests in flight (asyncio), spread over the nodes."""
    nodes = cluster.nodes
    before = {n.agency_id: n.heads()[n.agency_id]["height"] for n in nodes}
    started = time.monotonic()
    acknowledged, failed, dropped = asyncio.run(
        _issue_for(nodes, schemas, duration, issuers, batch)
    )
    acked_at = time.monotonic()
    targets = {n.agency_id: n.heads()[n.agency_id]["height"] for n in nodes}
    wait_until(
        lambda: all(n.heads()[a]["height"] >= h for n in nodes for a, h in targets.items()),
        300,
        "every node to commit every block of the run",
        every=0.05,
    )
    everywhere_at = time.monotonic()
    return {
        "issuers": issuers,
        "events_per_request": batch,
        "duration_s": round(acked_at - started, 2),
        "events": acknowledged,
        "refused": failed,
        "connections_dropped": dropped,
        "nodes_alive": sum(n.running for n in nodes),
        "blocks": sum(targets[a] - before[a] for a in targets),
        "acknowledged_events_per_s": round(acknowledged / (acked_at - started), 1),
        "events_per_s": round(acknowledged / (everywhere_at - started), 1),
        "drain_after_issuers_s": round(everywhere_at - acked_at, 2),
    }


async def _issue_for(
    nodes: Sequence[NodeProcess], schemas: list[str], duration: float, issuers: int, batch: int
) -> tuple[int, int, int]:
    deadline = time.monotonic() + duration
    counts = [0, 0, 0]  # acknowledged, refused (e.g. 503: producer queue full), dropped
    limits = httpx.Limits(max_connections=issuers, max_keepalive_connections=issuers)
    clients = [
        httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(n.socket), limits=limits),
            base_url="http://calpe",
            timeout=60,
        )
        for n in nodes
    ]

    async def worker(index: int) -> None:
        i = index % len(nodes)
        while time.monotonic() < deadline:
            try:
                response = await clients[i].post(
                    "/v1/credentials/batch", json=_batch_body(schemas[i], batch)
                )
            except httpx.TransportError:  # counted: the server dropped the connection
                counts[2] += 1
                await asyncio.sleep(0.05)
                continue
            if response.status_code == 200:
                counts[0] += batch
            else:
                counts[1] += batch

    try:
        await asyncio.gather(*(worker(k) for k in range(issuers)))
    finally:
        for client in clients:
            await client.aclose()
    return counts[0], counts[1], counts[2]


def _batch_body(schema: str, size: int) -> dict[str, Any]:
    operations = []
    for _ in range(size):
        op = _issue_body(schema)
        del op["request_id"]
        operations.append({"op": "issue", **op})
    return {"request_id": str(uuid.uuid4()), "operations": operations}


def _issue_body(schema: str) -> dict[str, Any]:
    return {
        "request_id": str(uuid.uuid4()),
        "credential_id": cid_for(f"bench/{uuid.uuid4()}"),
        "schema_id": schema,
        "valid_from_s": 1_700_000_000,
        "valid_until_s": 2_000_000_000,
    }


def measure_catchup(root: Path, events: int) -> dict[str, Any]:
    cluster = Cluster(root, 2)
    try:
        started = time.monotonic()
        cluster.prefill(0, events)
        prefill_s = time.monotonic() - started
        source, fresh = cluster.nodes
        source.start()
        target = source.heads()[source.agency_id]
        started = time.monotonic()
        fresh.start()
        answered = time.monotonic()
        wait_until(
            lambda: fresh.heads()[source.agency_id]["height"] == target["height"],
            600,
            "the fresh node to catch up",
            every=0.05,
        )
        elapsed = time.monotonic() - started
        matched = fresh.heads()[source.agency_id]["state_root"] == target["state_root"]
    finally:
        cluster.stop()
    return {
        "mode": CATCHUP_MODE,
        "events": events,
        "blocks": target["height"],
        "prefill_s": round(prefill_s, 2),
        "process_start_s": round(answered - started, 2),
        "seconds": round(elapsed, 2),
        "events_per_s": round(events / elapsed, 1),
        "state_root_matches": matched,
    }


# --------------------------------------------------------------------------------- report
def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kb = 0
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def verdicts(result: dict[str, Any]) -> dict[str, bool]:
    return {
        "latency_p50_ms": result["latency"]["p50_ms"] <= TARGETS["latency_p50_ms"],
        "latency_p99_ms": result["latency"]["p99_ms"] <= TARGETS["latency_p99_ms"],
        "throughput_events_per_s": result["throughput"]["events_per_s"]
        >= TARGETS["throughput_events_per_s"],
        "catchup_events_per_s": result["catchup"]["events_per_s"]
        >= TARGETS["catchup_events_per_s"],
    }


def table(result: dict[str, Any]) -> str:
    met = result["targets_met"]
    rows = [
        ("latency p50 (ms)", result["latency"]["p50_ms"], "<= 250", met["latency_p50_ms"]),
        ("latency p99 (ms)", result["latency"]["p99_ms"], "<= 1000", met["latency_p99_ms"]),
        (
            "throughput (events/s, all nodes)",
            result["throughput"]["events_per_s"],
            ">= 5000",
            met["throughput_events_per_s"],
        ),
        (
            "catch-up (events/s)",
            result["catchup"]["events_per_s"],
            ">= 10000",
            met["catchup_events_per_s"],
        ),
    ]
    lines = [f"{'figure':<34}{'value':>12}  {'target':<9}met"]
    lines += [
        f"{name:<34}{value:>12}  {target:<9}{'yes' if ok else 'NO'}"
        for name, value, target, ok in rows
    ]
    return "\n".join(lines)


def run(sizes: Sizes, root: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "network", "sizes": sizes.__dict__, "machine": machine()}
    cluster = Cluster(root / "mesh", sizes.nodes)
    try:
        cluster.start()
        schemas = [n.publish_schema() for n in cluster.nodes]
        wait_until(cluster.converged, 60, "the mesh to converge on the schemas")
        result["latency"] = measure_latency(cluster, schemas, sizes.latency_samples)
        result["throughput"] = measure_throughput(
            cluster, schemas, sizes.duration_s, sizes.issuers, sizes.batch
        )
    finally:
        cluster.stop()
    result["catchup"] = measure_catchup(root / "catchup", sizes.catchup_events)
    result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = TARGETS
    result["targets_met"] = verdicts(result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.network", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="3 nodes, a few events (CI)")
    parser.add_argument("--json", action="store_true", help="print only JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else FULL
    with tempfile.TemporaryDirectory(prefix="calpe-bench-network-") as tmp:
        result = run(sizes, Path(tmp))
    emit(result, args.out, None if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
