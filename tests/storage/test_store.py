"""Writing and reading the ledger store: heads, blocks, events, credentials, proofs, batches."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.core import merkle_log, smt
from node.core.errors import HeightError, PrevHashError, UnknownCredentialError
from node.core.events import (
    CredentialIssued,
    CredentialRevoked,
    CredentialSuspended,
    Event,
    EventKind,
)
from node.core.hashing import ZERO_HASH
from node.core.status import Status
from node.storage import HistoryPrunedError, LedgerStore, LevelDBMemory, schema
from node.storage.integrity import verify
from tests.factories import NOW_MS, TestNetwork, issue_events, schema_event
from tests.storage.builders import resigned


def _cid(event: Event) -> bytes:
    assert isinstance(event, CredentialIssued)
    return event.credential_id


def test_fresh_store_has_initial_heads(store: LedgerStore, net: TestNetwork) -> None:
    heads = store.heads()
    assert sorted(heads) == net.agency_ids
    for agency in net.genesis.agencies:
        head = heads[agency.agency_id]
        assert (head.height, head.state_root, head.frozen) == (0, ZERO_HASH, False)
        assert head.ed25519_public == agency.ed25519_public
        assert head.log.size == 0


def test_author_then_ingest_elsewhere_gives_same_head(
    tmp_path: Path, store: LedgerStore, net: TestNetwork
) -> None:
    agency = net.agency_ids[0]
    blocks = [store.author(agency, [schema_event()], net.keys[agency], now_ms=NOW_MS).block]
    for _ in range(3):
        blocks.append(store.author(agency, issue_events(20), net.keys[agency], now_ms=NOW_MS).block)
    smallest = LevelDBMemory(cache_mib=4, write_buffer_mib=4, max_open_files=20)
    with LedgerStore.open(tmp_path / "peer", net.genesis, memory=smallest) as peer:
        for block in blocks:
            result = peer.ingest(block.encode(), now_ms=NOW_MS)
            assert result.outcome == "applied"
        assert peer.head(agency) == store.head(agency)
        assert peer.block_bytes(agency, 3) == store.block_bytes(agency, 3)


def test_duplicate_is_harmless(store: LedgerStore, net: TestNetwork) -> None:
    agency = net.agency_ids[0]
    block = store.author(agency, [schema_event()], net.keys[agency], now_ms=NOW_MS).block
    before = list(store.raw_db.iterator())
    result = store.ingest(block.encode(), now_ms=NOW_MS)
    assert result.outcome == "duplicate"
    assert list(store.raw_db.iterator()) == before


def test_reads(store: LedgerStore, net: TestNetwork) -> None:
    agency = net.agency_ids[1]
    keys = net.keys[agency]
    store.author(agency, [schema_event()], keys, now_ms=NOW_MS)
    issued = issue_events(5)
    store.author(agency, issued, keys, now_ms=NOW_MS)
    cid = _cid(issued[0])
    store.author(agency, [CredentialSuspended(cid)], keys, now_ms=NOW_MS)
    store.author(agency, [CredentialRevoked(cid)], keys, now_ms=NOW_MS)

    assert store.block(agency, 2) is not None
    assert store.block(agency, 5) is None
    assert [b.height for b in store.blocks(agency, 2, limit=2)] == [2, 3]
    record = store.credential(agency, cid)
    assert record is not None and record.status is Status.REVOKED
    assert store.credential(net.agency_ids[0], cid) is None
    assert store.issuer_of(cid) == agency
    assert store.credential_history(agency, cid) == [
        (2, EventKind.CREDENTIAL_ISSUED),
        (3, EventKind.CREDENTIAL_SUSPENDED),
        (4, EventKind.CREDENTIAL_REVOKED),
    ]
    events = store.events(agency, from_height=2, limit=3)
    assert [(e.height, e.index) for e in events] == [(2, 0), (2, 1), (2, 2)]
    assert len(store.events(agency)) == 1 + 5 + 1 + 1
    paged, resume = [], (1, 0)
    while True:
        page = store.events(agency, resume[0], limit=3, from_index=resume[1])
        if not page:
            break
        paged.extend(page)
        resume = (page[-1].height, page[-1].index + 1)
    assert paged == store.events(agency)
    location = store.block_location(store.head(agency).block_hash)
    assert location is not None and location[1] == 4


def test_log_proofs(store: LedgerStore, net: TestNetwork) -> None:
    agency = net.agency_ids[0]
    hashes = [store.author(agency, [schema_event()], net.keys[agency], now_ms=NOW_MS).block.hash]
    for _ in range(6):
        block = store.author(agency, issue_events(2), net.keys[agency], now_ms=NOW_MS).block
        hashes.append(block.hash)
    leaves = [merkle_log.leaf_hash(h) for h in hashes]
    assert store.log_root(agency) == merkle_log.root(leaves)
    for size in range(1, 8):
        root = store.log_root(agency, size)
        assert root == merkle_log.root(leaves[:size])
        for index in range(size):
            proof = store.log_inclusion_proof(agency, index, size)
            merkle_log.verify_inclusion(leaves[index], index, size, proof, root)
        proof = store.log_consistency_proof(agency, size, 7)
        merkle_log.verify_consistency(size, 7, root, store.log_root(agency), proof)


def test_credential_proofs_at_head_and_past_heights(store: LedgerStore, net: TestNetwork) -> None:
    agency = net.agency_ids[0]
    keys = net.keys[agency]
    store.author(agency, [schema_event()], keys, now_ms=NOW_MS)
    issued = issue_events(30)
    store.author(agency, issued, keys, now_ms=NOW_MS)
    cid = _cid(issued[3])
    for _ in range(5):
        store.author(agency, issue_events(30), keys, now_ms=NOW_MS)
    store.author(agency, [CredentialSuspended(cid)], keys, now_ms=NOW_MS)
    store.author(agency, [CredentialRevoked(cid)], keys, now_ms=NOW_MS)
    head = store.head(agency).height
    for height in range(0, head + 1):
        record, proof = store.credential_proof(agency, cid, at_height=height)
        root = store.state_root_at(agency, height)
        proven = smt.verify(root, cid, proof)
        if height < 2:
            assert record is None and proven is None
        else:
            assert record is not None and proven == record.value_hash()
            expected = {8: Status.SUSPENDED, 9: Status.REVOKED}.get(height, Status.ACTIVE)
            assert record.status is expected


def test_history_is_pruned_past_the_window(tmp_path: Path, net: TestNetwork) -> None:
    agency = net.agency_ids[0]
    keys = net.keys[agency]
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=3) as store:
        store.author(agency, [schema_event()], keys, now_ms=NOW_MS)
        for _ in range(8):
            store.author(agency, issue_events(10), keys, now_ms=NOW_MS)
        assert store.oldest_provable_height(agency) == 6
        cid = store.block(agency, 2).events[0].credential_id  # type: ignore[union-attr]
        with pytest.raises(HistoryPrunedError):
            store.credential_proof(agency, cid, at_height=5)
        for height in range(6, 10):
            _, proof = store.credential_proof(agency, cid, at_height=height)
            smt.verify(store.state_root_at(agency, height), cid, proof)
    # a smaller window on reopening prunes what it no longer keeps
    with LedgerStore.open(tmp_path / "db", net.genesis, retention=1) as store:
        undo = [k for k, _ in store.raw_db.iterator() if k.startswith(schema.smt_journals(0))]
        assert len(undo) == 1


def test_ingest_many_commits_prefix_and_reports_rejection(
    tmp_path: Path, store: LedgerStore, net: TestNetwork
) -> None:
    agency = net.agency_ids[0]
    keys = net.keys[agency]
    blocks = [store.author(agency, [schema_event()], keys, now_ms=NOW_MS).block]
    for _ in range(4):
        blocks.append(store.author(agency, issue_events(10), keys, now_ms=NOW_MS).block)
    with LedgerStore.open(tmp_path / "peer", net.genesis) as peer:
        outcome = peer.ingest_many([b.encode() for b in blocks[:3]], now_ms=NOW_MS)
        assert [r.outcome for r in outcome.results] == ["applied"] * 3
        assert outcome.rejected is None
        gap = resigned(blocks[4], keys, height=7)
        outcome = peer.ingest_many([blocks[3], blocks[2], blocks[3], gap, blocks[4]], now_ms=NOW_MS)
        assert [r.outcome for r in outcome.results] == ["applied", "duplicate", "duplicate"]
        assert isinstance(outcome.rejected, HeightError)
        assert peer.head(agency).height == 4
        # the prefix was committed even though the last block was refused
        assert peer.ingest(blocks[4], now_ms=NOW_MS).outcome == "applied"
        assert peer.head(agency) == store.head(agency)


def test_commit_many_group_commits_in_order(
    tmp_path: Path, store: LedgerStore, net: TestNetwork
) -> None:
    agency = net.agency_ids[2]
    keys = net.keys[agency]
    applied = [store.author(agency, [schema_event()], keys, now_ms=NOW_MS)]
    for _ in range(3):
        applied.append(store.author(agency, issue_events(5), keys, now_ms=NOW_MS))
    with LedgerStore.open(tmp_path / "peer", net.genesis) as peer:
        with pytest.raises(HeightError):
            peer.commit_many(applied[1:])
        peer.commit_many(applied)
        assert peer.head(agency) == store.head(agency)
        assert verify(peer).ok  # includes the undo history written without a validating reader
        with pytest.raises(HeightError):
            peer.commit(applied[0])


def test_commit_refuses_a_block_not_extending_the_head(
    tmp_path: Path, store: LedgerStore, net: TestNetwork
) -> None:
    agency = net.agency_ids[0]
    store.author(agency, [schema_event()], net.keys[agency], now_ms=NOW_MS)
    with LedgerStore.open(tmp_path / "other", net.genesis) as other:
        other.author(agency, [schema_event("other")], net.keys[agency], now_ms=NOW_MS)
        forked = other.author(agency, issue_events(1, "other"), net.keys[agency], now_ms=NOW_MS)
    before = list(store.raw_db.iterator())
    with pytest.raises(PrevHashError):
        store.commit(forked)
    assert list(store.raw_db.iterator()) == before


def test_author_validates_like_ingest(store: LedgerStore, net: TestNetwork) -> None:
    agency = net.agency_ids[0]
    store.author(agency, [schema_event()], net.keys[agency], now_ms=NOW_MS)
    before = list(store.raw_db.iterator())
    with pytest.raises(UnknownCredentialError):
        store.author(agency, [CredentialRevoked(b"\x07" * 32)], net.keys[agency], now_ms=NOW_MS)
    assert list(store.raw_db.iterator()) == before


def test_state_survives_reopen(tmp_path: Path, net: TestNetwork) -> None:
    agency = net.agency_ids[0]
    with LedgerStore.open(tmp_path / "db", net.genesis) as store:
        store.author(agency, [schema_event()], net.keys[agency], now_ms=NOW_MS)
        store.author(agency, issue_events(10), net.keys[agency], now_ms=NOW_MS)
        heads = store.heads()
    with LedgerStore.open(tmp_path / "db", net.genesis) as store:
        assert store.heads() == heads
        store.author(agency, issue_events(10), net.keys[agency], now_ms=NOW_MS)
        assert store.head(agency).height == 3


def test_tree_nodes_are_keyed_under_their_depth_16_subtree(
    store: LedgerStore, net: TestNetwork
) -> None:
    """A node's key leads with the first 16 bits of its path, so the nodes under one depth-16
    subtree are neighbours in LevelDB: the deep reads of one key's update share a table block."""
    agency = net.agency_ids[0]
    store.author(agency, [schema_event()], net.keys[agency], now_ms=NOW_MS)
    for _ in range(4):
        store.author(agency, issue_events(500), net.keys[agency], now_ms=NOW_MS)
    reader = store.reader(agency)
    prefix = schema.smt_nodes(store._num(agency))
    leads: list[bytes] = []
    for key, encoded in store.raw_db.iterator(prefix=prefix):
        suffix = key[len(prefix) :]
        lead = 0 if len(suffix) == 2 else 1 if len(suffix) == 4 else 2  # root, depth 1-8, deeper
        position = suffix[lead:]
        depth, _path = smt.decode_position(position)
        assert suffix[:lead] == position[2:4]
        assert schema.smt_node(store._num(agency), position) == key
        assert reader.get_node(position) == encoded
        if depth >= 9:
            leads.append(suffix[:2])
    runs = [lead for i, lead in enumerate(leads) if i == 0 or leads[i - 1] != lead]
    assert len(runs) == len(set(runs)), "a depth-16 subtree's nodes are not contiguous"
    assert len(leads) > 1000 and len(set(leads)) > 500


def test_cursors(store: LedgerStore) -> None:
    assert store.cursor("rsk-bridge") is None
    store.set_cursor("rsk-bridge", b"\x00\x01")
    assert store.cursor("rsk-bridge") == b"\x00\x01"
