"""Read side of the ledger store: blocks, events, credentials, Merkle-log and state proofs."""

from __future__ import annotations

from dataclasses import dataclass

import plyvel

from node.core import merkle_log, smt
from node.core.block import Block, decode_block
from node.core.equivocation import EquivocationProof, decode_proof
from node.core.errors import ProofError, StorageError
from node.core.events import (
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    Event,
    EventKind,
)
from node.core.hashing import ZERO_HASH
from node.core.ledger import AgencyHead
from node.core.status import Status, StatusRecord
from node.storage import codec, schema, snapshot_install
from node.storage.reader import HistoricalNodeReader, LedgerReader

MAX_PAGE = 10_000


class HistoryPrunedError(StorageError):
    """A proof was asked at a height older than the retention window keeps."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    agency_id: str
    height: int
    index: int
    event: Event


class LedgerQueries:
    """Reads over a store; :class:`node.storage.store.LedgerStore` supplies the handles."""

    _db: plyvel.DB
    retention: int

    def _num(self, agency_id: str) -> int:
        raise NotImplementedError

    def head(self, agency_id: str) -> AgencyHead:
        raise NotImplementedError

    def reader(self, agency_id: str) -> LedgerReader:
        raise NotImplementedError

    # --- blocks and events ---------------------------------------------------------------------

    def block_bytes(self, agency_id: str, height: int) -> bytes | None:
        """The block exactly as stored (its canonical encoding), for serving sync."""
        raw: bytes | None = self._db.get(schema.block(self._num(agency_id), height))
        return raw

    def block(self, agency_id: str, height: int) -> Block | None:
        raw = self.block_bytes(agency_id, height)
        return None if raw is None else decode_block(raw)

    def blocks_bytes(self, agency_id: str, from_height: int, limit: int = 100) -> list[bytes]:
        """Up to ``limit`` consecutive stored blocks from ``from_height``, as stored."""
        num = self._num(agency_id)
        if from_height <= snapshot_install.base_height(self._db, num):
            return []  # absent below a snapshot base: a later block would look like a gap
        start = schema.block(num, max(from_height, 0))
        stop = schema.prefix_end(schema.blocks(num))
        out: list[bytes] = []
        with self._db.iterator(start=start, stop=stop, include_key=False) as entries:
            for raw in entries:
                if len(out) >= min(limit, MAX_PAGE):
                    break
                out.append(raw)
        return out

    def blocks(self, agency_id: str, from_height: int, limit: int = 100) -> list[Block]:
        return [decode_block(raw) for raw in self.blocks_bytes(agency_id, from_height, limit)]

    def block_location(self, block_hash: bytes) -> tuple[int, int] | None:
        """``(agency number, height)`` of a stored block, by hash."""
        raw = self._db.get(schema.block_hash(block_hash))
        return None if raw is None else schema.read_block_location(raw)

    def events(
        self,
        agency_id: str,
        from_height: int = 1,
        to_height: int | None = None,
        limit: int = 1000,
        *,
        from_index: int = 0,
    ) -> list[StoredEvent]:
        """Up to ``limit`` events of ``agency_id`` in log order, starting at event ``from_index``
        of block ``from_height``; resume after the last one with its ``(height, index + 1)``."""
        last = self.head(agency_id).height if to_height is None else to_height
        out: list[StoredEvent] = []
        base = snapshot_install.base_height(self._db, self._num(agency_id))
        height = max(from_height, 1, base + 1)  # no blocks below a snapshot base
        while height <= last and len(out) < limit:
            page = self.blocks(agency_id, height, min(100, last - height + 1))
            if not page:
                break
            for block in page:
                skip = from_index if block.height == from_height else 0
                out.extend(
                    StoredEvent(agency_id, block.height, i, block.events[i])
                    for i in range(skip, len(block.events))
                )
                height = block.height + 1
                if len(out) >= limit:
                    break
        return out[:limit]

    # --- credentials ---------------------------------------------------------------------------

    def credential(self, issuer: str, credential_id: bytes) -> StatusRecord | None:
        return self.reader(issuer).credential(credential_id)

    def credential_history(self, issuer: str, credential_id: bytes) -> list[tuple[int, EventKind]]:
        """Every status event of the credential: ``(height, kind)`` in order."""
        num = self._num(issuer)
        raw = self._db.get(schema.status(num, credential_id))
        if raw is None:
            return []
        # The issue is not stored as history: it comes first, at the record's issued_height.
        issued = codec.decode_status(issuer, credential_id, raw).issued_height
        out = [(issued, EventKind.CREDENTIAL_ISSUED)]
        for key, kinds in self._db.iterator(prefix=schema.histories(num, credential_id)):
            height = schema.height_of_block_key(key)
            out.extend((height, EventKind(k)) for k in kinds)
        return out

    # --- commitments and proofs ----------------------------------------------------------------

    def _log_get_node(self, agency_id: str) -> merkle_log.GetNode:
        num = self._num(agency_id)

        def get_node(level: int, index: int) -> bytes:
            value: bytes | None = self._db.get(schema.log_node(num, level, index))
            if value is None:
                raise StorageError(f"log node ({level}, {index}) of {agency_id} is missing")
            return value

        return get_node

    def _log_size(self, agency_id: str, size: int | None) -> int:
        height = self.head(agency_id).height
        if size is None:
            return height
        if not 0 <= size <= height:
            raise ProofError(f"{agency_id}'s log has {height} entries, not {size}")
        return size

    def log_root(self, agency_id: str, size: int | None = None) -> bytes:
        """Root of the agency's log of block hashes at ``size`` (default: its head)."""
        size = self._log_size(agency_id, size)
        if size == self.head(agency_id).height:
            return self.head(agency_id).log_root
        return merkle_log.root_at(size, self._log_get_node(agency_id))

    def log_inclusion_proof(
        self, agency_id: str, index: int, size: int | None = None
    ) -> list[bytes]:
        """Proof that block ``index + 1``'s hash is leaf ``index`` of the log of ``size``."""
        size = self._log_size(agency_id, size)
        return merkle_log.inclusion_proof(index, size, self._log_get_node(agency_id))

    def log_consistency_proof(
        self, agency_id: str, old_size: int, new_size: int | None = None
    ) -> list[bytes]:
        new_size = self._log_size(agency_id, new_size)
        return merkle_log.consistency_proof(old_size, new_size, self._log_get_node(agency_id))

    def state_root_at(self, agency_id: str, height: int) -> bytes:
        if height == 0:
            return ZERO_HASH
        block = self.block(agency_id, height)
        base = snapshot_install.base_at(self._db, self._num(agency_id))
        if block is None and base is not None and base.height == height:
            return base.head.state_root
        if block is None:
            raise StorageError(f"{agency_id} has no block at height {height}")
        return block.header.state_root

    def oldest_provable_height(self, agency_id: str) -> int:
        """Lowest height whose state :meth:`credential_proof` can still prove: the retention
        window, a snapshot base, and checkpoint pruning (``prune_history_through``) bound it."""
        num = self._num(agency_id)
        base = snapshot_install.base_height(self._db, num)
        floor = self.history_floor(agency_id)
        return max(0, self.head(agency_id).height - self.retention, base, floor)

    def history_floor(self, agency_id: str) -> int:
        """Height through which checkpoint pruning removed ``agency_id``'s undo history."""
        raw = self._db.get(schema.history_floor(self._num(agency_id)))
        return 0 if raw is None else schema.read_u64(raw)

    def credential_proof(
        self, issuer: str, credential_id: bytes, at_height: int | None = None
    ) -> tuple[StatusRecord | None, smt.SmtProof]:
        """The credential's record and its (non-)membership proof under the issuer's state root
        at ``at_height`` (default: the head); verify with ``state_root_at(issuer, at_height)``."""
        head = self.head(issuer)
        current = self.reader(issuer)
        if at_height is None or at_height == head.height:
            return current.credential(credential_id), smt.prove(current, credential_id)
        if not self.oldest_provable_height(issuer) <= at_height <= head.height:
            raise HistoryPrunedError(
                f"{issuer}'s state is provable from height {self.oldest_provable_height(issuer)} "
                f"to {head.height}, not at {at_height} (raise the retention window to keep more)"
            )
        past = HistoricalNodeReader(self._db, self._num(issuer), at_height, current)
        proof = smt.prove(past, credential_id)
        record = self._record_at(issuer, credential_id, at_height)
        proven = proof.terminal.value if isinstance(proof.terminal, smt.Membership) else None
        if (None if record is None else record.value_hash()) != proven:
            raise StorageError(
                f"{issuer} credential {credential_id.hex()}: history is inconsistent"
            )
        return record, proof

    def _record_at(self, issuer: str, credential_id: bytes, height: int) -> StatusRecord | None:
        record = self.credential(issuer, credential_id)
        if record is None or record.issued_height > height:
            return None
        if record.updated_height <= height:
            return record
        replayed: StatusRecord | None = None
        after = 0
        base = snapshot_install.base_record(self._db, self._num(issuer), issuer, credential_id)
        if base is not None:  # history starts at a snapshot base: replay on top of it
            after, replayed = base
        for block_height in sorted({h for h, _ in self.credential_history(issuer, credential_id)}):
            if block_height <= after:
                continue
            if block_height > height:
                break
            block = self.block(issuer, block_height)
            for event in block.events if block else ():
                replayed = replay_event(issuer, replayed, event, block_height, credential_id)
        return replayed

    # --- evidence and cursors ------------------------------------------------------------------

    def equivocation_proofs(self, agency_id: str | None = None) -> list[EquivocationProof]:
        prefix = schema.equivocations(None if agency_id is None else self._num(agency_id))
        return [decode_proof(raw) for _, raw in self._db.iterator(prefix=prefix)]

    def cursor(self, name: str) -> bytes | None:
        """A follower's persisted position (plugins, bridge)."""
        value: bytes | None = self._db.get(schema.cursor(name))
        return value

    def set_cursor(self, name: str, value: bytes) -> None:
        self._db.put(schema.cursor(name), value, sync=True)


def replay_event(
    issuer: str, record: StatusRecord | None, event: Event, height: int, credential_id: bytes
) -> StatusRecord | None:
    """The record after ``event`` (if it concerns ``credential_id``); rules were checked on
    ingest, so this only re-derives, it does not validate."""
    if getattr(event, "credential_id", None) != credential_id:
        return record
    if isinstance(event, CredentialIssued):
        return StatusRecord(
            issuer,
            credential_id,
            event.schema_id,
            Status.ACTIVE,
            event.valid_from,
            event.valid_until,
            height,
            height,
        )
    if record is None:
        raise StorageError(f"credential {credential_id.hex()} changed before it was issued")
    if isinstance(event, CredentialRevoked):
        return record.changed(Status.REVOKED, height, int(event.reason))
    if isinstance(event, CredentialSuspended):
        return record.changed(Status.SUSPENDED, height, int(event.reason))
    if isinstance(event, CredentialReinstated):
        return record.changed(Status.ACTIVE, height)
    return record
