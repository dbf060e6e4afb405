"""The checkpoint table (epoch -> :class:`CheckpointRecord`) and the cut leaves of the store.

Blocking LevelDB calls: run them through ``StoreAccess.call``. Records are written with
``sync=True``: a signature this node gave, or a transaction the bridge sent, must survive a crash.
"""

from __future__ import annotations

from collections.abc import Mapping

from node.core.block import GENESIS_PREV_HASH
from node.core.checkpoint import Cut, CutLeaf
from node.core.checkpoint_protocol import CheckpointRecord, decode_record
from node.core.hashing import ZERO_HASH
from node.core.merkle_log import CompactRange
from node.storage import schema, snapshot_install
from node.storage.store import LedgerStore


def put_record(store: LedgerStore, record: CheckpointRecord) -> None:
    store.raw_db.put(schema.checkpoint(record.epoch), record.encode(), sync=True)


def get_record(store: LedgerStore, epoch: int) -> CheckpointRecord | None:
    raw: bytes | None = store.raw_db.get(schema.checkpoint(epoch))
    return None if raw is None else decode_record(raw)


def records(
    store: LedgerStore, *, limit: int = 50, newest_first: bool = True, after_epoch: int = 0
) -> list[CheckpointRecord]:
    """Up to ``limit`` records with an epoch above ``after_epoch``."""
    found: list[CheckpointRecord] = []
    iterator = store.raw_db.iterator(
        prefix=schema.checkpoints(), reverse=newest_first, include_key=False
    )
    for raw in iterator:
        record = decode_record(raw)
        if record.epoch <= after_epoch:
            if newest_first:
                break
            continue
        found.append(record)
        if len(found) >= limit:
            break
    return found


def latest_signed(store: LedgerStore, before_epoch: int | None = None) -> CheckpointRecord | None:
    """The newest record at quorum or beyond, below ``before_epoch`` if given."""
    for raw in store.raw_db.iterator(prefix=schema.checkpoints(), reverse=True, include_key=False):
        record = decode_record(raw)
        if before_epoch is not None and record.epoch >= before_epoch:
            continue
        if record.is_signed:
            return record
    return None


def leaf_at(store: LedgerStore, agency_id: str, height: int) -> CutLeaf | None:
    """This store's cut leaf of ``agency_id`` at ``height``; None if it lacks that block."""
    head = store.head(agency_id)
    if height > head.height:
        return None
    if height == head.height:
        return CutLeaf(agency_id, height, head.block_hash, head.log_root, head.state_root)
    if height == 0:
        return CutLeaf(agency_id, 0, GENESIS_PREV_HASH, CompactRange().root(), ZERO_HASH)
    block = store.block(agency_id, height)
    if block is None:
        base = snapshot_install.base_at(store.raw_db, store._num(agency_id))
        if base is None or base.height != height:
            return None
        head = base.head  # a snapshot base: its block is absent, its head is kept
        return CutLeaf(agency_id, height, head.block_hash, head.log_root, head.state_root)
    return CutLeaf(
        agency_id, height, block.hash, store.log_root(agency_id, height), block.header.state_root
    )


def current_cut(store: LedgerStore, pinned: Mapping[str, int] | None = None) -> Cut:
    """The cut of this store's heads, now; a removed agency's leaf stays at its ``pinned``
    height (where governance ended its log)."""
    leaves = []
    for agency_id, head in store.heads().items():
        end = (pinned or {}).get(agency_id)
        leaf = leaf_at(store, agency_id, end) if end is not None and end < head.height else None
        leaves.append(
            leaf or CutLeaf(agency_id, head.height, head.block_hash, head.log_root, head.state_root)
        )
    return Cut.of(leaves)


def local_leaves(store: LedgerStore, cut: Cut) -> dict[str, CutLeaf]:
    """This store's recomputation of each leaf of ``cut`` at the cut's heights (missing ones are
    left out: the caller syncs and retries)."""
    found: dict[str, CutLeaf] = {}
    heads = store.heads()
    for leaf in cut.leaves:
        if leaf.agency_id not in heads:
            continue
        mine = leaf_at(store, leaf.agency_id, leaf.height)
        if mine is not None:
            found[leaf.agency_id] = mine
    return found
