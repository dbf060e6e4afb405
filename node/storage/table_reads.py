"""Having LevelDB read its table files rather than memory-map them, so a node's RSS is its own.

LevelDB (1.22, as plyvel's wheels bundle it, and 1.23) memory-maps up to 1,000 open table files
and reads the rest with ``pread``. Every page of a mapped table that a read touched then counts in
the node's resident set, although it is page cache the kernel can drop: ~300 MiB of the RSS of a
node holding 1M events (``bench.resources``). LevelDB lets only its own tests change that limit
(``EnvPosixTestHelper::SetReadOnlyMMapLimit``, which its library does not export), so this sets
the variable that helper sets, ``leveldb::g_mmap_limit``, found by name in the symbol table of the
library loaded in this process, before the first database opens. Table reads then go through
``pread`` and LevelDB's block cache; ``bench.ingest`` measured no difference in events/s.

Anything unexpected (no ``/proc``, a LevelDB without a symbol table, a variable outside the
library's writable data or not holding LevelDB's default) leaves LevelDB as it is: the node works
the same, with the mapped pages in its RSS, and says so in its log.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import plyvel

logger = logging.getLogger(__name__)

MMAP_LIMIT_SYMBOL = "_ZN7leveldb12_GLOBAL__N_112g_mmap_limitE"
"""``leveldb::(anonymous namespace)::g_mmap_limit`` in ``util/env_posix.cc``."""
_SYMBOL = MMAP_LIMIT_SYMBOL.encode()
_PT_LOAD = 1
_SHT_SYMTAB = 2
_SYMBOL_LEN = 24
LEVELDB_DEFAULT_MMAP_LIMIT = 1000
"""``kDefaultMmapLimit`` on 64-bit systems: any other value means a LevelDB we do not know."""


@dataclass(frozen=True)
class _Mapping:
    start: int
    end: int
    writable: bool
    offset: int
    path: str


def _mappings() -> list[_Mapping]:
    found = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6:
            continue  # anonymous memory
        start, end = (int(bound, 16) for bound in fields[0].split("-"))
        found.append(_Mapping(start, end, fields[1][1] == "w", int(fields[2], 16), fields[5]))
    return found


def _symbol_offset(library: str) -> int | None:
    """Offset from the library's load address of the mmap limit, from its ``.symtab``.

    Read by hand (ELF64, little-endian: the only layout plyvel's wheels ship for Linux) because
    a general ELF reader (pyelftools) costs the node 4.5 MiB of resident memory for one lookup.
    """
    data = Path(library).read_bytes()
    if data[:6] != b"\x7fELF\x02\x01":
        return None
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    segments = [struct.unpack_from("<IIQQ", data, phoff + i * phentsize) for i in range(phnum)]
    first_load = next(s for s in segments if s[0] == _PT_LOAD)  # type, flags, offset, vaddr
    if first_load[2] != 0:
        return None
    sections = [struct.unpack_from("<IIQQQQI", data, shoff + i * shentsize) for i in range(shnum)]
    for _, kind, _, _, offset, size, link in sections:
        if kind != _SHT_SYMTAB:
            continue
        names_offset = sections[link][4]
        for entry in range(offset, offset + size, _SYMBOL_LEN):
            name, _, _, _, value, length = struct.unpack_from("<IBBHQQ", data, entry)
            if length == 4 and data.startswith(_SYMBOL + b"\0", names_offset + name):
                found: int = value - first_load[3]
                return found
    return None


def _limit_variable() -> ctypes.c_int | None:
    """The loaded LevelDB's ``g_mmap_limit``, checked to lie in that library's writable data."""
    mappings = _mappings()
    names = {m.path: Path(m.path).name for m in mappings}
    libraries = [p for p, n in names.items() if "leveldb" in n or n.startswith("_plyvel")]
    for library in sorted(libraries):
        offset = _symbol_offset(library)
        if offset is None:
            continue
        mine = [m for m in mappings if m.path == library]
        base = next((m.start for m in mine if m.offset == 0), None)
        if base is None:
            continue
        address = base + offset
        if any(m.writable and m.start <= address < m.end - 3 for m in mine):
            return ctypes.c_int.from_address(address)
    return None


@functools.cache
def read_tables_without_mmap() -> bool:
    """Set LevelDB's table mmap limit to 0 (once, before the first open); whether it is now 0."""
    try:
        limit = _limit_variable()
    except (OSError, ValueError, IndexError, StopIteration, struct.error) as exc:
        logger.info("LevelDB keeps memory-mapping its table files (%s)", exc)
        return False
    if limit is None or limit.value not in (LEVELDB_DEFAULT_MMAP_LIMIT, 0):
        logger.info(
            "LevelDB keeps memory-mapping its table files: plyvel %s's LevelDB has no mmap "
            "limit this node knows; the pages it reads count in the node's RSS",
            plyvel.__version__,
        )
        return False
    limit.value = 0
    return True
