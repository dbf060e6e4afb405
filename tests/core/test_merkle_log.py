"""RFC 9162 Merkle log: published vectors, pymerkle cross-check, storage contract, properties."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree
from pymerkle import verify_consistency as pymerkle_verify_consistency

from node.core import merkle_log as ml
from node.core.errors import EncodingError, ProofError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "rfc6962_merkle_log.json").read_text())
REF_LEAVES = [ml.leaf_hash(bytes.fromhex(d)) for d in VECTORS["leaves"]]
REF_ROOTS = [bytes.fromhex(r) for r in VECTORS["roots"]]

MAX_LEAVES = 300
LEAVES = [ml.leaf_hash(i.to_bytes(4, "big")) for i in range(MAX_LEAVES)]
_ALL_NODES = ml.nodes_from_leaves(LEAVES)
ROOTS = [ml.root(LEAVES[:n]) for n in range(MAX_LEAVES + 1)]


def stored(size: int) -> Callable[[int, int], bytes]:
    """``get_node`` of a log of ``size`` leaves that refuses nodes the storage would not have."""

    def get_node(level: int, index: int) -> bytes:
        assert (index + 1) << level <= size, f"node ({level}, {index}) is outside size {size}"
        return _ALL_NODES(level, index)

    return get_node


def hexes(proof: list[bytes]) -> list[str]:
    return [p.hex() for p in proof]


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def fails(check: Callable[[], None]) -> bool:
    try:
        check()
    except ProofError:
        return True
    return False


# --- published vectors -------------------------------------------------------------------------


def test_roots_match_published_vectors() -> None:
    for n, expected in enumerate(REF_ROOTS):
        assert ml.root(REF_LEAVES[:n]) == expected
        assert ml.CompactRange().extend(REF_LEAVES[:n])[0].root() == expected
    assert REF_ROOTS[0] == ml.EMPTY_ROOT


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"{v['index']}@{v['size']}")
def test_inclusion_vectors(vector: dict[str, object]) -> None:
    index, size = int(str(vector["index"])), int(str(vector["size"]))
    leaves = REF_LEAVES[:size]
    proof = ml.inclusion_proof_from_leaves(leaves, index)
    assert hexes(proof) == vector["proof"]
    ml.verify_inclusion(leaves[index], index, size, proof, REF_ROOTS[size])


@pytest.mark.parametrize(
    "vector", VECTORS["consistency"], ids=lambda v: f"{v['old_size']}-{v['new_size']}"
)
def test_consistency_vectors(vector: dict[str, object]) -> None:
    old, new = int(str(vector["old_size"])), int(str(vector["new_size"]))
    proof = ml.consistency_proof_from_leaves(REF_LEAVES[:new], old)
    assert hexes(proof) == vector["proof"]
    ml.verify_consistency(old, new, REF_ROOTS[old], REF_ROOTS[new], proof)


SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


@pytest.mark.parametrize("vector", VECTORS["inclusion"][1:], ids=lambda v: str(v["index"]))
def test_corrupted_inclusion_vectors_fail(vector: dict[str, object]) -> None:
    """The probes of transparency-dev/merkle's corruptInclusionProof."""
    i, n = int(str(vector["index"])), int(str(vector["size"]))
    proof = [bytes.fromhex(h) for h in vector["proof"]]  # type: ignore[attr-defined]
    leaf, root = REF_LEAVES[i], REF_ROOTS[n]
    probes = [
        (i - 1, n, leaf, root, proof),
        (i + 1, n, leaf, root, proof),
        (i ^ 2, n, leaf, root, proof),
        (i, n * 2, leaf, root, proof),
        (i, n // 2, leaf, root, proof),
        (i, n, b"WrongLeaf", root, proof),
        (i, n, leaf, ml.EMPTY_ROOT, proof),
        (i, n, leaf, SOME_HASH, proof),
        (i, n, leaf, root, [*proof, b""]),
        (i, n, leaf, root, [*proof, root]),
        (i, n, leaf, root, [b"", *proof]),
        (i, n, leaf, root, [root, *proof]),
        (i, n, leaf, root, proof[:-1]),
        (i, n, leaf, root, [proof[0], SOME_HASH, *proof[1:]]),
    ]
    for k in range(len(proof)):
        probes.append(
            (i, n, leaf, root, [flip(p, 3) if j == k else p for j, p in enumerate(proof)])
        )
    for index, size, leaf_hash, root_hash, path in probes:
        with pytest.raises(ProofError):
            ml.verify_inclusion(leaf_hash, index, size, path, root_hash)


def test_trivial_consistency_cases() -> None:
    empty, r1, r2 = ml.EMPTY_ROOT, REF_ROOTS[1], REF_ROOTS[2]
    ml.verify_consistency(0, 0, empty, empty, [])
    ml.verify_consistency(0, 5, empty, REF_ROOTS[5], [])
    ml.verify_consistency(1, 1, r1, r1, [])
    for old, new, a, b, proof in [
        (0, 0, empty, r1, []),
        (1, 1, r1, r2, []),
        (0, 1, r1, r1, []),  # an empty tree has the empty root
        (1, 0, r1, r1, []),
        (2, 1, r2, r1, []),
        (1, 2, r1, r2, []),
        (1, 1, r1, r1, [empty]),
        (0, 1, empty, r1, [empty]),
        (1, 2, b"short", r2, [REF_LEAVES[1]]),
    ]:
        with pytest.raises(ProofError):
            ml.verify_consistency(old, new, a, b, proof)


def test_producers_reject_bad_arguments() -> None:
    for index, size in [(0, 0), (-1, 3), (3, 3)]:
        with pytest.raises(ProofError):
            ml.inclusion_proof(index, size, stored(size))
    for old, new in [(4, 3), (-1, 2)]:
        with pytest.raises(ProofError):
            ml.consistency_proof(old, new, stored(max(new, 0)))


# --- pymerkle cross-check ----------------------------------------------------------------------


def test_cross_check_with_pymerkle() -> None:
    entries = [i.to_bytes(2, "big") * (i % 5) for i in range(70)]
    tree = InmemoryTree(algorithm="sha256")
    tree.append_entries(entries)
    ours = [ml.leaf_hash(e) for e in entries]
    assert [tree.get_leaf(i + 1) for i in range(len(entries))] == ours
    for size in range(1, len(entries) + 1):
        assert tree.get_root(size) == ml.root(ours[:size]) == root_via_storage(ours, size)
        for index in range(size):
            # pymerkle's path is the leaf hash followed by the RFC 9162 audit path.
            theirs = tree.prove_inclusion(index + 1, size).path
            assert ml.inclusion_proof(index, size, ml.nodes_from_leaves(ours[:size])) == theirs[1:]
    for old in range(1, 40):
        for new in range(old, 70, 7):
            proof = tree.prove_consistency(old, new)
            old_root, new_root = ml.root(ours[:old]), ml.root(ours[:new])
            pymerkle_verify_consistency(old_root, new_root, proof, old, new)
            ours_proof = ml.consistency_proof_from_leaves(ours[:new], old)
            ml.verify_consistency(old, new, old_root, new_root, ours_proof)


def root_via_storage(leaves: list[bytes], size: int) -> bytes:
    return ml.root_at(size, ml.nodes_from_leaves(leaves[:size]))


# --- storage contract and compact ranges -------------------------------------------------------


def test_compact_range_emits_exactly_the_perfect_subtrees() -> None:
    rng, emitted = ml.CompactRange(), {}
    for n, leaf in enumerate(LEAVES[:130], start=1):
        rng, created = rng.append(leaf)
        for level, index, digest in created:
            assert (level, index) not in emitted
            emitted[level, index] = digest
        perfect = {(lv, ix) for lv in range(9) for ix in range(n >> lv)}
        assert set(emitted) == perfect
        assert rng.root() == ROOTS[n]
        assert ml.CompactRange.from_storage(n, stored(n)) == rng
        assert ml.root_at(n, stored(n)) == ROOTS[n]
    assert all(emitted[k] == _ALL_NODES(*k) for k in emitted)


def test_compact_range_bytes_round_trip_and_reject_garbage() -> None:
    rng = ml.CompactRange().extend(LEAVES[:11])[0]
    data = rng.to_bytes()
    assert len(data) == 8 + 3 * 32
    assert ml.CompactRange.from_bytes(data) == rng
    assert ml.CompactRange.from_bytes(ml.CompactRange().to_bytes()) == ml.CompactRange()
    for bad in [b"", data[:7], data[:-1], data + b"\x00", data[:8] + data[40:]]:
        with pytest.raises(EncodingError):
            ml.CompactRange.from_bytes(bad)
    with pytest.raises(ProofError):
        rng.append(b"short")


# --- properties --------------------------------------------------------------------------------


def shape(index: int, size: int) -> list[bool]:
    """Bottom-up 'the path node is a right child' bits: all a verifier's fold depends on."""
    if size == 1:
        return []
    k = 1 << ((size - 1).bit_length() - 1)
    return [*shape(index, k), False] if index < k else [*shape(index - k, size - k), True]


@st.composite
def leaf_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_LEAVES))
    return draw(st.integers(0, size - 1)), size


@settings(max_examples=150, deadline=None)
@given(leaf_in_tree(), st.data())
def test_inclusion_proofs_verify_and_resist_tampering(
    at: tuple[int, int], data: st.DataObject
) -> None:
    index, size = at
    proof = ml.inclusion_proof(index, size, stored(size))
    leaf, root = LEAVES[index], ROOTS[size]
    ml.verify_inclusion(leaf, index, size, proof, root)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        bad = [flip(p, bit) if j == k else p for j, p in enumerate(proof)]
        assert fails(lambda: ml.verify_inclusion(leaf, index, size, bad, root))
    bit = data.draw(st.integers(0, 255))
    assert fails(lambda: ml.verify_inclusion(flip(leaf, bit), index, size, proof, root))
    assert fails(lambda: ml.verify_inclusion(leaf, index, size, proof, flip(root, bit)))
    other = data.draw(st.integers(0, MAX_LEAVES))
    if other != index:
        assert fails(lambda: ml.verify_inclusion(leaf, other, size, proof, root))
    other_size = data.draw(st.integers(index + 1, MAX_LEAVES))
    if other_size != size:
        # Against the other size's true root, never; against this root, RFC 9162 accepts any
        # size giving the same fold (the signed tree head binds root to size).
        assert fails(lambda: ml.verify_inclusion(leaf, index, other_size, proof, ROOTS[other_size]))
        same_fold = shape(index, other_size) == shape(index, size)
        assert fails(lambda: ml.verify_inclusion(leaf, index, other_size, proof, root)) != same_fold


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, MAX_LEAVES))
    return draw(st.integers(1, new)), new


@settings(max_examples=150, deadline=None)
@given(two_sizes(), st.data())
def test_consistency_proofs_verify_and_resist_tampering(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    old, new = sizes
    proof = ml.consistency_proof(old, new, stored(new))
    ml.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)
    if old == new:
        return
    bit = data.draw(st.integers(0, 255))
    k = data.draw(st.integers(0, len(proof) - 1))
    bad = [flip(p, bit) if j == k else p for j, p in enumerate(proof)]
    assert fails(lambda: ml.verify_consistency(old, new, ROOTS[old], ROOTS[new], bad))
    assert fails(lambda: ml.verify_consistency(old, new, flip(ROOTS[old], bit), ROOTS[new], proof))
    assert fails(lambda: ml.verify_consistency(old, new, ROOTS[old], flip(ROOTS[new], bit), proof))
    assert fails(lambda: ml.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof[:-1]))
    assert fails(
        lambda: ml.verify_consistency(old, new, ROOTS[old], ROOTS[new], [*proof, SOME_HASH])
    )
    o2, n2 = data.draw(two_sizes())
    if (o2, n2) != (old, new) and o2 != n2:
        assert fails(lambda: ml.verify_consistency(o2, n2, ROOTS[o2], ROOTS[n2], proof))
