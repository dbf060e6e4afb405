"""Snapshot join, serving side: read a confirmed checkpoint's manifest and state entries.

Entries are each agency's records *as of the cut height* (a record changed since is replayed from
its history), in state-tree key order, as their canonical encodings: exactly what the tree hashes,
so a joiner checks the state root from the bytes it received. Blocking LevelDB calls: run them
through ``StoreAccess.call``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from itertools import islice

import cbor2

from node.core.block import decode_block
from node.core.checkpoint_protocol import CheckpointRecord, decode_record
from node.core.errors import StorageError
from node.core.merkle_log import CompactRange
from node.core.snapshot import CREDENTIAL, SCHEMA, LeafInfo, credential_prefix
from node.core.status import decode_schema_record, schema_state_key
from node.storage import codec, schema
from node.storage.checkpoint_table import leaf_at
from node.storage.snapshot_install import base_at, base_block
from node.storage.store import LedgerStore

Entry = tuple[int, bytes]


def newest_confirmed(store: LedgerStore) -> CheckpointRecord | None:
    """The newest checkpoint record this store holds in state ``confirmed``."""
    for raw in store.raw_db.iterator(prefix=schema.checkpoints(), reverse=True, include_key=False):
        record = decode_record(raw)
        if record.state == "confirmed":
            return record
    return None


def confirmed(store: LedgerStore, epoch: int) -> CheckpointRecord | None:
    raw = store.raw_db.get(schema.checkpoint(epoch))
    record = None if raw is None else decode_record(raw)
    return record if record is not None and record.state == "confirmed" else None


def manifest_leaves(store: LedgerStore, record: CheckpointRecord) -> list[LeafInfo]:
    """Per cut leaf, what a joiner needs; StorageError if this store does not hold the cut."""
    infos = []
    for leaf in record.checkpoint.cut.leaves:
        if leaf_at(store, leaf.agency_id, leaf.height) != leaf:
            raise StorageError(f"this node does not hold {leaf.agency_id} at {leaf.height}")
        pub, address = keys_at(store, leaf.agency_id, leaf.height)
        block = cut_block(store, leaf.agency_id, leaf.height)
        timestamp = decode_block(block).header.timestamp_ms if block else 0
        infos.append(
            LeafInfo(
                leaf.agency_id,
                pub,
                address,
                timestamp,
                frontier_at(store, leaf.agency_id, leaf.height),
                block,
            )
        )
    return infos


def keys_at(store: LedgerStore, agency_id: str, height: int) -> tuple[bytes, bytes]:
    """``(ed25519_public, secp256k1_address)`` in force after block ``height``."""
    return store.keys_at(agency_id, height + 1)


def cut_block(store: LedgerStore, agency_id: str, height: int) -> bytes:
    """The encoded block at ``height`` (empty at 0): a stored one, or the one a snapshot join
    kept at its base; StorageError if this node has neither (it joined without keeping it)."""
    if height == 0:
        return b""
    num = store._num(agency_id)
    raw: bytes | None = store.raw_db.get(schema.block(num, height))
    if raw is None:
        base = base_at(store.raw_db, num)
        raw = base_block(store.raw_db, num) if base is not None and base.height == height else None
    if raw is None:
        raise StorageError(f"this node does not hold {agency_id}'s block at height {height}")
    return raw


def frontier_at(store: LedgerStore, agency_id: str, height: int) -> CompactRange:
    head = store.head(agency_id)
    if height == head.height:
        return head.log
    num = store._num(agency_id)

    def get_node(level: int, index: int) -> bytes:
        value: bytes | None = store.raw_db.get(schema.log_node(num, level, index))
        if value is None:
            raise StorageError(f"log node ({level}, {index}) of {agency_id} is missing")
        return value

    return CompactRange.from_storage(height, get_node)


def state_entries(
    store: LedgerStore,
    agency_id: str,
    height: int,
    after_key: bytes,
    max_items: int,
    max_bytes: int,
) -> tuple[list[Entry], bool]:
    """Up to ``max_items`` entries (and about ``max_bytes``) after ``after_key``; True when the
    last entry was included."""
    head = store.head(agency_id)
    base = base_at(store.raw_db, store._num(agency_id))
    if height > head.height or (base is not None and height < base.height):
        raise StorageError(f"this node cannot read {agency_id}'s state at height {height}")
    merged = heapq.merge(
        _schemas(store, agency_id, height, after_key),
        _credentials(store, agency_id, height, after_key),
    )
    out: list[Entry] = []
    size = 0
    for _key, kind, encoded in islice(merged, max_items):
        out.append((kind, encoded))
        size += len(encoded) + 8
        if size >= max_bytes:
            break
    done = next(merged, None) is None
    return out, done


def _schemas(
    store: LedgerStore, agency_id: str, height: int, after_key: bytes
) -> Iterator[tuple[bytes, int, bytes]]:
    found = []
    for raw in store.raw_db.iterator(
        prefix=schema.schemas(store._num(agency_id)), include_key=False
    ):
        record = decode_schema_record(raw)
        key = schema_state_key(record.schema_id)
        if record.height <= height and key > after_key:
            found.append((key, SCHEMA, raw))
    return iter(sorted(found))


def _credentials(
    store: LedgerStore, agency_id: str, height: int, after_key: bytes
) -> Iterator[tuple[bytes, int, bytes]]:
    """A record unchanged since ``height`` is served straight from its stored fields (the stored
    status is the record's canonical encoding without issuer and id, checked on the first)."""
    num = store._num(agency_id)
    prefix = schema.statuses(num)
    start = schema.status(num, after_key) if after_key else prefix
    head = credential_prefix(agency_id)
    checked = False
    with store.raw_db.iterator(start=start, stop=schema.prefix_end(prefix)) as rows:
        for key, raw in rows:
            cid = schema.credential_id_of_status_key(key)
            if cid == after_key:
                continue
            fields = cbor2.loads(raw)  # our own committed row
            if fields[4] > height:  # issued after the cut
                continue
            if fields[5] > height:  # changed after the cut: replay it as of the cut
                past = store._record_at(agency_id, cid, height)
                if past is not None:
                    yield cid, CREDENTIAL, past.encode()
                continue
            encoded = head + cid + raw[1:]
            if not checked:
                if codec.decode_status(agency_id, cid, raw).encode() != encoded:
                    raise StorageError("the stored status layout is not the record's fields")
                checked = True
            yield cid, CREDENTIAL, encoded
