"""Snapshot join, storage side: install a verified snapshot, and serve one to a joiner.

An agency installed from a snapshot starts at a **base height**: its blocks up to there are absent.
The ``snapshot base`` row holds its head at that height, the ``snapshot entry`` rows its state
then (each record's canonical encoding, under its state-tree key) and the ``snapshot block`` row
the verified block at the base height, which the manifest of that checkpoint carries when this
node serves it in turn. All are primary data, like blocks: ``db verify`` replays the stored
blocks on top of them, ``db rebuild`` keeps them, proofs and block serving start at the base.

Installing is guarded by the ``snapshot-join`` meta marker: ``installing`` is written (synced)
before the first row, ``complete`` after the last. A store left ``installing`` by a crash or a
refused snapshot is wiped back to empty by :func:`discard`, so a join is re-runnable and a node
never starts on half a snapshot. Rows go in bounded write batches (a million credentials would
make one batch of ~400 MB); each agency's head, base and log frontier go last, in one synced batch.

Blocking LevelDB calls: run them through ``StoreAccess.call``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import plyvel

from node.core.checkpoint import CutLeaf
from node.core.checkpoint_protocol import CheckpointRecord
from node.core.encoding import as_list, as_uint, decode, encode, expect_version
from node.core.errors import StorageError
from node.core.ledger import AgencyHead
from node.core.merkle_log import frontier_nodes
from node.core.snapshot import CREDENTIAL, SCHEMA, LeafInfo, StateBuilder, StateEntry, read_entry
from node.core.status import SchemaRecord, StatusRecord
from node.storage import codec, schema

if TYPE_CHECKING:
    from node.storage.store import LedgerStore

logger = logging.getLogger(__name__)

JoinState = Literal["none", "installing", "complete"]
FLUSH_ROWS = 50_000
_KIND_BYTE = (b"\x00", b"\x01")


@dataclass(frozen=True, slots=True)
class SnapshotBase:
    """Where an agency's stored history starts: its head at the base height."""

    epoch: int
    head: AgencyHead

    @property
    def height(self) -> int:
        return self.head.height

    def encode(self) -> bytes:
        return encode([1, self.epoch, codec.encode_head(self.head)])


def decode_base(data: bytes) -> SnapshotBase:
    items = as_list(decode(data), "snapshot base", 3)
    expect_version(items[0], "snapshot base")
    head = items[2]
    if not isinstance(head, bytes):
        raise StorageError("snapshot base: the head must be bytes")
    return SnapshotBase(as_uint(items[1], "epoch"), codec.decode_head(head))


# --- reading what a join left ---------------------------------------------------------------


def base_at(db: plyvel.DB, num: int) -> SnapshotBase | None:
    raw = db.get(schema.snapshot_base(num))
    return None if raw is None else decode_base(raw)


def base_block(db: plyvel.DB, num: int) -> bytes | None:
    """The encoded block at the agency's base height (None: no base, or joined without it)."""
    raw: bytes | None = db.get(schema.snapshot_block(num))
    return raw


def base_height(db: plyvel.DB, num: int) -> int:
    """The agency's base height (0: its history is complete)."""
    base = base_at(db, num)
    return 0 if base is None else base.height


def base_record(
    db: plyvel.DB, num: int, issuer: str, credential_id: bytes
) -> tuple[int, StatusRecord | None] | None:
    """``(base height, the credential's record then)``, or None if the agency has no base."""
    base = base_at(db, num)
    if base is None:
        return None
    raw = db.get(schema.snapshot_entry(num, credential_id))
    if raw is None or raw[:1] != _KIND_BYTE[0]:
        return base.height, None
    record = read_entry(issuer, base.height, CREDENTIAL, raw[1:]).record
    assert isinstance(record, StatusRecord)
    return base.height, record


def base_entries(db: plyvel.DB, num: int, agency_id: str, height: int) -> list[StateEntry]:
    """Every stored snapshot entry of the agency, in key order."""
    return [
        read_entry(agency_id, height, raw[0], raw[1:])
        for raw in db.iterator(prefix=schema.snapshot_entries(num), include_key=False)
    ]


def join_state(store: LedgerStore) -> JoinState:
    raw = store.raw_db.get(schema.meta(schema.META_SNAPSHOT_JOIN))
    if raw is None:
        return "none"
    return "complete" if raw.startswith(b"complete") else "installing"


def is_empty(store: LedgerStore) -> bool:
    """True if the store holds no block, no checkpoint and no (partial) snapshot."""
    if join_state(store) != "none" or any(h.height for h in store.heads().values()):
        return False
    db = store.raw_db
    for prefix in (
        schema.checkpoints(),
        schema.snapshot_bases(),
        schema.snapshot_entries(),
        schema.snapshot_blocks(),
    ):
        with db.iterator(prefix=prefix, include_value=False) as keys:
            if next(keys, None) is not None:
                return False
    return True


def discard(store: LedgerStore) -> None:
    """Wipe a partial (or complete) snapshot install: the store is empty again afterwards."""
    db = store.raw_db
    heads = store.heads()
    prefixes = (
        *[t for t in schema.DERIVED_TABLES if t != schema.head(0)[:2]],
        schema.snapshot_bases(),
        schema.snapshot_entries(),
        schema.snapshot_blocks(),
        schema.checkpoints(),
        schema.governances(),  # installed with the snapshot; folded again after a rejoin
    )
    for prefix in prefixes:
        while True:
            with db.iterator(prefix=prefix, include_value=False) as keys:
                chunk = [k for _, k in zip(range(FLUSH_ROWS), keys, strict=False)]
            if not chunk:
                break
            with db.write_batch(transaction=True) as batch:
                for key in chunk:
                    batch.delete(key)
    with db.write_batch(transaction=True, sync=True) as batch:
        for agency_id in heads:
            initial = store.initial_head(agency_id)
            batch.put(schema.head(store._num(agency_id)), codec.encode_head(initial))
        batch.delete(schema.meta(schema.META_SNAPSHOT_JOIN))
    store.reset_caches()
    logger.info("discarded snapshot install path=%s", store.path)


# --- installing -----------------------------------------------------------------------------


class _Rows:
    """Rows written in bounded, unsynced batches (the join marker makes them safe to lose)."""

    def __init__(self, db: plyvel.DB) -> None:
        self.db = db
        self.rows: dict[bytes, bytes] = {}

    def put(self, key: bytes, value: bytes) -> None:
        self.rows[key] = value
        if len(self.rows) >= FLUSH_ROWS:
            self.flush()

    def flush(self, *, sync: bool = False) -> None:
        with self.db.write_batch(transaction=True, sync=sync) as batch:
            for key, value in self.rows.items():
                batch.put(key, value)
        self.rows.clear()


class SnapshotInstaller:
    """Installs one verified snapshot into an empty store; see the module docstring."""

    def __init__(self, store: LedgerStore, epoch: int) -> None:
        self.store = store
        self.epoch = epoch
        self._db = store.raw_db

    def begin(self) -> None:
        if not is_empty(self.store):
            raise StorageError(
                f"{self.store.path} is not empty: a snapshot is installed only into an empty "
                "database (move the data directory aside to join afresh)"
            )
        self._db.put(schema.meta(schema.META_SNAPSHOT_JOIN), b"installing", sync=True)
        logger.info("snapshot install started epoch=%s path=%s", self.epoch, self.store.path)

    def add_entries(self, agency_id: str, entries: Sequence[StateEntry]) -> None:
        """Write one verified chunk's records (status or schema rows, and snapshot entries)."""
        num = self.store._num(agency_id)
        rows = _Rows(self._db)
        stored_as_fields = _codec_keeps_fields(entries)
        for entry in entries:
            rows.put(schema.snapshot_entry(num, entry.key), _KIND_BYTE[entry.kind] + entry.encoded)
            if entry.kind == SCHEMA:
                record = entry.record
                assert isinstance(record, SchemaRecord)
                rows.put(schema.schema(num, record.schema_id), entry.encoded)
            elif stored_as_fields:
                rows.put(schema.status(num, entry.key), entry.fields)
            else:
                status = entry.record
                assert isinstance(status, StatusRecord)
                rows.put(schema.status(num, entry.key), codec.encode_status(status))
        rows.flush()

    def finish_agency(self, leaf: CutLeaf, info: LeafInfo, builder: StateBuilder) -> None:
        """Build and check the agency's state tree, then write its head, base (and block at the
        base) and frontier."""
        num = self.store._num(leaf.agency_id)
        nodes: list[tuple[bytes, bytes]] = []

        def emit(position: bytes, encoded: bytes) -> None:
            nodes.append((schema.smt_node(num, position), encoded))
            if len(nodes) >= FLUSH_ROWS:
                self._write_nodes(nodes)

        builder.finish(emit)
        self._write_nodes(nodes)
        head = AgencyHead(
            leaf.agency_id,
            leaf.height,
            leaf.block_hash,
            info.timestamp_ms,
            leaf.state_root,
            info.log,
            info.ed25519_public,
            info.secp256k1_address,
        )
        final = _Rows(self._db)
        for key, value in base_rows(self.store, num, head).items():
            final.put(key, value)
        final.put(schema.snapshot_base(num), SnapshotBase(self.epoch, head).encode())
        if info.block:
            final.put(schema.snapshot_block(num), info.block)
        final.put(schema.head(num), codec.encode_head(head))
        final.flush(sync=True)
        logger.info(
            "snapshot installed agency=%s height=%s entries=%s",
            leaf.agency_id,
            leaf.height,
            len(builder.keys),
        )

    def _write_nodes(self, nodes: list[tuple[bytes, bytes]]) -> None:
        with self._db.write_batch(transaction=True) as batch:
            for key, value in nodes:
                batch.put(key, value)
        nodes.clear()

    def complete(self, record: CheckpointRecord) -> None:
        """Keep the checkpoint the snapshot was verified against, and mark the join complete."""
        with self._db.write_batch(transaction=True, sync=True) as batch:
            batch.put(schema.checkpoint(record.epoch), record.encode())
            batch.put(schema.meta(schema.META_SNAPSHOT_JOIN), b"complete %d" % self.epoch)
        self.store.reset_caches()
        logger.info("snapshot join complete epoch=%s", self.epoch)


def _codec_keeps_fields(entries: Sequence[StateEntry]) -> bool:
    """True if the store's status encoding is the record's fields after issuer and id (so an
    entry's ``fields`` is its row as is); checked on a sample, in case the codec changes."""
    sample = next((e for e in entries if e.kind == CREDENTIAL), None)
    if sample is None:
        return False
    record = sample.record
    return isinstance(record, StatusRecord) and codec.encode_status(record) == sample.fields


def base_rows(store: LedgerStore, num: int, head: AgencyHead) -> dict[bytes, bytes]:
    """The derived rows a base head implies: its log frontier, and its keys when rotated."""
    rows = {
        schema.log_node(num, level, index): hash_
        for (level, index), hash_ in zip(frontier_nodes(head.height), head.log.hashes, strict=True)
    }
    agency = store.initial_agency(head.agency_id)
    if agency is None or (agency.ed25519_public, agency.secp256k1_address) != (
        head.ed25519_public,
        head.secp256k1_address,
    ):
        rows[schema.rotation(num, head.height)] = head.ed25519_public + head.secp256k1_address
    return rows


def reinstall_bases(store: LedgerStore, progress: Callable[[str], None] | None = None) -> None:
    """After ``rebuild`` dropped the derived tables: put every base state back (rows, tree,
    head), so the stored blocks after each base replay on top of it."""
    db = store.raw_db
    for agency_id in store.heads():
        num = store._num(agency_id)
        base = base_at(db, num)
        if base is None:
            continue
        installer = SnapshotInstaller(store, base.epoch)
        head = base.head
        builder = StateBuilder(agency_id, head.height, head.state_root)
        entries = base_entries(db, num, agency_id, head.height)
        builder.keys = [e.key for e in entries]
        builder.values = [e.value for e in entries]
        installer.add_entries(agency_id, entries)
        leaf = CutLeaf(agency_id, head.height, head.block_hash, head.log_root, head.state_root)
        info = LeafInfo(
            agency_id,
            head.ed25519_public,
            head.secp256k1_address,
            head.timestamp_ms,
            head.log,
            base_block(db, num) or b"",
        )
        installer.finish_agency(leaf, info, builder)
        if progress:
            progress(agency_id)
    store.reset_caches()
