"""Making bundles (``docs/proof-bundle.md``) from proven parts: what nodes and benchmarks share.

Pure: the node's ``node.admin.proofs`` gathers the parts from its store; this only lays them out.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from node.admin.shapes import credential_json
from node.core.checkpoint import Checkpoint, CutLeaf
from node.core.smt import SmtProof
from node.core.status import StatusRecord
from node.verify.bundle import FORMAT, VERSION
from node.verify.paths import inclusion_path

Json = dict[str, Any]


def checkpoint_json(
    chain_id: int,
    contract: str,
    checkpoint: Checkpoint,
    issuer: str,
    signatures: Mapping[str, bytes],
) -> Json:
    """The ``checkpoint`` member: ``contract`` EIP-55, ``signatures`` by EIP-55 signer address."""
    leaves = [leaf.leaf_hash() for leaf in checkpoint.cut.leaves]
    path, sides = inclusion_path(leaves, checkpoint.cut.index_of(issuer))
    return {
        "chain_id": chain_id,
        "contract": contract,
        "epoch": checkpoint.epoch,
        "root": checkpoint.checkpoint_root.hex(),
        "path": [h.hex() for h in path],
        "sides": sides,
        "signatures": {a: signatures[a].hex() for a in sorted(signatures, key=str.lower)},
    }


def history_json(height: int, block_hash: bytes, path: Sequence[bytes]) -> Json:
    return {"height": height, "block_hash": block_hash.hex(), "path": [h.hex() for h in path]}


def bundle_json(
    *,
    network: str,
    network_id: bytes,
    record: StatusRecord | None,
    credential_id: bytes,
    proof: SmtProof,
    leaf: CutLeaf,
    head_timestamp_ms: int,
    history: Json | None = None,
    checkpoint: Json | None = None,
) -> Json:
    """A version-1 bundle of ``credential_id`` of issuer ``leaf.agency_id``, proven by ``proof``
    under ``leaf.state_root``."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "network": network,
        "network_id": network_id.hex(),
        "issuer": leaf.agency_id,
        "credential_id": credential_id.hex(),
        "status": "unknown" if record is None else record.status.name.lower(),
        "credential": None if record is None else credential_json(record),
        "record": None if record is None else record.encode().hex(),
        "state_proof": proof.to_bytes().hex(),
        "head": {
            "agency_id": leaf.agency_id,
            "height": leaf.height,
            "block_hash": leaf.block_hash.hex(),
            "timestamp_ms": head_timestamp_ms,
            "state_root": leaf.state_root.hex(),
            "log_root": leaf.log_root.hex(),
        },
        "history": history,
        "checkpoint": checkpoint,
        "generated_ms": int(time.time() * 1000),
    }
