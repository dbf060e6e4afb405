"""Snapshot join, pure checks: every tampering of a manifest or of the state entries is refused
with its own error, and the bulk tree builder matches ``smt.apply_batch`` node for node."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.core import eip712, smt
from node.core.checkpoint import Checkpoint, Cut, CutLeaf
from node.core.checkpoint_protocol import CheckpointRecord
from node.core.hashing import ZERO_HASH
from node.core.ledger import AgencyHead, author_block
from node.core.merkle_log import CompactRange
from node.core.snapshot import (
    CREDENTIAL,
    SCHEMA,
    CheckpointRootError,
    EntryError,
    FrontierError,
    LeafInfo,
    Manifest,
    ManifestError,
    OnchainRootError,
    StateBuilder,
    StateRootError,
    bulk_build,
    check_network,
    tree_items,
    verify_manifest,
)
from node.core.status import Status, StatusRecord, decode_status_record, schema_state_key
from tests.core.memory_state import MemoryState
from tests.factories import NOW_MS, TestNetwork, issue_events, make_network, schema_event

CHAIN_ID = 33
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

# ---------------------------------------------------------------------------- bulk build

keys_st = st.lists(st.binary(min_size=32, max_size=32), unique=True, max_size=60)


@settings(max_examples=60, deadline=None)
@given(keys=keys_st, shared=st.integers(0, 255))
def test_bulk_build_matches_apply_batch(keys: list[bytes], shared: int) -> None:
    # Force long common prefixes too: they make chains of one-child internal nodes.
    keys = sorted({_with_prefix(k, shared) for k in keys})
    values = [hashlib.sha256(k).digest() for k in keys]
    emitted: dict[bytes, bytes] = {}
    root = bulk_build(keys, values, emitted.__setitem__)
    result = smt.apply_batch(
        smt.InMemoryNodeStore(), ZERO_HASH, dict(zip(keys, values, strict=True))
    )
    assert root == result.root == smt.compute_root(dict(zip(keys, values, strict=True)))
    assert emitted == result.writes


def _with_prefix(key: bytes, shared_bits: int) -> bytes:
    mask = (1 << 256) - (1 << (256 - shared_bits)) if shared_bits else 0
    value = (int.from_bytes(key, "big") & ~mask) | (0xA5 * (2**256 - 1) // 255 & mask)
    return value.to_bytes(32, "big")


def test_bulk_build_refuses_unsorted_keys() -> None:
    a, b = b"\x01" * 32, b"\x02" * 32
    with pytest.raises(ValueError):
        bulk_build([b, a], [a, b])
    assert bulk_build([], []) == ZERO_HASH


# -------------------------------------------------------------------------- a real snapshot


@dataclass
class Snap:
    net: TestNetwork
    manifest: Manifest
    entries: dict[str, list[tuple[int, bytes]]]
    secp_keys: dict[str, bytes]


def _agency_state(net: TestNetwork, agency_id: str, count: int) -> MemoryState:
    agency = net.genesis.agency(agency_id)
    assert agency is not None
    state = MemoryState(AgencyHead.initial(agency))
    keys = net.keys[agency_id]
    for events in ([schema_event()], issue_events(count)):
        applied = author_block(
            state.head, events, keys, state, network_id=net.network_id, timestamp_ms=NOW_MS
        )
        state.commit(applied)
    return state


def _entries(state: MemoryState) -> list[tuple[int, bytes]]:
    served = [(cid, CREDENTIAL, r.encode()) for cid, r in state.credentials.items()]
    served += [(schema_state_key(s), SCHEMA, r.encode()) for s, r in state.schemas.items()]
    return [(kind, encoded) for _, kind, encoded in sorted(served)]


@pytest.fixture(scope="module")
def snap() -> Snap:
    net = make_network(2)
    states = {a: _agency_state(net, a, 5 + i) for i, a in enumerate(net.agency_ids)}
    leaves = [
        CutLeaf(a, s.head.height, s.head.block_hash, s.head.log_root, s.head.state_root)
        for a, s in states.items()
    ]
    cut = Cut.of(leaves)
    checkpoint = Checkpoint(net.network_id, 3, cut.root(), cut, NOW_MS, b"\x00" * 32)
    digest = eip712.checkpoint_digest(CHAIN_ID, CONTRACT, net.network_id, 3, cut.root())
    signatures = {a: eip712.sign_digest(net.keys[a].secp256k1_private, digest) for a in states}
    record = CheckpointRecord(checkpoint, net.agency_ids[0], signatures, "confirmed")
    infos = tuple(
        LeafInfo(
            a,
            s.head.ed25519_public,
            s.head.secp256k1_address,
            s.head.timestamp_ms,
            s.head.log,
        )
        for a, s in states.items()
    )
    entries = {a: _entries(s) for a, s in states.items()}
    secp = {a: net.keys[a].secp256k1_private for a in states}
    return Snap(net, Manifest(record, infos), entries, secp)


def _signer_of(manifest: Manifest):  # type: ignore[no-untyped-def]
    cp = manifest.record.checkpoint
    digest = eip712.checkpoint_digest(
        CHAIN_ID, CONTRACT, cp.network_id, cp.epoch, cp.checkpoint_root
    )
    return lambda sig: eip712.address_bytes(eip712.recover_signer(digest, sig))


def test_a_sound_manifest_and_its_entries_verify(snap: Snap) -> None:
    manifest = snap.manifest
    root = manifest.record.checkpoint.checkpoint_root
    verify_manifest(manifest, root, _signer_of(manifest))
    for leaf in manifest.record.checkpoint.cut.leaves:
        builder = StateBuilder(leaf.agency_id, leaf.height, leaf.state_root)
        served = snap.entries[leaf.agency_id]
        builder.add(served[:3])
        builder.add(served[3:])
        assert builder.finish() == leaf.state_root


def _with_leaf(manifest: Manifest, leaf: CutLeaf, *, recompute_root: bool) -> Manifest:
    cp = manifest.record.checkpoint
    cut = Cut.of([leaf, *(x for x in cp.cut.leaves if x.agency_id != leaf.agency_id)])
    root = cut.root() if recompute_root else cp.checkpoint_root
    record = dataclasses.replace(
        manifest.record, checkpoint=dataclasses.replace(cp, cut=cut, checkpoint_root=root)
    )
    return dataclasses.replace(manifest, record=record)


def test_a_tampered_cut_leaf_is_refused(snap: Snap) -> None:
    leaf = snap.manifest.record.checkpoint.cut.leaves[0]
    bad = _with_leaf(
        snap.manifest, dataclasses.replace(leaf, state_root=b"\x07" * 32), recompute_root=False
    )
    with pytest.raises(CheckpointRootError):
        verify_manifest(bad, snap.manifest.record.checkpoint.checkpoint_root)


def test_a_root_that_is_not_on_chain_is_refused(snap: Snap) -> None:
    leaf = snap.manifest.record.checkpoint.cut.leaves[0]
    forged = _with_leaf(
        snap.manifest, dataclasses.replace(leaf, height=leaf.height), recompute_root=True
    )
    with pytest.raises(OnchainRootError, match="differs from the contract"):
        verify_manifest(forged, b"\x09" * 32)
    with pytest.raises(OnchainRootError, match="not anchored"):
        verify_manifest(snap.manifest, None)
    with pytest.raises(OnchainRootError, match="not anchored"):
        verify_manifest(snap.manifest, ZERO_HASH)


def test_a_tampered_frontier_is_refused(snap: Snap) -> None:
    root = snap.manifest.record.checkpoint.checkpoint_root
    info = snap.manifest.leaves[0]
    shorter = CompactRange().extend([b"\x01" * 32])[0]
    other = CompactRange(info.log.size, tuple(b"\x02" * 32 for _ in info.log.hashes))
    for log, match in ((shorter, "size"), (other, "log root")):
        bad_info = dataclasses.replace(info, log=log)
        bad = dataclasses.replace(snap.manifest, leaves=(bad_info, *snap.manifest.leaves[1:]))
        with pytest.raises(FrontierError, match=match):
            verify_manifest(bad, root)


def test_missing_leaf_data_and_wrong_signer_keys_are_refused(snap: Snap) -> None:
    root = snap.manifest.record.checkpoint.checkpoint_root
    with pytest.raises(ManifestError):
        verify_manifest(dataclasses.replace(snap.manifest, leaves=snap.manifest.leaves[1:]), root)
    info = dataclasses.replace(snap.manifest.leaves[0], secp256k1_address=b"\x03" * 20)
    bad = dataclasses.replace(snap.manifest, leaves=(info, *snap.manifest.leaves[1:]))
    with pytest.raises(ManifestError, match="not by the address"):
        verify_manifest(bad, root, _signer_of(bad))


def _builder(snap: Snap) -> tuple[StateBuilder, list[tuple[int, bytes]]]:
    leaf = snap.manifest.record.checkpoint.cut.leaves[0]
    return StateBuilder(leaf.agency_id, leaf.height, leaf.state_root), list(
        snap.entries[leaf.agency_id]
    )


def _credential_index(served: list[tuple[int, bytes]]) -> int:
    return next(i for i, (kind, _) in enumerate(served) if kind == CREDENTIAL)


def test_a_tampered_entry_is_refused_by_the_state_root(snap: Snap) -> None:
    builder, served = _builder(snap)
    i = _credential_index(served)
    record = decode_status_record(served[i][1])
    served[i] = (CREDENTIAL, dataclasses.replace(record, status=Status.REVOKED, reason=1).encode())
    builder.add(served)
    with pytest.raises(StateRootError):
        builder.finish()


def test_a_missing_entry_is_refused_by_the_state_root(snap: Snap) -> None:
    builder, served = _builder(snap)
    del served[_credential_index(served)]
    builder.add(served)
    with pytest.raises(StateRootError):
        builder.finish()


def test_entries_out_of_order_foreign_or_after_the_cut_are_refused(snap: Snap) -> None:
    builder, served = _builder(snap)
    with pytest.raises(EntryError, match="order"):
        builder.add(list(reversed(served)))
    builder, served = _builder(snap)
    with pytest.raises(EntryError, match="order"):
        builder.add(served[:2] + served[:2])
    record: StatusRecord = decode_status_record(served[_credential_index(served)][1])
    foreign = dataclasses.replace(record, issuer="gi.other")
    later = dataclasses.replace(record, updated_height=builder.height + 1)
    for bad, match in ((foreign, "another issuer"), (later, "after the cut")):
        fresh, _ = _builder(snap)
        with pytest.raises(EntryError, match=match):
            fresh.add([(CREDENTIAL, bad.encode())])
    with pytest.raises(EntryError, match="malformed"):
        _builder(snap)[0].add([(CREDENTIAL, b"\x80")])
    with pytest.raises(EntryError, match="kind"):
        _builder(snap)[0].add([(7, record.encode())])


def test_tree_items_sorts_for_bulk_build() -> None:
    items = {hashlib.sha256(bytes([i])).digest(): b"\x05" * 32 for i in range(20)}
    keys, values = tree_items(items)
    assert bulk_build(keys, values) == smt.compute_root(items)


def test_a_checkpoint_of_another_network_or_agencies_is_refused(snap: Snap) -> None:
    members = snap.net.agency_ids
    check_network(snap.manifest, snap.net.network_id, members)
    with pytest.raises(ManifestError, match="another network"):
        check_network(snap.manifest, b"\x01" * 32, members)
    with pytest.raises(ManifestError, match="unknown here"):
        check_network(snap.manifest, snap.net.network_id, members[:1])
