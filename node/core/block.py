"""Agency blocks: a batch of one agency's events, hash-chained and signed by that agency.

Wire form: ``[header, [event, …], signature]`` where header is
``[version, network_id, agency_id, height, prev_hash, timestamp_ms, events_root, state_root,
event_count]``. The block hash is SHA-256 of the encoded header; the signature is Ed25519 over a
domain tag and that hash. ``events_root`` is the RFC 9162 Merkle root of the encoded events, so a
single event can be proven to be in a block.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from node.core import merkle_log
from node.core.encoding import (
    as_bytes,
    as_list,
    as_text,
    as_uint,
    decode,
    encode,
    expect_version,
)
from node.core.errors import EncodingError, SizeLimitError
from node.core.events import Event, event_from_wire, event_to_wire
from node.core.hashing import ZERO_HASH, sha256

MAX_EVENTS_PER_BLOCK = 2000
MAX_BLOCK_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class BlockHeader:
    network_id: bytes
    agency_id: str
    height: int
    prev_hash: bytes
    timestamp_ms: int
    events_root: bytes
    state_root: bytes
    event_count: int

    def to_wire(self) -> list[Any]:
        return [
            1,
            self.network_id,
            self.agency_id,
            self.height,
            self.prev_hash,
            self.timestamp_ms,
            self.events_root,
            self.state_root,
            self.event_count,
        ]

    def encode(self) -> bytes:
        return encode(self.to_wire())

    def hash(self) -> bytes:
        return sha256(self.encode())


def header_from_wire(value: Any) -> BlockHeader:
    items = as_list(value, "block header", 9)
    expect_version(items[0], "block header")
    return BlockHeader(
        network_id=as_bytes(items[1], "network_id", 32),
        agency_id=as_text(items[2], "agency_id", 32),
        height=as_uint(items[3], "height"),
        prev_hash=as_bytes(items[4], "prev_hash", 32),
        timestamp_ms=as_uint(items[5], "timestamp_ms"),
        events_root=as_bytes(items[6], "events_root", 32),
        state_root=as_bytes(items[7], "state_root", 32),
        event_count=as_uint(items[8], "event_count", maximum=MAX_EVENTS_PER_BLOCK),
    )


@dataclass(frozen=True)
class Block:
    header: BlockHeader
    events: tuple[Event, ...]
    signature: bytes

    @cached_property
    def hash(self) -> bytes:
        return self.header.hash()

    @property
    def agency_id(self) -> str:
        return self.header.agency_id

    @property
    def height(self) -> int:
        return self.header.height

    def encode(self) -> bytes:
        return encode(
            [self.header.to_wire(), [event_to_wire(e) for e in self.events], self.signature]
        )


def events_root(events: tuple[Event, ...] | list[Event]) -> bytes:
    leaves = [merkle_log.leaf_hash(encode(event_to_wire(e))) for e in events]
    return merkle_log.root(leaves)


def decode_block(data: bytes) -> Block:
    """Decode and shape-check a block. Ledger rules are checked by :mod:`node.core.ledger`."""
    if len(data) > MAX_BLOCK_BYTES:
        raise SizeLimitError(f"block of {len(data)} bytes exceeds {MAX_BLOCK_BYTES}")
    header_raw, events_raw, signature = as_list(decode(data), "block", 3)
    header = header_from_wire(header_raw)
    events_list = as_list(events_raw, "block events")
    if len(events_list) > MAX_EVENTS_PER_BLOCK:
        raise SizeLimitError(f"block holds {len(events_list)} events, over {MAX_EVENTS_PER_BLOCK}")
    if len(events_list) != header.event_count:
        raise EncodingError("block: event_count does not match the events carried")
    events = tuple(event_from_wire(e) for e in events_list)
    return Block(header, events, as_bytes(signature, "signature", 64))


GENESIS_PREV_HASH = ZERO_HASH
