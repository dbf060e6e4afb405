"""Integrity tools: check every derived byte against the stored blocks, and rebuild derived data.

Blocks (and the meta, agency numbers, equivocation evidence and cursors) are primary; everything
else — heads, indexes, status records, history, tree nodes, log nodes — is derived from the blocks
and can be recomputed. :func:`verify` replays each agency's chain in memory through the ledger core
and compares; :func:`rebuild` drops the derived tables and re-ingests the stored blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import plyvel

from node.core import smt
from node.core.block import decode_block
from node.core.equivocation import verify_proof
from node.core.errors import CalpeError, StorageError
from node.core.ledger import AgencyHead, AppliedBlock, apply_block
from node.core.snapshot import StateBuilder
from node.core.status import (
    SchemaRecord,
    StatusRecord,
    schema_state_key,
)
from node.storage import codec, schema, snapshot_install, writer
from node.storage.database import agency_numbers
from node.storage.reader import HistoricalNodeReader, PendingBatch
from node.storage.store import LedgerStore

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""``progress(agency_id, blocks_done, blocks_total)``, called every few blocks."""

_PROGRESS_EVERY = 50
_FAR_FUTURE_MS = 2**62  # stored blocks were accepted when they arrived: no clock check on replay
_REBUILD_CHUNK = 64
_DELETE_CHUNK = 50_000


@dataclass(frozen=True, slots=True)
class Mismatch:
    agency_id: str
    height: int | None
    what: str


@dataclass
class VerifyReport:
    mismatches: list[Mismatch] = field(default_factory=list)
    blocks_checked: int = 0
    events_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> str:
        head = f"checked {self.blocks_checked} blocks, {self.events_checked} events: "
        if self.ok:
            return head + "every root and index matches the stored blocks"
        lines = [head + f"{len(self.mismatches)} mismatches"]
        lines += [
            f"  {m.agency_id} height {'-' if m.height is None else m.height}: {m.what}"
            for m in self.mismatches[:50]
        ]
        if len(self.mismatches) > 50:
            lines.append(f"  … and {len(self.mismatches) - 50} more (use --json for all)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "blocks_checked": self.blocks_checked,
            "events_checked": self.events_checked,
            "mismatches": [
                {"agency_id": m.agency_id, "height": m.height, "what": m.what}
                for m in self.mismatches
            ],
        }


@dataclass
class RebuildReport:
    blocks_replayed: int = 0
    keys_dropped: int = 0
    failures: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


class _MemoryState:
    """One agency's state rebuilt in memory, and the table contents it implies."""

    def __init__(self, agency_id: str, num: int) -> None:
        self.agency_id = agency_id
        self.num = num
        self.nodes = smt.InMemoryNodeStore()
        self.credentials: dict[bytes, StatusRecord] = {}
        self.schemas: dict[bytes, SchemaRecord] = {}
        self.expected: dict[bytes, bytes] = {}

    def get_node(self, position: bytes) -> bytes | None:
        return self.nodes.get_node(position)

    def credential(self, credential_id: bytes) -> StatusRecord | None:
        return self.credentials.get(credential_id)

    def schema(self, schema_id: bytes) -> SchemaRecord | None:
        return self.schemas.get(schema_id)

    def apply(self, applied: AppliedBlock) -> None:
        """Take the block's changes, recording the rows the store must hold for them."""
        self.expected.update(writer.block_rows(self.num, applied))
        self.nodes.apply(applied.smt_writes)
        self.credentials.update(applied.credentials)
        self.schemas.update(applied.schemas)

    def finish(self) -> None:
        for pos, encoded in self.nodes.nodes.items():
            self.expected[schema.smt_node(self.num, pos)] = encoded


def verify(store: LedgerStore, progress: Progress | None = None) -> VerifyReport:
    """Recompute every agency's chain from its stored blocks and report every disagreement."""
    report = VerifyReport()
    for agency_id, head in store.heads().items():
        _verify_agency(store, agency_id, head, report, progress)
    logger.info(
        "verify blocks=%d events=%d mismatches=%d",
        report.blocks_checked,
        report.events_checked,
        len(report.mismatches),
    )
    return report


def _verify_agency(
    store: LedgerStore,
    agency_id: str,
    stored_head: AgencyHead,
    report: VerifyReport,
    progress: Progress | None,
) -> None:
    agency = store.initial_agency(agency_id)
    if agency is None:
        report.mismatches.append(
            Mismatch(agency_id, None, "agency is neither in the genesis nor admitted")
        )
        return
    num = store._num(agency_id)
    state = _MemoryState(agency_id, num)
    head = AgencyHead.initial(agency)
    db = store.raw_db
    base = snapshot_install.base_at(db, num)
    if base is not None:  # joined by snapshot: replay the blocks after the base on its state
        head = _seed_from_base(store, state, base, report)

    def fail(height: int | None, what: str) -> None:
        report.mismatches.append(Mismatch(agency_id, height, what))

    for raw in _stored_blocks(db, num):
        expected_height = head.height + 1
        try:
            block = decode_block(raw)
            if block.height != expected_height:
                fail(expected_height, f"stored block is at height {block.height}")
                break
            keys = store.keys_at(agency_id, head.height + 1)
            if (head.ed25519_public, head.secp256k1_address) != keys:  # a forced rotation
                head = replace(head, ed25519_public=keys[0], secp256k1_address=keys[1])
            applied = apply_block(
                head, block, state, network_id=store.network_id, now_ms=_FAR_FUTURE_MS
            )
        except CalpeError as exc:
            fail(expected_height, f"stored block does not replay: {exc}")
            break
        state.apply(applied)
        head = applied.head
        report.blocks_checked += 1
        report.events_checked += len(block.events)
        if progress and head.height % _PROGRESS_EVERY == 0:
            progress(agency_id, head.height, stored_head.height)
    if progress:
        progress(agency_id, head.height, stored_head.height)
    frozen = _check_equivocations(store, agency_id, fail)
    state.finish()
    _compare_head(replace(head, frozen=frozen), stored_head, fail)
    _compare_rows(db, num, state.expected, fail)
    _check_state_root(state, head, fail)
    _check_history(store, agency_id, head.height, fail)


def _seed_from_base(
    store: LedgerStore,
    state: _MemoryState,
    base: snapshot_install.SnapshotBase,
    report: VerifyReport,
) -> AgencyHead:
    head = base.head
    entries = snapshot_install.base_entries(store.raw_db, state.num, head.agency_id, head.height)
    builder = StateBuilder(head.agency_id, head.height, head.state_root)
    builder.keys = [e.key for e in entries]
    builder.values = [e.value for e in entries]
    try:
        builder.finish(state.nodes.nodes.__setitem__)
    except CalpeError as exc:
        report.mismatches.append(Mismatch(head.agency_id, head.height, f"snapshot base: {exc}"))
    for entry in entries:
        record = entry.record
        if isinstance(record, StatusRecord):
            state.credentials[record.credential_id] = record
            state.expected[schema.status(state.num, record.credential_id)] = codec.encode_status(
                record
            )
        else:
            state.schemas[record.schema_id] = record
            state.expected[schema.schema(state.num, record.schema_id)] = entry.encoded
    state.expected.update(snapshot_install.base_rows(store, state.num, head))
    return head


def _check_equivocations(
    store: LedgerStore, agency_id: str, fail: Callable[[int | None, str], None]
) -> bool:
    """Each stored equivocation proof must verify; True if the agency has any."""
    proofs = store.equivocation_proofs(agency_id)
    for proof in proofs:
        try:
            verify_proof(proof, store.key_at(agency_id, proof.height))
        except CalpeError as exc:
            fail(proof.height, f"stored equivocation proof does not verify: {exc}")
    return bool(proofs)


def _stored_blocks(db: plyvel.DB, num: int) -> Iterator[bytes]:
    with db.iterator(prefix=schema.blocks(num), include_key=False) as entries:
        yield from entries


def _has_prefix(db: plyvel.DB, prefix: bytes) -> bool:
    with db.iterator(prefix=prefix, include_value=False) as keys:
        return next(keys, None) is not None


def _compare_head(
    replayed: AgencyHead, stored: AgencyHead, fail: Callable[[int | None, str], None]
) -> None:
    if replayed != stored:
        fail(stored.height, f"stored head differs from the replayed one (height {replayed.height})")


_ROW_TABLES = (
    schema.block_hash(b"")[:2],
    schema.statuses(0)[:2],
    schema.histories(0)[:2],
    schema.schemas(0)[:2],
    schema.rotations(0)[:2],
    schema.log_nodes(0)[:2],
    schema.smt_nodes(0)[:2],
)


def _compare_rows(
    db: plyvel.DB, num: int, expected: dict[bytes, bytes], fail: Callable[[int | None, str], None]
) -> None:
    """Every stored row of this agency's derived tables must be exactly the replayed one."""
    seen = 0
    for table in _ROW_TABLES:
        prefix = table if table == _ROW_TABLES[0] else table + schema.num_bytes(num)
        for key, value in db.iterator(prefix=prefix):
            if table == _ROW_TABLES[0] and schema.read_block_location(value)[0] != num:
                continue
            want = expected.get(key)
            if want is None:
                fail(None, f"{schema.table_of(key)} row {key[2:].hex()} is not derived from blocks")
            elif want != value:
                fail(None, f"{schema.table_of(key)} row {key[2:].hex()} differs from the blocks")
            else:
                seen += 1
    if seen != len(expected):
        missing = [k for k in expected if db.get(k) is None]
        for key in missing[:100]:
            fail(None, f"{schema.table_of(key)} row {key[2:].hex()} is missing")
        if len(missing) > 100:
            fail(None, f"... and {len(missing) - 100} more missing rows")


def _check_state_root(
    state: _MemoryState, head: AgencyHead, fail: Callable[[int | None, str], None]
) -> None:
    items = {cid: record.value_hash() for cid, record in state.credentials.items()}
    for sid, record in state.schemas.items():
        items[schema_state_key(sid)] = record.value_hash()
    if smt.compute_root(items) != head.state_root:
        fail(head.height, "state root recomputed from the records differs from the header's")


def _check_history(
    store: LedgerStore, agency_id: str, height: int, fail: Callable[[int | None, str], None]
) -> None:
    """Each height in the retention window must still reach its header's state root."""
    num = store._num(agency_id)
    current = store.reader(agency_id)
    for past in range(store.oldest_provable_height(agency_id), height):
        reader = HistoricalNodeReader(store.raw_db, num, past, current)
        try:
            root = smt.root_of_store(reader)
            wanted = store.state_root_at(agency_id, past)
        except StorageError as exc:
            fail(past, f"cannot read state at this height: {exc}")
            continue
        if root != wanted:
            fail(past, "state history does not reach this height's state root")


def rebuild(store: LedgerStore, progress: Progress | None = None) -> RebuildReport:
    """Drop every derived table and recompute it from the stored blocks.

    An agency whose stored block does not replay stops there (reported); its later blocks stay
    stored and the node re-syncs them from peers.
    """
    report = RebuildReport()
    db = store.raw_db
    report.keys_dropped = _drop_derived(db)
    _reset_heads(store)
    snapshot_install.reinstall_bases(store)
    for agency_id in store.heads():
        _replay_agency(store, agency_id, report, progress)
    _freeze_equivocators(store)
    logger.info(
        "rebuild blocks=%d dropped=%d failures=%d",
        report.blocks_replayed,
        report.keys_dropped,
        len(report.failures),
    )
    return report


def _drop_derived(db: plyvel.DB) -> int:
    dropped = 0
    for table in schema.DERIVED_TABLES:
        while True:
            with db.iterator(prefix=table, include_value=False) as keys:
                chunk = [k for _, k in zip(range(_DELETE_CHUNK), keys, strict=False)]
            if not chunk:
                break
            with db.write_batch(transaction=True) as batch:
                for key in chunk:
                    batch.delete(key)
            dropped += len(chunk)
    return dropped


def _reset_heads(store: LedgerStore) -> None:
    db = store.raw_db
    with db.write_batch(transaction=True, sync=True) as batch:
        for agency_id, num in agency_numbers(db).items():
            batch.put(schema.head(num), codec.encode_head(store.initial_head(agency_id)))
    store.reset_caches()


def _replay_agency(
    store: LedgerStore, agency_id: str, report: RebuildReport, progress: Progress | None
) -> None:
    num = store._num(agency_id)
    total = _count(store.raw_db, schema.blocks(num))
    height = store.head(agency_id).height + 1  # 1, or after a snapshot base
    while True:
        chunk = store.blocks_bytes(agency_id, height, _REBUILD_CHUNK)
        if not chunk:
            break
        outcome = store.ingest_many(chunk, now_ms=_FAR_FUTURE_MS)
        report.blocks_replayed += len(outcome.results)
        height = store.head(agency_id).height + 1
        if progress:
            progress(agency_id, height - 1, total)
        if outcome.rejected is not None:
            report.failures.append(Mismatch(agency_id, height, str(outcome.rejected)))
            break


def _count(db: plyvel.DB, prefix: bytes) -> int:
    with db.iterator(prefix=prefix, include_value=False) as keys:
        return sum(1 for _ in keys)


def _freeze_equivocators(store: LedgerStore) -> None:
    db = store.raw_db
    batch = PendingBatch(db)
    for agency_id, head in store.heads().items():
        if _has_prefix(db, schema.equivocations(store._num(agency_id))):
            batch.put(
                schema.head(store._num(agency_id)), codec.encode_head(replace(head, frozen=True))
            )
    if batch.ops:
        batch.write(sync=True)
    store.reset_caches()
