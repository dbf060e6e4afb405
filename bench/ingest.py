"""Ingest benchmark of the ledger store: events/s, disk bytes per event, proof cost. Prints JSON.

Another agency's blocks of ``--block`` issued-credential events are authored in memory (not timed)
and fed to :meth:`LedgerStore.ingest` as bytes, one synced commit per block, so decoding, the
signature check, validation, the state update and the commit are all timed. A raw baseline
(SHA-256 of each event plus LevelDB batched puts of the same bytes, same batch size) is measured in
the same run. ``--smoke`` runs a small size for CI. Disk figures are after compacting the whole key
range (what a store settles to); the machine's other load shows in the events/s.

The same blocks go to two stores, one after the other, which differ by the proof history kept:

- ``marks``: no checkpoints: the store keeps the retention window (``--retention`` blocks);
- ``checkpoint_pruning.marks``: a checkpoint is cut every ``--checkpoint-every`` blocks and the
  previous one counts as anchored then, so the store calls
  :meth:`LedgerStore.prune_history_through` with the previous cut (as the checkpoint service
  does when a checkpoint is anchored): it keeps between one and two intervals of history. Its
  time includes the pruning, and it also reports the cost of a proof at the anchored cut.

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
AGENCY = "gi.bench"
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


@dataclass
class _Run:
    """One store fed the bench's blocks, timed; with ``checkpoint_every``, pruned at checkpoints."""

    store: LedgerStore
    checkpoint_every: int = 0
    seconds: float = 0.0
    blocks: int = 0
    cut: int = 0
    """Cut height of the newest checkpoint (anchored when the next one is cut)."""
    anchored: int = 0
    marks: list[dict[str, Any]] = field(default_factory=list)

    def feed(self, blocks: list[bytes]) -> None:
        start = time.perf_counter()
        for raw in blocks:
            self.store.ingest(raw, now_ms=NOW_MS)
            self.blocks += 1
            if self.checkpoint_every and self.blocks % self.checkpoint_every == 0:
                self._checkpoint()
        self.seconds += time.perf_counter() - start

    def _checkpoint(self) -> None:
        if self.cut:
            self.store.prune_history_through({AGENCY: self.cut})
            self.anchored = self.cut
        self.cut = self.store.head(AGENCY).height


def run(
    events: int,
    block: int,
    marks: list[int],
    retention: int,
    checkpoint_every: int,
    workdir: Path,
) -> dict[str, Any]:
    genesis, keys = _network()
    source = _Source(AgencyHead.initial(genesis.agencies[0]), keys[AGENCY], genesis.network_id)
    schema_block = source.author([SchemaPublished(SCHEMA_ID, CredentialClass.DRIVING_LICENCE)])
    stages: list[tuple[int, list[bytes]]] = []  # (events done at the mark, blocks up to it)
    done = 0
    for mark in sorted(marks):
        count = (mark - done + block - 1) // block
        stages.append(
            (
                done + count * block,
                [source.issue_block(block, done + i * block) for i in range(count)],
            )
        )
        done += count * block
    # One store after the other (the first closed, its compactions finished), so that neither
    # competes with the other's background work.
    runs = []
    for name, every in (("ledger", 0), ("pruned", checkpoint_every)):
        each = _Run(LedgerStore.open(workdir / name, genesis, retention=retention), every)
        each.feed([schema_block])
        each.seconds = 0.0
        for done, blocks in stages:
            each.feed(blocks)
            each.marks.append(_mark(each, source.issued[:done], done))
        each.store.close()
        runs.append(each)
    plain, pruned = runs
    results: dict[str, Any] = {
        "block_events": block,
        "retention_blocks": retention,
        "marks": plain.marks,
        "checkpoint_pruning": _pruning_doc(pruned, block),
    }
    results["raw_baseline_us_per_event"] = round(
        _raw_baseline(workdir / "raw", min(done, 100_000), block) * 1e6, 2
    )
    for last in (plain.marks[-1], pruned.marks[-1]):
        last["ratio_to_raw"] = round(
            last["ingest_us_per_event"] / results["raw_baseline_us_per_event"], 2
        )
    return results


def _pruning_doc(pruned: _Run, block: int) -> dict[str, Any]:
    every = pruned.checkpoint_every
    return {
        "checkpoint_every_blocks": every,
        "note": (
            f"a checkpoint cut every {every} blocks of {block} events, each anchored (and the "
            f"history through its cut pruned) when the next is cut: a node with a "
            f"{every * block / 10_000:g} s checkpoint interval ingesting 10,000 events/s, whose "
            "checkpoints are anchored within one interval"
        ),
        "marks": pruned.marks,
    }


def _mark(run_: _Run, issued: list[bytes], done: int) -> dict[str, Any]:
    store, seconds = run_.store, run_.seconds
    db = store.raw_db
    # plyvel's compact_range() without bounds leaves overlapping levels (and so the deleted and
    # overwritten rows) in place: name the whole key space to measure what a compacted store holds.
    db.compact_range(start=b"\x00", stop=b"\xff" * 8)
    disk = _dir_bytes(store.path)
    figures: dict[str, Any] = {
        "events": done,
        "events_per_s": round(done / seconds),
        "ingest_us_per_event": round(seconds / done * 1e6, 2),
        "disk_bytes_per_event": round(disk / done, 1),
        "table_bytes_per_event": {k: round(v / done, 1) for k, v in _table_sizes(db).items()},
    }
    figures.update(_proof_figures(store, AGENCY, issued, samples=1000))
    if run_.checkpoint_every:
        figures["oldest_provable_height"] = store.oldest_provable_height(AGENCY)
        figures["head_height"] = store.head(AGENCY).height
        if run_.anchored:
            figures.update(_cut_proof_figures(store, run_.anchored, issued, samples=200))
    return figures


def _cut_proof_figures(
    store: LedgerStore, cut: int, cids: list[bytes], samples: int
) -> dict[str, Any]:
    """Cost of proofs at the anchored cut (through the undo history), verified there."""
    block = store.block(AGENCY, cut)
    assert block is not None
    issued_by_cut = (cut - 1) * len(block.events)  # block 1 publishes the schema
    rng = random.Random(11)
    chosen = [cids[rng.randrange(issued_by_cut)] for _ in range(samples)]
    start = time.perf_counter()
    proofs = [store.credential_proof(AGENCY, cid, at_height=cut) for cid in chosen]
    elapsed = time.perf_counter() - start
    for cid, (record, proof) in zip(chosen, proofs, strict=True):
        assert record is not None
        smt.verify_membership(block.header.state_root, cid, record.value_hash(), proof)
    return {"anchored_cut_height": cut, "proof_at_cut_ms": round(elapsed / samples * 1000, 4)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--block", type=int, default=500)
    parser.add_argument("--retention", type=int, default=DEFAULT_RETENTION)
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=200,
        help="blocks between simulated checkpoints of the pruned store (default 200)",
    )
    parser.add_argument("--smoke", action="store_true", help="20,000 events, for CI")
    parser.add_argument("--json", action="store_true", help="(output is always JSON)")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = parser.parse_args(argv)
    events = 20_000 if args.smoke else args.events
    checkpoint_every = min(args.checkpoint_every, 10) if args.smoke else args.checkpoint_every
    marks = sorted({m for m in (10_000, 100_000, 1_000_000) if m < events} | {events})
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="calpe-bench-"))
    try:
        results = run(events, args.block, marks, args.retention, checkpoint_every, workdir)
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
