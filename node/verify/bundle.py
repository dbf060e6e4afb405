"""Proof bundles (``docs/proof-bundle.md``): strict parsing of the JSON form, and the compact form.

Parsing only reads; it checks shapes, not proofs (that is :mod:`node.verify.checks`). It is
strict wherever leniency would let a bundle be altered without changing what it proves: hex must
be lowercase, addresses EIP-55, integers real integers. Unknown members are ignored, so a later
minor addition does not break version-1 readers.

The compact form is deterministic CBOR of the evidence alone (no display fields): the JSON form
spells every hash in hex, which doubles it; the compact form fits a QR code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from node.core.checkpoint import CutLeaf, cut_leaf_from_wire
from node.core.eip712 import SIGNATURE_LENGTH, to_checksum_address
from node.core.encoding import as_bytes, as_list, as_text, as_uint, decode, encode, expect_version
from node.core.errors import EncodingError
from node.core.hashing import HASH_LEN

FORMAT = "calpe-proof-bundle"
VERSION = 1
STATUSES = ("active", "suspended", "revoked", "unknown")
MAX_PATH = 64
MAX_STATE_PROOF = 2 + 32 + 256 * HASH_LEN + 1 + 2 * HASH_LEN
MAX_RECORD = 512
MAX_SIGNATURES = 255
_HEX = re.compile(r"(?:[0-9a-f]{2})*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class HistoryProof:
    """The block that last changed the record is leaf ``height - 1`` of the issuer's log."""

    height: int
    block_hash: bytes
    path: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class CheckpointProof:
    """The cut leaf's path to the checkpoint root, and the root's signatures."""

    chain_id: int
    contract: str
    """EIP-55."""
    epoch: int
    root: bytes
    path: tuple[bytes, ...]
    sides: str
    signatures: tuple[tuple[str, bytes], ...]
    """``(signer address, 65-byte signature)``, addresses EIP-55, in the bundle's order."""


@dataclass(frozen=True, slots=True)
class ProofBundle:
    network_id: bytes
    issuer: str
    credential_id: bytes
    status: str
    """The status the bundle claims: must agree with ``record``."""
    credential: Mapping[str, Any] | None
    """The display rendering of ``record``: must agree with it."""
    record: bytes | None
    state_proof: bytes
    head: CutLeaf
    history: HistoryProof | None
    checkpoint: CheckpointProof | None
    network: str | None = None
    """Informational: not covered by any check."""
    head_timestamp_ms: int | None = None
    """Informational: not covered by any check."""
    generated_ms: int | None = None
    """Informational: not covered by any check."""


# ------------------------------------------------------------------------------ JSON form


def parse_bundle(doc: Any) -> ProofBundle:
    """The bundle in a decoded JSON document; :class:`EncodingError` naming the bad field."""
    obj = _obj(doc, "bundle")
    if obj.get("format") != FORMAT:
        raise EncodingError(f"format: expected {FORMAT!r}, got {obj.get('format')!r}")
    if _int(obj.get("version"), "version") != VERSION:
        raise EncodingError(f"version: this verifier reads version {VERSION} only")
    status = obj.get("status")
    if status not in STATUSES:
        raise EncodingError(f"status: expected one of {', '.join(STATUSES)}")
    record = obj.get("record")
    credential = obj.get("credential")
    head = _obj(obj.get("head"), "head")
    return ProofBundle(
        network_id=_hex(obj.get("network_id"), "network_id", HASH_LEN),
        issuer=_text(obj.get("issuer"), "issuer"),
        credential_id=_hex(obj.get("credential_id"), "credential_id", HASH_LEN),
        status=status,
        credential=None if credential is None else _obj(credential, "credential"),
        record=None if record is None else _hex_bounded(record, "record", MAX_RECORD),
        state_proof=_hex_bounded(obj.get("state_proof"), "state_proof", MAX_STATE_PROOF),
        head=_head(head),
        history=_history(obj.get("history")),
        checkpoint=_checkpoint(obj.get("checkpoint")),
        network=_optional_text(obj.get("network"), "network"),
        head_timestamp_ms=_optional_int(head.get("timestamp_ms"), "head.timestamp_ms"),
        generated_ms=_optional_int(obj.get("generated_ms"), "generated_ms"),
    )


def _head(head: Json) -> CutLeaf:
    return CutLeaf(
        agency_id=_text(head.get("agency_id"), "head.agency_id"),
        height=_int(head.get("height"), "head.height"),
        block_hash=_hex(head.get("block_hash"), "head.block_hash", HASH_LEN),
        log_root=_hex(head.get("log_root"), "head.log_root", HASH_LEN),
        state_root=_hex(head.get("state_root"), "head.state_root", HASH_LEN),
    )


def _history(value: Any) -> HistoryProof | None:
    if value is None:
        return None
    obj = _obj(value, "history")
    return HistoryProof(
        height=_int(obj.get("height"), "history.height"),
        block_hash=_hex(obj.get("block_hash"), "history.block_hash", HASH_LEN),
        path=_path(obj.get("path"), "history.path"),
    )


def _checkpoint(value: Any) -> CheckpointProof | None:
    if value is None:
        return None
    obj = _obj(value, "checkpoint")
    sides = obj.get("sides")
    if not isinstance(sides, str) or len(sides) > MAX_PATH:
        raise EncodingError("checkpoint.sides: expected a string of L and R")
    return CheckpointProof(
        chain_id=_int(obj.get("chain_id"), "checkpoint.chain_id"),
        contract=_address(obj.get("contract"), "checkpoint.contract"),
        epoch=_int(obj.get("epoch"), "checkpoint.epoch"),
        root=_hex(obj.get("root"), "checkpoint.root", HASH_LEN),
        path=_path(obj.get("path"), "checkpoint.path"),
        sides=sides,
        signatures=_signatures(obj.get("signatures")),
    )


def _signatures(value: Any) -> tuple[tuple[str, bytes], ...]:
    obj = _obj(value, "checkpoint.signatures")
    if len(obj) > MAX_SIGNATURES:
        raise EncodingError(f"checkpoint.signatures: more than {MAX_SIGNATURES}")
    return tuple(
        (_address(signer, "checkpoint.signatures key"), _hex(sig, f"signature of {signer}", 65))
        for signer, sig in obj.items()
    )


# --- field readers ---


def _obj(value: Any, what: str) -> Json:
    if not isinstance(value, dict):
        raise EncodingError(f"{what}: expected an object")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
        raise EncodingError(f"{what}: expected an unsigned 64-bit integer")
    return value


def _optional_int(value: Any, what: str) -> int | None:
    return None if value is None else _int(value, what)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 32:
        raise EncodingError(f"{what}: expected text of 1 to 32 characters")
    return value


def _optional_text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 256:
        raise EncodingError(f"{what}: expected text")
    return value


def _hex_bounded(value: Any, what: str, max_bytes: int) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) > 2 * max_bytes:
        raise EncodingError(f"{what}: expected lowercase hex of at most {max_bytes} bytes")
    return bytes.fromhex(value)


def _hex(value: Any, what: str, length: int) -> bytes:
    raw = _hex_bounded(value, what, length)
    if len(raw) != length:
        raise EncodingError(f"{what}: expected {length} bytes of lowercase hex")
    return raw


def _path(value: Any, what: str) -> tuple[bytes, ...]:
    if not isinstance(value, list) or len(value) > MAX_PATH:
        raise EncodingError(f"{what}: expected a list of at most {MAX_PATH} hashes")
    return tuple(_hex(h, f"{what}[{i}]", HASH_LEN) for i, h in enumerate(value))


def _address(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise EncodingError(f"{what}: expected a 0x-prefixed 20-byte address")
    canonical = to_checksum_address(value.lower())
    if value != canonical:
        raise EncodingError(f"{what}: expected the EIP-55 form {canonical}")
    return value


# --------------------------------------------------------------------------- compact form


def to_compact(bundle: ProofBundle) -> bytes:
    """Deterministic CBOR of the evidence: ``[1, network_id, issuer, credential_id, record,
    state_proof, head, history, checkpoint]`` (see ``docs/proof-bundle.md``)."""
    history = bundle.history
    cp = bundle.checkpoint
    return encode(
        [
            VERSION,
            bundle.network_id,
            bundle.issuer,
            bundle.credential_id,
            bundle.record,
            bundle.state_proof,
            bundle.head.to_wire(),
            None if history is None else [history.height, history.block_hash, list(history.path)],
            None
            if cp is None
            else [
                cp.chain_id,
                bytes.fromhex(cp.contract[2:]),
                cp.epoch,
                cp.root,
                list(cp.path),
                cp.sides,
                [[bytes.fromhex(a[2:]), s] for a, s in cp.signatures],
            ],
        ]
    )


def from_compact(data: bytes) -> ProofBundle:
    """Inverse of :func:`to_compact`; ``status`` and ``credential`` are derived from the record,
    informational fields are None."""
    from node.verify.render import credential_of, status_of

    items = as_list(decode(data, max_bytes=64 * 1024), "compact bundle", 9)
    expect_version(items[0], "compact bundle")
    record = items[4]
    if record is not None and not isinstance(record, bytes):
        raise EncodingError("record: expected bytes or null")
    state_proof = items[5]
    if not isinstance(state_proof, bytes):
        raise EncodingError("state_proof: expected bytes")
    return ProofBundle(
        network_id=as_bytes(items[1], "network_id", HASH_LEN),
        issuer=as_text(items[2], "issuer", 32),
        credential_id=as_bytes(items[3], "credential_id", HASH_LEN),
        status=status_of(record),
        credential=credential_of(record),
        record=record,
        state_proof=state_proof,
        head=cut_leaf_from_wire(items[6]),
        history=_compact_history(items[7]),
        checkpoint=_compact_checkpoint(items[8]),
    )


def _compact_path(value: Any, what: str) -> tuple[bytes, ...]:
    items = as_list(value, what)
    if len(items) > MAX_PATH:
        raise EncodingError(f"{what}: more than {MAX_PATH} hashes")
    return tuple(as_bytes(h, what, HASH_LEN) for h in items)


def _compact_history(value: Any) -> HistoryProof | None:
    if value is None:
        return None
    items = as_list(value, "history", 3)
    return HistoryProof(
        as_uint(items[0], "history.height"),
        as_bytes(items[1], "history.block_hash", HASH_LEN),
        _compact_path(items[2], "history.path"),
    )


def _compact_checkpoint(value: Any) -> CheckpointProof | None:
    if value is None:
        return None
    items = as_list(value, "checkpoint", 7)
    pairs = as_list(items[6], "checkpoint.signatures")
    if len(pairs) > MAX_SIGNATURES:
        raise EncodingError(f"checkpoint.signatures: more than {MAX_SIGNATURES}")
    signatures = []
    for pair in pairs:
        address, signature = as_list(pair, "signature", 2)
        signatures.append(
            (
                to_checksum_address(as_bytes(address, "signer", 20)),
                as_bytes(signature, "signature", SIGNATURE_LENGTH),
            )
        )
    return CheckpointProof(
        chain_id=as_uint(items[0], "checkpoint.chain_id"),
        contract=to_checksum_address(as_bytes(items[1], "checkpoint.contract", 20)),
        epoch=as_uint(items[2], "checkpoint.epoch"),
        root=as_bytes(items[3], "checkpoint.root", HASH_LEN),
        path=_compact_path(items[4], "checkpoint.path"),
        sides=as_text(items[5], "checkpoint.sides", MAX_PATH),
        signatures=tuple(signatures),
    )
