"""Credential reads for the API: status with history, and proof bundles (``docs/proof-bundle.md``).

Synchronous store reads: run them in the store's worker thread, where they see one consistent
state (the worker serialises them with writes).
"""

from __future__ import annotations

import logging

from node.admin.shapes import Json, credential_json, event_json
from node.core import eip712
from node.core.block import Block
from node.core.checkpoint import CutLeaf
from node.core.checkpoint_protocol import CheckpointRecord
from node.core.errors import CalpeError
from node.core.status import StatusRecord
from node.storage import checkpoint_table
from node.storage.queries import replay_event
from node.storage.store import LedgerStore
from node.verify import build

logger = logging.getLogger(__name__)

CHECKPOINT_SCAN = 64
"""How many recent checkpoint records a bundle looks through for an anchored one."""


def credential_with_history(store: LedgerStore, issuer: str, credential_id: bytes) -> Json | None:
    """``{"credential", "history"}`` (history oldest first), or None if never issued."""
    record = store.credential(issuer, credential_id)
    if record is None:
        return None
    history: list[Json] = []
    for height in sorted({h for h, _ in store.credential_history(issuer, credential_id)}):
        block = store.block(issuer, height)
        if block is not None:
            history.extend(_credential_events(block, credential_id))
    return {"credential": credential_json(record), "history": history}


def _credential_events(block: Block, credential_id: bytes) -> list[Json]:
    return [
        event_json(block.header, block.hash, i, e)
        for i, e in enumerate(block.events)
        if getattr(e, "credential_id", None) == credential_id
    ]


def record_at(
    store: LedgerStore, issuer: str, credential_id: bytes, height: int
) -> StatusRecord | None:
    """The credential's record right after block ``height`` of its issuer (replayed if changed
    since), for answering a repeated write with the first answer."""
    record = store.credential(issuer, credential_id)
    if record is None or record.updated_height <= height:
        return record
    replayed: StatusRecord | None = None
    for block_height in sorted({h for h, _ in store.credential_history(issuer, credential_id)}):
        if block_height > height:
            break
        block = store.block(issuer, block_height)
        for event in block.events if block is not None else ():
            replayed = replay_event(issuer, replayed, event, block_height, credential_id)
    return replayed


def proof_bundle(
    store: LedgerStore,
    issuer: str,
    credential_id: bytes,
    *,
    contract: str | None = None,
    history: bool = False,
) -> Json:
    """Version 1 proof bundle (``docs/proof-bundle.md``).

    With ``contract`` (the ``[anchor]`` contract every checkpoint signature is bound to), the
    proof is made at the issuer's height in the newest checkpoint that covers it and is anchored
    (confirmed, else submitted; if none is, the newest signed one), and the bundle carries that
    checkpoint: the cut leaf's path to its root and its signatures. Without ``contract``, or
    before any checkpoint, the proof is made at the issuer's head and ``checkpoint`` is null.
    ``history`` adds the log inclusion proof of the block that last changed the record.
    """
    genesis = store.genesis
    chosen = None if contract is None else anchored_checkpoint(store, issuer)
    leaf = chosen[1] if chosen is not None else _head_leaf(store, issuer)
    record, proof = store.credential_proof(issuer, credential_id, at_height=leaf.height)
    return build.bundle_json(
        network=genesis.network,
        network_id=genesis.network_id,
        record=record,
        credential_id=credential_id,
        proof=proof,
        leaf=leaf,
        head_timestamp_ms=_timestamp_at(store, issuer, leaf.height),
        history=_history(store, issuer, record, leaf) if history else None,
        checkpoint=(
            None
            if chosen is None or contract is None
            else _checkpoint_part(store, issuer, chosen[0], contract)
        ),
    )


def _head_leaf(store: LedgerStore, issuer: str) -> CutLeaf:
    head = store.head(issuer)
    return CutLeaf(issuer, head.height, head.block_hash, head.log_root, head.state_root)


def _timestamp_at(store: LedgerStore, issuer: str, height: int) -> int:
    head = store.head(issuer)
    if height == head.height:
        return head.timestamp_ms
    block = store.block(issuer, height) if height else None
    return store.genesis.created_ms if block is None else block.header.timestamp_ms


def anchored_checkpoint(store: LedgerStore, issuer: str) -> tuple[CheckpointRecord, CutLeaf] | None:
    """The newest checkpoint covering ``issuer`` that is confirmed on chain, else submitted,
    else signed, whose cut height this store can still prove at; with the issuer's cut leaf."""
    candidates: list[tuple[CheckpointRecord, CutLeaf]] = []
    oldest = store.oldest_provable_height(issuer)
    for record in checkpoint_table.records(store, limit=CHECKPOINT_SCAN):
        if not record.is_signed:
            continue
        leaf = next((x for x in record.checkpoint.cut.leaves if x.agency_id == issuer), None)
        if leaf is None or leaf.height < oldest:
            continue
        if checkpoint_table.leaf_at(store, issuer, leaf.height) != leaf:
            logger.warning("checkpoint epoch=%s disagrees with this store", record.epoch)
            continue
        candidates.append((record, leaf))
    for states in (("confirmed",), ("submitted",)):
        for record, leaf in candidates:
            if record.state in states:
                return record, leaf
    return candidates[0] if candidates else None


def _checkpoint_part(
    store: LedgerStore, issuer: str, record: CheckpointRecord, contract: str
) -> Json:
    checkpoint = record.checkpoint
    chain_id = store.genesis.rsk_chain_id
    contract = eip712.normalise_address(contract, chain_id)
    digest = eip712.checkpoint_digest(
        chain_id, contract, checkpoint.network_id, checkpoint.epoch, checkpoint.checkpoint_root
    )
    signatures: dict[str, bytes] = {}
    for agency, signature in sorted(record.signatures.items()):
        try:
            signatures[eip712.recover_signer(digest, signature)] = signature
        except CalpeError:
            logger.warning("skipping unrecoverable signature agency=%s", agency)
    return build.checkpoint_json(chain_id, contract, checkpoint, issuer, signatures)


def _history(
    store: LedgerStore, issuer: str, record: StatusRecord | None, leaf: CutLeaf
) -> Json | None:
    if record is None:
        return None
    block = store.block(issuer, record.updated_height)
    if block is None:
        return None
    path = store.log_inclusion_proof(issuer, record.updated_height - 1, size=leaf.height)
    return build.history_json(record.updated_height, block.hash, path)
