"""Merkle audit paths with explicit sides: how a bundle proves its cut leaf is in a checkpoint.

An RFC 9162 inclusion proof needs the leaf's index and the tree's size, and for some pairs of
sizes (3 and 4 leaves, for instance) the same path verifies under both: a bundle carrying the
size would let it be altered unnoticed. A path that names, for each sibling, the side it sits on
needs neither: its root is ``fold`` of the leaf hash, and any change to a sibling, a side, or the
number of steps changes the root. The sides of an RFC 9162 path are those its verifier takes
(RFC 9162 §2.1.3.2), so the two forms describe the same tree.

Sides are a string, one character per sibling, bottom-up: ``L`` when the sibling is the left
child (the running hash is on the right), ``R`` when it is the right child.
"""

from __future__ import annotations

from collections.abc import Sequence
from hmac import compare_digest

from node.core import merkle_log
from node.core.errors import ProofError
from node.core.hashing import HASH_LEN

LEFT = "L"
RIGHT = "R"


def rfc9162_sides(index: int, size: int) -> str:
    """Sides of the siblings in the RFC 9162 inclusion proof of leaf ``index`` of ``size``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    sides: list[str] = []
    fn, sn = index, size - 1
    while sn:
        if fn & 1 or fn == sn:
            sides.append(LEFT)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sides.append(RIGHT)
        fn, sn = fn >> 1, sn >> 1
    return "".join(sides)


def inclusion_path(leaf_hashes: Sequence[bytes], index: int) -> tuple[list[bytes], str]:
    """``(siblings, sides)`` proving leaf ``index`` of the tree over ``leaf_hashes``."""
    siblings = merkle_log.inclusion_proof_from_leaves(leaf_hashes, index)
    return siblings, rfc9162_sides(index, len(leaf_hashes))


def fold(leaf_hash: bytes, siblings: Sequence[bytes], sides: str) -> bytes:
    """The root that ``siblings`` on ``sides`` lead to from ``leaf_hash``."""
    if len(siblings) != len(sides):
        raise ProofError(
            f"a path of {len(siblings)} siblings needs as many sides, not {len(sides)}"
        )
    acc = leaf_hash
    for i, (sibling, side) in enumerate(zip(siblings, sides, strict=True)):
        if len(sibling) != HASH_LEN:
            raise ProofError(f"path element {i} is {len(sibling)} bytes, expected {HASH_LEN}")
        if side == LEFT:
            acc = merkle_log.node_hash(sibling, acc)
        elif side == RIGHT:
            acc = merkle_log.node_hash(acc, sibling)
        else:
            raise ProofError(f"path side {i} is {side!r}, expected {LEFT!r} or {RIGHT!r}")
    return acc


def verify_path(leaf_hash: bytes, siblings: Sequence[bytes], sides: str, root: bytes) -> None:
    """Raise :class:`ProofError` unless the path leads from ``leaf_hash`` to ``root``."""
    if not compare_digest(fold(leaf_hash, siblings, sides), root):
        raise ProofError("the cut leaf's path does not lead to the checkpoint root")
