"""Turning a validated block into key/value writes: the block, its indexes, state, history, head.

Everything here adds to a :class:`PendingBatch`; nothing reaches the disk until the batch is
written whole.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import plyvel

from node.core.encoding import encode
from node.core.equivocation import EquivocationProof
from node.core.errors import StorageError
from node.core.events import (
    CREDENTIAL_EVENTS,
    GOVERNANCE_EVENTS,
    AgencyKeyRotated,
    CredentialIssued,
    event_to_wire,
)
from node.core.ledger import AgencyHead, AppliedBlock
from node.core.smt import ROOT_POSITION, undo_entry
from node.storage import codec, schema
from node.storage.reader import PendingBatch


def add_block(
    batch: PendingBatch,
    num: int,
    applied: AppliedBlock,
    raw: bytes,
    replaced: dict[bytes, bytes | None],
    *,
    retention: int,
) -> None:
    """Add every write of ``applied`` (encoded as ``raw``).

    ``replaced``: for each of ``applied.smt_writes``, the node it replaces in the pending state
    (None: an empty position); ``applied.smt_previous`` when ``applied`` was computed on it.
    """
    block = applied.block
    batch.put(schema.block(num, block.height), raw)
    batch.ops.update(block_rows(num, applied))
    for event in block.events:
        if isinstance(event, AgencyKeyRotated):
            batch.rotations.append(
                (num, block.height, event.ed25519_public, event.secp256k1_address)
            )
    _add_smt_writes(batch, num, block.height, applied.smt_writes, replaced, retention=retention)
    set_head(batch, num, applied.head)


def block_rows(num: int, applied: AppliedBlock) -> dict[bytes, bytes]:
    """The index, state, history and log rows a block adds (not its tree nodes or head)."""
    block = applied.block
    height = block.height
    rows = {schema.block_hash(block.hash): schema.block_location(num, height)}
    for cid, record in applied.credentials.items():
        rows[schema.status(num, cid)] = codec.encode_status(record)
    kinds: dict[bytes, bytearray] = {}
    for event in block.events:
        if isinstance(event, CredentialIssued):
            continue  # implied by the status record's issued_height (schema version 2)
        if isinstance(event, CREDENTIAL_EVENTS):
            kinds.setdefault(event.credential_id, bytearray()).append(int(event.KIND))
        elif isinstance(event, AgencyKeyRotated):
            rows[schema.rotation(num, height)] = event.ed25519_public + event.secp256k1_address
    for cid, kind_bytes in kinds.items():
        rows[schema.history(num, cid, height)] = bytes(kind_bytes)
    governance = [event_to_wire(e) for e in block.events if isinstance(e, GOVERNANCE_EVENTS)]
    if governance:
        rows[schema.governance_events(num, height)] = encode(governance)
    for sid, schema_record in applied.schemas.items():
        rows[schema.schema(num, sid)] = schema_record.encode()
    for level, index, hash_ in applied.log_nodes:
        rows[schema.log_node(num, level, index)] = hash_
    return rows


def set_head(batch: PendingBatch, num: int, head: AgencyHead) -> None:
    batch.put(schema.head(num), codec.encode_head(head))
    batch.heads[num] = head


def _add_smt_writes(
    batch: PendingBatch,
    num: int,
    height: int,
    writes: dict[bytes, bytes | None],
    replaced: dict[bytes, bytes | None],
    *,
    retention: int,
) -> None:
    if retention > 0 and height > schema.MAX_UNDO_HEIGHT:
        raise StorageError(
            f"block height {height} is past the highest that storage schema version "
            f"{schema.SCHEMA_VERSION} keeps state history for ({schema.MAX_UNDO_HEIGHT})"
        )
    batch.ops.update(schema.smt_node_rows(num, writes))
    batch.node_writes.setdefault(num, {}).update(writes)
    if retention <= 0:
        return
    # ``apply_batch`` reads every node it replaces; a position it writes without reading lies
    # below an empty subtree or a lone leaf, so it held no node, and needs no undo entry (see
    # the schema's version 2 notes) except the root's, which tells an empty tree.
    # An entry holds what restores the old node from the new one (smt.undo_entry).
    undone = {pos: undo_entry(old, writes[pos]) for pos, old in replaced.items() if old is not None}
    if ROOT_POSITION in writes and replaced.get(ROOT_POSITION) is None:
        undone[ROOT_POSITION] = b""
    undo_prefix, undo_suffix = schema.smt_undo_affixes(num, height)
    batch.ops.update({undo_prefix + pos + undo_suffix: old for pos, old in undone.items()})
    batch.put(schema.smt_journal(num, height), codec.encode_positions(list(undone)))
    prune_history(batch, num, height - retention)


def prune_history(batch: PendingBatch, num: int, height: int, journal: bytes | None = None) -> None:
    """Delete the undo entries of block ``height``, which just left the retention window.

    Blocks leave the window one per commit, so deleting exactly one height keeps it tight; a
    shrunk window, or pruning a crash interrupted, is caught up when the store opens.
    ``journal``: the height's journal entry, if the caller has read it already.
    """
    if height < 1:
        return
    key = schema.smt_journal(num, height)
    raw = batch.get(key) if journal is None else journal
    if raw is None:
        return
    prefix, suffix = schema.smt_undo_affixes(num, height)
    undo_keys = codec.decode_positions(raw, prefix, suffix)
    batch.ops.update(dict.fromkeys(undo_keys))
    batch.ops[key] = None


JOURNAL_PAGE = 16
"""Journal entries :func:`journals` reads per LevelDB iterator (~1 MB at 1,000-event blocks)."""


def journals(db: plyvel.DB, num: int, through_height: int) -> Iterator[tuple[int, bytes]]:
    """``(height, journal entry)`` of the heights up to ``through_height`` with undo entries.

    Read a page at a time, and no iterator is open while the caller has a page: an open LevelDB
    iterator pins the memtables and table files it started on, and the caller writes its
    deletions meanwhile (a checkpoint's pruning is ~1M rows, several memtables' worth). One
    iterator held across the whole pruning kept spent memtables resident: 291-294 MiB of node RSS
    at 1M events in ``bench.resources``, 246-253 MiB read by pages.
    """
    stop = schema.smt_journal(num, through_height + 1)
    height = 1
    while height <= through_height:
        with db.iterator(start=schema.smt_journal(num, height), stop=stop) as committed:
            page = list(itertools.islice(committed, JOURNAL_PAGE))
        for key, value in page:
            yield schema.height_of_block_key(key), value
        if len(page) < JOURNAL_PAGE:
            return
        height = schema.height_of_block_key(page[-1][0]) + 1


def add_equivocation(
    batch: PendingBatch,
    num: int,
    proof: EquivocationProof,
    fork: tuple[bytes, bytes],
    head: AgencyHead,
) -> None:
    """Keep the proof and the conflicting block (``(hash, raw)``), and freeze the agency's log."""
    height = proof.height
    batch.put(schema.equivocation(num, height), proof.encode())
    batch.put(schema.fork_block(num, height, fork[0]), fork[1])
    set_head(batch, num, head)
