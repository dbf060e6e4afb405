"""Opening the LevelDB directory: lock, schema version and network checks, first-time setup."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import plyvel

from node.core.encoding import encode
from node.core.errors import StorageError
from node.core.genesis import Genesis
from node.core.ledger import AgencyHead
from node.storage import codec, schema
from node.storage.reader import CACHED_NODE_BYTES
from node.storage.table_reads import read_tables_without_mmap

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LevelDBMemory:
    """The memory LevelDB, and the store's state cache, may use: ``[storage]`` in the node config.

    Defaults, from the benchmarks: 16 MiB memtables (two can be live) keep the events/s of 64 MiB
    in bench.ingest (8 MiB cost 11%) and cut a node's RSS at 1M events by ~150 MiB
    (bench.resources); the block cache's size made no difference to ingest from 4 to 16 MiB (the
    hot top of the state tree is cached above LevelDB, reader.NodeCache), so it is 8. LevelDB reads
    its tables rather than memory-mapping them (table_reads). Larger buffers speed bulk loads (a
    snapshot join: 16 s at 64 MiB, 24 s at 16 MiB, for 1M credentials).
    """

    cache_mib: int = 8
    write_buffer_mib: int = 16
    max_open_files: int = 100
    state_cache_mib: int = 32
    """Not LevelDB's: the budget of the store's own cache of the state trees' tops, shared by all
    agencies (reader.NodeCache). One agency at 1M credentials fills ~21 MiB of it."""

    def state_cache_nodes(self) -> int:
        """The state cache's budget as a number of tree nodes."""
        return self.state_cache_mib * 1024 * 1024 // CACHED_NODE_BYTES

    def options(self) -> dict[str, object]:
        # Bloom filters make the many "is this credential new?" misses cheap; large table files
        # suit ingest of big batches (fewer, larger compactions: ~12% less compaction CPU per
        # event in bench.ingest than the default 2 MiB files).
        return {
            "create_if_missing": True,
            "bloom_filter_bits": 10,
            "lru_cache_size": self.cache_mib * 1024 * 1024,
            "write_buffer_size": self.write_buffer_mib * 1024 * 1024,
            "max_file_size": 16 * 1024 * 1024,
            "max_open_files": self.max_open_files,
            "compression": "snappy",
        }


def open_leveldb(path: Path, memory: LevelDBMemory | None = None) -> plyvel.DB:
    """Open (creating if needed) the database; a held lock becomes a clear StorageError."""
    path.mkdir(parents=True, exist_ok=True)
    read_tables_without_mmap()
    try:
        return plyvel.DB(str(path), **(memory or LevelDBMemory()).options())
    except plyvel.IOError as exc:
        # Only a held lock says "lock <path>"; a read-only or unwritable directory names the
        # LOCK file too ("<path>/LOCK: Read-only file system") and must not be mistaken for one.
        if "io error: lock " in str(exc).lower():
            raise StorageError(
                f"another Calpe node is using {path} (its LevelDB lock is held); stop that node "
                "or give this one its own data directory"
            ) from exc
        raise StorageError(
            f"cannot open the database at {path}: {exc}; the node needs to write there: check "
            "the mount (read-only?), permissions and free space"
        ) from exc
    except plyvel.CorruptionError as exc:
        raise corruption_error(path, exc) from exc


REPAIR_ADVICE = (
    "stop the node; if `calpe db verify` lists only derived rows (indexes, state, heads), "
    "`calpe db rebuild --config FILE` recomputes them from the stored blocks; otherwise restore "
    "the data directory from a backup, or move it aside and let the node re-sync from its peers"
)
"""What an operator does about a damaged database (printed with every corruption error)."""


def corruption_error(path: Path, exc: Exception) -> StorageError:
    """The error for LevelDB reporting corrupt files (a flipped byte, a torn table)."""
    return StorageError(f"the database at {path} is corrupt ({exc}): {REPAIR_ADVICE}")


def check_or_initialise(db: plyvel.DB, path: Path, genesis: Genesis) -> None:
    """Refuse a database of another layout or network; set up an empty one from ``genesis``."""
    version_raw = db.get(schema.SCHEMA_VERSION_KEY)
    if version_raw is None:
        if next(db.iterator(include_value=False), None) is not None:
            raise StorageError(
                f"{path} holds a LevelDB database that is not a Calpe ledger; point the node at "
                "an empty or Calpe data directory"
            )
        _initialise(db, genesis)
        logger.info("initialised ledger database path=%s network=%s", path, genesis.network)
        return
    version = int.from_bytes(version_raw, "big")
    if version > schema.SCHEMA_VERSION:
        raise StorageError(
            f"the database at {path} uses storage schema version {version}, newer than this "
            f"Calpe supports ({schema.SCHEMA_VERSION}); upgrade Calpe to open it"
        )
    if version < schema.SCHEMA_VERSION:
        raise StorageError(
            f"the database at {path} uses storage schema version {version}, older than this "
            f"Calpe's ({schema.SCHEMA_VERSION}); migrate it or re-sync into an empty directory"
        )
    stored = db.get(schema.meta(schema.META_NETWORK_ID))
    if stored != genesis.network_id:
        theirs = stored.hex()[:16] if stored else "unknown"
        raise StorageError(
            f"the database at {path} belongs to another network (network id {theirs}…, this "
            f"genesis is {genesis.network_id.hex()[:16]}… '{genesis.network}'); use the genesis "
            "it was created with, or another data directory"
        )
    _add_new_agencies(db, genesis)


def _initialise(db: plyvel.DB, genesis: Genesis) -> None:
    with db.write_batch(transaction=True, sync=True) as batch:
        batch.put(schema.meta(schema.META_NETWORK_ID), genesis.network_id)
        batch.put(schema.meta(schema.META_GENESIS), encode(genesis.to_wire()))
        for num, agency in enumerate(genesis.agencies):
            batch.put(schema.agency_number(agency.agency_id), schema.num_bytes(num))
            batch.put(schema.head(num), codec.encode_head(AgencyHead.initial(agency)))
        batch.put(schema.SCHEMA_VERSION_KEY, schema.SCHEMA_VERSION.to_bytes(4, "big"))


def _add_new_agencies(db: plyvel.DB, genesis: Genesis) -> None:
    """Give a number and an initial head to any genesis agency the database does not know yet."""
    known = agency_numbers(db)
    missing = [a for a in genesis.agencies if a.agency_id not in known]
    if not missing:
        return
    next_num = max(known.values(), default=-1) + 1
    with db.write_batch(transaction=True, sync=True) as batch:
        for offset, agency in enumerate(missing):
            num = next_num + offset
            batch.put(schema.agency_number(agency.agency_id), schema.num_bytes(num))
            batch.put(schema.head(num), codec.encode_head(AgencyHead.initial(agency)))


def agency_numbers(db: plyvel.DB) -> dict[str, int]:
    prefix = schema.agency_numbers()
    return {
        schema.agency_id_of(key): int.from_bytes(value, "big")
        for key, value in db.iterator(prefix=prefix)
    }
