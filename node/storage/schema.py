"""Every LevelDB key Calpe writes, built here and nowhere else (py-evm's ``eth/db/schema.py``).

Layout, schema version 4. All keys but :data:`SCHEMA_VERSION_KEY` start with :data:`PREFIX` (the
schema version as one byte), then a one-byte table tag. Agencies are named in keys by a 2-byte
number assigned when the agency first appears (genesis order), not by their id, to keep the keys of
the large tables short. Integers are big-endian and fixed-width so ranges scan in order.

======================  ===================================================  =======================
table (tag)             key after ``PREFIX + tag``                           value
======================  ===================================================  =======================
meta ``M``              name (ASCII)                                         see :data:`META_*`
agency number ``a``     agency_id (UTF-8)                                    u16 agency number
head ``h``              num                                                  encoded AgencyHead
block ``b``             num, height u64                                      encoded block
block hash ``H``        block hash (32)                                      num, height u64
status ``c``            num, credential_id (32)                              compact status record
history ``e``           num, credential_id (32), height u64                  kinds, 1 byte each, but
                                                                             the issue (see below)
schema ``s``            num, schema_id (32)                                  encoded SchemaRecord
key rotation ``k``      num, height u64 (block carrying the rotation)        ed25519 (32) + address
log node ``l``          num, level u8, index u64                             hash (32)
SMT node ``n``          num, path's first 2 bytes, position (see below)      encoded node (65)
SMT undo ``u``          num, position, height u32 (see below)                what gives the node
                                                                             before that block from
                                                                             the one after (below)
SMT journal ``j``       num, height u64                                      positions with undo
history floor ``P``     num                                                  u64: undo history
                                                                             pruned through it
equivocation ``x``      num, height u64                                      EquivocationProof
fork block ``f``        num, height u64, block hash (32)                     the conflicting block
cursor ``C``            name (UTF-8)                                         owner-defined bytes
idempotency ``I``       client key (bytes)                                   owner-defined bytes
checkpoint ``p``        epoch u64                                            CheckpointRecord
governance events ``g`` num, height u64                                      the block's governance
                                                                             events (CBOR list)
governance ``G``        epoch u64                                            Governance after it
admitted ``A``          agency_id (UTF-8)                                    first ed25519 + address
                                                                             of an agency governance
                                                                             added
forced rotation ``K``   num, height u64 (cut height of the adoption)         ed25519 (32) + address
snapshot base ``B``     num                                                  where a snapshot join
                                                                             started the agency
snapshot entry ``R``    num, state-tree key (32)                             kind (1) + record as
                                                                             of the base height
snapshot block ``Z``    num                                                  encoded block at the
                                                                             base height (served
                                                                             in a manifest)
======================  ===================================================  =======================

An SMT node's key puts the first two bytes of its path (fewer above depth 9, none for the root)
before its position, so the nodes under one depth-16 subtree are neighbours in LevelDB: at 1M
credentials that is ~30 nodes, ~2.5 KB, so the deep nodes a key's update reads below the cached
top of the tree (reader.NodeCache) come from one table block, not one block per level.

SMT positions are prefix-free (they start with their 2-byte depth, which fixes their length), so
the undo keys of ``position`` are exactly those that start with ``num, position``
(:func:`smt_undos_of`).

An undo entry is what restores the node as it was before its block from the node after it
(``smt.undo_entry``): where the block changed one field of the node (one child of an internal
node, a leaf's value), that field's old value after a tag saying which (33 bytes); otherwise the
whole old node (65), or nothing for the root of a tree that was empty. A past node is the current
one with the later entries undone, newest first (``reader.HistoricalNodeReader``).

Version 4: undo keys end with a 4-byte height, not 8. At 1M credentials a block writes ~12 undo
entries per event and checkpoint pruning deletes each again, so this is ~94 bytes less per event
through LevelDB's log and memtables (its compressed tables barely change: the height's zero bytes
compressed well), and 2-8% more events/s with pruning and 6-9% without, in runs made in turn
with version 3 (bench/results/README.md). An agency's history stops at height 2^32 - 1
(:data:`MAX_UNDO_HEIGHT`: 27 years of 5 blocks a second), where the store refuses the block with
a clear error.

Version 3: SMT node keys start with the first two bytes of the node's path (above). Ordered by
depth first, as in version 2, a key's deep nodes lie in as many table blocks as levels, and
reading them was the largest single cost of ingest at 1M credentials (LevelDB gets took 23-30% of
the ingesting thread's CPU late in ``bench.ingest``); clustered, the last 200k of 1M events
ingest ~12% faster and the whole run ~4% (interleaved runs, bench/results/README.md). Undo
entries of one changed field (above) are new in version 3 too: ~2/3 of the entries, a third less
undo bytes for LevelDB to compact, and 8-17% faster ingest at 1M credentials in interleaved runs.

Version 2 (smaller than 1 by ~3 undo rows and one history row per issued credential):

- an undo entry is written only for a node that existed before the block (and for the root
  always, empty if the tree was empty): a walk of the tree as of an older height only reads
  positions its parents there point at, which existed then, so a node created later is never
  asked for at a height before its creation;
- the journal lists the positions that have undo entries (it is what pruning deletes by);
- history rows leave out the ``credential.issued`` kind: a credential is issued once, first,
  at its status record's ``issued_height``, from which readers put it back; a credential never
  changed after its issue has no history row.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

SCHEMA_VERSION = 4
SCHEMA_VERSION_KEY = b"calpe:schema-version"
"""Outside the versioned prefix, so any version of Calpe can read which layout a database uses."""

PREFIX = bytes((SCHEMA_VERSION,))

META_NETWORK_ID = b"network-id"
META_GENESIS = b"genesis"

_META = PREFIX + b"M"
_AGENCY = PREFIX + b"a"
_HEAD = PREFIX + b"h"
_BLOCK = PREFIX + b"b"
_BLOCK_HASH = PREFIX + b"H"
_STATUS = PREFIX + b"c"
_HISTORY = PREFIX + b"e"
_SCHEMA = PREFIX + b"s"
_ROTATION = PREFIX + b"k"
_LOG = PREFIX + b"l"
_NODE = PREFIX + b"n"
_UNDO = PREFIX + b"u"
_JOURNAL = PREFIX + b"j"
_EQUIVOCATION = PREFIX + b"x"
_FORK = PREFIX + b"f"
_CURSOR = PREFIX + b"C"
_IDEMPOTENCY = PREFIX + b"I"
_CHECKPOINT = PREFIX + b"p"
_HISTORY_FLOOR = PREFIX + b"P"
_GOV_EVENTS = PREFIX + b"g"
_GOVERNANCE = PREFIX + b"G"
_ADMITTED = PREFIX + b"A"
_FORCED_ROTATION = PREFIX + b"K"

DERIVED_TABLES = (
    _HEAD,
    _BLOCK_HASH,
    _STATUS,
    _HISTORY,
    _SCHEMA,
    _ROTATION,
    _LOG,
    _NODE,
    _UNDO,
    _JOURNAL,
    _GOV_EVENTS,
    _HISTORY_FLOOR,
)
"""Tables recomputed from the stored blocks by ``rebuild`` (blocks, meta, proofs are primary)."""

TABLE_NAMES = {
    _META: "meta",
    _AGENCY: "agency",
    _HEAD: "head",
    _BLOCK: "block",
    _BLOCK_HASH: "block_hash",
    _STATUS: "status",
    _HISTORY: "history",
    _SCHEMA: "schema",
    _ROTATION: "key_rotation",
    _LOG: "log_node",
    _NODE: "smt_node",
    _UNDO: "smt_undo",
    _JOURNAL: "smt_journal",
    _EQUIVOCATION: "equivocation",
    _FORK: "fork_block",
    _CURSOR: "cursor",
    _IDEMPOTENCY: "idempotency",
    _CHECKPOINT: "checkpoint",
    _HISTORY_FLOOR: "history_floor",
    _GOV_EVENTS: "governance_events",
    _GOVERNANCE: "governance",
    _ADMITTED: "admitted",
    _FORCED_ROTATION: "forced_rotation",
}

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_NUM_HEIGHT = struct.Struct(">HQ")
HEIGHT_LEN = 8


def u64(value: int) -> bytes:
    return _U64.pack(value)


def read_u64(data: bytes) -> int:
    value: int = _U64.unpack(data)[0]
    return value


def num_bytes(num: int) -> bytes:
    return _U16.pack(num)


def meta(name: bytes) -> bytes:
    return _META + name


def agency_number(agency_id: str) -> bytes:
    return _AGENCY + agency_id.encode()


def agency_numbers() -> bytes:
    """Prefix of every agency-number entry."""
    return _AGENCY


def agency_id_of(key: bytes) -> str:
    return key[len(_AGENCY) :].decode()


def head(num: int) -> bytes:
    return _HEAD + _U16.pack(num)


def block(num: int, height: int) -> bytes:
    return _BLOCK + _NUM_HEIGHT.pack(num, height)


def blocks(num: int) -> bytes:
    return _BLOCK + _U16.pack(num)


def height_of_block_key(key: bytes) -> int:
    return read_u64(key[-HEIGHT_LEN:])


def block_hash(hash_: bytes) -> bytes:
    return _BLOCK_HASH + hash_


def block_location(num: int, height: int) -> bytes:
    """Value of a block-hash entry."""
    return _NUM_HEIGHT.pack(num, height)


def read_block_location(value: bytes) -> tuple[int, int]:
    num, height = _NUM_HEIGHT.unpack(value)
    return int(num), int(height)


def status(num: int, credential_id: bytes) -> bytes:
    return _STATUS + _U16.pack(num) + credential_id


def statuses(num: int) -> bytes:
    return _STATUS + _U16.pack(num)


def credential_id_of_status_key(key: bytes) -> bytes:
    return key[len(_STATUS) + 2 :]


def history(num: int, credential_id: bytes, height: int) -> bytes:
    return _HISTORY + _U16.pack(num) + credential_id + _U64.pack(height)


def histories(num: int, credential_id: bytes | None = None) -> bytes:
    return _HISTORY + _U16.pack(num) + (credential_id or b"")


def schema(num: int, schema_id: bytes) -> bytes:
    return _SCHEMA + _U16.pack(num) + schema_id


def schemas(num: int) -> bytes:
    return _SCHEMA + _U16.pack(num)


def rotation(num: int, height: int) -> bytes:
    return _ROTATION + _NUM_HEIGHT.pack(num, height)


def rotations(num: int) -> bytes:
    return _ROTATION + _U16.pack(num)


def log_node(num: int, level: int, index: int) -> bytes:
    return _LOG + _U16.pack(num) + bytes((level,)) + _U64.pack(index)


def log_nodes(num: int) -> bytes:
    return _LOG + _U16.pack(num)


def smt_node(num: int, position: bytes) -> bytes:
    return _NODE + _U16.pack(num) + position[2:4] + position


def smt_node_rows(num: int, nodes: Mapping[bytes, bytes | None]) -> dict[bytes, bytes | None]:
    """``nodes`` (position -> encoded node) keyed as :func:`smt_node` keys them, in bulk."""
    prefix = _NODE + _U16.pack(num)
    return {prefix + pos[2:4] + pos: encoded for pos, encoded in nodes.items()}


def smt_nodes(num: int) -> bytes:
    return _NODE + _U16.pack(num)


MAX_UNDO_HEIGHT = 2**32 - 1
"""Highest block height an undo key can name (its height is 4 bytes: see version 4 above)."""


def smt_undo(num: int, position: bytes, height: int) -> bytes:
    return smt_undos_of(num, position) + _U32.pack(height)


def smt_undos_of(num: int, position: bytes) -> bytes:
    """Prefix of the undo keys of ``position`` and only of it (positions are prefix-free)."""
    return smt_undos(num) + position


def smt_undo_affixes(num: int, height: int) -> tuple[bytes, bytes]:
    """``(prefix, suffix)`` such that ``prefix + position + suffix == smt_undo(num, position,
    height)``: lets the hot loop build one block's undo keys by concatenation."""
    return smt_undos(num), _U32.pack(height)


def height_of_undo_key(key: bytes) -> int:
    value: int = _U32.unpack(key[-_U32.size :])[0]
    return value


def smt_undos(num: int) -> bytes:
    return _UNDO + _U16.pack(num)


def smt_journal(num: int, height: int) -> bytes:
    return _JOURNAL + _NUM_HEIGHT.pack(num, height)


def smt_journals(num: int) -> bytes:
    return _JOURNAL + _U16.pack(num)


def history_floor(num: int) -> bytes:
    """Key of the height through which ``num``'s undo history was pruned by checkpoints."""
    return _HISTORY_FLOOR + _U16.pack(num)


def equivocation(num: int, height: int) -> bytes:
    return _EQUIVOCATION + _NUM_HEIGHT.pack(num, height)


def equivocations(num: int | None = None) -> bytes:
    return _EQUIVOCATION + (b"" if num is None else _U16.pack(num))


def fork_block(num: int, height: int, hash_: bytes) -> bytes:
    return _FORK + _NUM_HEIGHT.pack(num, height) + hash_


def cursor(name: str) -> bytes:
    return _CURSOR + name.encode()


def idempotency(client_key: bytes) -> bytes:
    return _IDEMPOTENCY + client_key


def checkpoint(epoch: int) -> bytes:
    return _CHECKPOINT + _U64.pack(epoch)


def checkpoints() -> bytes:
    """Prefix of every checkpoint record (they scan in epoch order)."""
    return _CHECKPOINT


def epoch_of_checkpoint_key(key: bytes) -> int:
    return read_u64(key[len(_CHECKPOINT) :])


def governance_events(num: int, height: int) -> bytes:
    return _GOV_EVENTS + _NUM_HEIGHT.pack(num, height)


def governance_events_of(num: int) -> bytes:
    return _GOV_EVENTS + num_bytes(num)


def governance_events_prefix() -> bytes:
    return _GOV_EVENTS


def num_of_governance_key(key: bytes) -> int:
    return int(_U16.unpack_from(key, len(_GOV_EVENTS))[0])


def forced_rotation(num: int, height: int) -> bytes:
    return _FORCED_ROTATION + _NUM_HEIGHT.pack(num, height)


def forced_rotations(num: int) -> bytes:
    return _FORCED_ROTATION + num_bytes(num)


def admitted(agency_id: str) -> bytes:
    return _ADMITTED + agency_id.encode()


def governance(epoch: int) -> bytes:
    return _GOVERNANCE + u64(epoch)


def governances() -> bytes:
    return _GOVERNANCE


def table_of(key: bytes) -> str:
    """Name of the table a key belongs to (for reports and size breakdowns)."""
    if key == SCHEMA_VERSION_KEY:
        return "schema_version"
    return TABLE_NAMES.get(key[:2], "unknown")


def prefix_end(prefix: bytes) -> bytes:
    """Smallest key greater than every key starting with ``prefix`` (exclusive upper bound)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        raise ValueError("a prefix of only 0xff bytes has no upper bound")
    return trimmed[:-1] + bytes((trimmed[-1] + 1,))


# --- snapshot join (node.storage.snapshot_install) ---------------------------------------------
# An agency installed from a snapshot has no blocks up to its base height: the base row holds its
# head there, the entry rows its state then (primary data, like blocks: ``rebuild`` keeps them).
# The block at the base height is kept apart, not as a block row: the stored blocks start after
# the base, and the snapshot manifest of that checkpoint must still carry it.

_SNAPSHOT_BASE = PREFIX + b"B"
_SNAPSHOT_ENTRY = PREFIX + b"R"
_SNAPSHOT_BLOCK = PREFIX + b"Z"
META_SNAPSHOT_JOIN = b"snapshot-join"
TABLE_NAMES[_SNAPSHOT_BASE] = "snapshot_base"
TABLE_NAMES[_SNAPSHOT_ENTRY] = "snapshot_entry"
TABLE_NAMES[_SNAPSHOT_BLOCK] = "snapshot_block"


def snapshot_base(num: int) -> bytes:
    return _SNAPSHOT_BASE + _U16.pack(num)


def snapshot_bases() -> bytes:
    return _SNAPSHOT_BASE


def snapshot_entry(num: int, key: bytes) -> bytes:
    return _SNAPSHOT_ENTRY + _U16.pack(num) + key


def snapshot_entries(num: int | None = None) -> bytes:
    return _SNAPSHOT_ENTRY + (b"" if num is None else _U16.pack(num))


def snapshot_block(num: int) -> bytes:
    return _SNAPSHOT_BLOCK + _U16.pack(num)


def snapshot_blocks() -> bytes:
    return _SNAPSHOT_BLOCK
