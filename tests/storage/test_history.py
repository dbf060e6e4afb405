"""Proof history: checkpoint pruning, the undo entries kept, and the stored credential history."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plyvel
import pytest

from node.core import smt
from node.core.errors import NotMemberError, StorageError
from node.core.events import (
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    Event,
    EventKind,
)
from node.core.hashing import ZERO_HASH
from node.storage import HistoryPrunedError, LedgerStore, schema, writer
from node.storage import store as store_module
from node.storage.integrity import verify
from node.storage.reader import HistoricalNodeReader, PendingBatch
from tests.factories import NOW_MS, TestNetwork, issue_events, schema_event


def _cid(event: Event) -> bytes:
    assert isinstance(event, CredentialIssued)
    return event.credential_id


def _fill(store: LedgerStore, net: TestNetwork, agency: str, blocks: int) -> list[bytes]:
    """A schema block (the first time), then ``blocks`` blocks of 10 issues; the ids issued."""
    keys = net.keys[agency]
    if store.head(agency).height == 0:
        store.author(agency, [schema_event()], keys, now_ms=NOW_MS)
    cids: list[bytes] = []
    for _ in range(blocks):
        events = issue_events(10)
        store.author(agency, events, keys, now_ms=NOW_MS)
        cids.extend(_cid(e) for e in events)
    return cids


def _rows(db: plyvel.DB, prefix: bytes) -> list[tuple[bytes, bytes]]:
    return list(db.iterator(prefix=prefix))


def _undo_heights(store: LedgerStore, num: int) -> set[int]:
    return {schema.height_of_undo_key(k) for k, _ in _rows(store.raw_db, schema.smt_undos(num))}


def _assert_provable(store: LedgerStore, agency: str, cids: list[bytes], heights: range) -> None:
    for height in heights:
        root = store.state_root_at(agency, height)
        assert smt.root_of_store(_past(store, agency, height)) == root
        for cid in cids[::7]:
            record, proof = store.credential_proof(agency, cid, at_height=height)
            proven = smt.verify(root, cid, proof)
            assert proven == (None if record is None else record.value_hash())


def _past(store: LedgerStore, agency: str, height: int) -> smt.NodeReader:
    return HistoricalNodeReader(store.raw_db, store._num(agency), height, store.reader(agency))


def test_pruning_through_a_cut_keeps_the_cut_and_later_provable(
    tmp_path: Path, net: TestNetwork
) -> None:
    agency = net.agency_ids[0]
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=100) as store:
        cids = _fill(store, net, agency, 8)  # heights 1..9
        assert store.oldest_provable_height(agency) == 0
        store.prune_history_through({agency: 5})
        assert store.history_floor(agency) == 5
        assert store.oldest_provable_height(agency) == 5
        assert min(_undo_heights(store, 0)) == 6  # entries of blocks 1..5 are gone
        journal = _rows(store.raw_db, schema.smt_journals(0))
        assert [schema.height_of_block_key(k) for k, _ in journal] == [6, 7, 8, 9]
        with pytest.raises(HistoryPrunedError):
            store.credential_proof(agency, cids[0], at_height=4)
        _assert_provable(store, agency, cids, range(5, 10))
        assert verify(store).ok
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=100) as store:
        assert store.oldest_provable_height(agency) == 5  # the floor is durable


def test_pruning_is_monotonic_capped_at_the_head_and_per_agency(
    tmp_path: Path, net: TestNetwork
) -> None:
    first, second = net.agency_ids[:2]
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=100) as store:
        _fill(store, net, first, 4)
        _fill(store, net, second, 2)
        store.prune_history_through({first: 3, second: 0})
        before = list(store.raw_db.iterator())
        store.prune_history_through({first: 2})  # lower than before: nothing to do
        store.prune_history_through({first: 3})  # the same again: nothing to do
        assert list(store.raw_db.iterator()) == before
        assert store.oldest_provable_height(second) == 0
        store.prune_history_through({second: 99})
        assert store.history_floor(second) == store.head(second).height == 3
        assert _undo_heights(store, 1) == set()
        with pytest.raises(NotMemberError):
            store.prune_history_through({"gi.nobody": 1})
        # blocks after a prune keep their history as usual
        cids = _fill(store, net, second, 2)
        assert store.oldest_provable_height(second) == 3
        _assert_provable(store, second, cids, range(3, store.head(second).height + 1))
        assert verify(store).ok


def test_pruning_writes_in_chunks(
    tmp_path: Path, net: TestNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    agency = net.agency_ids[0]
    monkeypatch.setattr(store_module, "PRUNE_CHUNK_OPS", 50)
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=100) as store:
        cids = _fill(store, net, agency, 6)
        store.prune_history_through({agency: 6})
        assert min(_undo_heights(store, 0)) == 7
        _assert_provable(store, agency, cids, range(6, 8))


class _IteratorCount:
    """A database whose open iterators are counted (to see what a reader holds between reads)."""

    def __init__(self, db: plyvel.DB) -> None:
        self.db = db
        self.open = 0

    @contextlib.contextmanager
    def iterator(self, **kwargs: Any) -> Iterator[Any]:
        self.open += 1
        try:
            with self.db.iterator(**kwargs) as entries:
                yield entries
        finally:
            self.open -= 1


def test_journals_hold_no_iterator_while_the_caller_prunes(
    tmp_path: Path, net: TestNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An open LevelDB iterator pins the memtables it started on: pruning writes ~1M deletions
    while it reads the journals, so it must not keep one open between pages."""
    agency = net.agency_ids[0]
    monkeypatch.setattr(writer, "JOURNAL_PAGE", 2)
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=100) as store:
        _fill(store, net, agency, 6)  # heights 1..7, a journal entry each
        counted = _IteratorCount(store.raw_db)
        read = []
        for height, journal in writer.journals(counted, 0, 6):
            assert counted.open == 0
            batch = PendingBatch(store.raw_db)
            writer.prune_history(batch, 0, height, journal)  # the caller deletes as it reads
            batch.write(sync=False)
            read.append(height)
        assert read == [1, 2, 3, 4, 5, 6]
        assert _undo_heights(store, 0) == {7}


def test_the_window_still_bounds_history_without_checkpoints(
    tmp_path: Path, net: TestNetwork
) -> None:
    agency = net.agency_ids[0]
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=3) as store:
        cids = _fill(store, net, agency, 6)  # heights 1..7
        store.prune_history_through({agency: 2})  # below the window: the window decides
        assert store.oldest_provable_height(agency) == 4
        assert min(_undo_heights(store, 0)) == 5
        _assert_provable(store, agency, cids, range(4, 8))


def test_undo_is_kept_only_for_nodes_that_existed(tmp_path: Path, net: TestNetwork) -> None:
    agency = net.agency_ids[0]
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=100) as store:
        cids = _fill(store, net, agency, 5)
        undo = _rows(store.raw_db, schema.smt_undos(0))
        empty = [k for k, v in undo if not v]
        # only the root's creation (block 1, the schema) is recorded as "absent before"
        assert empty == [schema.smt_undo(0, smt.ROOT_POSITION, 1)]
        assert all(len(v) in (smt.NODE_LEN, smt.UNDO_DELTA_LEN) for k, v in undo if v)
        _assert_provable(store, agency, cids, range(0, 7))


def test_undo_entries_of_one_changed_field_chain_back_to_every_height(
    tmp_path: Path, net: TestNetwork
) -> None:
    """A block that changes one field of a node (a leaf's value, one child) keeps just that
    field's old value; a past node is the current one with the later entries undone."""
    agency = net.agency_ids[0]
    keys = net.keys[agency]
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=100) as store:
        cids = _fill(store, net, agency, 3)
        first = len(_rows(store.raw_db, schema.smt_undos(0)))
        for change in (CredentialSuspended, CredentialReinstated, CredentialSuspended):
            store.author(agency, [change(cids[4])], keys, now_ms=NOW_MS)  # one leaf, its path
        undo = _rows(store.raw_db, schema.smt_undos(0))
        lengths = [len(v) for _, v in undo]
        assert lengths.count(smt.UNDO_DELTA_LEN) >= 3 * 2  # per block: the leaf, its parents
        assert len(undo) > first
        _assert_provable(store, agency, cids, range(0, store.head(agency).height + 1))
        assert verify(store).ok


def test_corrupt_undo_history_is_a_clear_storage_error(tmp_path: Path, net: TestNetwork) -> None:
    agency = net.agency_ids[0]
    keys = net.keys[agency]
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=100) as store:
        cids = _fill(store, net, agency, 2)
        store.author(agency, [CredentialSuspended(cids[0])], keys, now_ms=NOW_MS)
        head = store.head(agency).height
        undo = _rows(store.raw_db, schema.smt_undos(0))
        key, _ = next((k, v) for k, v in undo if schema.height_of_undo_key(k) == head and v)
        store.raw_db.put(key, b"\x07" + bytes(32))
        with pytest.raises(StorageError, match=r"undo history .* is corrupt"):
            store.credential_proof(agency, cids[0], at_height=head - 1)


def test_the_empty_tree_before_the_first_state_change_is_provable(
    tmp_path: Path, net: TestNetwork
) -> None:
    agency = net.agency_ids[0]
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=100) as store:
        cids = _fill(store, net, agency, 1)
        record, proof = store.credential_proof(agency, cids[0], at_height=0)
        assert record is None and isinstance(proof.terminal, smt.EmptySlot)
        assert smt.verify(ZERO_HASH, cids[0], proof) is None


def test_history_rows_leave_out_the_issue(tmp_path: Path, net: TestNetwork) -> None:
    agency = net.agency_ids[0]
    keys = net.keys[agency]
    with LedgerStore.open(tmp_path / "db", net.genesis) as store:
        store.author(agency, [schema_event()], keys, now_ms=NOW_MS)
        issued = issue_events(3)
        quiet, busy, same_block = (_cid(e) for e in issued)
        store.author(agency, [*issued, CredentialSuspended(same_block)], keys, now_ms=NOW_MS)
        store.author(agency, [CredentialSuspended(busy)], keys, now_ms=NOW_MS)
        store.author(
            agency,
            [CredentialReinstated(busy), CredentialRevoked(same_block)],
            keys,
            now_ms=NOW_MS,
        )
        rows = _rows(store.raw_db, schema.histories(0))
        assert len(rows) == 4  # busy at 3 and 4, same_block at 2 and 4; none for quiet
        assert all(EventKind.CREDENTIAL_ISSUED not in kinds for _, kinds in rows)
        assert store.credential_history(agency, quiet) == [(2, EventKind.CREDENTIAL_ISSUED)]
        assert store.credential_history(agency, busy) == [
            (2, EventKind.CREDENTIAL_ISSUED),
            (3, EventKind.CREDENTIAL_SUSPENDED),
            (4, EventKind.CREDENTIAL_REINSTATED),
        ]
        assert store.credential_history(agency, same_block) == [
            (2, EventKind.CREDENTIAL_ISSUED),
            (2, EventKind.CREDENTIAL_SUSPENDED),
            (4, EventKind.CREDENTIAL_REVOKED),
        ]
        assert store.credential_history(agency, b"\x09" * 32) == []
        assert verify(store).ok


def test_older_schema_is_refused(tmp_path: Path, net: TestNetwork) -> None:
    LedgerStore.open(tmp_path / "db", net.genesis).close()
    db = plyvel.DB(str(tmp_path / "db"))
    db.put(schema.SCHEMA_VERSION_KEY, (schema.SCHEMA_VERSION - 1).to_bytes(4, "big"))
    db.close()
    with pytest.raises(StorageError, match=r"older than this Calpe's.*re-sync"):
        LedgerStore.open(tmp_path / "db", net.genesis)
