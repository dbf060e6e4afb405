"""Public verification cost and bundle size at ledger scale; prints one JSON object.

Usage: ``python -m bench.verify [--credentials 1000000] [--agencies 3] [--runs 300]``.
Builds one issuer's state tree of ``--credentials`` status records (``smt.apply_batch`` on an
``InMemoryNodeStore``), a cut of ``--agencies`` agencies and its checkpoint co-signed by every
agency's secp256k1 key, then times :func:`node.verify.evaluate` (parsing and every check: state
proof, cut path, signature recovery, the chain's facts; the RPC reads themselves excluded) and
reports the bundle's size as compact JSON and in the compact (CBOR) form. Targets: < 5 ms per
verification, < 2 KB per bundle at 1M credentials.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from typing import Any

from node.core import eip712, smt
from node.core.checkpoint import Checkpoint, Cut, CutLeaf
from node.core.hashing import ZERO_HASH
from node.core.status import Status, StatusRecord
from node.verify import ChainFacts, Outcome, Policy, evaluate, parse_bundle, to_compact
from node.verify.build import bundle_json, checkpoint_json

CHAIN_ID = 31
CONTRACT = eip712.to_checksum_address("0x" + "c0" * 20)
NETWORK_ID = hashlib.sha256(b"bench network").digest()
ISSUER = "gi.agency0"
NOW_S = 1_800_000_000
TARGET_MS = 5.0
TARGET_BYTES = 2048


def _record(i: int) -> StatusRecord:
    credential_id = hashlib.sha256(b"credential-%d" % i).digest()
    status = Status.REVOKED if i % 10 == 0 else Status.ACTIVE
    return StatusRecord(
        ISSUER, credential_id, b"\x5c" * 32, status, 1_700_000_000, 1_900_000_000, 1, 1
    )


def _tree(n: int) -> tuple[smt.InMemoryNodeStore, bytes, float]:
    store = smt.InMemoryNodeStore()
    start = time.perf_counter()
    updates = {r.credential_id: r.value_hash() for r in map(_record, range(n))}
    result = smt.apply_batch(store, ZERO_HASH, updates)
    store.apply(result.writes)
    return store, result.root, time.perf_counter() - start


def _keys(agencies: int) -> list[bytes]:
    return [hashlib.sha256(b"bench-signer-%d" % i).digest() for i in range(agencies)]


def _bundle(
    store: smt.InMemoryNodeStore, root: bytes, agencies: int, index: int | None
) -> tuple[dict[str, Any], ChainFacts]:
    """A bundle of credential ``index`` (None: a never-issued id) and the chain's facts."""
    record = None if index is None else _record(index)
    credential_id = hashlib.sha256(b"never").digest() if record is None else record.credential_id
    leaves = [
        CutLeaf(f"gi.agency{i}", 1000 + i, bytes([i + 1]) * 32, bytes([i + 2]) * 32, bytes(32))
        for i in range(agencies)
    ]
    leaves[0] = CutLeaf(ISSUER, 500_000, b"\x01" * 32, b"\x02" * 32, root)
    cut = Cut.of(leaves)
    checkpoint = Checkpoint(NETWORK_ID, 42, cut.root(), cut, 0, ZERO_HASH)
    digest = eip712.checkpoint_digest(CHAIN_ID, CONTRACT, NETWORK_ID, 42, cut.root())
    keys = _keys(agencies)
    signatures = {eip712.address_of(k): eip712.sign_digest(k, digest) for k in keys}
    doc = bundle_json(
        network="bench",
        network_id=NETWORK_ID,
        record=record,
        credential_id=credential_id,
        proof=smt.prove(store, credential_id),
        leaf=leaves[0],
        head_timestamp_ms=0,
        checkpoint=checkpoint_json(CHAIN_ID, CONTRACT, checkpoint, ISSUER, signatures),
    )
    facts = ChainFacts(
        chain_id=CHAIN_ID,
        contract=CONTRACT,
        network_id=NETWORK_ID,
        epoch=42,
        root=cut.root(),
        anchored_block=1_000,
        anchored_at_s=NOW_S - 600,
        head_block=1_100,
        latest_epoch=42,
        signers=frozenset(signatures),
        threshold=agencies // 2 + 1,
    )
    return doc, facts


def _time_verify(doc: dict[str, Any], facts: ChainFacts, runs: int) -> list[float]:
    text = json.dumps(doc)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        verdict = evaluate(parse_bundle(json.loads(text)), facts, now_s=NOW_S, policy=Policy())
        times.append(time.perf_counter() - start)
        if verdict.outcome is Outcome.INVALID:
            raise AssertionError(f"the benchmark's bundle does not verify: {verdict.message}")
    return times


def run(credentials: int, agencies: int, runs: int) -> dict[str, Any]:
    store, root, build_s = _tree(credentials)
    samples: list[float] = []
    json_sizes: list[int] = []
    compact_sizes: list[int] = []
    for index in [*range(1, 40, 4), 10, 20, None]:  # active, revoked, never issued
        doc, facts = _bundle(store, root, agencies, index)
        samples += _time_verify(doc, facts, max(1, runs // 13))
        json_sizes.append(len(json.dumps(doc, separators=(",", ":"))))
        compact_sizes.append(len(to_compact(parse_bundle(doc))))
    median_ms = statistics.median(samples) * 1000
    return {
        "benchmark": "verify",
        "credentials": credentials,
        "agencies": agencies,
        "tree_build_s": round(build_s, 2),
        "verify_ms": {
            "median": round(median_ms, 3),
            "p95": round(sorted(samples)[int(len(samples) * 0.95)] * 1000, 3),
            "runs": len(samples),
        },
        "bundle_bytes": {
            "json_median": int(statistics.median(json_sizes)),
            "json_max": max(json_sizes),
            "compact_median": int(statistics.median(compact_sizes)),
            "compact_max": max(compact_sizes),
        },
        "targets": {
            "verify_ms": TARGET_MS,
            "verify_ok": median_ms < TARGET_MS,
            "bundle_bytes": TARGET_BYTES,
            "compact_ok": max(compact_sizes) < TARGET_BYTES,
            "json_ok": max(json_sizes) < TARGET_BYTES,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.verify", description=__doc__)
    parser.add_argument("--credentials", type=int, default=1_000_000)
    parser.add_argument("--agencies", type=int, default=3)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes.")
    parser.add_argument("--json", action="store_true", help="Print only JSON (the default).")
    args = parser.parse_args(argv)
    if args.smoke:
        args.credentials, args.runs = 2_000, 26
    print(json.dumps(run(args.credentials, args.agencies, args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
