"""Durable storage of the ledger: LevelDB via plyvel. See :mod:`node.storage.store`."""

from node.storage.database import LevelDBMemory
from node.storage.queries import HistoryPrunedError, StoredEvent
from node.storage.store import DEFAULT_RETENTION, BatchOutcome, IngestResult, LedgerStore

__all__ = [
    "DEFAULT_RETENTION",
    "BatchOutcome",
    "HistoryPrunedError",
    "IngestResult",
    "LevelDBMemory",
    "LedgerStore",
    "StoredEvent",
]
