"""Reading one agency's state: committed data, seen through the writes of a batch not yet committed.

A :class:`PendingBatch` collects the key/value writes of the blocks being ingested together; its
reads fall through to the database. :class:`LedgerReader` is the ledger core's ``StateReader`` over
it, so block ``n + 1`` of a group commit is validated against block ``n``'s uncommitted state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import plyvel

from node.core import smt
from node.core.errors import StorageError
from node.core.ledger import AgencyHead
from node.core.status import SchemaRecord, StatusRecord, decode_schema_record
from node.storage import codec, schema

CACHE_TOP_DEPTH = 16
"""SMT nodes at depth <= this stay cached (at most 131,071 per agency, ~21 MiB) unless the node's
budget for the cache makes an agency's depth smaller (:class:`NodeCache`): a block of a few
hundred events rewrites most of them, and each level kept saves a LevelDB read per event (depth
16 rather than 14: +3% events/s in ``bench.ingest`` at 1M credentials, where the tree is ~20
deep). Deeper nodes are not cached: a block of random keys seldom meets one that an earlier block
read or wrote, and keeping them cost more (dict growth and eviction) than the reads it saved."""
_TOP_POSITION_LEN = 2 + (CACHE_TOP_DEPTH + 7) // 8
"""A position is its 2-byte depth and ``ceil(depth / 8)`` path bytes: no longer than this, its
second byte is its depth."""
CACHED_NODE_BYTES = 170
"""Memory one cached node takes (its position, its 65 bytes and the dict entry; measured with
tracemalloc): what turns the node's budget in MiB into a number of nodes."""


_MISSING: Any = object()


class NodeCache:
    """The top of one agency's state tree as committed: read-through, updated after each commit.

    It holds the nodes down to ``depth``; :meth:`shallower` gives a level up when the node's
    budget for all agencies' caches runs out.
    """

    def __init__(self, depth: int = CACHE_TOP_DEPTH) -> None:
        self.nodes: dict[bytes, bytes | None] = {}
        self.depth = depth

    def load(self, db: plyvel.DB, num: int, pos: bytes) -> bytes | None:
        """Read a node the cache does not hold from LevelDB (and keep it if it is a top one)."""
        value: bytes | None = db.get(schema.smt_node(num, pos))
        if len(pos) <= _TOP_POSITION_LEN and pos[1] <= self.depth:
            self.nodes[pos] = value
        return value

    def update(self, writes: dict[bytes, bytes | None]) -> None:
        top, depth = _TOP_POSITION_LEN, self.depth
        if depth == (top - 2) * 8:  # as deep as a position of ``top`` bytes goes: length says all
            self.nodes.update({pos: node for pos, node in writes.items() if len(pos) <= top})
            return
        self.nodes.update(
            {pos: node for pos, node in writes.items() if len(pos) <= top and pos[1] <= depth}
        )

    def shallower(self) -> int:
        """Stop caching the deepest level held; return how many nodes that freed."""
        before = len(self.nodes)
        self.depth -= 1
        depth = self.depth
        self.nodes = {pos: node for pos, node in self.nodes.items() if pos[1] <= depth}
        return before - len(self.nodes)

    def clear(self) -> None:
        self.nodes.clear()


@dataclass
class PendingBatch:
    """Writes of one atomic commit in the making, readable before they are committed."""

    db: plyvel.DB
    ops: dict[bytes, bytes | None] = field(default_factory=dict)
    heads: dict[int, AgencyHead] = field(default_factory=dict)
    node_writes: dict[int, dict[bytes, bytes | None]] = field(default_factory=dict)
    """Per agency number, the SMT nodes among ``ops`` by position (how the tree reads them)."""
    rotations: list[tuple[int, int, bytes, bytes]] = field(default_factory=list)

    def get(self, key: bytes) -> bytes | None:
        if key in self.ops:
            return self.ops[key]
        value: bytes | None = self.db.get(key)
        return value

    def put(self, key: bytes, value: bytes) -> None:
        self.ops[key] = value

    def delete(self, key: bytes) -> None:
        self.ops[key] = None

    def write(self, *, sync: bool) -> None:
        """Commit every write at once: all or nothing, durable on return when ``sync``."""
        with self.db.write_batch(transaction=True, sync=sync) as batch:
            put, delete = batch.put, batch.delete
            for key, value in self.ops.items():
                if value is None:
                    delete(key)
                else:
                    put(key, value)


class LedgerReader:
    """The ledger core's ``StateReader`` for one agency, over a pending batch and the database."""

    def __init__(
        self,
        batch: PendingBatch,
        num: int,
        issuer: str,
        cache: NodeCache,
        schema_cache: dict[bytes, SchemaRecord],
    ) -> None:
        self._batch = batch
        self._num = num
        self._issuer = issuer
        self._cache = cache
        self._schemas = schema_cache
        self._pending = batch.node_writes.setdefault(num, {})

    def get_node(self, position: bytes) -> bytes | None:
        # The hottest read of ingest (~20 per event): the batch's own writes (block n + 1 of a
        # group commit reads block n's), then the cached top of the tree, then LevelDB.
        value: bytes | None = self._pending.get(position, _MISSING)
        if value is _MISSING:
            value = self._cache.nodes.get(position, _MISSING)
            if value is _MISSING:
                value = self._cache.load(self._batch.db, self._num, position)
        return value

    def credential(self, credential_id: bytes) -> StatusRecord | None:
        raw = self._batch.get(schema.status(self._num, credential_id))
        if raw is None:
            return None
        return codec.decode_status(self._issuer, credential_id, raw)

    def schema(self, schema_id: bytes) -> SchemaRecord | None:
        cached = self._schemas.get(schema_id)
        if cached is not None:
            return cached
        key = schema.schema(self._num, schema_id)
        raw = self._batch.get(key)
        if raw is None:
            return None
        record = decode_schema_record(raw)
        if key not in self._batch.ops:  # only committed schemas are cached
            self._schemas[schema_id] = record
        return record


class HistoricalNodeReader:
    """SMT nodes of one agency as they were right after block ``height`` (within retention).

    The undo entry ``(position, h)`` restores the node as it was before block ``h`` from the
    node after it (smt.undo: the whole old node, or the one field block ``h`` changed). The node
    as of ``height`` is the current one with the entries after ``height`` undone, newest first,
    starting instead from the oldest entry that holds a whole node, if any. No entry means it has
    not changed since, or that it did not exist at ``height`` (only the root's creation is
    recorded): a proof walk at ``height`` reads only positions its parents at ``height`` point
    at, which existed then.
    """

    def __init__(self, db: plyvel.DB, num: int, height: int, current: LedgerReader) -> None:
        self._db = db
        self._num = num
        self._height = height
        self._current = current

    def get_node(self, position: bytes) -> bytes | None:
        start = schema.smt_undo(self._num, position, self._height + 1)
        stop = schema.prefix_end(schema.smt_undos_of(self._num, position))
        deltas: list[bytes] = []
        node: bytes | None = None
        with self._db.iterator(start=start, stop=stop, include_key=False) as entries:
            for entry in entries:
                if len(entry) != smt.UNDO_DELTA_LEN:
                    node = entry or None  # the whole node before that block: older ones undo it
                    break
                deltas.append(entry)
            else:
                node = self._current.get_node(position)  # no whole node after ``height``
        try:
            for entry in reversed(deltas):
                node = smt.undo(node, entry)
        except ValueError as exc:
            raise StorageError(
                f"SMT undo history of position {position.hex()} is corrupt: {exc}"
            ) from exc
        return node
