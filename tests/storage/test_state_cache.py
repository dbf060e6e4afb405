"""The cached tops of the agencies' state trees: bounded by one budget for the whole node."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from node.core import smt
from node.core.events import CredentialIssued
from node.storage import LedgerStore, LevelDBMemory
from node.storage.integrity import verify
from node.storage.reader import CACHE_TOP_DEPTH, CACHED_NODE_BYTES, NodeCache
from tests.factories import NOW_MS, TestNetwork, issue_events, schema_event


def _grow(store: LedgerStore, net: TestNetwork, blocks: int, size: int) -> list[bytes]:
    """Every agency issues ``blocks`` blocks of ``size`` credentials; returns the ids."""
    ids = []
    for agency in net.agency_ids:
        store.author(agency, [schema_event()], net.keys[agency], now_ms=NOW_MS)
    for _ in range(blocks):
        for agency in net.agency_ids:
            events = issue_events(size)
            store.author(agency, events, net.keys[agency], now_ms=NOW_MS)
            ids += [e.credential_id for e in events if isinstance(e, CredentialIssued)]
    return ids


def test_a_cache_gives_up_its_deepest_level() -> None:
    cache = NodeCache()
    writes: dict[bytes, bytes | None] = {
        smt.position(depth, bytes([0xA5]) * 32): bytes([depth]) * smt.NODE_LEN
        for depth in range(CACHE_TOP_DEPTH + 3)
    }
    cache.update(writes)
    assert len(cache.nodes) == CACHE_TOP_DEPTH + 1  # depths 0..16, not the deeper ones
    assert cache.shallower() == 1
    assert cache.depth == CACHE_TOP_DEPTH - 1
    assert max(pos[1] for pos in cache.nodes) == CACHE_TOP_DEPTH - 1
    cache.update(writes)  # a later commit no longer adds the level given up
    assert len(cache.nodes) == CACHE_TOP_DEPTH


def test_the_budget_is_shared_and_the_state_unchanged(
    tmp_path: Path, net: TestNetwork, caplog: pytest.LogCaptureFixture
) -> None:
    tight = LevelDBMemory(state_cache_mib=1)  # ~6,000 nodes; each agency's tree top needs ~3,000
    with (
        caplog.at_level(logging.INFO, logger="node.storage.store"),
        LedgerStore.open(tmp_path / "ledger", net.genesis, memory=tight) as store,
    ):
        ids = _grow(store, net, blocks=6, size=250)
        caches = [store._slots[a].cache for a in net.agency_ids]
        assert sum(len(c.nodes) for c in caches) <= tight.state_cache_nodes()
        assert all(c.depth < CACHE_TOP_DEPTH for c in caches)
        assert max(c.depth for c in caches) - min(c.depth for c in caches) <= 1
        heads = store.heads()
    assert "now caches its tree to depth" in caplog.text
    # Read again through full caches: the same state, every proof verifies, nothing to repair.
    with LedgerStore.open(tmp_path / "ledger", net.genesis) as store:
        assert store.heads() == heads
        for cid in ids[::97]:
            issuer = store.issuer_of(cid)
            assert issuer is not None
            record, proof = store.credential_proof(issuer, cid)
            assert record is not None
            smt.verify_membership(heads[issuer].state_root, cid, record.value_hash(), proof)
        assert verify(store).ok


def test_the_budget_comes_from_the_storage_config() -> None:
    memory = LevelDBMemory(state_cache_mib=2)
    assert memory.state_cache_nodes() == 2 * 1024 * 1024 // CACHED_NODE_BYTES
    assert LevelDBMemory().state_cache_nodes() > (1 << (CACHE_TOP_DEPTH + 1))  # one big agency
