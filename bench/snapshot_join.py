"""Snapshot join vs full replay: seconds until a fresh node serves reads at N credentials. JSON.

One agency's ledger of N issued credentials (blocks of ``--block`` events) is authored offline into
a source store, with a confirmed checkpoint at its head (not timed). Then two fresh stores catch up
from it, each timed from an empty directory until a credential read answers:

- ``snapshot``: the real joiner (:class:`SnapshotJoiner`) against the real :class:`SnapshotServer`
  of the source, every request and response through the ``/calpe/snapshot/1`` wire encoding;
- ``replay``: what the block sync does, batch by batch: ``blocks_bytes`` on the source, the
  ``/calpe/sync/blocks/1`` response encoding and decoding, ``ingest_many`` (signature checks,
  validation, state update, one synced commit per batch).

Requests go to the server in-process (the bytes are the same; libp2p transfer is not timed: it
moved 117-180k records/s here, see DESIGN.md). ``--smoke`` runs a small size for CI.

    python -m bench.snapshot_join --credentials 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio

from node.core.checkpoint import Checkpoint
from node.core.checkpoint_protocol import CheckpointRecord
from node.core.events import CredentialClass, CredentialIssued, Event, SchemaPublished
from node.core.genesis import Agency, Genesis
from node.core.governance import genesis_governance
from node.core.keys import AgencyKeys
from node.network import PeerInfo
from node.services import snapshot_protocol, sync_protocol
from node.services.governance import fold
from node.services.snapshot import JoinOptions, SnapshotJoiner, SnapshotServer
from node.services.store_access import StoreAccess
from node.storage import LedgerStore, checkpoint_table

NOW_MS = 1_780_000_000_000
AGENCY = "gi.bench"
SCHEMA_ID = hashlib.sha256(b"bench-schema").digest()
REPLAY_BATCH = 200  # blocks per sync request, as the Replicator asks


def _network() -> tuple[Genesis, AgencyKeys]:
    keys = AgencyKeys.generate()
    other = AgencyKeys.generate()
    agencies = (
        Agency(AGENCY, "Bench", keys.ed25519_public, keys.secp256k1_address),
        Agency("gi.peer", "Peer", other.ed25519_public, other.secp256k1_address),
    )
    return Genesis("bench-snapshot", agencies, 1, 60, 33, NOW_MS), keys


def _cid(serial: int) -> bytes:
    return hashlib.sha256(b"bench-credential-%d" % serial).digest()


def build_source(
    path: Path, genesis: Genesis, keys: AgencyKeys, credentials: int, block: int
) -> int:
    """Author the ledger and a confirmed checkpoint at its head; return the block count."""
    with LedgerStore.open(path, genesis, sync=False) as store:
        store.author(
            AGENCY, [SchemaPublished(SCHEMA_ID, CredentialClass.PERMIT)], keys, now_ms=NOW_MS
        )
        for start in range(0, credentials, block):
            events: list[Event] = [
                CredentialIssued(_cid(i), SCHEMA_ID, 1_700_000_000, None)
                for i in range(start, min(credentials, start + block))
            ]
            store.author(AGENCY, events, keys, now_ms=NOW_MS)
        cut = checkpoint_table.current_cut(store)
        checkpoint = Checkpoint(genesis.network_id, 1, cut.root(), cut, NOW_MS, bytes(32))
        checkpoint_table.put_record(store, CheckpointRecord(checkpoint, AGENCY, {}, "confirmed"))
        store.apply_governance(fold(store, genesis_governance(genesis), checkpoint))
        return store.head(AGENCY).height


class _InProcess:
    """The peer network's request surface, answered by the source's real SnapshotServer."""

    def __init__(self, server: SnapshotServer) -> None:
        self.server = server
        self.requests = 0
        self.bytes = 0

    def connected_peers(self) -> list[PeerInfo]:
        return [PeerInfo("source", (), 0.0, None, None)]

    async def request(
        self, peer_id: str, protocol: str, data: bytes, *, timeout: float | None = None
    ) -> bytes:
        handler = (
            self.server.serve_manifest
            if protocol == snapshot_protocol.MANIFEST_PROTOCOL
            else self.server.serve_chunk
        )
        response = await handler("bench", data)
        self.requests += 1
        self.bytes += len(response)
        return response


def time_snapshot(
    source: LedgerStore, path: Path, genesis: Genesis, probe: bytes
) -> dict[str, Any]:
    record = checkpoint_table.records(source, limit=1)[0]
    network = _InProcess(SnapshotServer(StoreAccess(source)))
    started = time.perf_counter()
    with LedgerStore.open(path, genesis) as target:
        joiner = SnapshotJoiner(
            StoreAccess(target),
            network,  # type: ignore[arg-type]
            lambda epoch: record.checkpoint.checkpoint_root,
            options=JoinOptions(peer_wait_s=0),
        )
        result = trio.run(joiner.join)
        found = target.credential(AGENCY, probe)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "entries": result.entries,
        "entries_per_s": round(result.entries / seconds),
        "requests": network.requests,
        "bytes_received": network.bytes,
        "read_ok": found is not None,
        "disk_bytes": _dir_bytes(path),
    }


def time_replay(source: LedgerStore, path: Path, genesis: Genesis, probe: bytes) -> dict[str, Any]:
    until = source.head(AGENCY).height
    received = 0
    started = time.perf_counter()
    with LedgerStore.open(path, genesis) as target:
        height = 1
        while height <= until:
            response = sync_protocol.encode_blocks(
                source.blocks_bytes(AGENCY, height, REPLAY_BATCH)
            )
            received += len(response)
            blocks = sync_protocol.decode_blocks(response, max_bytes=16 * 2**20)
            outcome = target.ingest_many(blocks, now_ms=NOW_MS)
            if outcome.rejected is not None:
                raise outcome.rejected
            height += len(blocks)
        found = target.credential(AGENCY, probe)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "blocks": until,
        "blocks_per_s": round(until / seconds, 1),
        "bytes_received": received,
        "read_ok": found is not None,
        "disk_bytes": _dir_bytes(path),
    }


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run(
    credentials: int = 1_000_000,
    block: int = 500,
    workdir: Path | None = None,
    mode: str = "inprocess",
) -> dict[str, Any]:
    """Time both ways of catching up at ``credentials``; the figures as a dict.

    ``mode`` "inprocess": the joiner and the block ingest against a source store in this
    process; "nodes": real node processes on anvil (:mod:`bench.snapshot_join_nodes`).
    """
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="calpe-bench-snapjoin-")) if own else workdir
    assert work is not None
    try:
        if mode == "nodes":
            from bench.snapshot_join_nodes import measure_nodes

            figures = measure_nodes(credentials, work)
        else:
            figures = _inprocess(credentials, block, work)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    snapshot_s = figures["snapshot"].get("seconds") or figures["snapshot"]["serves_reads_s"]
    replay_s = figures["replay"].get("seconds") or figures["replay"]["serves_reads_s"]
    return {
        "benchmark": "snapshot_join",
        "mode": mode,
        "credentials": credentials,
        "block_events": block,
        **figures,
        "speedup": round(replay_s / snapshot_s, 2),
        "cpus": os.cpu_count(),
    }


def _inprocess(credentials: int, block: int, work: Path) -> dict[str, Any]:
    genesis, keys = _network()
    started = time.perf_counter()
    blocks = build_source(work / "source", genesis, keys, credentials, block)
    build_s = time.perf_counter() - started
    probe = _cid(credentials - 1)
    with LedgerStore.open(work / "source", genesis) as source:
        snapshot = time_snapshot(source, work / "snapshot", genesis, probe)
        replay = time_replay(source, work / "replay", genesis, probe)
    return {
        "blocks": blocks,
        "build_source_s": round(build_s, 1),
        "snapshot": snapshot,
        "replay": replay,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--credentials", type=int, default=1_000_000)
    parser.add_argument("--block", type=int, default=500)
    parser.add_argument(
        "--mode",
        choices=["inprocess", "nodes"],
        default="inprocess",
        help="inprocess (default) or real node processes on anvil",
    )
    parser.add_argument("--smoke", action="store_true", help="5,000 credentials, for CI")
    parser.add_argument("--json", action="store_true", help="(output is always JSON)")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one)")
    args = parser.parse_args(argv)
    credentials = 5_000 if args.smoke else args.credentials
    print(json.dumps(run(credentials, args.block, args.dir, args.mode), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
