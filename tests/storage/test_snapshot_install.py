"""Installing a snapshot into an empty store: the state as of the cut (changes after it replayed
from history), the blocks after the cut applied on top, ``db verify``/``rebuild`` on the result,
proofs at the base, serving a snapshot again (with the cut block it kept), the manifest's wire
encoding, and an interrupted install wiped back to empty."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from node.core import smt
from node.core.block import MAX_BLOCK_BYTES
from node.core.checkpoint import Checkpoint
from node.core.checkpoint_protocol import CheckpointRecord
from node.core.encoding import encode
from node.core.errors import EncodingError, StorageError
from node.core.events import (
    AgencyKeyRotated,
    CredentialRevoked,
    CredentialSuspended,
    RevocationReason,
)
from node.core.governance import genesis_governance
from node.core.keys import AgencyKeys
from node.core.snapshot import Manifest, StateBuilder, verify_manifest
from node.core.status import Status
from node.network import PeerInfo
from node.services import snapshot_protocol as wire
from node.services.governance import fold
from node.services.snapshot import SnapshotJoiner, SnapshotServer, SnapshotUnavailableError
from node.services.store_access import StoreAccess
from node.storage import LedgerStore, checkpoint_table, integrity, schema, snapshot_install
from node.storage import snapshot_source as source
from node.storage.snapshot_install import SnapshotInstaller
from tests.factories import NOW_MS, TestNetwork, issue_events, make_network, schema_event
from tests.storage.builders import next_block


def _author(store: LedgerStore, net: TestNetwork, agency: str, events: list) -> None:  # type: ignore[type-arg]
    store.ingest(next_block(store, net, agency, events), now_ms=NOW_MS)


@pytest.fixture
def net() -> TestNetwork:
    return make_network(3)  # per test: the source store rotates a key in it


@pytest.fixture
def source_store(tmp_path: Path, net: TestNetwork) -> Iterator[LedgerStore]:
    """Agencies 0 and 1 with state (1 rotates its keys) and a confirmed checkpoint, then
    changes after the cut; agency 2 never wrote."""
    a0, a1, _ = net.agency_ids
    with LedgerStore.open(tmp_path / "source", net.genesis, retention=5) as store:
        _author(store, net, a0, [schema_event()])
        for _ in range(3):
            _author(store, net, a0, issue_events(4))
        _author(store, net, a1, [schema_event("permit")])
        _author(store, net, a1, issue_events(3, "permit"))
        rotated = AgencyKeys.generate()
        _author(
            store,
            net,
            a1,
            [AgencyKeyRotated(rotated.ed25519_public, rotated.secp256k1_address)],
        )
        net.keys[a1] = rotated
        cut = checkpoint_table.current_cut(store)
        checkpoint = Checkpoint(net.network_id, 1, cut.root(), cut, NOW_MS, b"\x00" * 32)
        checkpoint_table.put_record(store, CheckpointRecord(checkpoint, a0, {}, "confirmed"))
        store.apply_governance(fold(store, genesis_governance(store.genesis), checkpoint))
        first = _status_ids(store, a0)
        _author(store, net, a0, [CredentialRevoked(first[0], RevocationReason.UNSPECIFIED)])
        _author(store, net, a0, [CredentialSuspended(first[1]), *issue_events(2)])
        _author(store, net, a1, issue_events(2, "permit"))
        yield store


def _status_ids(store: LedgerStore, agency: str) -> list[bytes]:
    prefix = schema.statuses(store._num(agency))
    return sorted(
        schema.credential_id_of_status_key(k)
        for k in store.raw_db.iterator(prefix=prefix, include_value=False)
    )


def _manifest(store: LedgerStore) -> Manifest:
    record = source.newest_confirmed(store)
    assert record is not None
    return Manifest(record, tuple(source.manifest_leaves(store, record)))


def _install(src: LedgerStore, target: LedgerStore, page: int = 3) -> Manifest:
    manifest = _manifest(src)
    verify_manifest(manifest, manifest.record.checkpoint.checkpoint_root, genesis=target.genesis)
    installer = SnapshotInstaller(target, manifest.epoch)
    installer.begin()
    for leaf in manifest.record.checkpoint.cut.leaves:
        if leaf.height == 0:
            continue
        builder = StateBuilder(leaf.agency_id, leaf.height, leaf.state_root)
        after, done = b"", False
        while not done:
            served, done = source.state_entries(
                src, leaf.agency_id, leaf.height, after, page, 2**20
            )
            installer.add_entries(leaf.agency_id, builder.add(served))
            after = builder.last_key or b""
        installer.finish_agency(leaf, manifest.info(leaf.agency_id), builder)
    installer.complete(manifest.record)
    return manifest


def _catch_up(src: LedgerStore, target: LedgerStore) -> int:
    synced = 0
    for agency, head in target.heads().items():
        blocks = src.blocks_bytes(agency, head.height + 1, 1000)
        outcome = target.ingest_many(blocks, now_ms=NOW_MS)
        assert outcome.rejected is None, outcome.rejected
        synced += len(outcome.results)
    return synced


def _block_rows(store: LedgerStore, agency: str) -> list[int]:
    prefix = schema.blocks(store._num(agency))
    return [
        schema.height_of_block_key(k)
        for k in store.raw_db.iterator(prefix=prefix, include_value=False)
    ]


def test_install_then_sync_reaches_the_source_and_verifies(
    source_store: LedgerStore, tmp_path: Path, net: TestNetwork
) -> None:
    a0, a1, a2 = net.agency_ids
    with LedgerStore.open(tmp_path / "target", net.genesis, retention=5) as target:
        assert snapshot_install.is_empty(target)
        manifest = _install(source_store, target)
        cut = {leaf.agency_id: leaf for leaf in manifest.record.checkpoint.cut.leaves}
        assert snapshot_install.join_state(target) == "complete"
        assert {a: h.height for a, h in target.heads().items()} == {
            a: leaf.height for a, leaf in cut.items()
        }
        assert target.head(a1).ed25519_public == net.keys[a1].ed25519_public  # rotated key
        assert integrity.verify(target).ok

        assert _catch_up(source_store, target) == 3
        assert target.heads() == source_store.heads()
        # Only the blocks after the cut were ever stored.
        assert _block_rows(target, a0) == [cut[a0].height + 1, cut[a0].height + 2]
        assert target.blocks_bytes(a0, 1) == []  # never a later block for an absent one
        assert {e.height for e in target.events(a0)} == {cut[a0].height + 1, cut[a0].height + 2}
        assert target.blocks_bytes(a0, cut[a0].height + 1)
        assert target.oldest_provable_height(a0) == cut[a0].height
        report = integrity.verify(target)
        assert report.ok, report.summary()
        assert report.blocks_checked == 3

        # The credential revoked after the cut was active at the base: proven there.
        revoked = next(
            cid
            for cid in _status_ids(source_store, a0)
            if source_store.credential(a0, cid).status is Status.REVOKED  # type: ignore[union-attr]
        )
        assert target.credential(a0, revoked).status is Status.REVOKED  # type: ignore[union-attr]
        record, proof = target.credential_proof(a0, revoked, cut[a0].height)
        assert record is not None and record.status is Status.ACTIVE
        root = target.state_root_at(a0, cut[a0].height)
        assert smt.verify(root, revoked, proof) == record.value_hash()
        assert checkpoint_table.leaf_at(target, a0, cut[a0].height) == cut[a0]
        assert target.head(a2).height == 0

        # A joined node serves the same snapshot to the next joiner.
        for leaf in cut.values():
            args = (leaf.agency_id, leaf.height, b"", 1000, 2**20)
            assert source.state_entries(target, *args) == source.state_entries(source_store, *args)
        # ... with the block at its base, which it keeps apart from its block rows.
        served = _manifest(target)
        assert served == _manifest(source_store)
        assert served.info(a0).block == source_store.blocks_bytes(a0, cut[a0].height, 1)[0]
        verify_manifest(served, manifest.record.checkpoint.checkpoint_root, genesis=target.genesis)

        integrity.rebuild(target)
        assert target.heads() == source_store.heads()
        assert integrity.verify(target).ok
        assert _manifest(target) == served


def test_a_joined_node_without_its_cut_block_refuses_to_serve_that_manifest(
    source_store: LedgerStore, tmp_path: Path, net: TestNetwork
) -> None:
    a0 = net.agency_ids[0]
    with LedgerStore.open(tmp_path / "target", net.genesis) as target:
        manifest = _install(source_store, target)
        assert snapshot_install.base_block(target.raw_db, target._num(a0)) is not None
        target.raw_db.delete(schema.snapshot_block(target._num(a0)))  # as if joined before
        with pytest.raises(StorageError, match=f"does not hold {a0}'s block at height"):
            source.manifest_leaves(target, manifest.record)
        snapshot_install.discard(target)
        assert snapshot_install.is_empty(target)
        assert not list(target.raw_db.iterator(prefix=schema.snapshot_blocks()))


def test_the_manifest_on_the_wire(source_store: LedgerStore) -> None:
    record = source.newest_confirmed(source_store)
    assert record is not None
    manifest = Manifest(
        record,
        tuple(source.manifest_leaves(source_store, record)),
        source_store.governance_blob(record.epoch),
    )
    assert wire.MANIFEST_PROTOCOL == "/calpe/snapshot/manifest/2"
    assert wire.decode_manifest(wire.encode_manifest(manifest)) == manifest
    assert all(bool(i.block) == (i.log.size > 0) for i in manifest.leaves)
    # Version 1 had no block per leaf (its keys were bound by nothing): refused, not misread.
    leaves = [
        [i.agency_id, i.ed25519_public, i.secp256k1_address, i.timestamp_ms, i.log.to_bytes()]
        for i in manifest.leaves
    ]
    old = encode([1, record.encode(), leaves, manifest.governance])
    with pytest.raises(EncodingError, match="expected a status of 0 or 2, got 1"):
        wire.decode_manifest(old)
    oversized = dataclasses.replace(manifest.leaves[0], block=b"\x00" * (MAX_BLOCK_BYTES + 1))
    with pytest.raises(EncodingError, match="block must be bytes of at most"):
        wire.decode_manifest(
            wire.encode_manifest(dataclasses.replace(manifest, leaves=(oversized,)))
        )


def test_an_interrupted_install_is_wiped_and_rerun(
    source_store: LedgerStore, tmp_path: Path, net: TestNetwork
) -> None:
    with LedgerStore.open(tmp_path / "target", net.genesis) as target:
        manifest = _manifest(source_store)
        installer = SnapshotInstaller(target, manifest.epoch)
        installer.begin()
        leaf = manifest.record.checkpoint.cut.leaves[0]
        builder = StateBuilder(leaf.agency_id, leaf.height, leaf.state_root)
        served, _ = source.state_entries(source_store, leaf.agency_id, leaf.height, b"", 4, 2**20)
        installer.add_entries(leaf.agency_id, builder.add(served))
        assert snapshot_install.join_state(target) == "installing"
        assert not snapshot_install.is_empty(target)
        with pytest.raises(StorageError, match="not empty"):
            SnapshotInstaller(target, manifest.epoch).begin()
        snapshot_install.discard(target)
        assert snapshot_install.is_empty(target)
        assert not list(target.raw_db.iterator(prefix=schema.statuses(0)))
        _install(source_store, target)
        assert integrity.verify(target).ok


class _Loopback:
    """Stands in for the libp2p transport only: each request goes to a real SnapshotServer
    (the real network runs in tests/integration/test_snapshot_join.py)."""

    def __init__(self, servers: dict[str, SnapshotServer]) -> None:
        self.servers = servers
        self.requests = 0

    def connected_peers(self) -> list[PeerInfo]:
        return [PeerInfo(p, (), 0.0, None, None) for p in self.servers]

    async def request(
        self, peer_id: str, protocol: str, data: bytes, *, timeout: float | None = None
    ) -> bytes:
        self.requests += 1
        server = self.servers[peer_id]
        handler = (
            server.serve_manifest if protocol == wire.MANIFEST_PROTOCOL else server.serve_chunk
        )
        return await handler("joiner", data)


def _joiner(store: LedgerStore, network: _Loopback, onchain: bytes | None) -> SnapshotJoiner:
    from node.services.snapshot import JoinOptions

    return SnapshotJoiner(
        StoreAccess(store),
        network,  # type: ignore[arg-type]
        lambda epoch: onchain,
        options=JoinOptions(chunk_items=2, peer_wait_s=0),
    )


def test_the_joiner_over_the_wire_protocol(
    source_store: LedgerStore, tmp_path: Path, net: TestNetwork
) -> None:
    root = _manifest(source_store).record.checkpoint.checkpoint_root
    network = _Loopback({"peer-a": SnapshotServer(StoreAccess(source_store))})
    with LedgerStore.open(tmp_path / "t1", net.genesis) as target:
        with pytest.raises(SnapshotUnavailableError, match="wait until the network anchors"):
            trio.run(_joiner(target, network, hashlib.sha256(b"other").digest()).join)
        assert snapshot_install.is_empty(target)  # a refused snapshot leaves nothing behind
        result = trio.run(_joiner(target, network, root).join)
        assert result.peer_id == "peer-a" and result.entries > 10
        # A node that joined by snapshot serves that same checkpoint to the next joiner.
        again = _Loopback({"peer-b": SnapshotServer(StoreAccess(target))})
        with LedgerStore.open(tmp_path / "t2", net.genesis) as second:
            assert trio.run(_joiner(second, again, root).join).peer_id == "peer-b"
            assert second.heads() == target.heads()
        _catch_up(source_store, target)
        assert target.heads() == source_store.heads()
        assert integrity.verify(target).ok


def test_bad_requests_get_a_refusal_not_an_exception(source_store: LedgerStore) -> None:
    server = SnapshotServer(StoreAccess(source_store))
    agency = source_store.genesis.agencies[0].agency_id

    async def ask() -> list[bytes]:
        return [
            await server.serve_chunk("p", b"\xff\x00"),
            await server.serve_chunk("p", wire.encode_chunk_request(99, agency, b"", 5)),
            await server.serve_chunk("p", wire.encode_chunk_request(1, "gi.nobody", b"", 5)),
        ]

    for response in trio.run(ask):
        with pytest.raises(Exception, match="refused"):
            wire.decode_chunk(response)
