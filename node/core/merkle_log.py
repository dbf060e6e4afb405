"""Append-only Merkle log with RFC 9162 (Certificate Transparency v2) hashing over SHA-256.

Hashing: ``leaf_hash(d) = SHA256(0x00 || d)``, ``node_hash(l, r) = SHA256(0x01 || l || r)``, and
the root of the empty tree is ``SHA256(b"")``. The tree of ``n`` leaves is RFC 9162's MTH: the left
subtree holds the largest power of two strictly below ``n`` leaves.

Storage addresses nodes by *perfect subtrees*: ``(level, index)`` is the root of the complete
subtree of ``2**level`` leaves starting at leaf ``index * 2**level`` (level 0 = leaf hashes). A log
of ``size`` leaves stores exactly the perfect subtrees that lie within ``size``; ``CompactRange``
emits each of them once, when its last leaf is appended. Proof generation asks ``get_node`` only
for such subtrees and folds ragged right edges itself.

Proofs are lists of 32-byte hashes ordered bottom-up, exactly as RFC 9162 §2.1.3 and §2.1.4
produce them, so they interoperate with other CT implementations. Bad arguments to the producers
(an index outside the tree, ...) and every verification failure raise :class:`ProofError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hmac import compare_digest

from node.core.errors import EncodingError, ProofError
from node.core.hashing import HASH_LEN

GetNode = Callable[[int, int], bytes]
"""``get_node(level, index)``: hash of the perfect subtree of ``2**level`` leaves at ``index``."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree."""

_sha256 = hashlib.sha256
_SIZE_BYTES = 8


def leaf_hash(data: bytes) -> bytes:
    """``SHA256(0x00 || data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of ``leaf_hashes``; carrying an odd last node up unchanged yields RFC 9162's shape."""
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _split(n: int) -> int:
    """Largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(begin: int, end: int, get_node: GetNode) -> bytes:
    """MTH of leaves ``[begin, end)`` from perfect subtrees.

    ``begin`` must be a multiple of the largest power of two <= ``end - begin``, which holds for
    every range RFC 9162's recursion asks for; the range then splits into perfect subtrees of
    decreasing size, folded right to left.
    """
    parts: list[bytes] = []
    width = end - begin
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            parts.append(get_node(level, begin >> level))
            begin += 1 << level
    acc = parts.pop()
    while parts:
        acc = node_hash(parts.pop(), acc)
    return acc


def root_at(size: int, get_node: GetNode) -> bytes:
    """MTH of the first ``size`` leaves of a stored log."""
    if size < 0:
        raise ProofError(f"tree size {size} is negative")
    return EMPTY_ROOT if size == 0 else _range_root(0, size, get_node)


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """RFC 9162 PATH(index, D[0:size]), bottom-up."""
    if not 0 <= index < size:
        raise ProofError(f"cannot prove leaf {index} in a tree of {size} leaves")
    top_down: list[bytes] = []
    start, n, m = 0, size, index
    while n > 1:
        k = _split(n)
        if m < k:
            top_down.append(_range_root(start + k, start + n, get_node))
            n = k
        else:
            top_down.append(get_node(k.bit_length() - 1, start // k))
            start, m, n = start + k, m - k, n - k
    top_down.reverse()
    return top_down


def consistency_proof(old_size: int, new_size: int, get_node: GetNode) -> list[bytes]:
    """RFC 9162 PROOF(old_size, D[0:new_size]), bottom-up; empty when old is 0 or equals new."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"cannot prove tree size {old_size} consistent with size {new_size}")
    if old_size in (0, new_size):
        return []
    top_down: list[bytes] = []
    start, m, n, whole_old_tree = 0, old_size, new_size, True
    while m != n:
        k = _split(n)
        if m <= k:
            top_down.append(_range_root(start + k, start + n, get_node))
            n = k
        else:
            top_down.append(get_node(k.bit_length() - 1, start // k))
            start, m, n, whole_old_tree = start + k, m - k, n - k, False
    if not whole_old_tree:
        top_down.append(_range_root(start, start + n, get_node))
    top_down.reverse()
    return top_down


def nodes_from_leaves(leaf_hashes: Sequence[bytes]) -> GetNode:
    """``get_node`` over an in-memory list: builds every perfect subtree once, O(n)."""
    levels: list[Sequence[bytes]] = [leaf_hashes]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    def get_node(level: int, index: int) -> bytes:
        return levels[level][index]

    return get_node


def inclusion_proof_from_leaves(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Inclusion proof of leaf ``index`` in the tree of all of ``leaf_hashes``."""
    return inclusion_proof(index, len(leaf_hashes), nodes_from_leaves(leaf_hashes))


def consistency_proof_from_leaves(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Consistency proof from the tree of the first ``old_size`` leaves to all of them."""
    return consistency_proof(old_size, len(leaf_hashes), nodes_from_leaves(leaf_hashes))


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_LEN:
        raise ProofError(f"{what} is {len(value)} bytes, expected {HASH_LEN}")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: raise :class:`ProofError` unless ``leaf_hash`` is at ``index``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    _check_hash("leaf hash", leaf_hash)
    _check_hash("root", root)
    fn, sn, acc = index, size - 1, leaf_hash
    for i, sibling in enumerate(proof):
        _check_hash(f"inclusion proof element {i}", sibling)
        if sn == 0:
            raise ProofError(f"inclusion proof has {len(proof)} elements, too many for the tree")
        if fn & 1 or fn == sn:
            acc = node_hash(sibling, acc)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            acc = node_hash(acc, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"inclusion proof has {len(proof)} elements, too few for the tree")
    if not compare_digest(acc, root):
        raise ProofError(f"inclusion proof of leaf {index} in tree size {size} gives another root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: raise :class:`ProofError` unless the old tree is a prefix of the new."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"tree size {old_size} cannot precede tree size {new_size}")
    _check_hash("old root", old_root)
    _check_hash("new root", new_root)
    if old_size in (0, new_size):
        if proof:
            raise ProofError(f"consistency proof {old_size}->{new_size} must be empty")
        if old_size == 0 and not compare_digest(old_root, EMPTY_ROOT):
            raise ProofError("the old root is not the empty tree's root, SHA256('')")
        if old_size == new_size and not compare_digest(old_root, new_root):
            raise ProofError(f"two trees of size {old_size} have different roots")
        return
    if not proof:
        raise ProofError(f"consistency proof {old_size}->{new_size} is empty")
    for i, element in enumerate(proof):
        _check_hash(f"consistency proof element {i}", element)
    _fold_consistency(old_size, new_size, old_root, new_root, proof)


def _fold_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof {old_size}->{new_size} has too many elements")
        if fn & 1 or fn == sn:
            fr = node_hash(element, fr)
            sr = node_hash(element, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, element)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"consistency proof {old_size}->{new_size} has too few elements")
    if not compare_digest(fr, old_root):
        raise ProofError(f"consistency proof {old_size}->{new_size} does not give the old root")
    if not compare_digest(sr, new_root):
        raise ProofError(f"consistency proof {old_size}->{new_size} does not give the new root")


@dataclass(frozen=True, slots=True)
class CompactRange:
    """The log's right frontier: ``size`` and the roots of the perfect subtrees covering it.

    ``hashes`` runs left to right (largest subtree first), one per set bit of ``size``.
    Immutable: ``append`` returns a new range.
    """

    size: int = 0
    hashes: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.hashes) != self.size.bit_count():
            raise ValueError(f"a range of {self.size} leaves has one hash per set bit of its size")

    @classmethod
    def from_storage(cls, size: int, get_node: GetNode) -> CompactRange:
        """Rebuild the frontier of a stored log of ``size`` leaves."""
        return cls(size, tuple(get_node(level, index) for level, index in frontier_nodes(size)))

    def append(self, leaf: bytes) -> tuple[CompactRange, list[tuple[int, int, bytes]]]:
        """Add one leaf hash; return the new range and every perfect subtree it completes."""
        _check_hash("leaf hash", leaf)
        index = self.size
        created = [(0, index, leaf)]
        hashes = list(self.hashes)
        acc, level = leaf, 0
        while index >> level & 1:
            acc = node_hash(hashes.pop(), acc)
            level += 1
            created.append((level, index >> level, acc))
        hashes.append(acc)
        return CompactRange(index + 1, tuple(hashes)), created

    def extend(self, leaves: Sequence[bytes]) -> tuple[CompactRange, list[tuple[int, int, bytes]]]:
        """``append`` each of ``leaves`` in order; return the final range and all new nodes."""
        current, created = self, []
        for leaf in leaves:
            current, nodes = current.append(leaf)
            created.extend(nodes)
        return current, created

    def root(self) -> bytes:
        """MTH of the first ``size`` leaves."""
        if not self.hashes:
            return EMPTY_ROOT
        acc = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            acc = node_hash(left, acc)
        return acc

    def to_bytes(self) -> bytes:
        """``size`` as 8 bytes big-endian, then the hashes left to right."""
        return self.size.to_bytes(_SIZE_BYTES, "big") + b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        """Inverse of ``to_bytes``; raises :class:`EncodingError` on any other bytes."""
        if len(data) < _SIZE_BYTES:
            raise EncodingError(f"compact range of {len(data)} bytes is shorter than its size")
        size = int.from_bytes(data[:_SIZE_BYTES], "big")
        body = data[_SIZE_BYTES:]
        if len(body) != size.bit_count() * HASH_LEN:
            raise EncodingError(f"compact range of size {size} has {len(body)} bytes of hashes")
        return cls(size, tuple(body[i : i + HASH_LEN] for i in range(0, len(body), HASH_LEN)))


def frontier_nodes(size: int) -> list[tuple[int, int]]:
    """``(level, index)`` of the perfect subtrees covering leaves ``[0, size)``, left to right."""
    nodes = []
    begin = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, begin >> level))
            begin += 1 << level
    return nodes
