"""Ingest benchmark of the ledger store: events/s, disk bytes per event, proof cost. Prints JSON.

Another agency's blocks of ``--block`` issued-credential events are authored in memory (not timed)
and fed to :meth:`LedgerStore.ingest` as bytes, one synced commit per block, so decoding, the
signature check, validation, the state update and the commit are all timed. A raw baseline
(SHA-256 of each event plus LevelDB batched puts of the same bytes, same batch size) is measured in
the same run. ``--smoke`` runs a small size for CI.

    python -m bench.ingest --events 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plyvel

from node.core import smt
from node.core.events import CredentialClass, CredentialIssued, Event, SchemaPublished
from node.core.genesis import Agency, Genesis
from node.core.keys import AgencyKeys
from node.core.ledger import AgencyHead, AppliedBlock, author_block
from node.core.status import SchemaRecord, StatusRecord
from node.storage import DEFAULT_RETENTION, LedgerStore, schema

NOW_MS = 1_780_000_000_000
SCHEMA_ID = hashlib.sha256(b"bench-schema").digest()


@dataclass
class _Source:
    """The authoring agency's state, in memory: produces the blocks the store ingests."""

    head: AgencyHead
    keys: AgencyKeys
    network_id: bytes
    nodes: smt.InMemoryNodeStore = field(default_factory=smt.InMemoryNodeStore)
    credentials: dict[bytes, StatusRecord] = field(default_factory=dict)
    schemas: dict[bytes, SchemaRecord] = field(default_factory=dict)
    issued: list[bytes] = field(default_factory=list)

    def get_node(self, position: bytes) -> bytes | None:
        return self.nodes.get_node(position)

    def credential(self, credential_id: bytes) -> StatusRecord | None:
        return self.credentials.get(credential_id)

    def schema(self, schema_id: bytes) -> SchemaRecord | None:
        return self.schemas.get(schema_id)

    def author(self, events: Sequence[Event]) -> bytes:
        applied: AppliedBlock = author_block(
            self.head, events, self.keys, self, network_id=self.network_id, timestamp_ms=NOW_MS
        )
        self.nodes.apply(applied.smt_writes)
        self.schemas.update(applied.schemas)
        # Only ids are needed later; keeping records would double the bench's memory.
        self.credentials.update(dict.fromkeys(applied.credentials, _PLACEHOLDER))
        self.issued.extend(applied.credentials)
        self.head = applied.head
        return applied.block.encode()

    def issue_block(self, count: int, serial: int) -> bytes:
        events: list[Event] = [
            CredentialIssued(
                hashlib.sha256(b"bench-credential-%d" % (serial + i)).digest(),
                SCHEMA_ID,
                1_700_000_000,
                1_900_000_000,
            )
            for i in range(count)
        ]
        return self.author(events)


_PLACEHOLDER = StatusRecord("x", b"\x00" * 32, b"\x00" * 32, 1, 0, None, 0, 0)  # type: ignore[arg-type]


def _network() -> tuple[Genesis, dict[str, AgencyKeys]]:
    keys = {aid: AgencyKeys.generate() for aid in ("gi.bench", "gi.peer")}
    agencies = tuple(
        Agency(aid, aid, k.ed25519_public, k.secp256k1_address) for aid, k in sorted(keys.items())
    )
    return Genesis("calpe-bench", agencies, 1, 60, 33, NOW_MS), keys


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def _table_sizes(db: plyvel.DB) -> dict[str, int]:
    sizes = {}
    for prefix, name in schema.TABLE_NAMES.items():
        size = db.approximate_size(prefix, schema.prefix_end(prefix))
        if size:
            sizes[name] = int(size)
    return sizes


def _raw_baseline(path: Path, events: int, block: int) -> float:
    """Seconds per event for SHA-256 of an event plus a synced batched LevelDB put of it."""
    db = plyvel.DB(str(path), create_if_missing=True)
    payloads = [os.urandom(80) for _ in range(block)]
    start = time.perf_counter()
    for _ in range(events // block):
        with db.write_batch(transaction=True, sync=True) as batch:
            for payload in payloads:
                digest = hashlib.sha256(payload + os.urandom(4)).digest()
                batch.put(digest, payload)
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed / (events // block * block)


def _proof_figures(
    store: LedgerStore, issuer: str, cids: list[bytes], samples: int
) -> dict[str, Any]:
    rng = random.Random(7)
    chosen = [rng.choice(cids) for _ in range(samples)]
    root = store.head(issuer).state_root
    start = time.perf_counter()
    proofs = [store.credential_proof(issuer, cid) for cid in chosen]
    generated = time.perf_counter() - start
    start = time.perf_counter()
    for cid, (record, proof) in zip(chosen, proofs, strict=True):
        assert record is not None
        smt.verify_membership(root, cid, record.value_hash(), proof)
    verified = time.perf_counter() - start
    sizes = [len(proof.to_bytes()) for _, proof in proofs]
    return {
        "proof_generate_ms": round(generated / samples * 1000, 4),
        "proof_verify_ms": round(verified / samples * 1000, 4),
        "proof_bytes_mean": round(sum(sizes) / len(sizes), 1),
        "proof_bytes_max": max(sizes),
    }


def run(events: int, block: int, marks: list[int], retention: int, workdir: Path) -> dict[str, Any]:
    genesis, keys = _network()
    agency = "gi.bench"
    source = _Source(AgencyHead.initial(genesis.agencies[0]), keys[agency], genesis.network_id)
    schema_block = source.author([SchemaPublished(SCHEMA_ID, CredentialClass.DRIVING_LICENCE)])
    results: dict[str, Any] = {"block_events": block, "retention_blocks": retention, "marks": []}
    store = LedgerStore.open(workdir / "ledger", genesis, retention=retention)
    store.ingest(schema_block, now_ms=NOW_MS)
    ingest_seconds = 0.0
    done = 0
    chunk = 20
    for mark in sorted(marks):
        while done < mark:
            count = min(chunk, (mark - done + block - 1) // block)
            blocks = [source.issue_block(block, done + i * block) for i in range(count)]
            start = time.perf_counter()
            for raw in blocks:
                store.ingest(raw, now_ms=NOW_MS)
            ingest_seconds += time.perf_counter() - start
            done += count * block
        results["marks"].append(_mark(store, agency, source, done, ingest_seconds))
    results["raw_baseline_us_per_event"] = round(
        _raw_baseline(workdir / "raw", min(done, 100_000), block) * 1e6, 2
    )
    last = results["marks"][-1]
    last["ratio_to_raw"] = round(
        last["ingest_us_per_event"] / results["raw_baseline_us_per_event"], 2
    )
    store.close()
    return results


def _mark(
    store: LedgerStore, agency: str, source: _Source, done: int, seconds: float
) -> dict[str, Any]:
    db = store.raw_db
    db.compact_range()
    disk = _dir_bytes(store.path)
    figures: dict[str, Any] = {
        "events": done,
        "events_per_s": round(done / seconds),
        "ingest_us_per_event": round(seconds / done * 1e6, 2),
        "disk_bytes_per_event": round(disk / done, 1),
        "table_bytes_per_event": {k: round(v / done, 1) for k, v in _table_sizes(db).items()},
    }
    figures.update(_proof_figures(store, agency, source.issued, samples=1000))
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--block", type=int, default=500)
    parser.add_argument("--retention", type=int, default=DEFAULT_RETENTION)
    parser.add_argument("--smoke", action="store_true", help="20,000 events, for CI")
    parser.add_argument("--json", action="store_true", help="(output is always JSON)")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = parser.parse_args(argv)
    events = 20_000 if args.smoke else args.events
    marks = sorted({m for m in (10_000, 100_000, 1_000_000) if m < events} | {events})
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="calpe-bench-"))
    try:
        results = run(events, args.block, marks, args.retention, workdir)
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    results["targets"] = {
        "events_per_s": 10_000,
        "disk_bytes_per_event": 400,
        "proof_ms": 1.0,
    }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
