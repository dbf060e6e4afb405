"""Snapshot join, pure checks: every tampering of a manifest or of the state entries is refused
with its own error (keys and timestamps are bound by the block at the cut), and the bulk tree
builder matches ``smt.apply_batch`` node for node."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.core import eip712, smt
from node.core.block import Block
from node.core.checkpoint import Checkpoint, Cut, CutLeaf
from node.core.checkpoint_protocol import CheckpointRecord
from node.core.events import AgencyKeyRotated, Event
from node.core.genesis import Genesis
from node.core.governance import genesis_governance
from node.core.hashing import ZERO_HASH
from node.core.keys import AgencyKeys
from node.core.ledger import AgencyHead, author_block
from node.core.merkle_log import CompactRange
from node.core.snapshot import (
    CREDENTIAL,
    SCHEMA,
    CheckpointRootError,
    CutBlockError,
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
    governance_of,
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
    blocks: dict[str, list[Block]]
    """Every agency's blocks, height 1 first."""
    rotated: AgencyKeys
    """The keys agency 1 rotates to in its block at the cut."""


def _agency_state(
    net: TestNetwork, agency_id: str, count: int, rotate_to: AgencyKeys | None = None
) -> tuple[MemoryState, list[Block]]:
    agency = net.genesis.agency(agency_id)
    assert agency is not None
    state = MemoryState(AgencyHead.initial(agency))
    keys = net.keys[agency_id]
    batches: list[list[Event]] = [[schema_event()], issue_events(count)] if count else []
    if rotate_to is not None:
        batches.append([AgencyKeyRotated(rotate_to.ed25519_public, rotate_to.secp256k1_address)])
    blocks = []
    for i, events in enumerate(batches):
        applied = author_block(
            state.head, events, keys, state, network_id=net.network_id, timestamp_ms=NOW_MS + i
        )
        state.commit(applied)
        blocks.append(applied.block)
    return state, blocks


def _entries(state: MemoryState) -> list[tuple[int, bytes]]:
    served = [(cid, CREDENTIAL, r.encode()) for cid, r in state.credentials.items()]
    served += [(schema_state_key(s), SCHEMA, r.encode()) for s, r in state.schemas.items()]
    return [(kind, encoded) for _, kind, encoded in sorted(served)]


@pytest.fixture(scope="module")
def snap() -> Snap:
    # agency 0 writes, agency 1 writes and rotates its keys in its block at the cut, agency 2
    # never writes (its leaf is at height 0)
    net = make_network(3)
    a0, a1, a2 = net.agency_ids
    rotated = AgencyKeys.generate()
    built = {a0: _agency_state(net, a0, 5), a1: _agency_state(net, a1, 6, rotated)}
    built[a2] = _agency_state(net, a2, 0)
    states = {a: state for a, (state, _) in built.items()}
    secp = {a: net.keys[a].secp256k1_private for a in states} | {a1: rotated.secp256k1_private}
    leaves = [
        CutLeaf(a, s.head.height, s.head.block_hash, s.head.log_root, s.head.state_root)
        for a, s in states.items()
    ]
    cut = Cut.of(leaves)
    checkpoint = Checkpoint(net.network_id, 3, cut.root(), cut, NOW_MS, b"\x00" * 32)
    digest = eip712.checkpoint_digest(CHAIN_ID, CONTRACT, net.network_id, 3, cut.root())
    signatures = {a: eip712.sign_digest(secp[a], digest) for a in states}
    record = CheckpointRecord(checkpoint, a0, signatures, "confirmed")
    infos = tuple(
        LeafInfo(
            a,
            s.head.ed25519_public,
            s.head.secp256k1_address,
            s.head.timestamp_ms,
            s.head.log,
            blocks[-1].encode() if blocks else b"",
        )
        for a, (s, blocks) in built.items()
    )
    entries = {a: _entries(s) for a, s in states.items()}
    blocks = {a: blocks for a, (_, blocks) in built.items()}
    return Snap(net, Manifest(record, infos), entries, secp, blocks, rotated)


def _signer_of(manifest: Manifest):  # type: ignore[no-untyped-def]
    cp = manifest.record.checkpoint
    digest = eip712.checkpoint_digest(
        CHAIN_ID, CONTRACT, cp.network_id, cp.epoch, cp.checkpoint_root
    )
    return lambda sig: eip712.address_bytes(eip712.recover_signer(digest, sig))


def test_a_sound_manifest_and_its_entries_verify(snap: Snap) -> None:
    manifest = snap.manifest
    root = manifest.record.checkpoint.checkpoint_root
    verify_manifest(manifest, root, _signer_of(manifest), genesis=snap.net.genesis)
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
        verify_manifest(
            bad, snap.manifest.record.checkpoint.checkpoint_root, genesis=snap.net.genesis
        )


def test_a_root_that_is_not_on_chain_is_refused(snap: Snap) -> None:
    leaf = snap.manifest.record.checkpoint.cut.leaves[0]
    forged = _with_leaf(
        snap.manifest, dataclasses.replace(leaf, height=leaf.height), recompute_root=True
    )
    with pytest.raises(OnchainRootError, match="differs from the contract"):
        verify_manifest(forged, b"\x09" * 32, genesis=snap.net.genesis)
    with pytest.raises(OnchainRootError, match="not anchored"):
        verify_manifest(snap.manifest, None, genesis=snap.net.genesis)
    with pytest.raises(OnchainRootError, match="not anchored"):
        verify_manifest(snap.manifest, ZERO_HASH, genesis=snap.net.genesis)


def test_a_tampered_frontier_is_refused(snap: Snap) -> None:
    root = snap.manifest.record.checkpoint.checkpoint_root
    info = snap.manifest.leaves[0]
    shorter = CompactRange().extend([b"\x01" * 32])[0]
    other = CompactRange(info.log.size, tuple(b"\x02" * 32 for _ in info.log.hashes))
    for log, match in ((shorter, "size"), (other, "log root")):
        bad_info = dataclasses.replace(info, log=log)
        bad = dataclasses.replace(snap.manifest, leaves=(bad_info, *snap.manifest.leaves[1:]))
        with pytest.raises(FrontierError, match=match):
            verify_manifest(bad, root, genesis=snap.net.genesis)


def test_missing_leaf_data_and_wrong_signer_keys_are_refused(snap: Snap) -> None:
    root = snap.manifest.record.checkpoint.checkpoint_root
    with pytest.raises(ManifestError):
        verify_manifest(
            dataclasses.replace(snap.manifest, leaves=snap.manifest.leaves[1:]),
            root,
            genesis=snap.net.genesis,
        )
    info = dataclasses.replace(snap.manifest.leaves[0], secp256k1_address=b"\x03" * 20)
    bad = dataclasses.replace(snap.manifest, leaves=(info, *snap.manifest.leaves[1:]))
    with pytest.raises(ManifestError, match="not by the address"):
        verify_manifest(bad, root, _signer_of(bad), genesis=snap.net.genesis)


# ------------------------------------------------------- keys and timestamps: the cut block


def _served(snap: Snap, index: int, **changes: Any) -> Manifest:
    """The manifest with leaf ``index``'s served data changed (the cut itself untouched)."""
    leaves = list(snap.manifest.leaves)
    leaves[index] = dataclasses.replace(leaves[index], **changes)
    return dataclasses.replace(snap.manifest, leaves=tuple(leaves))


def _verify(snap: Snap, manifest: Manifest, genesis: Genesis | None = None) -> None:
    root = manifest.record.checkpoint.checkpoint_root
    verify_manifest(manifest, root, _signer_of(manifest), genesis=genesis or snap.net.genesis)


def test_a_wrong_ed25519_key_is_refused(snap: Snap) -> None:
    # The attack: a member serving the snapshot names its own key for an honest agency, whose
    # genuine blocks the joiner would then refuse (and whose forged ones it would accept).
    attacker = AgencyKeys.generate()
    bad = _served(snap, 0, ed25519_public=attacker.ed25519_public)
    with pytest.raises(CutBlockError, match=r"gi\.agency0: .* not signed by the Ed25519 key"):
        _verify(snap, bad)


def test_a_wrong_timestamp_is_refused(snap: Snap) -> None:
    info = snap.manifest.leaves[0]
    with pytest.raises(CutBlockError, match=r"gi\.agency0: timestamp"):
        _verify(snap, _served(snap, 0, timestamp_ms=info.timestamp_ms + 1))


def test_a_block_that_is_not_the_cut_leafs_is_refused(snap: Snap) -> None:
    a0, a1, _ = snap.net.agency_ids
    earlier, cut_block = snap.blocks[a0][-2:]
    for block, match in (
        (snap.blocks[a1][-1].encode(), "another agency"),
        (earlier.encode(), f"at {earlier.height}, not {cut_block.height}"),
        (b"", "malformed"),
        (b"\x80", "malformed"),
    ):
        with pytest.raises(CutBlockError, match=match):
            _verify(snap, _served(snap, 0, block=block))
    # Of the agency, at the cut height and signed with its key, yet not the block the cut holds.
    header = dataclasses.replace(cut_block.header, timestamp_ms=cut_block.header.timestamp_ms + 1)
    other = Block(header, cut_block.events, snap.net.keys[a0].sign_block_hash(header.hash()))
    bad = _served(snap, 0, block=other.encode(), timestamp_ms=header.timestamp_ms)
    with pytest.raises(CutBlockError, match="not the cut's block"):
        _verify(snap, bad)


def test_events_slipped_into_the_cut_blocks_header_are_refused(snap: Snap) -> None:
    # The block hash covers the header only: a rotation put in its events must not bind keys.
    cut_block = snap.blocks[snap.net.agency_ids[0]][-1]
    attacker = AgencyKeys.generate()
    rotation = AgencyKeyRotated(attacker.ed25519_public, attacker.secp256k1_address)
    forged = Block(cut_block.header, (rotation, *cut_block.events[1:]), cut_block.signature)
    bad = _served(snap, 0, block=forged.encode(), ed25519_public=attacker.ed25519_public)
    with pytest.raises(CutBlockError, match=r"events .* were altered"):
        _verify(snap, bad)


def test_a_rotation_in_the_cut_block_binds_the_rotated_keys(snap: Snap) -> None:
    a1 = snap.net.agency_ids[1]
    assert snap.manifest.info(a1).ed25519_public == snap.rotated.ed25519_public
    _verify(snap, snap.manifest)
    old = snap.net.keys[a1]  # the block is signed with it, but rotates it away
    for changes in (
        {"ed25519_public": old.ed25519_public, "secp256k1_address": old.secp256k1_address},
        {"ed25519_public": old.ed25519_public},
        {"secp256k1_address": AgencyKeys.generate().secp256k1_address},
    ):
        with pytest.raises(CutBlockError, match="not those its block at 3 rotates to"):
            verify_manifest(
                _served(snap, 1, **changes),
                snap.manifest.record.checkpoint.checkpoint_root,
                genesis=snap.net.genesis,
            )


def test_an_agency_at_height_0_has_no_block_and_its_genesis_keys(snap: Snap) -> None:
    a2 = snap.net.agency_ids[2]
    genesis_agency = snap.net.genesis.agency(a2)
    assert genesis_agency is not None
    assert snap.manifest.info(a2).ed25519_public == genesis_agency.ed25519_public
    _verify(snap, snap.manifest)
    other = AgencyKeys.generate()
    for changes, match in (
        ({"ed25519_public": other.ed25519_public}, "not its genesis keys"),
        ({"secp256k1_address": other.secp256k1_address}, "not its genesis keys"),
        ({"timestamp_ms": NOW_MS}, "no block and timestamp 0"),
        ({"block": snap.blocks[snap.net.agency_ids[0]][0].encode()}, "no block"),
    ):
        with pytest.raises(CutBlockError, match=rf"{re.escape(a2)} is at height 0.*{match}"):
            _verify(snap, _served(snap, 2, **changes))
    # Admitted by governance rather than in the joiner's genesis: its first keys come with the
    # (uncommitted) governance state, not with anything the manifest could bind.
    joiner_genesis = dataclasses.replace(snap.net.genesis, agencies=snap.net.genesis.agencies[:2])
    _verify(snap, _served(snap, 2, ed25519_public=other.ed25519_public), joiner_genesis)


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


def _governance(snap: Snap, **keys_of: AgencyKeys) -> bytes:
    """The governance a serving node folds at the snapshot's checkpoint, members' keys as given."""
    checkpoint = snap.manifest.record.checkpoint
    base = genesis_governance(snap.net.genesis)
    members = tuple(
        dataclasses.replace(
            m,
            ed25519_public=keys_of[m.agency_id].ed25519_public,
            secp256k1_address=keys_of[m.agency_id].secp256k1_address,
        )
        if m.agency_id in keys_of
        else m
        for m in base.members
    )
    gov = dataclasses.replace(
        base,
        epoch=checkpoint.epoch,
        checkpoint_hash=checkpoint.hash(),
        members=members,
        cut_heights={leaf.agency_id: leaf.height for leaf in checkpoint.cut.leaves},
    )
    return gov.encode()


def test_the_governance_state_must_name_the_keys_the_cut_blocks_bind(snap: Snap) -> None:
    a0, a1, _ = snap.net.agency_ids
    honest = dataclasses.replace(snap.manifest, governance=_governance(snap, **{a1: snap.rotated}))
    member = governance_of(honest).member(a1)
    assert member is not None and member.ed25519_public == snap.rotated.ed25519_public
    for lie in (
        _governance(snap),  # a1's rotation in its cut block left out
        _governance(snap, **{a1: snap.rotated, a0: AgencyKeys.generate()}),
    ):
        with pytest.raises(ManifestError, match="names other keys for"):
            governance_of(dataclasses.replace(snap.manifest, governance=lie))
