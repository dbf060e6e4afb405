"""Cuts and checkpoints: one commitment to every agency's history and state at once.

A cut is the vector of agency heads. Each cut leaf is ``(agency_id, height, block_hash, log_root,
state_root)``; the checkpoint root is the RFC 9162 Merkle root of the encoded leaves sorted by
agency id. Because every agency's state depends only on its own log, the root of a cut does not
depend on the order in which any node received the blocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from node.core import merkle_log
from node.core.encoding import as_bytes, as_list, as_text, as_uint, decode, encode, expect_version
from node.core.errors import EncodingError
from node.core.hashing import sha256


@dataclass(frozen=True, slots=True, order=True)
class CutLeaf:
    agency_id: str
    height: int
    block_hash: bytes
    log_root: bytes
    state_root: bytes

    def to_wire(self) -> list[Any]:
        return [self.agency_id, self.height, self.block_hash, self.log_root, self.state_root]

    def leaf_hash(self) -> bytes:
        return merkle_log.leaf_hash(encode(self.to_wire()))


def cut_leaf_from_wire(value: Any) -> CutLeaf:
    items = as_list(value, "cut leaf", 5)
    return CutLeaf(
        as_text(items[0], "agency_id", 32),
        as_uint(items[1], "height"),
        as_bytes(items[2], "block_hash", 32),
        as_bytes(items[3], "log_root", 32),
        as_bytes(items[4], "state_root", 32),
    )


@dataclass(frozen=True, slots=True)
class Cut:
    leaves: tuple[CutLeaf, ...]

    @classmethod
    def of(cls, leaves: Iterable[CutLeaf]) -> Cut:
        ordered = tuple(sorted(leaves, key=lambda leaf: leaf.agency_id))
        ids = [leaf.agency_id for leaf in ordered]
        if len(set(ids)) != len(ids):
            raise EncodingError("a cut holds each agency at most once")
        return cls(ordered)

    def root(self) -> bytes:
        return merkle_log.root([leaf.leaf_hash() for leaf in self.leaves])

    def index_of(self, agency_id: str) -> int:
        for i, leaf in enumerate(self.leaves):
            if leaf.agency_id == agency_id:
                return i
        raise KeyError(agency_id)

    def inclusion_proof(self, agency_id: str) -> list[bytes]:
        hashes = [leaf.leaf_hash() for leaf in self.leaves]
        return merkle_log.inclusion_proof_from_leaves(hashes, self.index_of(agency_id))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    network_id: bytes
    epoch: int
    checkpoint_root: bytes
    cut: Cut
    timestamp_ms: int
    prev_checkpoint_hash: bytes

    def to_wire(self) -> list[Any]:
        return [
            1,
            self.network_id,
            self.epoch,
            self.checkpoint_root,
            [leaf.to_wire() for leaf in self.cut.leaves],
            self.timestamp_ms,
            self.prev_checkpoint_hash,
        ]

    def encode(self) -> bytes:
        return encode(self.to_wire())

    def hash(self) -> bytes:
        return sha256(self.encode())


def decode_checkpoint(data: bytes) -> Checkpoint:
    items = as_list(decode(data), "checkpoint", 7)
    expect_version(items[0], "checkpoint")
    cut = Cut.of(cut_leaf_from_wire(leaf) for leaf in as_list(items[4], "cut"))
    checkpoint = Checkpoint(
        network_id=as_bytes(items[1], "network_id", 32),
        epoch=as_uint(items[2], "epoch"),
        checkpoint_root=as_bytes(items[3], "checkpoint_root", 32),
        cut=cut,
        timestamp_ms=as_uint(items[5], "timestamp_ms"),
        prev_checkpoint_hash=as_bytes(items[6], "prev_checkpoint_hash", 32),
    )
    if checkpoint.encode() != data:
        raise EncodingError("checkpoint cut is not in canonical order")
    if cut.root() != checkpoint.checkpoint_root:
        raise EncodingError("checkpoint_root does not match its cut")
    return checkpoint
