"""Resources benchmark: one node process's memory and disk as its ledger grows. Prints JSON.

Starts ONE real node (``calpe node run``, a one-agency network, as the integration cluster starts
its nodes), anchored as a node in service is: checkpoints every ``CHECKPOINT_INTERVAL_S`` on a local
anvil chain behind the RSK-strict proxy, so each confirmed checkpoint prunes the history below it
(``--no-anchor``: no chain, nothing pruned). It feeds it ``--events`` credential issuances through
its admin API, the way an agency's case system would: ``--clients`` concurrent clients, each sending
``/v1/credentials/batch`` requests of ``--batch`` (<= 500) operations. Every ``--interval`` seconds
it samples the node process's resident memory (``VmRSS``) and open file descriptors from ``/proc``,
and the size of its data directory (apparent bytes, as LevelDB left it: not compacted). Reports,
against targets:

- **RSS**: maximum over the run and at the end (<= 300 MiB);
- **disk**: bytes per event when the load stops, and *settled* (<= 400): once the first checkpoint
  cut after the load is confirmed, which prunes the history of the last intervals, and the
  directory's size holds still (as LevelDB left it, not compacted: a node fed 1M events in two
  minutes holds ~20 s of that history when the load stops, one fed over days a few seconds of
  it); also after a full LevelDB compaction of the stopped node's database (the figure
  ``bench.ingest`` reports);
- **events/s** acknowledged, and the whole series for plotting.

Progress goes to stderr at each sample (the full run takes minutes). ``--smoke``: a few thousand.

    python -m bench.resources                 # 1,000,000 events
    python -m bench.resources --smoke --json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import plyvel

from bench.network import machine
from bench.report import emit
from bench.soak import memory_mib, open_fds
from node.config import load_config
from node.devnet import create_local_network
from tests.integration.cluster import NodeProcess, anchored_chain, free_port

AGENCY = "gi.resources"
TARGETS = {"rss_mib_max": 300.0, "disk_bytes_per_event": 400.0}
SERIES_COLUMNS = ["t_s", "events", "rss_mib", "disk_bytes", "fds", "anon_mib", "file_mib"]
"""``anon_mib``: the process's own memory (heap, LevelDB's memtables and cache); ``file_mib``: file
pages mapped into it, mostly LevelDB's table files (it maps every open table; the kernel's page
cache, shared and reclaimable). ``rss_mib`` is their sum (and shared memory, ~0 here)."""
CHECKPOINT_INTERVAL_S = 10
BRIDGE = {"confirmations": 2, "poll_interval_s": 0.5}
"""A checkpoint counts as anchored two 1-second anvil blocks after its transaction."""
SETTLE_TIMEOUT_S = 6 * CHECKPOINT_INTERVAL_S
"""Longest wait for a checkpoint cut after the load to be confirmed (then its pruning)."""
RETRY_PAUSE_S = 0.2
"""Back-off after a refusal (503: the producer's queue is full) before resending the batch."""


@dataclass(frozen=True)
class Sizes:
    events: int
    """Credentials to issue in all."""
    batch: int
    """Operations per ``/v1/credentials/batch`` request (the API takes at most 500)."""
    clients: int
    """Concurrent clients, each with one request in flight."""
    interval_s: float
    """Seconds between samples of RSS and disk."""


FULL = Sizes(events=1_000_000, batch=500, clients=4, interval_s=2.0)
SMOKE = Sizes(events=5_000, batch=250, clients=2, interval_s=0.1)


@dataclass
class Counts:
    acked: int = 0
    refused: int = 0
    """Batches refused (503) and resent."""
    dropped: int = 0
    """Requests whose connection failed (resent)."""


@dataclass
class Sampler:
    """Samples one process and one directory; keeps the series, reports progress on stderr."""

    pid: int
    data_dir: Path
    target: int
    started: float = field(default_factory=time.monotonic)
    rows: list[list[float]] = field(default_factory=list)

    def sample(self, events: int) -> None:
        memory = memory_mib(self.pid)
        rss, anon, mapped = memory["VmRSS"], memory["RssAnon"], memory["RssFile"]
        fds = open_fds(self.pid)
        disk = dir_bytes(self.data_dir)
        elapsed = time.monotonic() - self.started
        self.rows.append(
            [round(elapsed, 2), events, round(rss, 2), disk, fds, round(anon, 2), round(mapped, 2)]
        )
        rate = events / elapsed if elapsed > 0 else 0.0
        per_event = f"{disk / events:,.0f} B/event" if events else "-"
        print(
            f"resources: {events:,}/{self.target:,} events  {rate:,.0f}/s  RSS {rss:,.1f} MiB "
            f"(anon {anon:,.1f}, file {mapped:,.1f})  "
            f"disk {disk / 1e6:,.1f} MB ({per_event})  fds {fds}",
            file=sys.stderr,
            flush=True,
        )


def dir_bytes(path: Path) -> int:
    """Apparent size of the files under ``path``; files LevelDB deletes meanwhile count 0."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def start_node(
    root: Path, stack: contextlib.ExitStack, *, anchor: bool
) -> tuple[NodeProcess, Path]:
    """A one-agency network (quorum 1) under ``root``, anchored on an anvil chain that ``stack``
    keeps running if ``anchor``; its node started; ``(node, data_dir)``."""
    port = free_port()
    made = create_local_network(
        root,
        [(AGENCY, "Resources bench")],
        quorum=1,
        checkpoint_interval_s=CHECKPOINT_INTERVAL_S,
        base_port=port,
        scrypt_n=2**10,
    )
    if anchor:
        stack.enter_context(anchored_chain(made.configs, made.genesis, BRIDGE, block_time=1.0))
    node = NodeProcess(AGENCY, made.configs[AGENCY], port)
    node.start()
    return node, load_config(node.config).node.data_dir


# ------------------------------------------------------------------------------ load
def batch_body(schema: str, first: int, count: int) -> bytes:
    """A batch of ``count`` issuances with deterministic, distinct credential ids."""
    operations = [
        {
            "op": "issue",
            "credential_id": hashlib.sha256(f"resources/{i}".encode()).hexdigest(),
            "schema_id": schema,
            "valid_from_s": 1_700_000_000,
            "valid_until_s": 2_000_000_000,
        }
        for i in range(first, first + count)
    ]
    return json.dumps({"request_id": str(uuid.uuid4()), "operations": operations}).encode()


async def feed(node: NodeProcess, schema: str, sizes: Sizes, sampler: Sampler) -> Counts:
    """Issue ``sizes.events`` credentials with ``sizes.clients`` concurrent clients, sampling."""
    counts = Counts()
    next_first = 0
    done = asyncio.Event()
    limits = httpx.Limits(max_connections=sizes.clients, max_keepalive_connections=sizes.clients)
    transport = httpx.AsyncHTTPTransport(uds=str(node.socket), limits=limits)
    headers = {"content-type": "application/json"}

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal next_first
        while next_first < sizes.events:
            first, count = next_first, min(sizes.batch, sizes.events - next_first)
            next_first += count
            body = batch_body(schema, first, count)
            while not await _send(client, body, headers, counts):
                await asyncio.sleep(RETRY_PAUSE_S)
            counts.acked += count

    async def sample_loop() -> None:
        while not done.is_set():
            sampler.sample(counts.acked)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), sizes.interval_s)

    async with httpx.AsyncClient(transport=transport, base_url="http://calpe", timeout=120) as c:
        sampling = asyncio.create_task(sample_loop())
        try:
            await asyncio.gather(*(client_loop(c) for _ in range(sizes.clients)))
        finally:
            done.set()
            await sampling
    return counts


async def _send(
    client: httpx.AsyncClient, body: bytes, headers: dict[str, str], counts: Counts
) -> bool:
    """POST one batch: True once committed, False to resend; raises on a refusal to accept it."""
    try:
        response = await client.post("/v1/credentials/batch", content=body, headers=headers)
    except httpx.TransportError:
        counts.dropped += 1
        return False
    if response.status_code == 503:
        counts.refused += 1
        return False
    if response.status_code != 200:
        raise RuntimeError(f"batch refused: {response.status_code} {response.text[:500]}")
    return True


# ------------------------------------------------------------------------------ report
def compacted_bytes(data_dir: Path) -> int:
    """Size of the (stopped) node's database after a full LevelDB compaction."""
    db = plyvel.DB(str(data_dir))
    try:
        db.compact_range()
    finally:
        db.close()
    return dir_bytes(data_dir)


def settle(
    node: NodeProcess, sampler: Sampler, events: int, loaded_ms: int, sizes: Sizes
) -> float | None:
    """Seconds until a checkpoint cut after ``loaded_ms`` is confirmed (pruning the history
    before it) and the data directory's size then holds within 1% from one sample to the next
    (LevelDB's compactions have caught up); ``None`` if not within :data:`SETTLE_TIMEOUT_S`."""
    start = time.monotonic()
    confirmed = False
    while time.monotonic() - start < SETTLE_TIMEOUT_S:
        time.sleep(sizes.interval_s)
        was_confirmed = confirmed
        if not confirmed:
            recent = node.get("/v1/checkpoints", limit=8)["checkpoints"]
            confirmed = any(
                c["state"] == "confirmed" and c["timestamp_ms"] > loaded_ms for c in recent
            )
        sampler.sample(events)  # after the check: a confirmation seen has pruned by now
        before, now = sampler.rows[-2][3], sampler.rows[-1][3]
        if was_confirmed and abs(now - before) <= 0.01 * now:
            return round(time.monotonic() - start, 1)
    return None


def _per(size: float, events: int) -> float:
    return round(size / events, 1)


def summary(rows: list[list[float]], events: int, seconds: float) -> dict[str, Any]:
    rss = [row[2] for row in rows]
    return {
        "events": events,
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds, 1),
        "rss_mib": {"start": rss[0], "max": max(rss), "end": rss[-1]},
        "rss_anon_mib": {"max": max(row[5] for row in rows), "end": rows[-1][5]},
        "rss_file_mib": {"max": max(row[6] for row in rows), "end": rows[-1][6]},
        "fds": {"start": rows[0][4], "max": max(row[4] for row in rows), "end": rows[-1][4]},
    }


def verdicts(result: dict[str, Any]) -> dict[str, bool]:
    disk = result["disk"]
    return {
        "rss_mib_max": result["rss_mib"]["max"] <= TARGETS["rss_mib_max"],
        "disk_bytes_per_event": disk.get("bytes_per_event_settled", disk["bytes_per_event_end"])
        <= TARGETS["disk_bytes_per_event"],
    }


def run(sizes: Sizes, root: Path, compact: bool = True, anchor: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "resources",
        "sizes": asdict(sizes),
        "machine": machine(),
    }
    with contextlib.ExitStack() as stack:
        node, data_dir = start_node(root, stack, anchor=anchor)
        try:
            schema = node.publish_schema()
            assert node.process is not None
            sampler = Sampler(node.process.pid, data_dir, sizes.events)
            counts = asyncio.run(feed(node, schema, sizes, sampler))
            seconds = time.monotonic() - sampler.started
            loaded_ms = int(time.time() * 1000)
            sampler.sample(counts.acked)
            disk_loaded = sampler.rows[-1][3]
            settle_s = settle(node, sampler, counts.acked, loaded_ms, sizes) if anchor else None
            blocks = node.heads()[AGENCY]["height"]
            checkpoints = node.get("/v1/checkpoints", limit=500)["checkpoints"]
        finally:
            if node.running:
                node.stop()
    result.update(summary(sampler.rows, counts.acked, seconds))
    events = counts.acked
    result["disk"] = {"bytes_end": disk_loaded, "bytes_per_event_end": _per(disk_loaded, events)}
    if settle_s is not None:
        settled = int(sampler.rows[-1][3])
        result["disk"].update(
            bytes_settled=settled, bytes_per_event_settled=_per(settled, events), settle_s=settle_s
        )
    result.update(blocks=blocks, refused_batches=counts.refused, dropped_requests=counts.dropped)
    result["anchoring"] = anchoring_summary(checkpoints, anchor=anchor)
    if compact:
        size = compacted_bytes(data_dir)
        result["disk"].update(bytes_compacted=size, bytes_per_event_compacted=_per(size, events))
    result["series"] = {"columns": SERIES_COLUMNS, "rows": sampler.rows}
    result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = TARGETS
    result["targets_met"] = verdicts(result)
    return result


def anchoring_summary(checkpoints: list[dict[str, Any]], *, anchor: bool) -> dict[str, Any]:
    """How many checkpoints were cut and confirmed on the chain (each confirmed one prunes)."""
    confirmed = [c for c in checkpoints if c["state"] == "confirmed"]
    return {
        "anchored": anchor,
        "checkpoint_interval_s": CHECKPOINT_INTERVAL_S,
        "checkpoints": len(checkpoints),
        "confirmed": len(confirmed),
        "newest_confirmed_epoch": max((c["epoch"] for c in confirmed), default=None),
    }


def table(result: dict[str, Any]) -> str:
    met = result["targets_met"]
    rows = [
        ("RSS max (MiB)", result["rss_mib"]["max"], "<= 300", met["rss_mib_max"]),
        ("RSS at end (MiB)", result["rss_mib"]["end"], "", None),
        ("  anonymous, max", result["rss_anon_mib"]["max"], "", None),
        ("  mapped files, max", result["rss_file_mib"]["max"], "", None),
        ("disk bytes/event at end", result["disk"]["bytes_per_event_end"], "", None),
        (
            "  settled",
            result["disk"].get("bytes_per_event_settled", "-"),
            "<= 400",
            met["disk_bytes_per_event"],
        ),
        ("  after compaction", result["disk"].get("bytes_per_event_compacted", "-"), "", None),
        ("events/s", result["events_per_s"], "", None),
        ("checkpoints confirmed", result["anchoring"]["confirmed"], "", None),
    ]
    lines = [f"{'figure':<28}{'value':>12}  {'target':<9}met"]
    for name, value, target, ok in rows:
        verdict = "" if ok is None else ("yes" if ok else "NO")
        lines.append(f"{name:<28}{value:>12}  {target:<9}{verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.resources", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=FULL.events)
    parser.add_argument("--batch", type=int, default=FULL.batch, help="operations per request")
    parser.add_argument("--clients", type=int, default=FULL.clients)
    parser.add_argument("--interval", type=float, default=FULL.interval_s, help="seconds")
    parser.add_argument("--no-compact", action="store_true", help="skip the compacted figure")
    parser.add_argument(
        "--no-anchor", action="store_true", help="no chain: checkpoints never prune the history"
    )
    parser.add_argument("--smoke", action="store_true", help="a few thousand events (CI)")
    parser.add_argument("--json", action="store_true", help="print only JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    sizes = SMOKE if args.smoke else Sizes(args.events, args.batch, args.clients, args.interval)
    if not 1 <= sizes.batch <= 500 or sizes.events < 1 or sizes.clients < 1:
        parser.error("need --events >= 1, 1 <= --batch <= 500 and --clients >= 1")
    with tempfile.TemporaryDirectory(prefix="calpe-bench-resources-") as tmp:
        result = run(sizes, Path(tmp), compact=not args.no_compact, anchor=not args.no_anchor)
    emit(result, args.out, None if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
