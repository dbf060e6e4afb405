"""Sparse Merkle tree over 256-bit keys in compact ("shortcut leaf") form.

Protocol (every node, verifier and bundle depends on these exact bytes):

- keys are 32 bytes, values are 32-byte hashes (of a credential's status record);
- the empty subtree hashes to ``ZERO_HASH`` (32 zero bytes);
- leaf hash ``SHA256(0x00 || key || value)``; internal hash ``SHA256(0x01 || left || right)``;
- a subtree holding exactly one leaf *is* that leaf, placed at the subtree's root position, so a
  tree of n random keys is ~log2(n) deep, not 256; a subtree with two or more leaves is an
  internal node, which may have one empty child (keys sharing a long prefix);
- bit ``i`` of the key (most significant bit of byte 0 first; ``i = 0`` at the root) chooses
  the left (0) or right (1) child at depth ``i``.

Node encoding: ``0x00 || key || value`` (leaf) or ``0x01 || left || right`` (internal), 65 bytes;
a node's hash is SHA-256 of its encoding, and an internal node holds its children's hashes, so a
lookup or proof reads one node per level.

Positions (storage keys) address the current version of each node: ``depth`` as 2 bytes
big-endian (depth runs 0..256: two keys differing only in their last bit put leaves at depth
256), then the first ``depth`` bits of the path packed MSB-first into ``ceil(depth/8)`` bytes,
unused low bits zero. The root is at depth 0 (``b"\\x00\\x00"``). Keys are only inserted or
updated, never deleted, so no position ever becomes empty; ``BatchResult.writes`` still allows
``None`` (delete) so the storage contract need not change if deletion is ever added.

Proofs (:class:`SmtProof`) list sibling hashes top-down: ``siblings[i]`` is the hash of the
child, at depth ``i + 1``, on the side the key does *not* take at depth ``i``.

Producers raise ``ValueError`` on malformed arguments and :class:`StorageError` when the store
lacks a node that its parent points at; verification failures and malformed proofs raise
:class:`ProofError`.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from hmac import compare_digest
from typing import Protocol

from node.core.errors import ProofError, StorageError
from node.core.hashing import HASH_LEN, ZERO_HASH

KEY_BITS = 256
LEAF_TAG = 0
INTERNAL_TAG = 1
NODE_LEN = 1 + 2 * HASH_LEN

_sha256 = hashlib.sha256
_LEAF = b"\x00"
_INTERNAL = b"\x01"
_DEPTH = [d.to_bytes(2, "big") for d in range(KEY_BITS + 1)]
_HIGH_BITS = [(0xFF00 >> r) & 0xFF for r in range(8)]  # mask keeping the top r bits of a byte
_BYTE = [bytes((b,)) for b in range(256)]
ROOT_POSITION = _DEPTH[0]


# --- positions and nodes -----------------------------------------------------------------------


def position(depth: int, path: bytes) -> bytes:
    """Position of the node at ``depth`` on ``path`` (any bytes starting with the path's bits)."""
    full, rem = depth >> 3, depth & 7
    if rem:
        return _DEPTH[depth] + path[:full] + _BYTE[path[full] & _HIGH_BITS[rem]]
    return _DEPTH[depth] + path[:full]


def decode_position(pos: bytes) -> tuple[int, bytes]:
    """``(depth, packed prefix)`` of a position; ``ValueError`` if it is not canonical."""
    depth = int.from_bytes(pos[:2], "big")
    prefix = pos[2:]
    if len(pos) < 2 or depth > KEY_BITS or len(prefix) != (depth + 7) >> 3:
        raise ValueError(f"not an SMT position: {pos.hex()}")
    if depth & 7 and prefix[-1] & ~_HIGH_BITS[depth & 7] & 0xFF:
        raise ValueError(f"SMT position {pos.hex()} has bits set past its depth")
    return depth, prefix


@dataclass(frozen=True, slots=True)
class Leaf:
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Internal:
    left: bytes
    right: bytes


Node = Leaf | Internal


def encode_node(node: Node) -> bytes:
    """65 bytes: tag then the two 32-byte fields; SHA-256 of this is the node's hash."""
    if isinstance(node, Leaf):
        return _LEAF + node.key + node.value
    return _INTERNAL + node.left + node.right


def decode_node(data: bytes) -> Node:
    """Inverse of :func:`encode_node`; ``ValueError`` on any other bytes."""
    if len(data) != NODE_LEN or data[0] not in (LEAF_TAG, INTERNAL_TAG):
        raise ValueError(f"not an SMT node encoding: {data[:8].hex()}... ({len(data)} bytes)")
    first, second = data[1:33], data[33:]
    return Leaf(first, second) if data[0] == LEAF_TAG else Internal(first, second)


_FIRST_WAS = b"\x02"
_SECOND_WAS = b"\x03"
UNDO_DELTA_LEN = 1 + HASH_LEN


def undo_entry(old: bytes, new: bytes | None) -> bytes:
    """What restores ``old`` (an encoded node) from ``new``, the node that replaced it.

    Most replacements change one field of a node (an internal node's child on the updated key's
    side, a leaf's value): the entry is then that field's old value after a tag saying which
    (33 bytes), else the whole old node (65). Undo rows are written for ~12 nodes per event; this
    cuts their values by about a third, and LevelDB's compactions of them with it.
    """
    if new is not None and old[0] == new[0]:
        if old[33:] == new[33:]:
            return _FIRST_WAS + old[1:33]
        if old[1:33] == new[1:33]:
            return _SECOND_WAS + old[33:]
    return old


def undo(after: bytes | None, entry: bytes) -> bytes | None:
    """The node before a change, from the node after it and the change's :func:`undo_entry`
    (``b""``: there was no node). ``ValueError`` if the two do not fit together."""
    if len(entry) != UNDO_DELTA_LEN:
        if entry and (len(entry) != NODE_LEN or entry[0] not in (LEAF_TAG, INTERNAL_TAG)):
            raise ValueError(f"not an SMT undo entry: {entry[:8].hex()}... ({len(entry)} bytes)")
        return entry or None
    if after is None or len(after) != NODE_LEN:
        raise ValueError("an SMT undo entry of one field, but no node after the change")
    if entry[:1] == _FIRST_WAS:
        return after[:1] + entry[1:] + after[33:]
    if entry[:1] == _SECOND_WAS:
        return after[:33] + entry[1:]
    raise ValueError(f"not an SMT undo entry: tag {entry[0]}")


def leaf_hash(key: bytes, value: bytes) -> bytes:
    """``SHA256(0x00 || key || value)``."""
    return _sha256(_LEAF + key + value).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA256(0x01 || left || right)``."""
    return _sha256(_INTERNAL + left + right).digest()


class NodeReader(Protocol):
    """Read access to the current tree's nodes."""

    def get_node(self, position: bytes) -> bytes | None:
        """The encoded node at ``position``, or None if that position is empty."""
        ...


@dataclass
class InMemoryNodeStore:
    """A dict-backed :class:`NodeReader` (tests, benchmarks, the verifier's tooling)."""

    nodes: dict[bytes, bytes] = field(default_factory=dict)

    def get_node(self, position: bytes) -> bytes | None:
        return self.nodes.get(position)

    def apply(self, writes: Mapping[bytes, bytes | None]) -> None:
        for pos, encoded in writes.items():
            if encoded is None:
                self.nodes.pop(pos, None)
            else:
                self.nodes[pos] = encoded


def root_of_store(reader: NodeReader) -> bytes:
    """Root hash of the tree a store holds (``ZERO_HASH`` if empty)."""
    encoded = reader.get_node(ROOT_POSITION)
    return ZERO_HASH if encoded is None else _sha256(encoded).digest()


# --- batched updates ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchResult:
    """New root, and the node writes (position -> encoded node, None = delete) that produce it.

    ``previous`` holds, for each written position, what was there before (None: empty), so that
    storage can keep an undo journal and still prove against recent roots without extra reads.
    """

    root: bytes
    writes: dict[bytes, bytes | None]
    previous: dict[bytes, bytes | None] = field(default_factory=dict)


def apply_batch(reader: NodeReader, root: bytes, updates: Mapping[bytes, bytes]) -> BatchResult:
    """Insert or update ``updates`` (key -> value) in the tree whose root is ``root``.

    Recurses once over the sorted batch, splitting it by key bit, so each affected node is read,
    hashed and written once. Unchanged nodes are not written. ``root`` must be the reader's root
    (checked: :class:`StorageError` otherwise).
    """
    for key, value in updates.items():
        if len(key) != HASH_LEN or len(value) != HASH_LEN:
            raise ValueError(f"SMT keys and values are 32 bytes, got {len(key)} and {len(value)}")
    if not updates:
        return BatchResult(root, {})
    keys = sorted(updates)
    batch = _Batch(reader)
    new_root = batch.update(0, root, _Items(keys, [updates[k] for k in keys]), 0, len(keys))
    return BatchResult(new_root, batch.writes, batch.previous)


class _Items:
    """Sorted batch items as parallel lists; subtrees address them by index ranges."""

    __slots__ = ("ints", "keys", "values")

    def __init__(self, keys: list[bytes], values: list[bytes]) -> None:
        self.keys = keys
        self.values = values
        self.ints = [int.from_bytes(k, "big") for k in keys]

    def split(self, depth: int, lo: int, hi: int) -> int:
        """First index in ``[lo, hi)`` whose key has bit ``depth`` set (all share the prefix)."""
        shift = KEY_BITS - 1 - depth
        return bisect_left(self.ints, ((self.ints[lo] >> shift) | 1) << shift, lo, hi)

    def with_leaf(self, lo: int, hi: int, leaf: bytes) -> _Items:
        """Items ``[lo, hi)`` plus an existing leaf whose key is not among them."""
        at = bisect_left(self.keys, leaf[1:33], lo, hi)
        keys = [*self.keys[lo:at], leaf[1:33], *self.keys[at:hi]]
        return _Items(keys, [*self.values[lo:at], leaf[33:], *self.values[at:hi]])


class _Batch:
    """One batch's recursion over the sorted items; collects the writes."""

    def __init__(self, reader: NodeReader) -> None:
        self.reader = reader
        self.writes: dict[bytes, bytes | None] = {}
        self.previous: dict[bytes, bytes | None] = {}

    def update(self, depth: int, current: bytes, items: _Items, lo: int, hi: int) -> bytes:
        """New hash of the subtree at ``depth`` (hash ``current``) after items ``[lo, hi)``."""
        if current == ZERO_HASH:
            if depth == 0 and self.reader.get_node(ROOT_POSITION) is not None:
                raise StorageError("the SMT store is not empty, but the given root is")
            return self.build(depth, items, lo, hi)
        pos = position(depth, items.keys[lo])
        old = self.reader.get_node(pos)
        if old is None or len(old) != NODE_LEN:
            raise StorageError(f"SMT node missing or corrupt at position {pos.hex()}")
        if depth == 0 and _sha256(old).digest() != current:
            raise StorageError(f"the SMT store does not hold root {current.hex()}")
        if old[0] == LEAF_TAG:
            at = bisect_left(items.keys, old[1:33], lo, hi)
            if at < hi and items.keys[at] == old[1:33]:  # the batch updates this very leaf
                return self.build(depth, items, lo, hi, old)
            merged = items.with_leaf(lo, hi, old)
            return self.build(depth, merged, 0, len(merged.keys), old)
        left, right = old[1:33], old[33:]
        mid = items.split(depth, lo, hi)
        if mid > lo:
            left = self.update(depth + 1, left, items, lo, mid)
        if mid < hi:
            right = self.update(depth + 1, right, items, mid, hi)
        return self._put(pos, _INTERNAL + left + right, old)

    def build(self, depth: int, items: _Items, lo: int, hi: int, old: bytes | None = None) -> bytes:
        """Hash of a subtree holding exactly items ``[lo, hi)``, writing all of its nodes."""
        pos = position(depth, items.keys[lo])
        if hi - lo == 1:
            return self._put(pos, _LEAF + items.keys[lo] + items.values[lo], old)
        mid = items.split(depth, lo, hi)
        left = self.build(depth + 1, items, lo, mid) if mid > lo else ZERO_HASH
        right = self.build(depth + 1, items, mid, hi) if mid < hi else ZERO_HASH
        return self._put(pos, _INTERNAL + left + right, old)

    def _put(self, pos: bytes, encoded: bytes, old: bytes | None) -> bytes:
        if encoded != old:  # positions below a leaf or an empty slot held nothing: old is None
            self.writes[pos] = encoded
            self.previous[pos] = old
        return _sha256(encoded).digest()


def compute_root(items: Mapping[bytes, bytes]) -> bytes:
    """Root of the tree holding exactly ``items``, from scratch: the reference model."""
    for key, value in items.items():
        if len(key) != HASH_LEN or len(value) != HASH_LEN:
            raise ValueError(f"SMT keys and values are 32 bytes, got {len(key)} and {len(value)}")
    return _subtree_root(sorted(items.items()), 0)


def _subtree_root(items: list[tuple[bytes, bytes]], depth: int) -> bytes:
    if not items:
        return ZERO_HASH
    if len(items) == 1:
        return leaf_hash(*items[0])
    left = [kv for kv in items if not _bit(kv[0], depth)]
    right = [kv for kv in items if _bit(kv[0], depth)]
    return node_hash(_subtree_root(left, depth + 1), _subtree_root(right, depth + 1))


def _bit(key: bytes, depth: int) -> int:
    return (key[depth >> 3] >> (7 - (depth & 7))) & 1


# --- lookups and proofs ------------------------------------------------------------------------


def _walk(reader: NodeReader, key: bytes) -> tuple[list[bytes], bytes | None]:
    """Siblings along ``key``'s path (top-down) and the terminal's encoding (None: empty)."""
    if len(key) != HASH_LEN:
        raise ValueError(f"SMT keys are 32 bytes, got {len(key)}")
    siblings: list[bytes] = []
    encoded = reader.get_node(ROOT_POSITION)
    depth = 0
    while encoded is not None:
        if len(encoded) != NODE_LEN or encoded[0] not in (LEAF_TAG, INTERNAL_TAG):
            raise StorageError(f"SMT node corrupt at depth {depth} on key {key.hex()}")
        if encoded[0] == LEAF_TAG:
            break
        if _bit(key, depth):
            siblings.append(encoded[1:33])
            child = encoded[33:]
        else:
            siblings.append(encoded[33:])
            child = encoded[1:33]
        depth += 1
        if child == ZERO_HASH:
            return siblings, None
        pos = position(depth, key)
        encoded = reader.get_node(pos)
        if encoded is None:
            raise StorageError(f"SMT node missing at position {pos.hex()}")
    return siblings, encoded


def lookup(reader: NodeReader, key: bytes) -> bytes | None:
    """Current value of ``key``, or None if absent."""
    _, terminal = _walk(reader, key)
    if terminal is not None and terminal[1:33] == key:
        return terminal[33:]
    return None


def prove(reader: NodeReader, key: bytes) -> SmtProof:
    """Membership proof of ``key``'s value, or non-membership proof of its absence."""
    siblings, encoded = _walk(reader, key)
    end: Terminal
    if encoded is None:
        end = EmptySlot()
    elif encoded[1:33] == key:
        end = Membership(encoded[33:])
    else:
        end = OtherLeaf(encoded[1:33], encoded[33:])
    return SmtProof(tuple(siblings), end)


@dataclass(frozen=True, slots=True)
class Membership:
    """The key's own leaf ends the path."""

    value: bytes


@dataclass(frozen=True, slots=True)
class EmptySlot:
    """The key's path ends in an empty subtree: the key is absent."""


@dataclass(frozen=True, slots=True)
class OtherLeaf:
    """A leaf of another key sharing the path prefix ends the path: the key is absent."""

    key: bytes
    value: bytes


Terminal = Membership | EmptySlot | OtherLeaf
_TERMINAL_TAGS = {EmptySlot: 0, Membership: 1, OtherLeaf: 2}


@dataclass(frozen=True, slots=True)
class SmtProof:
    """Siblings top-down (``siblings[i]`` is at depth ``i + 1``) and what ends the path.

    ``to_bytes`` (canonical; ``from_bytes`` rejects anything else):
    ``depth`` u16 big-endian (= number of siblings, <= 256); a bitmap of ``ceil(depth/8)`` bytes,
    bit ``i`` MSB-first set iff ``siblings[i]`` is not ``ZERO_HASH``, unused bits zero; the
    non-zero siblings, 32 bytes each, top-down; the terminal: ``0x00`` (empty slot),
    ``0x01 || value`` (membership) or ``0x02 || other_key || other_value`` (other leaf).
    """

    siblings: tuple[bytes, ...]
    terminal: Terminal

    def __post_init__(self) -> None:
        if len(self.siblings) > KEY_BITS:
            raise ProofError(f"SMT proof has {len(self.siblings)} siblings, at most 256 allowed")
        fields = [*self.siblings, *_terminal_fields(self.terminal)]
        if any(len(f) != HASH_LEN for f in fields):
            raise ProofError("SMT proof fields must all be 32 bytes")

    def to_bytes(self) -> bytes:
        depth = len(self.siblings)
        nbits = ((depth + 7) >> 3) << 3
        bitmap = 0
        present = []
        for i, sibling in enumerate(self.siblings):
            if sibling != ZERO_HASH:
                bitmap |= 1 << (nbits - 1 - i)
                present.append(sibling)
        tag = _BYTE[_TERMINAL_TAGS[type(self.terminal)]]
        head = _DEPTH[depth] + bitmap.to_bytes(nbits >> 3, "big")
        return b"".join([head, *present, tag, *_terminal_fields(self.terminal)])

    @classmethod
    def from_bytes(cls, data: bytes) -> SmtProof:
        depth = int.from_bytes(data[:2], "big")
        nbits = ((depth + 7) >> 3) << 3
        offset = 2 + (nbits >> 3)
        if len(data) <= offset or depth > KEY_BITS:
            raise ProofError(f"SMT proof bytes are truncated or claim depth {depth}")
        bitmap = int.from_bytes(data[2:offset], "big")
        if bitmap & ((1 << (nbits - depth)) - 1):
            raise ProofError("SMT proof bitmap has bits set past its depth")
        siblings = []
        for i in range(depth):
            if bitmap >> (nbits - 1 - i) & 1:
                sibling = data[offset : offset + HASH_LEN]
                if sibling == ZERO_HASH:
                    raise ProofError("SMT proof lists a zero sibling its bitmap should elide")
                siblings.append(sibling)
                offset += HASH_LEN
            else:
                siblings.append(ZERO_HASH)
        return cls(tuple(siblings), _decode_terminal(data, offset))


def _terminal_fields(end: Terminal) -> tuple[bytes, ...]:
    if isinstance(end, Membership):
        return (end.value,)
    if isinstance(end, OtherLeaf):
        return (end.key, end.value)
    return ()


def _decode_terminal(data: bytes, offset: int) -> Terminal:
    tag, body = data[offset : offset + 1], data[offset + 1 :]
    expected = {b"\x00": 0, b"\x01": HASH_LEN, b"\x02": 2 * HASH_LEN}.get(tag)
    if expected is None or len(body) != expected:
        raise ProofError("SMT proof terminal is malformed or has trailing bytes")
    if tag == b"\x00":
        return EmptySlot()
    if tag == b"\x01":
        return Membership(body)
    return OtherLeaf(body[:HASH_LEN], body[HASH_LEN:])


def verify(root: bytes, key: bytes, proof: SmtProof) -> bytes | None:
    """Value proven for ``key`` under ``root``, or None for a proven absence.

    Raises :class:`ProofError` unless the proof is valid and canonical (as :func:`prove` makes).
    """
    if len(root) != HASH_LEN or len(key) != HASH_LEN:
        raise ProofError("SMT root and key must be 32 bytes")
    depth = len(proof.siblings)
    end = proof.terminal
    if depth and proof.siblings[-1] == ZERO_HASH:
        # A subtree of one leaf is that leaf, so the deepest sibling is never empty.
        raise ProofError("SMT proof is not canonical: its deepest sibling is empty")
    acc, result = _terminal_hash(key, depth, end)
    for i in range(depth - 1, -1, -1):
        sibling = proof.siblings[i]
        if (key[i >> 3] >> (7 - (i & 7))) & 1:
            acc = _sha256(_INTERNAL + sibling + acc).digest()
        else:
            acc = _sha256(_INTERNAL + acc + sibling).digest()
    if not compare_digest(acc, root):
        raise ProofError(f"SMT proof for key {key.hex()} does not lead to root {root.hex()}")
    return result


def _terminal_hash(key: bytes, depth: int, end: Terminal) -> tuple[bytes, bytes | None]:
    if isinstance(end, Membership):
        return leaf_hash(key, end.value), end.value
    if isinstance(end, OtherLeaf):
        if end.key == key:
            raise ProofError("SMT non-membership proof ends at the key's own leaf")
        if _common_prefix_bits(end.key, key) < depth:
            raise ProofError(f"SMT proof's other leaf does not share the key's {depth}-bit path")
        return leaf_hash(end.key, end.value), None
    return ZERO_HASH, None


def _common_prefix_bits(a: bytes, b: bytes) -> int:
    diff = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return KEY_BITS - diff.bit_length()


def verify_membership(root: bytes, key: bytes, value: bytes, proof: SmtProof) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows ``key -> value`` under ``root``."""
    proven = verify(root, key, proof)
    if proven is None:
        raise ProofError(f"SMT proof shows key {key.hex()} absent, not present")
    if not compare_digest(proven, value):
        raise ProofError(f"SMT proof shows key {key.hex()} with another value")


def verify_non_membership(root: bytes, key: bytes, proof: SmtProof) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows ``key`` absent under ``root``."""
    if verify(root, key, proof) is not None:
        raise ProofError(f"SMT proof shows key {key.hex()} present, not absent")
