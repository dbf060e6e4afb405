"""Every decoder that reads untrusted bytes, with valid seeds and the exceptions it may raise.

Shared by the hypothesis fuzz test (``tests/faults/test_decoder_fuzz.py``) and the long run
(``bench/fuzz_decoders.py``). Seeds are real encodings built by the real code: a signed block of
one agency, its events, a status record, sparse-Merkle proofs, a log frontier, a checkpoint and a
vote on it, the catch-up protocol's messages and a proof bundle in both forms. A decoder given any
mutation of them may return a value or raise one of its documented exceptions; anything else
(``IndexError``, ``TypeError``, ``KeyError``, an ``AttributeError`` deep in a parser) is a bug.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from node.core import smt
from node.core.block import decode_block
from node.core.checkpoint import Checkpoint, Cut, CutLeaf, decode_checkpoint
from node.core.checkpoint_protocol import CheckpointVote, decode_vote
from node.core.eip712 import to_checksum_address
from node.core.errors import EncodingError, ProofError, ValidationError
from node.core.events import (
    CredentialIssued,
    CredentialRevoked,
    CredentialSuspended,
    Event,
    RevocationReason,
    SuspensionReason,
    decode_event,
    encode_event,
)
from node.core.ledger import AgencyHead, author_block
from node.core.merkle_log import CompactRange
from node.core.status import decode_status_record
from node.services import sync_protocol
from node.verify import build
from node.verify.bundle import from_compact, parse_bundle, to_compact
from tests.core.memory_state import MemoryState
from tests.factories import NOW_MS, credential_id, issue_events, make_network, schema_event

BYTES_ERRORS: tuple[type[Exception], ...] = (EncodingError, ValidationError)
"""What a wire decoder may raise: malformed bytes, or well-formed data breaking a schema rule."""


@dataclass(frozen=True)
class Target:
    """One decoder. ``json`` targets take a decoded JSON document, the others bytes."""

    name: str
    decode: Callable[[Any], object]
    allowed: tuple[type[Exception], ...]
    seeds: tuple[Any, ...]
    json: bool = False


@dataclass(frozen=True)
class _Material:
    blocks: tuple[bytes, ...]
    events: tuple[bytes, ...]
    records: tuple[bytes, ...]
    proofs: tuple[bytes, ...]
    ranges: tuple[bytes, ...]
    checkpoint: Checkpoint
    bundle: dict[str, Any]
    compact: bytes


def _material() -> _Material:
    net = make_network(3)
    issuer = net.agency_ids[0]
    keys = net.keys[issuer]
    agency = net.genesis.agency(issuer)
    assert agency is not None
    state = MemoryState(AgencyHead.initial(agency))
    issued = issue_events(3)
    cids = [e.credential_id for e in issued if isinstance(e, CredentialIssued)]
    changes: list[Event] = [
        CredentialSuspended(cids[1], SuspensionReason.UNDER_INVESTIGATION),
        CredentialRevoked(cids[2], RevocationReason.ISSUED_IN_ERROR),
    ]
    blocks: list[bytes] = []
    events: list[bytes] = []
    batches: list[list[Event]] = [[schema_event(), *issued], changes]
    for batch in batches:
        applied = author_block(
            state.head, batch, keys, state, network_id=net.network_id, timestamp_ms=NOW_MS
        )
        state.commit(applied)
        blocks.append(applied.block.encode())
        events.extend(encode_event(e) for e in batch)
    records = [state.credentials[c].encode() for c in cids]
    absent = credential_id(10_000)
    proofs = [smt.prove(state, c).to_bytes() for c in (*cids, absent)]
    head = state.head
    leaves = [CutLeaf(issuer, head.height, head.block_hash, head.log.root(), head.state_root)]
    for other in net.agency_ids[1:]:
        digest = hashlib.sha256(other.encode()).digest()
        leaves.append(CutLeaf(other, 5, digest, digest, digest))
    cut = Cut.of(leaves)
    checkpoint = Checkpoint(net.network_id, 7, cut.root(), cut, NOW_MS, bytes(32))
    record = state.credentials[cids[2]]
    contract = "0x" + "ab" * 20
    signers = {to_checksum_address(bytes([i + 1]) * 20): bytes([i]) * 65 for i in range(2)}
    doc = build.bundle_json(
        network=net.genesis.network,
        network_id=net.network_id,
        record=record,
        credential_id=cids[2],
        proof=smt.prove(state, cids[2]),
        leaf=leaves[0],
        head_timestamp_ms=NOW_MS,
        history=build.history_json(2, head.block_hash, [bytes(32), b"\x01" * 32]),
        checkpoint=build.checkpoint_json(
            33, to_checksum_address(contract), checkpoint, issuer, signers
        ),
    )
    ranges = [CompactRange(), head.log, CompactRange(5, (b"\x05" * 32, b"\x01" * 32))]
    return _Material(
        blocks=tuple(blocks),
        events=tuple(events),
        records=tuple(records),
        proofs=tuple(proofs),
        ranges=tuple(r.to_bytes() for r in ranges),
        checkpoint=checkpoint,
        bundle=json.loads(json.dumps(doc)),
        compact=to_compact(parse_bundle(doc)),
    )


def _decode_blocks(data: bytes) -> object:
    return sync_protocol.decode_blocks(data, max_bytes=4 * 2**20)


@cache
def targets() -> tuple[Target, ...]:
    """The decoders and their seeds (built once per process; the keys are random)."""
    m = _material()
    vote = CheckpointVote(m.checkpoint, "gi.agency0", "gi.agency1", b"\x07" * 65).encode()
    heads = sync_protocol.encode_heads(
        {"gi.agency0": (2, b"\x01" * 32), "gi.agency1": (0, bytes(32))}
    )
    return (
        Target("decode_block", decode_block, BYTES_ERRORS, m.blocks),
        Target("decode_event", decode_event, BYTES_ERRORS, m.events),
        Target("decode_checkpoint", decode_checkpoint, BYTES_ERRORS, (m.checkpoint.encode(),)),
        Target("decode_status_record", decode_status_record, BYTES_ERRORS, m.records),
        Target("SmtProof.from_bytes", smt.SmtProof.from_bytes, (ProofError,), m.proofs),
        Target("CompactRange.from_bytes", CompactRange.from_bytes, (EncodingError,), m.ranges),
        Target("decode_vote", decode_vote, BYTES_ERRORS, (vote,)),
        Target("sync.decode_heads", sync_protocol.decode_heads, BYTES_ERRORS, (heads,)),
        Target(
            "sync.decode_blocks_request",
            sync_protocol.decode_blocks_request,
            BYTES_ERRORS,
            (sync_protocol.encode_blocks_request("gi.agency0", 1, 500),),
        ),
        Target(
            "sync.decode_blocks",
            _decode_blocks,
            BYTES_ERRORS,
            (sync_protocol.encode_blocks(list(m.blocks)),),
        ),
        Target("bundle.from_compact", from_compact, BYTES_ERRORS, (m.compact,)),
        Target("bundle.parse_bundle", parse_bundle, BYTES_ERRORS, (m.bundle,), json=True),
    )


class UnexpectedError(AssertionError):
    """A decoder raised something outside its documented exceptions."""


def run_one(target: Target, value: Any) -> bool:
    """Feed ``value`` to ``target``; True if decoded, False if refused as documented.

    Raises :class:`UnexpectedError` (with the input) for any other exception.
    """
    try:
        target.decode(value)
    except target.allowed:
        return False
    except Exception as exc:
        shown = value.hex() if isinstance(value, bytes) else json.dumps(value)[:2000]
        raise UnexpectedError(
            f"{target.name} raised {type(exc).__name__}: {exc} on input {shown}"
        ) from exc
    return True
