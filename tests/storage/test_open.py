"""Opening refuses another network, a newer layout, a foreign database, and a second process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import plyvel
import pytest

from node.core.errors import StorageError
from node.storage import LedgerStore, schema
from tests.factories import TestNetwork, make_network


def test_other_network_is_refused(tmp_path: Path, net: TestNetwork) -> None:
    LedgerStore.open(tmp_path / "db", net.genesis).close()
    other = make_network(2, name="calpe-other")
    with pytest.raises(StorageError, match="belongs to another network"):
        LedgerStore.open(tmp_path / "db", other.genesis)


def test_newer_schema_is_refused(tmp_path: Path, net: TestNetwork) -> None:
    LedgerStore.open(tmp_path / "db", net.genesis).close()
    db = plyvel.DB(str(tmp_path / "db"))
    db.put(schema.SCHEMA_VERSION_KEY, (schema.SCHEMA_VERSION + 1).to_bytes(4, "big"))
    db.close()
    with pytest.raises(StorageError, match=r"newer than this Calpe supports.*upgrade Calpe"):
        LedgerStore.open(tmp_path / "db", net.genesis)


def test_foreign_leveldb_is_refused(tmp_path: Path, net: TestNetwork) -> None:
    db = plyvel.DB(str(tmp_path / "db"), create_if_missing=True)
    db.put(b"something", b"else")
    db.close()
    with pytest.raises(StorageError, match="not a Calpe ledger"):
        LedgerStore.open(tmp_path / "db", net.genesis)


def test_second_opener_in_process_is_refused(tmp_path: Path, net: TestNetwork) -> None:
    with (
        LedgerStore.open(tmp_path / "db", net.genesis),
        pytest.raises(StorageError, match="another Calpe node is using"),
    ):
        LedgerStore.open(tmp_path / "db", net.genesis)


@pytest.mark.integration
def test_second_process_is_refused(tmp_path: Path, net: TestNetwork) -> None:
    path = tmp_path / "db"
    with LedgerStore.open(path, net.genesis):
        code = (
            "import sys\n"
            "from node.core.errors import StorageError\n"
            "from node.storage.database import open_leveldb\n"
            "from pathlib import Path\n"
            "try:\n"
            "    open_leveldb(Path(sys.argv[1]))\n"
            "except StorageError as exc:\n"
            "    print(exc)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        )
    assert f"another Calpe node is using {path}" in done.stdout


def test_reopen_keeps_the_network(tmp_path: Path, net: TestNetwork) -> None:
    LedgerStore.open(tmp_path / "db", net.genesis).close()
    with LedgerStore.open(tmp_path / "db", net.genesis) as store:
        assert store.network_id == net.network_id
