"""Wire messages of the catch-up protocol (request/response over libp2p).

``/calpe/sync/heads/1``: empty request; response ``{agency_id: [height, block_hash]}``.
``/calpe/sync/blocks/1``: request ``[agency_id, from_height, max_blocks]``; response
``[block_bytes, …]``: consecutive stored blocks from ``from_height``, at most ``max_blocks`` and at
most the response size limit. A node serves only blocks it has validated and committed.
"""

from __future__ import annotations

from typing import Any

from node.core.encoding import as_bytes, as_list, as_text, as_uint, decode, encode
from node.core.errors import EncodingError

HEADS_PROTOCOL = "/calpe/sync/heads/1"
BLOCKS_PROTOCOL = "/calpe/sync/blocks/1"
MAX_BLOCKS_PER_REQUEST = 2000
MAX_AGENCIES = 1024


def encode_heads(heads: dict[str, tuple[int, bytes]]) -> bytes:
    return encode({agency: [height, block_hash] for agency, (height, block_hash) in heads.items()})


def decode_heads(data: bytes) -> dict[str, tuple[int, bytes]]:
    raw: Any = decode(data)
    if not isinstance(raw, dict) or len(raw) > MAX_AGENCIES:
        raise EncodingError("heads: expected a map of at most 1024 agencies")
    heads = {}
    for agency, value in raw.items():
        height, block_hash = as_list(value, "head", 2)
        heads[as_text(agency, "agency", 32)] = (
            as_uint(height, "height"),
            as_bytes(block_hash, "block_hash", 32),
        )
    return heads


def encode_blocks_request(agency_id: str, from_height: int, max_blocks: int) -> bytes:
    return encode([agency_id, from_height, max_blocks])


def decode_blocks_request(data: bytes) -> tuple[str, int, int]:
    agency, start, count = as_list(decode(data, max_bytes=256), "blocks request", 3)
    return (
        as_text(agency, "agency", 32),
        as_uint(start, "from_height"),
        as_uint(count, "max_blocks", maximum=MAX_BLOCKS_PER_REQUEST),
    )


def encode_blocks(blocks: list[bytes]) -> bytes:
    return encode(blocks)


def decode_blocks(data: bytes, *, max_bytes: int) -> list[bytes]:
    items = as_list(decode(data, max_bytes=max_bytes), "blocks response")
    if len(items) > MAX_BLOCKS_PER_REQUEST:
        raise EncodingError("blocks response: too many blocks")
    if not all(isinstance(item, bytes) for item in items):
        raise EncodingError("blocks response: expected byte strings")
    return items
