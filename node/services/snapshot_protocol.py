"""Wire messages of the snapshot protocol (request/response over libp2p), closed CBOR.

``/calpe/snapshot/manifest/2``: empty request; response ``[2, record, leaves, governance]`` with
``record`` the encoded :class:`CheckpointRecord` of the newest *confirmed* checkpoint the server
holds, ``leaves`` one ``[agency_id, ed25519_public, secp256k1_address, timestamp_ms, log, block]``
per cut leaf (``log`` = ``CompactRange.to_bytes()`` at size = height, ``block`` the agency's
encoded block at the cut height, empty at height 0, which binds the keys and timestamp) and
``governance`` opaque bytes. Version 1 (no block) is refused: its keys were not bound by anything.

``/calpe/snapshot/chunk/1``: request ``[epoch, agency_id, after_key, max_items]`` (``after_key``
empty for the first chunk); response ``[1, [[kind, encoded], …], done]``: the agency's state
entries as of its cut height, in state-tree key order after ``after_key``; ``encoded`` is the
record's canonical encoding (what the tree hashes). ``done`` is true on the last chunk.

A refusal (no confirmed checkpoint, unknown epoch, bad request) is ``[0, reason]``. Chunks stay
under :data:`MAX_RESPONSE_BYTES`: py-libp2p's request/response fails near 16 MiB. A manifest
holds a block per leaf (each at most ``MAX_BLOCK_BYTES``), so its own limit is that many blocks;
in practice the transport's response limit (16 MiB) bounds it first.
"""

from __future__ import annotations

from typing import Any

import cbor2

from node.core.block import MAX_BLOCK_BYTES
from node.core.checkpoint_protocol import decode_record
from node.core.encoding import as_bytes, as_list, as_text, as_uint, decode, encode
from node.core.errors import EncodingError, RequestFailedError
from node.core.merkle_log import CompactRange
from node.core.snapshot import ENTRY_KINDS, LeafInfo, Manifest

PROTOCOL = "/calpe/snapshot/1"
MANIFEST_VERSION = 2
MANIFEST_PROTOCOL = f"/calpe/snapshot/manifest/{MANIFEST_VERSION}"
CHUNK_PROTOCOL = PROTOCOL.replace("/1", "/chunk/1")
MAX_RESPONSE_BYTES = 4 * 1024 * 1024
MAX_CHUNK_ITEMS = 50_000
MAX_AGENCIES = 1024
MAX_GOVERNANCE_BYTES = 1024 * 1024
MAX_MANIFEST_BYTES = MAX_AGENCIES * (MAX_BLOCK_BYTES + 4096) + MAX_GOVERNANCE_BYTES + 65536
"""A block and its leaf's other fields (keys, frontier: under 4 KiB) per leaf, plus the rest."""


def encode_refusal(reason: str) -> bytes:
    return encode([0, reason[:500]])


def _body(data: bytes, what: str, *, max_bytes: int, ok: int) -> list[Any]:
    """The fields of a response after its status; a refusal raises :class:`RequestFailedError`."""
    return _status(decode(data, max_bytes=max_bytes), what, ok)


def _status(value: Any, what: str, ok: int = 1) -> list[Any]:
    """``ok`` is the status of an answer: 1, or the version of the message it carries."""
    items = as_list(value, what)
    status = items[0] if items else None
    if type(status) is not int or status not in (0, ok):
        raise EncodingError(
            f"{what}: expected a status of 0 or {ok}, got {status!r} (a peer of another version?)"
        )
    if status == 0:
        reason = items[1] if len(items) > 1 and isinstance(items[1], str) else "no reason given"
        raise RequestFailedError(f"{what} refused: {reason[:500]}")
    return items[1:]


# --------------------------------------------------------------------------------- manifest


def encode_manifest(manifest: Manifest) -> bytes:
    leaves = [
        [
            i.agency_id,
            i.ed25519_public,
            i.secp256k1_address,
            i.timestamp_ms,
            i.log.to_bytes(),
            i.block,
        ]
        for i in manifest.leaves
    ]
    return encode([MANIFEST_VERSION, manifest.record.encode(), leaves, manifest.governance])


def decode_manifest(data: bytes) -> Manifest:
    body = _body(data, "snapshot manifest", max_bytes=MAX_MANIFEST_BYTES, ok=MANIFEST_VERSION)
    record_raw, leaves_raw, governance = as_list(body, "manifest", 3)
    if not isinstance(record_raw, bytes):
        raise EncodingError("snapshot manifest: record must be bytes")
    if not isinstance(governance, bytes) or len(governance) > MAX_GOVERNANCE_BYTES:
        raise EncodingError("snapshot manifest: governance must be bytes of at most 1 MiB")
    leaves = as_list(leaves_raw, "manifest leaves")
    if len(leaves) > MAX_AGENCIES:
        raise EncodingError("snapshot manifest: too many leaves")
    return Manifest(decode_record(record_raw), tuple(_leaf_info(v) for v in leaves), governance)


def _leaf_info(value: Any) -> LeafInfo:
    agency, ed_pub, address, timestamp, log, block = as_list(value, "manifest leaf", 6)
    if not isinstance(log, bytes):
        raise EncodingError("manifest leaf: log must be bytes")
    if not isinstance(block, bytes) or len(block) > MAX_BLOCK_BYTES:
        raise EncodingError(f"manifest leaf: block must be bytes of at most {MAX_BLOCK_BYTES}")
    return LeafInfo(
        as_text(agency, "agency_id", 32),
        as_bytes(ed_pub, "ed25519_public", 32),
        as_bytes(address, "secp256k1_address", 20),
        as_uint(timestamp, "timestamp_ms"),
        CompactRange.from_bytes(log),
        block,
    )


# ------------------------------------------------------------------------------------ chunks


def encode_chunk_request(epoch: int, agency_id: str, after_key: bytes, max_items: int) -> bytes:
    return encode([epoch, agency_id, after_key, max_items])


def decode_chunk_request(data: bytes) -> tuple[int, str, bytes, int]:
    epoch, agency, after, count = as_list(decode(data, max_bytes=256), "chunk request", 4)
    if not isinstance(after, bytes) or len(after) not in (0, 32):
        raise EncodingError("chunk request: after_key must be empty or 32 bytes")
    return (
        as_uint(epoch, "epoch"),
        as_text(agency, "agency_id", 32),
        after,
        max(1, as_uint(count, "max_items", maximum=MAX_CHUNK_ITEMS)),
    )


def encode_chunk(entries: list[tuple[int, bytes]], done: bool) -> bytes:
    return encode([1, [[kind, encoded] for kind, encoded in entries], done])


def decode_chunk(data: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    """The closed shape is checked in full; canonical form is not re-checked for speed (each
    entry's bytes are hashed into the state root the joiner verifies)."""
    if len(data) > MAX_RESPONSE_BYTES + 65536:
        raise EncodingError(f"snapshot chunk of {len(data)} bytes exceeds the limit")
    try:
        items = cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several types on malformed input
        raise EncodingError(f"snapshot chunk: not valid CBOR: {exc}") from exc
    raw_entries, done = as_list(_status(items, "snapshot chunk"), "chunk", 2)
    if not isinstance(done, bool):
        raise EncodingError("snapshot chunk: done must be a boolean")
    entries = as_list(raw_entries, "chunk entries")
    if len(entries) > MAX_CHUNK_ITEMS:
        raise EncodingError("snapshot chunk: too many entries")
    out: list[tuple[int, bytes]] = []
    for value in entries:
        if type(value) is not list or len(value) != 2:
            raise EncodingError("snapshot chunk: malformed entry")
        kind, encoded = value
        if type(kind) is not int or kind not in ENTRY_KINDS or type(encoded) is not bytes:
            raise EncodingError("snapshot chunk: malformed entry")
        out.append((kind, encoded))
    return out, done
