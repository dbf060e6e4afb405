"""Sparse Merkle tree: hashing by hand, committed vectors, batches, proofs and their codec.

Regenerate the vector file (only when the protocol changes on purpose) with
``python tests/core/test_smt.py --write-vectors``.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.core import smt
from node.core.errors import ProofError, StorageError
from node.core.hashing import ZERO_HASH

VECTOR_FILE = Path(__file__).parent / "vectors" / "smt.json"


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)  # bit 0 is the most significant bit of byte 0
    return bytes(out)


def build(items: dict[bytes, bytes]) -> tuple[smt.InMemoryNodeStore, bytes]:
    store = smt.InMemoryNodeStore()
    result = smt.apply_batch(store, ZERO_HASH, items)
    store.apply(result.writes)
    return store, result.root


# --- hashing, by hand --------------------------------------------------------------------------

A = bytes(32)  # bits all 0
B = b"\x80" + bytes(31)  # differs from A at bit 0
C = b"\x40" + bytes(31)  # differs from A at bit 1
D = bytes(31) + b"\x01"  # differs from A at bit 255 only
V1, V2, V3 = h(b"v1"), h(b"v2"), h(b"v3")


def leaf(key: bytes, value: bytes) -> bytes:
    return h(b"\x00" + key + value)


def internal(left: bytes, right: bytes) -> bytes:
    return h(b"\x01" + left + right)


def test_roots_of_small_trees_by_hand() -> None:
    assert smt.compute_root({}) == ZERO_HASH
    assert build({A: V1})[1] == leaf(A, V1)
    assert build({A: V1, B: V2})[1] == internal(leaf(A, V1), leaf(B, V2))
    # A and C share bit 0 (0) and split at bit 1: one internal node with an empty right child.
    assert build({A: V1, C: V2})[1] == internal(internal(leaf(A, V1), leaf(C, V2)), ZERO_HASH)
    assert build({A: V1, B: V2, C: V3})[1] == internal(
        internal(leaf(A, V1), leaf(C, V3)), leaf(B, V2)
    )


def test_keys_differing_in_the_last_bit_sit_at_depth_256() -> None:
    store, root = build({A: V1, D: V2})
    expected = internal(leaf(A, V1), leaf(D, V2))
    for _ in range(255):
        expected = internal(expected, ZERO_HASH)
    assert root == expected == smt.compute_root({A: V1, D: V2})
    proof = smt.prove(store, D)
    assert len(proof.siblings) == 256
    assert smt.verify(root, D, proof) == V2
    assert smt.SmtProof.from_bytes(proof.to_bytes()) == proof
    assert len(proof.to_bytes()) == 2 + 32 + 32 + 1 + 32  # 255 zero siblings elided


def test_positions() -> None:
    key = bytes([0b1011_0111]) + b"\xff" * 31
    assert smt.position(0, key) == b"\x00\x00" == smt.ROOT_POSITION
    assert smt.position(3, key) == b"\x00\x03" + bytes([0b1010_0000])
    assert smt.position(8, key) == b"\x00\x08" + key[:1]
    assert smt.position(256, key) == b"\x01\x00" + key
    for depth in (0, 1, 7, 8, 9, 200, 256):
        depth_back, prefix = smt.decode_position(smt.position(depth, key))
        assert depth_back == depth
        assert smt.position(depth, prefix + bytes(32)) == smt.position(depth, key)
    for bad in [b"", b"\x00", b"\x00\x03\xb0", b"\x00\x03", b"\x01\x01" + key, b"\x00\x00\x00"]:
        with pytest.raises(ValueError):
            smt.decode_position(bad)


def test_node_codec() -> None:
    nodes: list[smt.Node] = [smt.Leaf(A, V1), smt.Internal(V1, ZERO_HASH)]
    for node in nodes:
        assert smt.decode_node(smt.encode_node(node)) == node
    assert h(smt.encode_node(smt.Leaf(A, V1))) == leaf(A, V1)
    for bad in [b"", b"\x02" + bytes(64), b"\x00" + bytes(63), b"\x01" + bytes(65)]:
        with pytest.raises(ValueError):
            smt.decode_node(bad)


def test_undo_entries_keep_one_changed_field_or_the_whole_node() -> None:
    inner, leaf_node = smt.Internal(V1, V2), smt.Leaf(A, V1)
    cases = [
        (inner, smt.Internal(V3, V2), 33),  # left child changed
        (inner, smt.Internal(V1, V3), 33),  # right child changed
        (inner, smt.Internal(V3, V3), 65),  # both
        (leaf_node, smt.Leaf(A, V2), 33),  # the leaf's value
        (leaf_node, smt.Internal(V1, V2), 65),  # a leaf pushed down by a new key
        (inner, None, 65),
    ]
    for old_node, new_node, size in cases:
        old = smt.encode_node(old_node)
        new = None if new_node is None else smt.encode_node(new_node)
        entry = smt.undo_entry(old, new)
        assert len(entry) == size
        assert smt.undo(new, entry) == old
    assert smt.undo(None, b"") is None  # the root before the tree's first key
    delta = smt.undo_entry(smt.encode_node(inner), smt.encode_node(smt.Internal(V3, V2)))
    for after, entry in [
        (None, delta),  # one field, but no node to put it in
        (smt.encode_node(inner), b"\x07" + bytes(32)),  # unknown tag
        (smt.encode_node(inner), b"\x02" + bytes(64)),  # a whole node with a bad tag
        (smt.encode_node(inner), bytes(10)),
    ]:
        with pytest.raises(ValueError):
            smt.undo(after, entry)


# --- committed vectors -------------------------------------------------------------------------


def _vector_items() -> tuple[list[dict[bytes, bytes]], list[bytes]]:
    keys = [h(b"calpe/smt/vector/key/%d" % i) for i in range(6)] + [A, D]
    values = [h(b"calpe/smt/vector/value/%d" % i) for i in range(len(keys))]
    batches = [
        dict(zip(keys[:3], values[:3], strict=True)),
        dict(zip(keys[3:], values[3:], strict=True)),
        {keys[0]: h(b"calpe/smt/vector/updated/0"), keys[7]: h(b"calpe/smt/vector/updated/7")},
    ]
    absent = [h(b"calpe/smt/vector/absent/%d" % i) for i in range(4)] + [flip(A, 254)]
    return batches, absent


def make_vectors() -> dict[str, object]:
    batches, absent = _vector_items()
    store, root, items = smt.InMemoryNodeStore(), ZERO_HASH, dict[bytes, bytes]()
    steps = []
    for batch in batches:
        result = smt.apply_batch(store, root, batch)
        store.apply(result.writes)
        root = result.root
        items.update(batch)
        steps.append({"set": {k.hex(): v.hex() for k, v in batch.items()}, "root": root.hex()})
    proofs = []
    for key in [*items, *absent]:
        proof = smt.prove(store, key)
        kind = type(proof.terminal).__name__
        proofs.append({"key": key.hex(), "terminal": kind, "proof": proof.to_bytes().hex()})
    return {
        "description": "Calpe sparse Merkle tree vectors (node/core/smt.py). Apply the batches "
        "in order to an empty tree; each root is the tree's root after that batch. The proofs "
        "are SmtProof.to_bytes() against the final root.",
        "hashing": "empty = 32 zero bytes; leaf = SHA256(0x00||key||value); internal = "
        "SHA256(0x01||left||right); a subtree of one leaf is that leaf; key bit i (MSB first) "
        "picks left(0)/right(1) at depth i",
        "batches": steps,
        "proofs": proofs,
    }


def test_committed_vectors() -> None:
    vectors = json.loads(VECTOR_FILE.read_text())
    assert vectors == make_vectors()
    root = bytes.fromhex(vectors["batches"][-1]["root"])
    items: dict[bytes, bytes] = {}
    for step in vectors["batches"]:
        items.update({bytes.fromhex(k): bytes.fromhex(v) for k, v in step["set"].items()})
        assert smt.compute_root(items) == bytes.fromhex(step["root"])
    kinds = set()
    for entry in vectors["proofs"]:
        key = bytes.fromhex(entry["key"])
        proof = smt.SmtProof.from_bytes(bytes.fromhex(entry["proof"]))
        assert smt.verify(root, key, proof) == items.get(key)
        kinds.add(entry["terminal"])
    assert kinds == {"Membership", "EmptySlot", "OtherLeaf"}


# --- batches -----------------------------------------------------------------------------------

BASES = [bytes(32), b"\xff" * 32, h(b"base")]


def _near(base: bytes, bits: list[int]) -> bytes:
    for bit in bits:
        base = flip(base, bit)
    return base


KEYS = st.one_of(
    st.binary(min_size=32, max_size=32),
    st.builds(_near, st.sampled_from(BASES), st.lists(st.integers(0, 255), max_size=3)),
)
VALUES = st.binary(min_size=32, max_size=32)
BATCHES = st.lists(st.dictionaries(KEYS, VALUES, max_size=20), min_size=1, max_size=5)


class CountingReader:
    def __init__(self, store: smt.InMemoryNodeStore) -> None:
        self.store = store
        self.reads: list[bytes] = []

    def get_node(self, position: bytes) -> bytes | None:
        self.reads.append(position)
        return self.store.get_node(position)


@settings(max_examples=200, deadline=None)
@given(BATCHES, st.data())
def test_batches_match_the_reference_and_write_minimally(
    batches: list[dict[bytes, bytes]], data: st.DataObject
) -> None:
    store, root, items = smt.InMemoryNodeStore(), ZERO_HASH, dict[bytes, bytes]()
    for fresh in batches:
        batch = dict(fresh)
        if items:  # also update some existing keys
            old = data.draw(st.lists(st.sampled_from(sorted(items)), max_size=5))
            batch.update({k: data.draw(VALUES) for k in old})
        reader = CountingReader(store)
        result = smt.apply_batch(reader, root, batch)
        assert len(reader.reads) == len(set(reader.reads)), "a node was read twice"
        before = dict(store.nodes)
        store.apply(result.writes)
        changed = {p: n for p, n in store.nodes.items() if before.get(p) != n}
        assert result.writes == changed
        assert result.previous == {p: before.get(p) for p in changed}
        assert set(before) <= set(store.nodes)  # nothing is ever deleted
        for pos, new in result.writes.items():  # every replaced node comes back from its entry
            old_node = result.previous[pos]
            if old_node is not None:
                assert smt.undo(new, smt.undo_entry(old_node, new)) == old_node
        root = result.root
        items.update(batch)
        assert root == smt.compute_root(items) == smt.root_of_store(store)
    # Position addressing keeps exactly the current tree, whatever the history.
    assert store.nodes == build(items)[0].nodes
    for key, value in items.items():
        assert smt.lookup(store, key) == value


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=40), st.randoms(use_true_random=False))
def test_any_split_and_order_gives_the_same_root(
    items: dict[bytes, bytes], rnd: random.Random
) -> None:
    keys = list(items)
    rnd.shuffle(keys)
    store, root = smt.InMemoryNodeStore(), ZERO_HASH
    while keys:
        take = rnd.randint(1, len(keys))
        chunk, keys = keys[:take], keys[take:]
        result = smt.apply_batch(store, root, {k: items[k] for k in chunk})
        store.apply(result.writes)
        root = result.root
    assert root == smt.compute_root(items)
    assert store.nodes == build(items)[0].nodes


def test_apply_batch_guards() -> None:
    store, root = build({A: V1, B: V2})
    assert smt.apply_batch(store, root, {}) == smt.BatchResult(root, {})
    with pytest.raises(StorageError):
        smt.apply_batch(store, V3, {C: V3})
    with pytest.raises(StorageError):
        smt.apply_batch(smt.InMemoryNodeStore(), root, {C: V3})
    with pytest.raises(StorageError):
        smt.apply_batch(store, ZERO_HASH, {C: V3})
    del store.nodes[smt.position(1, B)]
    with pytest.raises(StorageError):
        smt.apply_batch(store, root, {b"\xc0" + bytes(31): V3})
    with pytest.raises(StorageError):
        smt.prove(store, B)
    for bad in [{A[:31]: V1}, {A: V1 + b"\x00"}]:
        with pytest.raises(ValueError):
            smt.apply_batch(store, root, bad)
        with pytest.raises(ValueError):
            smt.compute_root(bad)


# --- proofs ------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(KEYS, VALUES, min_size=0, max_size=40), KEYS, st.data())
def test_proofs_verify_round_trip_and_resist_tampering(
    items: dict[bytes, bytes], probe: bytes, data: st.DataObject
) -> None:
    store, root = build(items)
    use_present = bool(items) and data.draw(st.booleans())
    key = data.draw(st.sampled_from(sorted(items))) if use_present else probe
    proof = smt.prove(store, key)
    encoded = proof.to_bytes()
    assert smt.SmtProof.from_bytes(encoded) == proof
    assert smt.verify(root, key, proof) == items.get(key)
    if key in items:
        smt.verify_membership(root, key, items[key], proof)
        with pytest.raises(ProofError):
            smt.verify_non_membership(root, key, proof)
        with pytest.raises(ProofError):
            smt.verify_membership(
                root, key, flip(items[key], data.draw(st.integers(0, 255))), proof
            )
    else:
        smt.verify_non_membership(root, key, proof)
        with pytest.raises(ProofError):
            smt.verify_membership(root, key, V1, proof)
    bit = data.draw(st.integers(0, len(encoded) * 8 - 1))
    with pytest.raises(ProofError):
        smt.verify(root, key, smt.SmtProof.from_bytes(flip(encoded, bit)))
    with pytest.raises(ProofError):
        smt.verify(flip(root, data.draw(st.integers(0, 255))), key, proof)
    _check_key_flip(root, key, proof, data.draw(st.integers(0, 255)))


def _check_key_flip(root: bytes, key: bytes, proof: smt.SmtProof, bit: int) -> None:
    """A membership proof binds the whole key; an absence proof binds only the path prefix,
    and then correctly proves every key of that empty slot (or that other leaf's slot) absent."""
    other = flip(key, bit)
    end = proof.terminal
    on_path = bit < len(proof.siblings)
    if isinstance(end, smt.Membership):
        must_fail = True
    elif isinstance(end, smt.OtherLeaf):
        must_fail = on_path or end.key == other
    else:
        must_fail = on_path
    if must_fail:
        with pytest.raises(ProofError):
            smt.verify(root, other, proof)
    else:
        assert smt.verify(root, other, proof) is None


def test_every_bit_of_some_proofs_matters() -> None:
    items = {h(b"k%d" % i): h(b"v%d" % i) for i in range(300)}
    items[flip(A, 200)] = V1
    store, root = build({**items, A: V2})
    for key in [A, next(iter(items)), h(b"absent"), flip(A, 201), flip(A, 255)]:
        proof = smt.prove(store, key)
        encoded = proof.to_bytes()
        expected = smt.verify(root, key, proof)
        for bit in range(len(encoded) * 8):
            with pytest.raises(ProofError):
                smt.verify(root, key, smt.SmtProof.from_bytes(flip(encoded, bit)))
        assert expected == ({**items, A: V2}).get(key)


def test_malformed_proofs_are_rejected() -> None:
    store, root = build({A: V1, B: V2, C: V3})
    good = smt.prove(store, A)
    assert good.siblings and good.siblings[-1] != ZERO_HASH
    with pytest.raises(ProofError):
        smt.SmtProof((V1,) * 257, smt.EmptySlot())
    with pytest.raises(ProofError):
        smt.SmtProof((V1[:31],), smt.EmptySlot())
    with pytest.raises(ProofError):
        smt.SmtProof((), smt.Membership(V1 + b"\x00"))
    cases = [
        smt.SmtProof(good.siblings, smt.OtherLeaf(A, V1)),  # "other" leaf is the key itself
        smt.SmtProof(good.siblings, smt.OtherLeaf(B, V2)),  # B does not share A's path
        smt.SmtProof((*good.siblings, ZERO_HASH), good.terminal),  # deepest sibling empty
        smt.SmtProof(good.siblings[:-1], good.terminal),
    ]
    for proof in cases:
        with pytest.raises(ProofError):
            smt.verify(root, A, proof)
    with pytest.raises(ProofError):
        smt.verify(root[:31], A, good)
    encoded = good.to_bytes()
    zero_listed = b"\x00\x01\x80" + ZERO_HASH + b"\x00"
    for bad in [b"", b"\x00", encoded + b"\x00", encoded[:-1], b"\x01\x01" + encoded[2:],
                b"\x00\x01\x7f" + encoded[3:], zero_listed, b"\x00\x00\x03"]:  # fmt: skip
        with pytest.raises(ProofError):
            smt.SmtProof.from_bytes(bad)


def test_empty_tree_proves_absence_only() -> None:
    store = smt.InMemoryNodeStore()
    proof = smt.prove(store, A)
    assert proof == smt.SmtProof((), smt.EmptySlot())
    assert proof.to_bytes() == b"\x00\x00\x00"
    smt.verify_non_membership(ZERO_HASH, A, proof)
    with pytest.raises(ProofError):
        smt.verify_non_membership(V1, A, proof)
    assert smt.lookup(store, A) is None
    assert smt.root_of_store(store) == ZERO_HASH


if __name__ == "__main__" and sys.argv[1:] == ["--write-vectors"]:
    VECTOR_FILE.write_text(json.dumps(make_vectors(), indent=2) + "\n")
