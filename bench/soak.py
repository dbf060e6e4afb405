"""Soak: three node processes under steady issuing load; RSS and open fds over time, as JSON.

``python -m bench.soak --minutes 30`` starts a devnet of three ``calpe node run`` processes on
loopback, issues credentials to every node through its admin API without pause, and every
``--interval`` seconds samples each node's resident memory and open file descriptors from
``/proc``. It prints the series and, per node, the least-squares slope after a warm-up (the first
fifth of the run): a leak shows as a slope that stays positive as the run gets longer. At the end
it checks the three nodes converged. ``--smoke`` runs for ~20 s (CI checks the command works).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.faults.load import Issuer
from tests.faults.nodes import in_parallel
from tests.integration.cluster import Cluster, NodeProcess, wait_until

WARM_UP_FRACTION = 0.2


def sample(pid: int) -> tuple[float, int]:
    """``(rss_mib, open_fds)`` of process ``pid``."""
    return memory_mib(pid)["VmRSS"], open_fds(pid)


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def memory_mib(pid: int) -> dict[str, float]:
    """``VmRSS`` and its parts ``RssAnon`` (the process's own memory) and ``RssFile`` (mapped
    files) of process ``pid``, in MiB, from ``/proc/PID/status``."""
    found = dict.fromkeys(("VmRSS", "RssAnon", "RssFile"), 0.0)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in found:
            found[name] = int(value.split()[0]) / 1024
    return found


def slope_per_minute(times_s: list[float], values: list[float]) -> float | None:
    """Least-squares slope of ``values`` against time, per minute (None under 3 points)."""
    n = len(times_s)
    if n < 3:
        return None
    mean_t, mean_v = sum(times_s) / n, sum(values) / n
    var = sum((t - mean_t) ** 2 for t in times_s)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in zip(times_s, values, strict=True))
    return cov / var * 60


def _summary(series: dict[str, list[list[float]]], duration_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for agency, points in series.items():
        kept = [p for p in points if p[0] >= duration_s * WARM_UP_FRACTION]
        times = [p[0] for p in kept]
        rss_slope = slope_per_minute(times, [p[1] for p in kept])
        fd_slope = slope_per_minute(times, [p[2] for p in kept])
        out[agency] = {
            "rss_mib_first": points[0][1] if points else None,
            "rss_mib_last": points[-1][1] if points else None,
            "rss_mib_max": max((p[1] for p in points), default=None),
            "fds_first": points[0][2] if points else None,
            "fds_last": points[-1][2] if points else None,
            "fds_max": max((p[2] for p in points), default=None),
            "rss_slope_mib_per_min": None if rss_slope is None else round(rss_slope, 3),
            "fd_slope_per_min": None if fd_slope is None else round(fd_slope, 3),
        }
    return out


def soak(root: Path, duration_s: float, interval_s: float, threads: int) -> dict[str, Any]:
    cluster = Cluster(root, 3)
    issuers: list[Issuer] = []
    try:
        in_parallel(cluster.nodes, NodeProcess.start)
        for node in cluster.nodes:
            issuers.append(Issuer(node, node.publish_schema(), f"soak/{node.agency_id}", threads))
        series: dict[str, list[list[float]]] = {n.agency_id: [] for n in cluster.nodes}
        for issuer in issuers:
            issuer.start()
        started = time.monotonic()
        stop = threading.Event()
        while (elapsed := time.monotonic() - started) < duration_s:
            for node in cluster.nodes:
                assert node.process is not None and node.running, f"{node.agency_id} died"
                rss, fds = sample(node.process.pid)
                series[node.agency_id].append([round(elapsed, 1), round(rss, 2), fds])
            stop.wait(min(interval_s, max(0.0, duration_s - elapsed)))
        for issuer in issuers:
            issuer.stop()
        elapsed = time.monotonic() - started
        wait_until(cluster.converged, 120, "the nodes to converge after the soak", every=0.5)
        acked = sum(len(i.counts.acked) for i in issuers)
        return {
            "benchmark": "soak",
            "nodes": len(cluster.nodes),
            "duration_s": round(elapsed, 1),
            "interval_s": interval_s,
            "threads_per_node": threads,
            "acknowledged": acked,
            "events_per_s": round(acked / elapsed, 1),
            "refused": sum(i.counts.refused for i in issuers),
            "unanswered": sum(i.counts.failed for i in issuers),
            "converged": True,
            "warm_up_s": round(duration_s * WARM_UP_FRACTION, 1),
            "summary": _summary(series, duration_s),
            "series": {"columns": ["t_s", "rss_mib", "fds"], **series},
        }
    finally:
        for issuer in issuers:
            issuer.stop()
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--threads", type=int, default=2, help="issuing threads per node")
    parser.add_argument("--smoke", action="store_true", help="~20 s, sampling every second")
    parser.add_argument("--json", action="store_true", help="accepted for calpe bench")
    args = parser.parse_args(argv)
    duration, interval = (20.0, 1.0) if args.smoke else (args.minutes * 60, args.interval)
    with tempfile.TemporaryDirectory(prefix="calpe-soak-") as tmp:
        result = soak(Path(tmp), duration, interval, args.threads)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
