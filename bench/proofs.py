"""Sparse-Merkle and Merkle-log proof costs at ledger scale; prints one JSON object.

Usage: ``python -m bench.proofs [--keys 1000000] [--batch 500] [--batches 20]``.
Builds an in-memory SMT of ``--keys`` random keys (and times the from-scratch reference root, as
``db verify`` would compute it), then times batched updates (half new keys,
half updates of existing ones), proof generation, proof verification and proof size. The writes
per batch stand in for hashes: every written node costs exactly one SHA-256.
``smt_proofs_by_size`` repeats the proof figures in smaller trees (1k, 10k, 100k keys), so that
proof cost can be read (and plotted, ``bench.plots``) against ledger size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from node.core import merkle_log, smt
from node.core.hashing import ZERO_HASH

SCALING_SIZES = (1_000, 10_000, 100_000)
"""Smaller trees whose proof cost ``smt_proofs_by_size`` reports next to the main tree's."""


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _build(n: int) -> tuple[smt.InMemoryNodeStore, bytes, list[bytes], float]:
    store = smt.InMemoryNodeStore()
    keys = [os.urandom(32) for _ in range(n)]
    seconds, result = _timed(lambda: smt.apply_batch(store, ZERO_HASH, {k: k for k in keys}))
    store.apply(result.writes)
    return store, result.root, keys, seconds


def _bench_batches(
    store: smt.InMemoryNodeStore, root: bytes, keys: list[bytes], size: int, count: int
) -> tuple[bytes, dict[str, Any]]:
    times, writes = [], []
    for _ in range(count):
        fresh = [os.urandom(32) for _ in range(size // 2)]
        updates = {k: os.urandom(32) for k in fresh}
        updates.update({k: os.urandom(32) for k in random.sample(keys, size - size // 2)})
        start = time.perf_counter()
        result = smt.apply_batch(store, root, updates)
        seconds = time.perf_counter() - start
        store.apply(result.writes)
        root = result.root
        keys.extend(fresh)
        times.append(seconds)
        writes.append(len(result.writes))
    median = statistics.median(times)
    n = len(keys)
    return root, {
        "batch_size": size,
        "batches": count,
        "median_seconds": round(median, 5),
        "per_event_us": round(median / size * 1e6, 2),
        "events_per_second": round(size / median),
        "median_node_writes": statistics.median(writes),
        "brief_estimate_hashes": round(size * (math.log2(n) - math.log2(size)) + size),
    }


def _bench_proofs(
    store: smt.InMemoryNodeStore, root: bytes, keys: list[bytes], count: int
) -> dict[str, Any]:
    count = min(count, len(keys))
    present = random.sample(keys, count)
    absent = [os.urandom(32) for _ in range(count)]
    gen_s, proofs = _timed(lambda: [smt.prove(store, k) for k in present])
    encoded = [p.to_bytes() for p in proofs]
    values = [smt.lookup(store, k) for k in present]

    def verify_all() -> None:
        for key, value, data in zip(present, values, encoded, strict=True):
            assert value is not None
            smt.verify_membership(root, key, value, smt.SmtProof.from_bytes(data))

    ver_s, _ = _timed(verify_all)
    absent_sizes = [len(smt.prove(store, k).to_bytes()) for k in absent]
    sizes = [len(e) for e in encoded]
    depths = [len(p.siblings) for p in proofs]
    return {
        "proofs": count,
        "prove_us": round(gen_s / count * 1e6, 2),
        "decode_and_verify_us": round(ver_s / count * 1e6, 2),
        "membership_bytes_mean": round(statistics.mean(sizes), 1),
        "membership_bytes_max": max(sizes),
        "non_membership_bytes_mean": round(statistics.mean(absent_sizes), 1),
        "depth_mean": round(statistics.mean(depths), 2),
        "depth_max": max(depths),
    }


def _smaller_trees(keys: int) -> list[dict[str, Any]]:
    """Proof cost in trees of the :data:`SCALING_SIZES` below ``keys`` keys, one after another."""
    rows = []
    for n in (s for s in SCALING_SIZES if s < keys):
        store, root, tree_keys, _ = _build(n)
        rows.append({"keys": n, **_bench_proofs(store, root, tree_keys, 2000)})
    return rows


def _bench_log(n: int) -> dict[str, Any]:
    leaves = [merkle_log.leaf_hash(os.urandom(64)) for _ in range(n)]
    nodes: dict[tuple[int, int], bytes] = {}
    rng = merkle_log.CompactRange()

    def append_all() -> merkle_log.CompactRange:
        current = rng
        for leaf in leaves:
            current, created = current.append(leaf)
            for level, index, digest in created:
                nodes[level, index] = digest
        return current

    append_s, final = _timed(append_all)
    get = nodes.__getitem__

    def get_node(level: int, index: int) -> bytes:
        return get((level, index))

    sample = random.sample(range(n), 1000)
    prove_s, proofs = _timed(lambda: [merkle_log.inclusion_proof(i, n, get_node) for i in sample])
    root = final.root()

    def verify_all() -> None:
        for i, proof in zip(sample, proofs, strict=True):
            merkle_log.verify_inclusion(leaves[i], i, n, proof, root)

    verify_s, _ = _timed(verify_all)
    return {
        "leaves": n,
        "append_us": round(append_s / n * 1e6, 2),
        "inclusion_prove_us": round(prove_s / 1000 * 1e6, 2),
        "inclusion_verify_us": round(verify_s / 1000 * 1e6, 2),
    }


def _bench_pymerkle(n: int) -> dict[str, Any]:
    """pymerkle's in-memory tree (RFC 9162 hashing) on the same work, in the same run."""
    from pymerkle import InmemoryTree

    data = [os.urandom(32) for _ in range(n)]
    tree = InmemoryTree(algorithm="sha256")
    append_s, _ = _timed(lambda: [tree.append_entry(d) for d in data])
    sample = random.sample(range(1, n + 1), min(1000, n))
    prove_s, _ = _timed(lambda: [tree.prove_inclusion(i) for i in sample])
    old_sizes = random.sample(range(1, n), min(200, n - 1))
    consistency_s, _ = _timed(lambda: [tree.prove_consistency(m, n) for m in old_sizes])
    ours = merkle_log.CompactRange()
    leaves = [merkle_log.leaf_hash(d) for d in data]
    ours_append_s, _ = _timed(lambda: ours.extend(leaves))
    get = merkle_log.nodes_from_leaves(leaves)
    ours_prove_s, _ = _timed(lambda: [merkle_log.inclusion_proof(i - 1, n, get) for i in sample])
    ours_cons_s, _ = _timed(lambda: [merkle_log.consistency_proof(m, n, get) for m in old_sizes])
    return {
        "leaves": n,
        "pymerkle_append_us": round(append_s / n * 1e6, 2),
        "pymerkle_inclusion_prove_us": round(prove_s / len(sample) * 1e6, 2),
        "pymerkle_consistency_prove_us": round(consistency_s / len(old_sizes) * 1e6, 2),
        "calpe_append_us": round(ours_append_s / n * 1e6, 2),
        "calpe_inclusion_prove_us": round(ours_prove_s / len(sample) * 1e6, 2),
        "calpe_consistency_prove_us": round(ours_cons_s / len(old_sizes) * 1e6, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="20,000 keys, for CI")
    parser.add_argument("--json", action="store_true", help="(output is always JSON)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.keys, args.batches = 20_000, 4
    random.seed(7)
    smaller = _smaller_trees(args.keys)  # before the main tree: never both in memory
    store, root, keys, build_s = _build(args.keys)
    reference_s, reference_root = _timed(lambda: smt.compute_root({k: k for k in keys}))
    assert reference_root == root
    root, batches = _bench_batches(store, root, keys, args.batch, args.batches)
    proofs = _bench_proofs(store, root, keys, 2000)
    report = {
        "smt_keys": args.keys,
        "smt_build_seconds": round(build_s, 2),
        "smt_reference_compute_root_seconds": round(reference_s, 2),
        "smt_stored_nodes": len(store.nodes),
        "smt_batch": batches,
        "smt_proofs": proofs,
        "smt_proofs_by_size": [*smaller, {"keys": len(keys), **proofs}],
        "merkle_log": _bench_log(10_000 if args.smoke else 100_000),
        "merkle_log_vs_pymerkle": _bench_pymerkle(2_000 if args.smoke else 20_000),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
