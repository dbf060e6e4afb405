"""Credential reads for the API: status with history, and proof bundles (``docs/proof-bundle.md``).

Synchronous store reads: run them in the store's worker thread, where they see one consistent
state (the worker serialises them with writes).
"""

from __future__ import annotations

import time

from node.admin.shapes import Json, credential_json, event_json
from node.core.block import Block
from node.core.status import StatusRecord
from node.storage.queries import replay_event
from node.storage.store import LedgerStore

BUNDLE_FORMAT = "calpe-proof-bundle"
BUNDLE_VERSION = 1


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


def proof_bundle(store: LedgerStore, issuer: str, credential_id: bytes) -> Json:
    """Version 1 proof bundle: the record and its sparse-Merkle (non-)membership proof under the
    issuer's state root at its current head. The checkpoint part is null until checkpoints exist."""
    record, proof = store.credential_proof(issuer, credential_id)
    head = store.head(issuer)
    genesis = store.genesis
    return {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "network": genesis.network,
        "network_id": genesis.network_id.hex(),
        "issuer": issuer,
        "credential_id": credential_id.hex(),
        "status": "unknown" if record is None else record.status.name.lower(),
        "credential": None if record is None else credential_json(record),
        "record": None if record is None else record.encode().hex(),
        "state_proof": proof.to_bytes().hex(),
        "head": {
            "agency_id": issuer,
            "height": head.height,
            "block_hash": head.block_hash.hex(),
            "timestamp_ms": head.timestamp_ms,
            "state_root": head.state_root.hex(),
            "log_root": head.log_root.hex(),
        },
        "checkpoint": None,
        "generated_ms": int(time.time() * 1000),
    }
