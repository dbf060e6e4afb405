from __future__ import annotations

import dataclasses

import pytest

from node.core import merkle_log
from node.core.checkpoint import Checkpoint, Cut, CutLeaf, decode_checkpoint
from node.core.encoding import decode, encode
from node.core.equivocation import decode_proof, make_proof, verify_proof
from node.core.errors import EncodingError, SignatureError, ValidationError
from node.core.events import CredentialRevoked
from node.core.keys import AgencyKeys
from node.core.ledger import AgencyHead, author_block
from tests.core.memory_state import MemoryState
from tests.factories import NOW_MS, issue_events, make_network, schema_event


def _leaf(i: int) -> CutLeaf:
    return CutLeaf(
        f"gi.agency{i}", i + 1, bytes([i]) * 32, bytes([i + 1]) * 32, bytes([i + 2]) * 32
    )


def test_cut_is_sorted_and_each_leaf_is_provable() -> None:
    cut = Cut.of([_leaf(2), _leaf(0), _leaf(1)])
    assert [leaf.agency_id for leaf in cut.leaves] == ["gi.agency0", "gi.agency1", "gi.agency2"]
    for leaf in cut.leaves:
        proof = cut.inclusion_proof(leaf.agency_id)
        merkle_log.verify_inclusion(
            leaf.leaf_hash(), cut.index_of(leaf.agency_id), 3, proof, cut.root()
        )


def test_cut_rejects_an_agency_twice() -> None:
    with pytest.raises(EncodingError):
        Cut.of([_leaf(0), _leaf(0)])


def test_checkpoint_round_trip_and_tamper_detection() -> None:
    cut = Cut.of([_leaf(0), _leaf(1)])
    checkpoint = Checkpoint(b"\x01" * 32, 7, cut.root(), cut, NOW_MS, bytes(32))
    assert decode_checkpoint(checkpoint.encode()) == checkpoint
    wrong_root = dataclasses.replace(checkpoint, checkpoint_root=bytes(32))
    with pytest.raises(EncodingError, match="checkpoint_root"):
        decode_checkpoint(wrong_root.encode())
    unsorted = checkpoint.to_wire()
    unsorted[4] = list(reversed(unsorted[4]))  # type: ignore[call-overload]
    with pytest.raises(EncodingError, match="canonical order"):
        decode_checkpoint(encode(unsorted))
    assert decode(checkpoint.encode())[2] == 7


def test_equivocation_proof_is_self_contained() -> None:
    net = make_network(2)
    aid = net.agency_ids[0]
    agency = net.genesis.agency(aid)
    assert agency is not None
    state = MemoryState(AgencyHead.initial(agency))
    first = author_block(
        state.head,
        [schema_event(), *issue_events(2)],
        net.keys[aid],
        state,
        network_id=net.network_id,
        timestamp_ms=NOW_MS,
    )
    second = author_block(
        state.head,
        [schema_event()],
        net.keys[aid],
        state,
        network_id=net.network_id,
        timestamp_ms=NOW_MS,
    )
    a, b = first.block, second.block
    proof = make_proof(a.header, a.signature, b.header, b.signature)
    assert proof == make_proof(b.header, b.signature, a.header, a.signature)
    verify_proof(decode_proof(proof.encode()), agency.ed25519_public)
    with pytest.raises(SignatureError):
        verify_proof(proof, AgencyKeys.generate().ed25519_public)
    with pytest.raises(ValidationError, match="same block"):
        verify_proof(
            make_proof(a.header, a.signature, a.header, a.signature), agency.ed25519_public
        )
    state.commit(first)
    later = author_block(
        state.head,
        [CredentialRevoked(a.events[1].credential_id)],
        net.keys[aid],
        state,  # type: ignore[union-attr]
        network_id=net.network_id,
        timestamp_ms=NOW_MS,
    ).block
    with pytest.raises(ValidationError, match="same agency and height"):
        verify_proof(
            make_proof(a.header, a.signature, later.header, later.signature), agency.ed25519_public
        )
