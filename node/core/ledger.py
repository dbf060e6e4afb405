"""The ledger's state transition: validate one agency block against that agency's head and state.

Pure: the caller hands in the agency's head, a reader over its stored state and the current time,
and gets back everything the block changes. Nothing here writes; the storage commits an
:class:`AppliedBlock` atomically or not at all. Authoring (:func:`author_block`) runs the very same
code, so a node cannot produce a block its peers would reject.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from node.core import merkle_log, smt
from node.core.block import (
    GENESIS_PREV_HASH,
    MAX_BLOCK_BYTES,
    MAX_EVENTS_PER_BLOCK,
    Block,
    BlockHeader,
    events_root,
)
from node.core.errors import (
    AgencyFrozenError,
    BlockTooLargeError,
    DuplicateCredentialError,
    ForeignCredentialError,
    HeightError,
    NetworkMismatchError,
    NotMemberError,
    PrevHashError,
    RevokedFinalError,
    RootMismatchError,
    SchemaViolationError,
    SizeLimitError,
    TimestampError,
    TransitionError,
    UnknownCredentialError,
    ValidationError,
)
from node.core.events import (
    AgencyKeyRotated,
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    Event,
    GovernanceProposed,
    GovernanceVoted,
    SchemaPublished,
)
from node.core.genesis import Agency
from node.core.hashing import ZERO_HASH
from node.core.keys import AgencyKeys, verify_block_signature
from node.core.status import SchemaRecord, Status, StatusRecord, schema_state_key

MAX_CLOCK_SKEW_MS = 30_000


@dataclass(frozen=True, slots=True)
class AgencyHead:
    """Where one agency's log stands: what the next block must build on."""

    agency_id: str
    height: int
    block_hash: bytes
    timestamp_ms: int
    state_root: bytes
    log: merkle_log.CompactRange
    ed25519_public: bytes
    secp256k1_address: bytes
    frozen: bool = False

    @classmethod
    def initial(cls, agency: Agency) -> AgencyHead:
        return cls(
            agency.agency_id,
            0,
            GENESIS_PREV_HASH,
            0,
            ZERO_HASH,
            merkle_log.CompactRange(),
            agency.ed25519_public,
            agency.secp256k1_address,
        )

    @property
    def log_root(self) -> bytes:
        return self.log.root()


class StateReader(smt.NodeReader, Protocol):
    """Read access to one agency's committed state (its tree nodes and records)."""

    def credential(self, credential_id: bytes) -> StatusRecord | None: ...

    def schema(self, schema_id: bytes) -> SchemaRecord | None: ...


# Answers "which other agency issued this credential?" for a clearer rejection; optional.
IssuerLookup = Callable[[bytes], str | None]


@dataclass(frozen=True)
class AppliedBlock:
    """A validated block and every change it makes, ready to commit atomically."""

    block: Block
    head: AgencyHead
    credentials: dict[bytes, StatusRecord]
    schemas: dict[bytes, SchemaRecord]
    smt_writes: dict[bytes, bytes | None]
    log_nodes: list[tuple[int, int, bytes]]
    smt_previous: dict[bytes, bytes | None]
    """What each of ``smt_writes`` replaces (None: the position was empty), for the undo history."""


@dataclass
class _Changes:
    credentials: dict[bytes, StatusRecord]
    schemas: dict[bytes, SchemaRecord]
    rotation: AgencyKeyRotated | None = None


def apply_block(
    head: AgencyHead,
    block: Block,
    reader: StateReader,
    *,
    network_id: bytes,
    now_ms: int,
    issuer_of: IssuerLookup | None = None,
) -> AppliedBlock:
    """Validate ``block`` as the next block of ``head``'s agency; raise a ValidationError if not."""
    header = block.header
    _check_header(head, header, network_id, now_ms)
    verify_block_signature(head.ed25519_public, block.hash, block.signature)
    if header.event_count != len(block.events) or not block.events:
        raise SizeLimitError("a block carries 1 or more events, as many as its event_count")
    if events_root(block.events) != header.events_root:
        raise RootMismatchError("events_root does not match the block's events")
    changes = _derive_changes(head, block.events, header.height, reader, issuer_of)
    result = smt.apply_batch(reader, head.state_root, _tree_updates(changes))
    _refuse_taken_keys(changes, header.height, result, reader)
    if result.root != header.state_root:
        raise RootMismatchError(
            f"state_root of {head.agency_id} block {header.height} does not match the recomputed "
            "state"
        )
    return _applied(head, block, changes, result)


def author_block(
    head: AgencyHead,
    events: Sequence[Event],
    keys: AgencyKeys,
    reader: StateReader,
    *,
    network_id: bytes,
    timestamp_ms: int,
    issuer_of: IssuerLookup | None = None,
) -> AppliedBlock:
    """Build and sign the agency's next block from ``events`` (which must all be valid)."""
    if head.frozen:
        raise AgencyFrozenError(f"{head.agency_id}'s log is frozen after equivocation")
    if keys.ed25519_public != head.ed25519_public:
        raise NotMemberError(f"these keys are not {head.agency_id}'s current block-signing key")
    if not events:
        raise SizeLimitError("a block carries at least one event")
    if len(events) > MAX_EVENTS_PER_BLOCK:
        raise SizeLimitError(f"a block carries at most {MAX_EVENTS_PER_BLOCK} events")
    height = head.height + 1
    changes = _derive_changes(head, events, height, reader, issuer_of)
    result = smt.apply_batch(reader, head.state_root, _tree_updates(changes))
    _refuse_taken_keys(changes, height, result, reader)
    header = BlockHeader(
        network_id=network_id,
        agency_id=head.agency_id,
        height=height,
        prev_hash=head.block_hash,
        timestamp_ms=max(timestamp_ms, head.timestamp_ms),
        events_root=events_root(list(events)),
        state_root=result.root,
        event_count=len(events),
    )
    block = Block(header, tuple(events), keys.sign_block_hash(header.hash()))
    if len(block.encode()) > MAX_BLOCK_BYTES:
        raise BlockTooLargeError(f"block would exceed {MAX_BLOCK_BYTES} bytes; cut it smaller")
    return _applied(head, block, changes, result)


def check_events(
    head: AgencyHead,
    events: Sequence[Event],
    reader: StateReader,
    *,
    issuer_of: IssuerLookup | None = None,
) -> None:
    """Raise the ValidationError ``events`` would cause as the agency's next block, hashing nothing.

    The block producer uses it to find which submission of a failed batch is at fault.
    """
    height = head.height + 1
    changes = _derive_changes(head, events, height, reader, issuer_of)
    _tree_updates(changes)  # refuses a schema and a credential sharing a key within the events
    taken = {key for key in _created_keys(changes, height) if smt.lookup(reader, key) is not None}
    _refuse(taken, changes, reader)


def refusals(
    head: AgencyHead, submissions: Sequence[Sequence[Event]], reader: StateReader
) -> list[ValidationError | None]:
    """For each submission, the error it causes when the ones before it that pass are authored
    with it as the agency's next block (``None``: it passes), as checking them one by one says.

    A failure never goes away with more events after it, so the first failing submission is the
    last of the shortest failing prefix: a binary search finds each refusal in O(log n) checks
    of the batch, rather than n checks of a growing prefix.
    """
    verdicts: list[ValidationError | None] = [None] * len(submissions)
    kept: list[Event] = []
    start = 0

    def error_with(end: int) -> ValidationError | None:
        try:
            check_events(head, [*kept, *(e for s in submissions[start:end] for e in s)], reader)
        except ValidationError as exc:
            return exc
        return None

    while start < len(submissions):
        failing, error = len(submissions), error_with(len(submissions))
        if error is None:
            break
        passing = start  # the prefix up to ``passing`` passes, the one up to ``failing`` fails
        while failing - passing > 1:
            middle = (passing + failing) // 2
            found = error_with(middle)
            if found is None:
                passing = middle
            else:
                failing, error = middle, found
        verdicts[failing - 1] = error
        kept.extend(e for s in submissions[start : failing - 1] for e in s)
        start = failing
    return verdicts


def _check_header(head: AgencyHead, header: BlockHeader, network_id: bytes, now_ms: int) -> None:
    if header.network_id != network_id:
        raise NetworkMismatchError("block belongs to another network")
    if header.agency_id != head.agency_id:
        raise NotMemberError(f"block of {header.agency_id} checked against {head.agency_id}")
    if head.frozen:
        raise AgencyFrozenError(f"{head.agency_id}'s log is frozen after equivocation")
    if header.height != head.height + 1:
        kind = "replayed" if header.height <= head.height else "gap before"
        raise HeightError(
            f"{kind} block: {head.agency_id} height {header.height}, expected {head.height + 1}"
        )
    if header.prev_hash != head.block_hash:
        raise PrevHashError(f"{head.agency_id} block {header.height} does not extend the head")
    if header.timestamp_ms < head.timestamp_ms:
        raise TimestampError("block timestamp is before its predecessor's")
    if header.timestamp_ms > now_ms + MAX_CLOCK_SKEW_MS:
        raise TimestampError(
            f"block timestamp is {header.timestamp_ms - now_ms} ms in the future "
            f"(allowed skew {MAX_CLOCK_SKEW_MS} ms)"
        )


def _derive_changes(
    head: AgencyHead,
    events: Sequence[Event],
    height: int,
    reader: StateReader,
    issuer_of: IssuerLookup | None,
) -> _Changes:
    changes = _Changes({}, {})
    seen_governance: set[bytes] = set()

    def current(cid: bytes) -> StatusRecord:
        record = changes.credentials.get(cid) or reader.credential(cid)
        if record is not None:
            return record
        other = issuer_of(cid) if issuer_of else None
        if other is not None and other != head.agency_id:
            raise ForeignCredentialError(f"credential {cid.hex()} belongs to {other}")
        raise UnknownCredentialError(f"credential {cid.hex()} was never issued by {head.agency_id}")

    for event in events:
        if isinstance(event, CredentialIssued):
            changes.credentials[event.credential_id] = _issue(head, event, height, reader, changes)
        elif isinstance(event, CredentialRevoked | CredentialSuspended | CredentialReinstated):
            record = current(event.credential_id)
            changes.credentials[event.credential_id] = _transition(record, event, height)
        elif isinstance(event, SchemaPublished):
            if event.schema_id in changes.schemas or reader.schema(event.schema_id):
                raise SchemaViolationError(f"schema {event.schema_id.hex()} already published")
            changes.schemas[event.schema_id] = SchemaRecord(
                event.schema_id, int(event.credential_class), event.version, height
            )
        elif isinstance(event, AgencyKeyRotated):
            changes.rotation = event
        else:
            _note_governance(head.agency_id, event, seen_governance)
    return changes


def _note_governance(
    agency_id: str, event: GovernanceProposed | GovernanceVoted, seen: set[bytes]
) -> None:
    """One block names a proposal at most once (a vote repeated in a later block is harmless: the
    governance state counts each agency once)."""
    if isinstance(event, GovernanceProposed):
        pid = event.proposal_id(agency_id)
    else:
        pid = event.proposal_id
    if pid in seen:
        raise SchemaViolationError(f"proposal {pid.hex()} appears twice in one block")
    seen.add(pid)


def _issue(
    head: AgencyHead, event: CredentialIssued, height: int, reader: StateReader, changes: _Changes
) -> StatusRecord:
    cid = event.credential_id
    if cid in changes.credentials:  # an id already in the state is refused by _refuse_taken_keys
        raise DuplicateCredentialError(f"credential {cid.hex()} is already issued")
    if event.schema_id not in changes.schemas and reader.schema(event.schema_id) is None:
        raise SchemaViolationError(
            f"schema {event.schema_id.hex()} is not published by {head.agency_id}"
        )
    return StatusRecord(
        issuer=head.agency_id,
        credential_id=cid,
        schema_id=event.schema_id,
        status=Status.ACTIVE,
        valid_from=event.valid_from,
        valid_until=event.valid_until,
        issued_height=height,
        updated_height=height,
    )


def _transition(
    record: StatusRecord,
    event: CredentialRevoked | CredentialSuspended | CredentialReinstated,
    height: int,
) -> StatusRecord:
    cid = record.credential_id.hex()
    if record.status is Status.REVOKED:
        raise RevokedFinalError(f"credential {cid} is revoked; revocation is final")
    if isinstance(event, CredentialRevoked):
        return record.changed(Status.REVOKED, height, int(event.reason))
    if isinstance(event, CredentialSuspended):
        if record.status is Status.SUSPENDED:
            raise TransitionError(f"credential {cid} is already suspended")
        return record.changed(Status.SUSPENDED, height, int(event.reason))
    if record.status is not Status.SUSPENDED:
        raise TransitionError(f"credential {cid} is not suspended, so cannot be reinstated")
    return record.changed(Status.ACTIVE, height)


def _tree_updates(changes: _Changes) -> dict[bytes, bytes]:
    updates = {cid: rec.value_hash() for cid, rec in changes.credentials.items()}
    for sid, schema in changes.schemas.items():
        key = schema_state_key(sid)
        if key in updates:
            raise DuplicateCredentialError(
                f"credential {key.hex()} is the state key of schema {sid.hex()}, published with it"
            )
        updates[key] = schema.value_hash()
    return updates


def _created_keys(changes: _Changes, height: int) -> list[bytes]:
    """State-tree keys the block creates: credentials it issues, schemas it publishes."""
    keys = [cid for cid, rec in changes.credentials.items() if rec.issued_height == height]
    return keys + [schema_state_key(sid) for sid in changes.schemas]


def _refuse_taken_keys(
    changes: _Changes, height: int, result: smt.BatchResult, reader: StateReader
) -> None:
    """Refuse a block creating a key the agency's state already holds.

    Credential ids are the issuer's choice, so one could also equal a schema's state key; the
    tree knows every key, and the update already read the leaf of each key it touches (a leaf it
    replaces is in ``result.previous``): this costs no read, where a status lookup cost one per
    issued credential.
    """
    created = _created_keys(changes, height)
    replaced = {
        old[1:33] for old in result.previous.values() if old is not None and old[0] == smt.LEAF_TAG
    }
    _refuse(replaced.intersection(created), changes, reader)


def _refuse(taken: set[bytes], changes: _Changes, reader: StateReader) -> None:
    """Raise for the first of the created keys found ``taken`` in the state, if any."""
    if not taken:
        return
    for sid in changes.schemas:
        if schema_state_key(sid) in taken:
            raise SchemaViolationError(
                f"schema {sid.hex()}'s state key is already a credential id of this agency"
            )
    cid = min(taken)
    if reader.credential(cid) is not None:
        raise DuplicateCredentialError(f"credential {cid.hex()} is already issued")
    raise DuplicateCredentialError(
        f"credential {cid.hex()} is the state key of one of this agency's schemas"
    )


def _applied(
    head: AgencyHead, block: Block, changes: _Changes, result: smt.BatchResult
) -> AppliedBlock:
    log, log_nodes = head.log.append(merkle_log.leaf_hash(block.hash))
    new_head = replace(
        head,
        height=block.height,
        block_hash=block.hash,
        timestamp_ms=block.header.timestamp_ms,
        state_root=result.root,
        log=log,
    )
    if changes.rotation is not None:
        new_head = replace(
            new_head,
            ed25519_public=changes.rotation.ed25519_public,
            secp256k1_address=changes.rotation.secp256k1_address,
        )
    return AppliedBlock(
        block,
        new_head,
        changes.credentials,
        changes.schemas,
        result.writes,
        log_nodes,
        result.previous,
    )
