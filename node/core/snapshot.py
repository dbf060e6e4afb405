"""Joining by snapshot: the pure checks a new node runs on what a peer serves it.

A peer serves a **manifest** (its newest confirmed checkpoint record, and per cut leaf the
agency's keys, block timestamp, Merkle-log frontier and encoded block at the cut height) and then
each agency's **state entries** as of the cut height, in state-tree key order. The joiner trusts
none of it:

- the checkpoint root must be the root of the cut's leaves, and equal the root the checkpoint
  contract stores for that epoch on chain (:func:`verify_manifest`);
- each leaf's log frontier must have ``size == height`` and the leaf's ``log_root``;
- each leaf's block must hash to the leaf's ``block_hash`` and bind the keys and timestamp the
  manifest names (:func:`check_cut_block`): the timestamp is the block's; the keys are those of
  the block's last ``AgencyKeyRotated`` event, else the block's signature must verify under the
  named Ed25519 key; at height 0 (no block) a genesis agency's keys are its genesis keys;
- each agency's entries, hashed exactly as the state tree hashes them, must rebuild the leaf's
  ``state_root`` (:class:`StateBuilder`).

Every refusal is a :class:`SnapshotRefusedError` subclass naming what was wrong. Not committed by
the cut: the governance state (checked only for its epoch, checkpoint, members and their keys:
:func:`governance_of`); the secp256k1 address of an agency whose cut block does not rotate it
(checked against the checkpoint's signatures when :func:`verify_manifest` is given the EIP-712
digest, so only for agencies that signed); the keys of an agency admitted by governance that has
not written yet. A rotation that governance forced is not shown by the block the agency signed
before it, so a manifest is refused while such an agency has not written with its new key: join
from a later checkpoint, or by replay.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from hmac import compare_digest

import cbor2

from node.core import smt
from node.core.block import Block, decode_block, events_root
from node.core.checkpoint import CutLeaf
from node.core.checkpoint_protocol import CheckpointRecord
from node.core.errors import CalpeError, EncodingError, ValidationError
from node.core.events import AgencyKeyRotated
from node.core.genesis import Genesis
from node.core.governance import Governance, decode_governance
from node.core.hashing import HASH_LEN, ZERO_HASH
from node.core.keys import verify_block_signature
from node.core.merkle_log import CompactRange
from node.core.status import (
    SchemaRecord,
    StatusRecord,
    decode_schema_record,
    decode_status_record,
    schema_state_key,
)

CREDENTIAL = 0
SCHEMA = 1
ENTRY_KINDS = (CREDENTIAL, SCHEMA)

_sha256 = hashlib.sha256


class SnapshotRefusedError(ValidationError):
    """A snapshot (manifest or state entries) that does not verify; try another peer."""

    reason = "bad_snapshot"


class CheckpointRootError(SnapshotRefusedError):
    """The checkpoint root is not the Merkle root of its cut leaves."""


class OnchainRootError(SnapshotRefusedError):
    """The checkpoint root differs from the contract's, or the epoch is not anchored."""


class ManifestError(SnapshotRefusedError):
    """The manifest's per-leaf data does not match its cut (missing, extra, bad keys)."""


class FrontierError(SnapshotRefusedError):
    """A log frontier's size or root differs from its cut leaf."""


class CutBlockError(SnapshotRefusedError):
    """A leaf's block is not the cut's, or does not bind the keys or timestamp named for it."""


class EntryError(SnapshotRefusedError):
    """A state entry is malformed, out of key order, of another agency, or after the cut."""


class StateRootError(SnapshotRefusedError):
    """The state rebuilt from the entries does not have the cut leaf's state root."""


# ------------------------------------------------------------------------------ manifest


@dataclass(frozen=True, slots=True)
class LeafInfo:
    """What a joiner needs to continue one agency from its cut leaf."""

    agency_id: str
    ed25519_public: bytes
    secp256k1_address: bytes
    timestamp_ms: int
    """Timestamp of the agency's block at the cut height (0 at height 0)."""
    log: CompactRange
    """The agency's Merkle-log frontier at size = cut height."""
    block: bytes
    """The agency's encoded block at the cut height (empty at height 0): binds the rest."""


@dataclass(frozen=True, slots=True)
class Manifest:
    record: CheckpointRecord
    leaves: tuple[LeafInfo, ...]
    governance: bytes = b""
    """The serving node's governance state at the epoch; opaque here."""

    @property
    def epoch(self) -> int:
        return self.record.epoch

    def info(self, agency_id: str) -> LeafInfo:
        for info in self.leaves:
            if info.agency_id == agency_id:
                return info
        raise ManifestError(f"the manifest has no data for {agency_id}")


SignerOf = Callable[[bytes], bytes]
"""Recovers the 20-byte secp256k1 address that made a checkpoint signature (raises if none)."""


def check_network(manifest: Manifest, network_id: bytes, members: Collection[str]) -> None:
    """The manifest's checkpoint is of this network, and cuts only agencies it knows."""
    checkpoint = manifest.record.checkpoint
    if checkpoint.network_id != network_id:
        raise ManifestError(f"checkpoint {checkpoint.epoch} belongs to another network")
    strangers = sorted({leaf.agency_id for leaf in checkpoint.cut.leaves} - set(members))
    if strangers:
        raise ManifestError(
            f"checkpoint {checkpoint.epoch} cuts agencies unknown here: {strangers}"
        )


def verify_manifest(
    manifest: Manifest,
    onchain_root: bytes | None,
    signer_of: SignerOf | None = None,
    *,
    genesis: Genesis,
) -> None:
    """Raise the specific :class:`SnapshotRefusedError` unless ``manifest`` is sound.

    ``onchain_root`` is what the checkpoint contract stores for the manifest's epoch (None or
    zeros: not anchored). ``signer_of`` recovers a signature's signer over this checkpoint's
    EIP-712 digest; when given, every signature must come from the address the manifest names.
    ``genesis`` is the joiner's: it gives the keys of the agencies still at height 0.
    """
    checkpoint = manifest.record.checkpoint
    recomputed = checkpoint.cut.root()
    if not compare_digest(recomputed, checkpoint.checkpoint_root):
        raise CheckpointRootError(
            f"checkpoint {checkpoint.epoch}: its root is not the root of its cut leaves"
        )
    if onchain_root is None or onchain_root == ZERO_HASH:
        raise OnchainRootError(f"epoch {checkpoint.epoch} is not anchored on chain")
    if not compare_digest(onchain_root, checkpoint.checkpoint_root):
        raise OnchainRootError(
            f"checkpoint {checkpoint.epoch}: root {checkpoint.checkpoint_root.hex()} differs from "
            f"the contract's {onchain_root.hex()}"
        )
    cut_ids = [leaf.agency_id for leaf in checkpoint.cut.leaves]
    info_ids = [info.agency_id for info in manifest.leaves]
    if sorted(info_ids) != cut_ids:
        raise ManifestError(f"the manifest covers {sorted(info_ids)}, the cut {cut_ids}")
    for leaf in checkpoint.cut.leaves:
        info = manifest.info(leaf.agency_id)
        check_frontier(leaf.agency_id, leaf.height, leaf.log_root, info)
        check_cut_block(leaf, info, checkpoint.network_id, genesis)
    if signer_of is not None:
        _check_signers(manifest, signer_of)


def check_frontier(agency_id: str, height: int, log_root: bytes, info: LeafInfo) -> None:
    if info.log.size != height:
        raise FrontierError(
            f"{agency_id}: log frontier of size {info.log.size}, the cut is at height {height}"
        )
    if not compare_digest(info.log.root(), log_root):
        raise FrontierError(f"{agency_id}: log frontier does not give the cut leaf's log root")


def check_cut_block(leaf: CutLeaf, info: LeafInfo, network_id: bytes, genesis: Genesis) -> None:
    """The block served for ``leaf`` is the cut's, and binds ``info``'s keys and timestamp."""
    agency_id = leaf.agency_id
    if leaf.height == 0:
        _check_no_block(info, genesis)
        return
    block = _cut_block(leaf, info, network_id)
    if info.timestamp_ms != block.header.timestamp_ms:
        raise CutBlockError(
            f"{agency_id}: timestamp {info.timestamp_ms} is not its block's at height {leaf.height}"
        )
    keys = (info.ed25519_public, info.secp256k1_address)
    rotations = [e for e in block.events if isinstance(e, AgencyKeyRotated)]
    if rotations:
        # Signed with the previous key, which the joiner does not know: the committed hash
        # (header, hence events_root) is what makes the rotation authentic.
        if keys != (rotations[-1].ed25519_public, rotations[-1].secp256k1_address):
            raise CutBlockError(
                f"{agency_id}: the keys named are not those its block at {leaf.height} rotates to"
            )
        return
    try:
        verify_block_signature(info.ed25519_public, block.hash, block.signature)
    except CalpeError as exc:
        raise CutBlockError(
            f"{agency_id}: its block at {leaf.height} is not signed by the Ed25519 key named"
        ) from exc


def _cut_block(leaf: CutLeaf, info: LeafInfo, network_id: bytes) -> Block:
    """The decoded block, checked to be exactly the one the cut leaf commits to."""
    agency_id, height = leaf.agency_id, leaf.height
    try:
        block = decode_block(info.block)
    except CalpeError as exc:
        raise CutBlockError(f"{agency_id}: its block at {height} is malformed: {exc}") from exc
    header = block.header
    if header.agency_id != agency_id or header.network_id != network_id:
        raise CutBlockError(f"{agency_id}: the block served is of another agency or network")
    if header.height != height:
        raise CutBlockError(f"{agency_id}: the block served is at {header.height}, not {height}")
    if not compare_digest(block.hash, leaf.block_hash):
        raise CutBlockError(f"{agency_id}: the block served at {height} is not the cut's block")
    # The hash covers the header only: the events must be the ones its events_root commits to.
    if not compare_digest(events_root(block.events), header.events_root):
        raise CutBlockError(f"{agency_id}: the events of its block at {height} were altered")
    return block


def _check_no_block(info: LeafInfo, genesis: Genesis) -> None:
    agency_id = info.agency_id
    if info.block or info.timestamp_ms != 0:
        raise CutBlockError(f"{agency_id} is at height 0: it has no block and timestamp 0")
    agency = genesis.agency(agency_id)
    if agency is not None and (info.ed25519_public, info.secp256k1_address) != (
        agency.ed25519_public,
        agency.secp256k1_address,
    ):
        raise CutBlockError(f"{agency_id} is at height 0, but its keys are not its genesis keys")


def _check_signers(manifest: Manifest, signer_of: SignerOf) -> None:
    for agency_id, signature in manifest.record.signatures.items():
        try:
            signer = signer_of(signature)
        except CalpeError as exc:
            raise ManifestError(f"{agency_id}'s checkpoint signature is invalid: {exc}") from exc
        if signer != manifest.info(agency_id).secp256k1_address:
            raise ManifestError(
                f"{agency_id}'s checkpoint signature is not by the address the manifest names"
            )


# -------------------------------------------------------------------------------- entries


@dataclass(frozen=True, slots=True)
class StateEntry:
    """One entry as served: its state-tree key and value, kind and canonical encoding.

    For a credential, ``fields`` is the encoding of the record without its issuer and id (a CBOR
    array of the other seven fields), which is what the store keeps.
    """

    key: bytes
    value: bytes
    kind: int
    encoded: bytes
    fields: bytes = b""

    @property
    def record(self) -> StatusRecord | SchemaRecord:
        """The decoded record (strictly; slower than reading the entry)."""
        if self.kind == CREDENTIAL:
            return decode_status_record(self.encoded)
        return decode_schema_record(self.encoded)


_CBOR_BYTES32 = b"\x58\x20"
_RECORD_HEAD = b"\x8a\x01"  # a 10-field array, version 1
_FIELDS_HEAD = b"\x87"  # the 7 fields after issuer and credential id


def credential_prefix(agency_id: str) -> bytes:
    """How every canonical status record of ``agency_id`` begins, up to its credential id."""
    return _RECORD_HEAD + cbor2.dumps(agency_id) + _CBOR_BYTES32


def read_entry(
    agency_id: str, height: int, kind: int, encoded: bytes, prefix: bytes | None = None
) -> StateEntry:
    """Read one served entry (the record's canonical encoding, which the tree hashes).

    A credential is only parsed as far as the checks need: its issuer, id and heights. The hash
    of ``encoded`` goes into the tree, so a non-canonical or altered encoding cannot match the
    state root; structure errors are refused here already.
    """
    if kind == SCHEMA:
        return _read_schema(agency_id, height, encoded)
    if kind != CREDENTIAL:
        raise EntryError(f"{agency_id}: unknown state entry kind {kind}")
    prefix = prefix or credential_prefix(agency_id)
    if not encoded.startswith(prefix):
        raise EntryError(f"{agency_id}: entry for a credential of another issuer, or malformed")
    body = encoded[len(prefix) :]
    credential_id, fields = body[:HASH_LEN], _FIELDS_HEAD + body[HASH_LEN:]
    try:
        items = cbor2.loads(fields)
        issued, updated = items[4], items[5]
        valid = len(credential_id) == HASH_LEN and len(items) == 7
        valid = valid and type(issued) is int and type(updated) is int
    except Exception as exc:  # cbor2 raises several types on malformed input
        raise EntryError(f"{agency_id}: malformed state entry: {exc}") from exc
    if not valid:
        raise EntryError(f"{agency_id}: malformed state entry")
    if updated > height or not 0 < issued <= updated:
        raise EntryError(f"{agency_id}: credential changed after the cut height {height}")
    return StateEntry(credential_id, _sha256(encoded).digest(), CREDENTIAL, encoded, fields)


def _read_schema(agency_id: str, height: int, encoded: bytes) -> StateEntry:
    try:
        record = decode_schema_record(encoded)
    except EncodingError as exc:
        raise EntryError(f"{agency_id}: malformed state entry: {exc}") from exc
    if record.height > height:
        raise EntryError(f"{agency_id}: schema published after the cut height {height}")
    key = schema_state_key(record.schema_id)
    return StateEntry(key, _sha256(encoded).digest(), SCHEMA, encoded)


class StateBuilder:
    """Collects one agency's entries (strictly ascending keys) and checks the state root."""

    def __init__(self, agency_id: str, height: int, state_root: bytes) -> None:
        self.agency_id = agency_id
        self.height = height
        self.state_root = state_root
        self._prefix = credential_prefix(agency_id)
        self.keys: list[bytes] = []
        self.values: list[bytes] = []

    @property
    def last_key(self) -> bytes | None:
        return self.keys[-1] if self.keys else None

    def add(self, served: Sequence[tuple[int, bytes]]) -> list[StateEntry]:
        """Verify and keep a chunk of ``(kind, encoded)`` entries; return them decoded."""
        entries = [read_entry(self.agency_id, self.height, k, e, self._prefix) for k, e in served]
        previous = self.last_key
        for entry in entries:
            if previous is not None and entry.key <= previous:
                raise EntryError(f"{self.agency_id}: state entries are not in ascending key order")
            previous = entry.key
            self.keys.append(entry.key)
            self.values.append(entry.value)
        return entries

    def finish(self, emit: Emit | None = None) -> bytes:
        """Build the tree (``emit`` receives every node) and check its root."""
        root = bulk_build(self.keys, self.values, emit)
        if not compare_digest(root, self.state_root):
            raise StateRootError(
                f"{self.agency_id}: the {len(self.keys)} state entries give root {root.hex()}, "
                f"not the cut's {self.state_root.hex()}"
            )
        return root


# ------------------------------------------------------------------------- bulk SMT build

Emit = Callable[[bytes, bytes], None]
"""``emit(position, encoded_node)`` for every node of a tree built by :func:`bulk_build`."""


def bulk_build(keys: Sequence[bytes], values: Sequence[bytes], emit: Emit | None = None) -> bytes:
    """Root of the tree holding exactly ``keys -> values`` (strictly ascending keys).

    Produces the same nodes at the same positions as :func:`smt.apply_batch` on an empty
    tree, with :mod:`node.core.smt`'s hash and position rules, in one pass and without a dict of
    writes: ``emit`` sees each node once (children before parents).
    """
    if len(keys) != len(values):
        raise ValueError("bulk_build needs one value per key")
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        if len(key) != HASH_LEN or len(value) != HASH_LEN:
            raise ValueError("SMT keys and values are 32 bytes")
        if i and keys[i - 1] >= key:
            raise ValueError("bulk_build needs strictly ascending keys")
    if not keys:
        return ZERO_HASH
    return _builder(keys, values, emit or _ignore)(0, 0, len(keys))


def _ignore(_position: bytes, _encoded: bytes) -> None:
    return None


def _builder(
    keys: Sequence[bytes], values: Sequence[bytes], emit: Emit
) -> Callable[[int, int, int], bytes]:
    """The recursion of :func:`bulk_build`, with its inputs bound as locals (the hot loop)."""
    ints = [int.from_bytes(k, "big") for k in keys]
    position, top_bit, sha256 = smt.position, smt.KEY_BITS - 1, _sha256

    def build(depth: int, lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            encoded = b"\x00" + keys[lo] + values[lo]
        else:
            shift = top_bit - depth
            mid = bisect_left(ints, ((ints[lo] >> shift) | 1) << shift, lo, hi)
            left = build(depth + 1, lo, mid) if mid > lo else ZERO_HASH
            right = build(depth + 1, mid, hi) if mid < hi else ZERO_HASH
            encoded = b"\x01" + left + right
        emit(position(depth, keys[lo]), encoded)
        return sha256(encoded).digest()

    return build


def tree_items(entries: Mapping[bytes, bytes]) -> tuple[list[bytes], list[bytes]]:
    """``(keys, values)`` of a key -> value map, sorted for :func:`bulk_build`."""
    keys = sorted(entries)
    return keys, [entries[k] for k in keys]


def governance_of(manifest: Manifest) -> Governance:
    """The governance in force after the manifest's checkpoint, as the serving peer folded it.

    The joiner has no blocks below the cut, so it cannot fold governance from the genesis: the
    state must come with the snapshot, belong to exactly its checkpoint and name exactly the
    agencies its cut holds (plus any this checkpoint admitted), with the keys the cut blocks
    bind (:func:`check_cut_block`): later folds rotate an agency to its members' keys, so a
    state naming other keys would hand the joiner the wrong ones one checkpoint later."""
    if not manifest.governance:
        raise ManifestError("the snapshot carries no governance state")
    try:
        gov = decode_governance(manifest.governance)
    except EncodingError as exc:
        raise ManifestError(f"the snapshot's governance state is malformed: {exc}") from None
    checkpoint = manifest.record.checkpoint
    if gov.epoch != checkpoint.epoch or gov.checkpoint_hash != checkpoint.hash():
        raise ManifestError(
            f"the snapshot's governance state is of epoch {gov.epoch}, not of its checkpoint "
            f"{checkpoint.epoch}"
        )
    cut = {leaf.agency_id: leaf.height for leaf in checkpoint.cut.leaves}
    admitted_here = {m.agency_id for m in gov.members if m.since_epoch == gov.epoch + 1}
    if {m.agency_id for m in gov.members} - admitted_here != set(cut) or any(
        gov.cut_heights.get(agency) != height for agency, height in cut.items()
    ):
        raise ManifestError("the snapshot's governance state does not match its cut")
    infos = {info.agency_id: info for info in manifest.leaves}
    for member in gov.members:
        info = infos.get(member.agency_id)
        if info is not None and (member.ed25519_public, member.secp256k1_address) != (
            info.ed25519_public,
            info.secp256k1_address,
        ):
            raise ManifestError(
                f"the snapshot's governance state names other keys for {member.agency_id} "
                "than its leaf"
            )
    return gov
