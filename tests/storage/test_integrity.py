"""verify() finds tampering written straight into LevelDB; rebuild() repairs derived data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.core.errors import StorageError
from node.core.events import CredentialRevoked, CredentialSuspended
from node.storage import LedgerStore, schema
from node.storage.integrity import rebuild, verify
from tests.factories import NOW_MS, TestNetwork, issue_events, schema_event
from tests.storage.builders import snapshot


@pytest.fixture
def filled(tmp_path: Path, net: TestNetwork) -> Iterator[LedgerStore]:
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=4) as store:
        for agency in net.agency_ids[:2]:
            keys = net.keys[agency]
            store.author(agency, [schema_event()], keys, now_ms=NOW_MS)
            for _ in range(5):
                issued = issue_events(20)
                store.author(agency, issued, keys, now_ms=NOW_MS)
            cid = issued[0].credential_id  # type: ignore[union-attr]
            store.author(agency, [CredentialSuspended(cid)], keys, now_ms=NOW_MS)
            store.author(agency, [CredentialRevoked(cid)], keys, now_ms=NOW_MS)
        yield store


def _first_key(store: LedgerStore, prefix: bytes) -> bytes:
    key: bytes = next(store.raw_db.iterator(prefix=prefix, include_value=False))
    return key


def test_clean_store_verifies(filled: LedgerStore) -> None:
    seen: list[tuple[str, int, int]] = []
    report = verify(filled, progress=lambda *args: seen.append(args))
    assert report.ok, report.mismatches
    assert report.blocks_checked == 16
    assert seen and seen[-1][1] == seen[-1][2]


@pytest.mark.parametrize("table", ["status", "smt_node", "log_node", "history", "schema"])
def test_tampered_derived_data_is_found_and_rebuilt(filled: LedgerStore, table: str) -> None:
    prefixes = {
        "status": schema.statuses(0),
        "smt_node": schema.smt_nodes(1),
        "log_node": schema.log_nodes(0),
        "history": schema.histories(1),
        "schema": schema.schemas(0),
    }
    good = snapshot(filled.raw_db)
    key = _first_key(filled, prefixes[table])
    filled.raw_db.put(key, b"\x00garbage")
    filled.reset_caches()
    report = verify(filled)
    assert not report.ok
    assert any(schema.table_of(key) in m.what for m in report.mismatches)
    repaired = rebuild(filled)
    assert repaired.ok
    assert verify(filled).ok
    assert snapshot(filled.raw_db) == good


def test_damaged_head_needs_repair_mode(tmp_path: Path, filled: LedgerStore) -> None:
    good = snapshot(filled.raw_db)
    filled.raw_db.put(schema.head(0), b"\x00garbage")
    filled.close()
    with pytest.raises(StorageError, match=r"damaged.*rebuild"):
        LedgerStore.open(filled.path, filled.genesis, retention=4)
    with LedgerStore.open(filled.path, filled.genesis, retention=4, repair=True) as store:
        assert rebuild(store).ok
        assert verify(store).ok
        assert snapshot(store.raw_db) == good


def test_deleted_row_is_reported_missing(filled: LedgerStore) -> None:
    key = _first_key(filled, schema.statuses(1))
    filled.raw_db.delete(key)
    report = verify(filled)
    assert any("missing" in m.what for m in report.mismatches)


def test_tampered_block_is_found(filled: LedgerStore, net: TestNetwork) -> None:
    agency = net.agency_ids[1]
    raw = filled.block_bytes(agency, 3)
    assert raw is not None
    tampered = raw[:-5] + bytes(b ^ 0xFF for b in raw[-5:])  # flip bits of the signature
    filled.raw_db.put(schema.block(1, 3), tampered)
    report = verify(filled)
    assert [(m.agency_id, m.height) for m in report.mismatches][:1] == [(agency, 3)]
    repaired = rebuild(filled)
    assert not repaired.ok
    assert filled.head(agency).height == 2
    assert filled.head(net.agency_ids[0]).height == 8


def test_tampered_history_breaks_old_roots(filled: LedgerStore) -> None:
    key = _first_key(filled, schema.smt_undos(0) + b"\x00\x00")  # the root's undo entries
    filled.raw_db.put(key, b"\x01" + b"\x00" * 64)
    report = verify(filled)
    assert any("state history" in m.what for m in report.mismatches)
    assert rebuild(filled).ok and verify(filled).ok
