"""LevelDB reads its table files instead of memory-mapping them, or says why it cannot.

Each check runs in a fresh interpreter: LevelDB fixes its mmap limit when the process opens its
first database, so only a process that has not opened one yet shows the effect.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from node.storage import table_reads

_FILL_AND_READ = """
import json, sys
from pathlib import Path
import plyvel
from node.storage.database import open_leveldb
from node.storage.table_reads import read_tables_without_mmap
path = Path(sys.argv[1])
db = open_leveldb(path) if sys.argv[2] == "calpe" else plyvel.DB(str(path), create_if_missing=True)
for i in range(200_000):
    db.put(i.to_bytes(8, "big"), bytes(100))
db.compact_range()
values = [db.get(i.to_bytes(8, "big")) for i in range(0, 200_000, 997)]
tables = sum(1 for line in open("/proc/self/maps") if line.rstrip().endswith(".ldb"))
print(json.dumps({
    "tables_mapped": tables,
    "values_ok": all(v == bytes(100) for v in values),
    "limit_is_zero": read_tables_without_mmap() if sys.argv[2] == "calpe" else None,
}))
"""


def _run(tmp_path: Path, opener: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _FILL_AND_READ, str(tmp_path / opener), opener],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
def test_calpe_reads_tables_without_mapping_them(tmp_path: Path) -> None:
    plain = _run(tmp_path, "plyvel")
    assert plain["tables_mapped"], (
        "LevelDB's default maps its tables (else this test shows nothing)"
    )
    calpe = _run(tmp_path, "calpe")
    assert calpe == {"tables_mapped": 0, "values_ok": True, "limit_is_zero": True}


def test_no_leveldb_found_leaves_it_as_it_is(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(table_reads, "_mappings", lambda: [])
    table_reads.read_tables_without_mmap.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger="node.storage.table_reads"):
            assert table_reads.read_tables_without_mmap() is False
    finally:
        table_reads.read_tables_without_mmap.cache_clear()
    assert "keeps memory-mapping its table files" in caplog.text


def test_a_file_that_is_not_elf_has_no_symbol(tmp_path: Path) -> None:
    not_elf = tmp_path / "libleveldb.so"
    not_elf.write_bytes(b"#!/bin/sh\n" + bytes(200))
    assert table_reads._symbol_offset(str(not_elf)) is None


def test_a_library_without_the_symbol_has_none() -> None:
    assert table_reads._symbol_offset(sys.executable) is None
