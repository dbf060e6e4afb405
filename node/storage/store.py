"""The ledger store: LevelDB holding every agency's blocks, state and commitments.

One process owns the directory (LevelDB's lock). Blocks enter through :meth:`LedgerStore.ingest` /
:meth:`LedgerStore.ingest_many` (peers' blocks) or :meth:`LedgerStore.author` (our own); each call
is validated by :mod:`node.core.ledger` and committed in one synced LevelDB write batch, so a block
is durable with all its indexes, state and head, or absent. Nothing is written for a rejected block.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Literal

import plyvel

from node.core.block import MAX_BLOCK_BYTES, MAX_EVENTS_PER_BLOCK, Block, decode_block
from node.core.encoding import as_list, decode
from node.core.equivocation import EquivocationProof, make_proof
from node.core.errors import (
    AgencyFrozenError,
    EncodingError,
    HeightError,
    NetworkMismatchError,
    NotMemberError,
    PrevHashError,
    SizeLimitError,
    StorageError,
    ValidationError,
)
from node.core.events import Event, GovernanceProposed, GovernanceVoted, event_from_wire
from node.core.genesis import Agency, Genesis
from node.core.governance import CutEvent, Governance, decode_governance
from node.core.keys import AgencyKeys, verify_block_signature
from node.core.ledger import AgencyHead, AppliedBlock, apply_block, author_block
from node.core.status import SchemaRecord
from node.storage import codec, schema, writer
from node.storage.database import (
    LevelDBMemory,
    agency_numbers,
    check_or_initialise,
    corruption_error,
    open_leveldb,
)
from node.storage.queries import LedgerQueries
from node.storage.reader import LedgerReader, NodeCache, PendingBatch

logger = logging.getLogger(__name__)

DEFAULT_RETENTION = 2_000
"""Most blocks per agency whose state roots stay provable (SMT undo history kept for them).

Proofs are served against the newest anchored checkpoint; the checkpoint service calls
``LedgerStore.prune_history_through`` with its cut once it is anchored, so in a running network
the history held is one or two checkpoint intervals. This window is only the bound for
when no checkpoint is anchored (none configured, the chain unreachable); it is not made smaller
because it must still cover the lag of the newest anchored cut behind the head, which at
200 ms blocks, a 3,600 s interval and 12 RSK confirmations is far more than 2,000 blocks under
sustained load. History costs ~10 undo rows per event (~555 bytes on disk per event at 1M
credentials, ``bench.ingest``)."""

PRUNE_CHUNK_OPS = 25_000
"""Most deletions one write batch of history pruning holds (~3 MB in memory while it is built
and written). Pruning a checkpoint interval deletes ~12 rows per event, ~1M at 10,000 events/s;
in 200,000-row batches that held ~45 MB at once, the largest peak of a node's memory."""

Outcome = Literal["applied", "duplicate", "equivocation"]


@dataclass(frozen=True)
class IngestResult:
    """What became of one block. ``equivocation`` means the agency is now frozen: alert."""

    outcome: Outcome
    agency_id: str
    height: int
    block_hash: bytes
    applied: AppliedBlock | None = None
    proof: EquivocationProof | None = None


@dataclass(frozen=True)
class BatchOutcome:
    """Result of :meth:`LedgerStore.ingest_many`.

    ``results`` covers the blocks accepted, in order, all committed in one batch. If ``rejected``
    is set, ``blocks[len(results)]`` was refused for that reason, nothing of it was written, and
    the blocks after it were not looked at.
    """

    results: list[IngestResult]
    rejected: ValidationError | EncodingError | None = None


@dataclass
class _AgencySlot:
    num: int
    cache: NodeCache = field(default_factory=NodeCache)
    schemas: dict[bytes, SchemaRecord] = field(default_factory=dict)
    rotations: list[tuple[int, bytes, bytes]] = field(default_factory=list)


class LedgerStore(LedgerQueries):
    """Every agency's ledger in one LevelDB directory. Not thread-safe: use from one thread."""

    def __init__(
        self,
        db: plyvel.DB,
        path: Path,
        genesis: Genesis,
        retention: int,
        *,
        sync: bool = True,
        repair: bool = False,
        cache_budget: int,
    ) -> None:
        self._db = db
        self._cache_budget = cache_budget
        """Tree nodes all agencies' caches may hold together."""
        self.path = path
        self.genesis = genesis
        self.network_id = genesis.network_id
        self.retention = retention
        self._sync = sync
        self._slots: dict[str, _AgencySlot] = {}
        self._ids: dict[int, str] = {}
        self._heads: dict[str, AgencyHead] = {}
        self._repair = repair
        self._write_failure: str | None = None
        self._removed: dict[str, int] = {}
        self._load()
        latest = self.governance()
        if latest is not None:
            self._removed = {
                m.agency_id: m.removed_height
                for m in latest.members
                if m.removed_height is not None
            }

    @classmethod
    def open(
        cls,
        path: str | Path,
        genesis: Genesis,
        *,
        retention: int = DEFAULT_RETENTION,
        sync: bool = True,
        repair: bool = False,
        memory: LevelDBMemory | None = None,
    ) -> LedgerStore:
        """Open or create the ledger at ``path`` for ``genesis``'s network.

        Raises :class:`StorageError` if another process holds the directory, or it belongs to
        another network or a newer storage schema. ``sync=False`` skips the fsync per commit
        (bulk loads that can be redone; a crash may then lose acknowledged blocks).
        ``repair=True`` opens a database whose heads are damaged, for
        :func:`node.storage.integrity.rebuild` only (run it before anything else). ``memory``:
        LevelDB's caches and buffers (the defaults of :class:`LevelDBMemory` if None).
        """
        if retention < 0:
            raise ValueError("retention must be >= 0 blocks")
        path = Path(path)
        db = open_leveldb(path, memory)
        try:
            check_or_initialise(db, path, genesis)
            budget = (memory or LevelDBMemory()).state_cache_nodes()
            store = cls(db, path, genesis, retention, sync=sync, repair=repair, cache_budget=budget)
            store._prune_to_window()
        except plyvel.CorruptionError as exc:
            db.close()
            raise corruption_error(path, exc) from exc
        except BaseException:
            db.close()
            raise
        logger.info("opened ledger path=%s agencies=%d", path, len(store._heads))
        return store

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()

    @property
    def closed(self) -> bool:
        return bool(self._db.closed)

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def raw_db(self) -> plyvel.DB:
        """The LevelDB handle, for the integrity tools and benchmarks only."""
        return self._db

    def _load(self) -> None:
        self._slots, self._ids, self._heads = {}, {}, {}
        for agency_id, num in agency_numbers(self._db).items():
            slot = _AgencySlot(num)
            self._slots[agency_id] = slot
            self._ids[num] = agency_id
            self._heads[agency_id] = self._load_head(agency_id, num)
            for prefix in (schema.rotations(num), schema.forced_rotations(num)):
                for key, value in self._db.iterator(prefix=prefix):
                    height = schema.height_of_block_key(key)
                    slot.rotations.append((height, value[:32], value[32:]))
            slot.rotations.sort()

    def _load_head(self, agency_id: str, num: int) -> AgencyHead:
        raw = self._db.get(schema.head(num))
        try:
            if raw is None:
                raise EncodingError("missing")
            return codec.decode_head(raw)
        except EncodingError as exc:
            agency = self.initial_agency(agency_id)
            if self._repair and agency is not None:
                return AgencyHead.initial(agency)
            raise StorageError(
                f"{self.path}: the stored head of {agency_id} is damaged ({exc}); run the "
                "database rebuild (calpe db rebuild) to recompute it from the stored blocks"
            ) from exc

    def _prune_to_window(self) -> None:
        """Catch up pruning a crash interrupted or a smaller window implies."""
        for agency_id, slot in self._slots.items():
            self._prune_through(slot.num, self.oldest_provable_height(agency_id))

    # --- state ---------------------------------------------------------------------------------

    def heads(self) -> dict[str, AgencyHead]:
        return dict(self._heads)

    def head(self, agency_id: str) -> AgencyHead:
        self._slot(agency_id)
        return self._heads[agency_id]

    def reader(self, agency_id: str) -> LedgerReader:
        """The committed state of ``agency_id`` as the ledger core reads it."""
        return self._reader(PendingBatch(self._db), agency_id)

    def issuer_of(self, credential_id: bytes) -> str | None:
        """Which agency issued ``credential_id`` (the first in genesis order if several did)."""
        return self._issuer_of(PendingBatch(self._db), credential_id)

    def key_at(self, agency_id: str, height: int) -> bytes:
        """The Ed25519 key that must sign ``agency_id``'s block at ``height``."""
        return self._keys_at(PendingBatch(self._db), agency_id, height)[0]

    def keys_at(self, agency_id: str, height: int) -> tuple[bytes, bytes]:
        """``(ed25519_public, secp256k1_address)`` in force for ``agency_id``'s block at
        ``height``: its first keys, then its own and governance's rotations before it."""
        return self._keys_at(PendingBatch(self._db), agency_id, height)

    def _slot(self, agency_id: str) -> _AgencySlot:
        slot = self._slots.get(agency_id)
        if slot is None:
            raise NotMemberError(f"{agency_id!r} is not a member agency of this network")
        return slot

    def _num(self, agency_id: str) -> int:
        return self._slot(agency_id).num

    def _reader(self, batch: PendingBatch, agency_id: str) -> LedgerReader:
        slot = self._slot(agency_id)
        return LedgerReader(batch, slot.num, agency_id, slot.cache, slot.schemas)

    def _issuer_of(self, batch: PendingBatch, credential_id: bytes) -> str | None:
        for agency_id, slot in self._slots.items():
            if batch.get(schema.status(slot.num, credential_id)) is not None:
                return agency_id
        return None

    def _keys_at(self, batch: PendingBatch, agency_id: str, height: int) -> tuple[bytes, bytes]:
        slot = self._slot(agency_id)
        rotations = slot.rotations + [
            (h, pub, addr) for num, h, pub, addr in batch.rotations if num == slot.num
        ]
        before = [r for r in rotations if r[0] < height]
        if before:
            _height, pub, addr = max(before)
            return pub, addr
        agency = self.initial_agency(agency_id)
        if agency is None:
            raise NotMemberError(f"{agency_id!r} is not a member of this network")
        return agency.ed25519_public, agency.secp256k1_address

    # --- writing -------------------------------------------------------------------------------

    def ingest(self, block: Block | bytes, *, now_ms: int) -> IngestResult:
        """Validate and commit one block; raise the specific error (and write nothing) if refused.

        A block already stored is a harmless ``duplicate``. Another validly signed block at a
        stored height is ``equivocation``: both are kept and the agency is frozen. A height past
        ``head + 1`` raises :class:`HeightError` (the caller syncs the gap).
        """
        outcome = self.ingest_many([block], now_ms=now_ms)
        if outcome.rejected is not None:
            raise outcome.rejected
        return outcome.results[0]

    def ingest_many(self, blocks: Iterable[Block | bytes], *, now_ms: int) -> BatchOutcome:
        """Ingest blocks in order (each sees the ones before it) and commit them in one batch."""
        batch = PendingBatch(self._db)
        results: list[IngestResult] = []
        rejected: ValidationError | EncodingError | None = None
        for item in blocks:
            try:
                results.append(self._ingest_one(batch, item, now_ms))
            except (ValidationError, EncodingError) as exc:
                rejected = exc
                break
        if batch.ops:
            self._write(batch)
        return BatchOutcome(results, rejected)

    def _ingest_one(self, batch: PendingBatch, item: Block | bytes, now_ms: int) -> IngestResult:
        block, raw = _decoded(item)
        agency_id = block.agency_id
        num = self._num(agency_id)
        if block.header.network_id != self.network_id:
            raise NetworkMismatchError(f"block of {agency_id} belongs to another network")
        head = batch.heads.get(num) or self._heads[agency_id]
        if 1 <= block.height <= head.height:
            return self._seen(batch, num, head, block, raw)
        keys = self._keys_at(batch, agency_id, head.height + 1)
        if (head.ed25519_public, head.secp256k1_address) != keys:  # replayed past a forced rotation
            head = replace(head, ed25519_public=keys[0], secp256k1_address=keys[1])
        removed = self._removed.get(agency_id)
        if removed is not None and block.height > removed:
            raise NotMemberError(
                f"{agency_id} was removed from the network; its log ends at height {removed}"
            )
        reader = self._reader(batch, agency_id)
        applied = apply_block(
            head,
            block,
            reader,
            network_id=self.network_id,
            now_ms=now_ms,
            issuer_of=lambda cid: self._issuer_of(batch, cid),
        )
        writer.add_block(batch, num, applied, raw, applied.smt_previous, retention=self.retention)
        return IngestResult("applied", agency_id, block.height, block.hash, applied=applied)

    def _seen(
        self, batch: PendingBatch, num: int, head: AgencyHead, block: Block, raw: bytes
    ) -> IngestResult:
        """A block at a height already stored: the same block again, or equivocation."""
        location = batch.get(schema.block_hash(block.hash))
        if location == schema.block_location(num, block.height):
            return IngestResult("duplicate", block.agency_id, block.height, block.hash)
        stored_raw = batch.get(schema.block(num, block.height))
        if stored_raw is None:
            raise StorageError(f"{block.agency_id} block {block.height} is missing; run verify")
        stored = decode_block(stored_raw)
        key = self._keys_at(batch, block.agency_id, block.height)[0]
        verify_block_signature(key, block.hash, block.signature)
        proof = make_proof(stored.header, stored.signature, block.header, block.signature)
        writer.add_equivocation(batch, num, proof, (block.hash, raw), replace(head, frozen=True))
        logger.warning(
            "equivocation agency=%s height=%s: two signed blocks, log frozen",
            block.agency_id,
            block.height,
        )
        return IngestResult("equivocation", block.agency_id, block.height, block.hash, proof=proof)

    def commit(self, applied: AppliedBlock) -> None:
        """Commit one validated block (from ``apply_block``/``author_block`` on current state)."""
        self.commit_many([applied])

    def commit_many(self, applied_blocks: Sequence[AppliedBlock]) -> None:
        """Commit validated blocks, in order, in one atomic batch.

        Each must extend the head left by the one before it (:class:`HeightError` /
        :class:`PrevHashError` otherwise, and nothing is written).
        """
        batch = PendingBatch(self._db)
        for applied in applied_blocks:
            block = applied.block
            num = self._num(block.agency_id)
            head = batch.heads.get(num) or self._heads[block.agency_id]
            if block.height != head.height + 1:
                raise HeightError(f"{block.agency_id} block {block.height} is not next to {head}")
            if block.header.prev_hash != head.block_hash:
                raise PrevHashError(f"{block.agency_id} block {block.height} does not extend head")
            # ``applied`` may come from another reader of this state: read what it replaces here.
            reader = self._reader(batch, block.agency_id)
            replaced = {pos: reader.get_node(pos) for pos in applied.smt_writes}
            writer.add_block(
                batch, num, applied, block.encode(), replaced, retention=self.retention
            )
        if batch.ops:
            self._write(batch)

    def author(
        self,
        agency_id: str,
        events: Sequence[Event],
        keys: AgencyKeys,
        *,
        now_ms: int,
        requests: Mapping[str, int] | None = None,
    ) -> AppliedBlock:
        """Build, sign and commit ``agency_id``'s next block from ``events``.

        ``requests`` maps client request ids to the index of their first event in ``events``;
        each gets a receipt row in the block's own write batch, so an acknowledged request id is
        never forgotten and never applied twice (see :meth:`request_receipt`).
        """
        head = self.head(agency_id)
        if head.frozen:
            raise AgencyFrozenError(f"{agency_id}'s log is frozen after equivocation")
        if agency_id in self._removed:
            raise NotMemberError(f"{agency_id} was removed from the network by governance")
        batch = PendingBatch(self._db)
        reader = self._reader(batch, agency_id)
        applied = author_block(
            head,
            events,
            keys,
            reader,
            network_id=self.network_id,
            timestamp_ms=now_ms,
            issuer_of=lambda cid: self._issuer_of(batch, cid),
        )
        raw = applied.block.encode()
        num = self._num(agency_id)
        writer.add_block(batch, num, applied, raw, applied.smt_previous, retention=self.retention)
        for request_id, index in (requests or {}).items():
            batch.put(
                schema.idempotency(request_id.encode()),
                codec.encode_receipt(agency_id, applied.block.height, applied.block.hash, index),
            )
        self._write(batch)
        return applied

    def request_receipt(self, request_id: str) -> tuple[str, int, bytes, int] | None:
        """``(agency_id, height, block_hash, first_event_index)`` of a committed request id."""
        raw = self._db.get(schema.idempotency(request_id.encode()))
        return None if raw is None else codec.decode_receipt(raw)

    @property
    def write_failure(self) -> str | None:
        """Why a write failed, if one did; from then on every write is refused."""
        return self._write_failure

    def _write(self, batch: PendingBatch) -> None:
        if self._write_failure is not None:
            raise StorageError(self._write_failure)
        try:
            batch.write(sync=self._sync)
        except plyvel.Error as exc:
            # A failed write (disk full, read-only) can leave a torn record in LevelDB's log, and
            # records appended after it are dropped when the log is replayed on the next open:
            # writes that would succeed once space is freed would be acknowledged, then lost.
            # So nothing more is written until the database is reopened, which recovers the log.
            self._write_failure = (
                f"writing to {self.path} failed: {exc}; the store refuses further writes: fix the "
                "disk (free space, permissions, read-only mount), then restart the node"
            )
            raise StorageError(self._write_failure) from exc
        for num, head in batch.heads.items():
            self._heads[self._ids[num]] = head
        for num, writes in batch.node_writes.items():
            self._slots[self._ids[num]].cache.update(writes)
        self._fit_caches()
        for num, height, pub, addr in batch.rotations:
            bisect.insort(self._slots[self._ids[num]].rotations, (height, pub, addr))

    def _fit_caches(self) -> None:
        """Keep all agencies' cached tree tops within the budget: the largest gives up a level."""
        slots = self._slots.values()
        total = sum(len(slot.cache.nodes) for slot in slots)
        while total > self._cache_budget:
            largest = max(slots, key=lambda slot: len(slot.cache.nodes))
            if largest.cache.depth == 0:
                return
            total -= largest.cache.shallower()
            logger.info(
                "state cache at its budget (%d nodes): agency=%s now caches its tree to depth %d",
                self._cache_budget,
                self._ids[largest.num],
                largest.cache.depth,
            )

    def reset_caches(self) -> None:
        """Forget cached state and reload heads (after the integrity tools rewrote tables)."""
        self._load()

    # --- proof history ---------------------------------------------------------------------------

    def prune_history_through(self, heights: Mapping[str, int]) -> None:
        """Drop the state history that only proofs below ``heights[agency_id]`` would need.

        Call it with the cut of the newest checkpoint that proof bundles use (anchored on chain):
        afterwards :meth:`oldest_provable_height` is at least that height (capped at the
        agency's head), so :meth:`credential_proof` still answers at the cut and above and
        raises :class:`HistoryPrunedError` below it. The retention window still bounds the
        history when no checkpoint comes. Idempotent; a height at or below an earlier one does
        nothing. The deletions are written in batches of at most ``PRUNE_CHUNK_OPS`` rows (the
        floor first, so a crash in between never claims a pruned height provable; the next call
        or the next open finishes the job). Raises :class:`NotMemberError` for an unknown agency.
        """
        for agency_id, height in heights.items():
            num = self._num(agency_id)
            through = min(height, self._heads[agency_id].height)
            if through <= self.history_floor(agency_id):
                continue
            floor = PendingBatch(self._db)
            floor.put(schema.history_floor(num), schema.u64(through))
            self._write(floor)
            self._prune_through(num, through)
            logger.debug("pruned proof history agency=%s height=%s", agency_id, through)

    def _prune_through(self, num: int, through: int) -> None:
        batch = PendingBatch(self._db)
        for height, journal in writer.journals(self._db, num, through):
            writer.prune_history(batch, num, height, journal)
            if len(batch.ops) >= PRUNE_CHUNK_OPS:
                self._write(batch)
                batch = PendingBatch(self._db)
        if batch.ops:
            self._write(batch)

    # --- governance -----------------------------------------------------------------------------
    # Membership changes arrive from the governance fold (node.core.governance) when a checkpoint
    # adopts them; the store only keeps the per-agency consequences consistent and durable.

    def initial_agency(self, agency_id: str) -> Agency | None:
        """The agency with the keys its log started with: from the genesis, or as governance
        admitted it."""
        agency = self.genesis.agency(agency_id)
        if agency is not None:
            return agency
        raw = self._db.get(schema.admitted(agency_id))
        if raw is None:
            return None
        return Agency(agency_id, agency_id, raw[:32], raw[32:])

    def initial_head(self, agency_id: str) -> AgencyHead:
        """The head ``agency_id``'s log starts from (what a rebuild or a discarded join resets)."""
        agency = self.initial_agency(agency_id)
        if agency is None:
            raise StorageError(
                f"{self.path}: {agency_id} is numbered but neither in the genesis nor admitted; "
                "run calpe db verify"
            )
        return AgencyHead.initial(agency)

    def removed_height(self, agency_id: str) -> int | None:
        """Where a removed agency's log ends (its later blocks are refused); None if a member."""
        return self._removed.get(agency_id)

    def apply_governance(self, gov: Governance) -> list[str]:
        """Bring the agencies in line with ``gov`` (idempotent) and persist ``gov``.

        Admits new agencies (number, head, first key), pins removed ones, and applies forced
        key rotations at the agency's height in the adopting cut. Returns warnings for
        rotations that cannot apply because the agency's log already moved past that height
        with its old key (the agency is frozen then, like after equivocation).
        """
        batch = PendingBatch(self._db)
        warnings: list[str] = []
        known = agency_numbers(self._db)
        next_num = max(known.values(), default=-1) + 1
        admitted: list[tuple[str, int]] = []
        for member in gov.members:
            if member.agency_id not in known:
                head = AgencyHead.initial(
                    Agency(
                        member.agency_id,
                        member.agency_id,
                        member.ed25519_public,
                        member.secp256k1_address,
                    )
                )
                batch.put(schema.agency_number(member.agency_id), schema.num_bytes(next_num))
                batch.put(
                    schema.admitted(member.agency_id),
                    member.ed25519_public + member.secp256k1_address,
                )
                batch.put(schema.head(next_num), codec.encode_head(head))
                admitted.append((member.agency_id, next_num))
                next_num += 1
            elif member.active:
                warning = self._forced_rotation(
                    batch, gov, member.agency_id, member.ed25519_public, member.secp256k1_address
                )
                if warning:
                    warnings.append(warning)
        batch.put(schema.governance(gov.epoch), gov.encode())
        self._write(batch)
        if admitted:
            self._load()
        self._removed = {
            m.agency_id: m.removed_height for m in gov.members if m.removed_height is not None
        }
        return warnings

    def _forced_rotation(
        self, batch: PendingBatch, gov: Governance, agency_id: str, ed: bytes, addr: bytes
    ) -> str | None:
        cut_height = gov.cut_heights.get(agency_id, 0)
        head = self._heads[agency_id]
        if head.height < cut_height or self._keys_at(batch, agency_id, cut_height + 1)[0] == ed:
            return None
        num = self._num(agency_id)
        if head.height > cut_height:
            writer.set_head(batch, num, replace(head, frozen=True))
            return (
                f"{agency_id}'s keys were replaced by governance from height {cut_height + 1}, "
                f"but its log already holds blocks up to {head.height} signed with the old key: "
                "its log is frozen until governance decides"
            )
        batch.put(schema.forced_rotation(num, cut_height), ed + addr)
        batch.rotations.append((num, cut_height, ed, addr))
        writer.set_head(batch, num, replace(head, ed25519_public=ed, secp256k1_address=addr))
        return None

    def governance(self, at_epoch: int | None = None) -> Governance | None:
        """The stored governance in force after ``at_epoch`` (the newest if None)."""
        prefix = schema.governances()
        if at_epoch is None:
            raws = self._db.iterator(prefix=prefix, reverse=True, include_key=False)
        else:
            raws = self._db.iterator(
                start=prefix,
                stop=schema.governance(at_epoch + 1),
                reverse=True,
                include_key=False,
            )
        for raw in raws:
            return decode_governance(raw)
        return None

    def proposal_votes(self, proposal_id: bytes) -> tuple[str | None, set[str]]:
        """Who proposed ``proposal_id`` (None if no stored block holds it) and every agency
        that approved it (the proposer included), over all stored blocks."""
        proposer: str | None = None
        voters: set[str] = set()
        for key, raw in self._db.iterator(prefix=schema.governance_events_prefix()):
            agency_id = self._ids[schema.num_of_governance_key(key)]
            for wire in as_list(decode(raw), "governance events"):
                event = event_from_wire(wire)
                if isinstance(event, GovernanceProposed):
                    if event.proposal_id(agency_id) == proposal_id:
                        proposer = agency_id
                        voters.add(agency_id)
                elif isinstance(event, GovernanceVoted) and event.proposal_id == proposal_id:
                    voters.add(agency_id)
        return proposer, voters

    def governance_blob(self, epoch: int) -> bytes:
        """The encoded governance folded at exactly checkpoint ``epoch`` (b"" if not folded):
        what a snapshot of that checkpoint carries."""
        gov = self.governance(epoch)
        return gov.encode() if gov is not None and gov.epoch == epoch else b""

    def governance_events(self, agency_id: str, after: int, through: int) -> list[CutEvent]:
        """``agency_id``'s governance events at heights in ``(after, through]``."""
        num = self._num(agency_id)
        found: list[CutEvent] = []
        iterator = self._db.iterator(
            start=schema.governance_events(num, after + 1),
            stop=schema.governance_events(num, through + 1),
        )
        for key, raw in iterator:
            height = schema.read_u64(key[-schema.HEIGHT_LEN :])
            for wire in as_list(decode(raw), "governance events"):
                found.append(CutEvent(agency_id, height, event_from_wire(wire)))
        return found


def _decoded(item: Block | bytes) -> tuple[Block, bytes]:
    if isinstance(item, bytes | bytearray | memoryview):
        raw = bytes(item)
        return decode_block(raw), raw
    if len(item.events) > MAX_EVENTS_PER_BLOCK:
        raise SizeLimitError(f"block holds {len(item.events)} events, over {MAX_EVENTS_PER_BLOCK}")
    raw = item.encode()
    if len(raw) > MAX_BLOCK_BYTES:
        raise SizeLimitError(f"block of {len(raw)} bytes exceeds {MAX_BLOCK_BYTES}")
    return item, raw
