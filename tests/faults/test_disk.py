"""Disk faults under a real node: a full disk, a read-only data directory, corrupted LevelDB files.

The full disk and the read-only directory are real: the data directory is a small tmpfs mounted
for the test (root only; skipped where ``mount`` is refused), filled with a ballast file or
remounted read-only. Corruption flips bytes in LevelDB's own files. In every case the node or the
``calpe db`` tools must say what is wrong and what to do, and once the fault is gone the
database verifies and holds every credential that was acknowledged.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import plyvel
import pytest

from tests.faults.load import post_json
from tests.faults.nodes import calpe, db_verify, log_tail, missing_credentials, run_node_until_exit
from tests.integration.cluster import Cluster, NodeProcess, cid_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXIT_STORAGE = 4
ADVICE = ("calpe db rebuild", "backup", "re-sync")


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Two agencies (a quorum needs two); only node 0 runs in these tests."""
    cluster = Cluster(tmp_path, 2)
    yield cluster
    for node in cluster.nodes:
        if node.running:
            node.kill()
    cluster.stop()


@pytest.fixture
def tmpfs_data(cluster: Cluster) -> Iterator[Path]:
    """Node 0's data directory on a 16 MiB tmpfs of its own."""
    data = cluster[0].config.parent / "data"
    data.mkdir(exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(data))
    except (subprocess.CalledProcessError, FileNotFoundError, PermissionError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {exc}")
    yield data
    if cluster[0].running:
        cluster[0].kill()
    subprocess.run(["umount", "-l", str(data)], check=False, capture_output=True, timeout=30)


def _issue(node: NodeProcess, schema_id: str, label: str) -> tuple[str, int]:
    """Issue one credential; its id and the HTTP status (0 if there was no answer)."""
    cid = cid_for(label)
    body = {
        "request_id": str(uuid.uuid4()),
        "credential_id": cid,
        "schema_id": schema_id,
        "valid_from_s": 1_700_000_000,
        "valid_until_s": 2_000_000_000,
    }
    try:
        return cid, post_json(node, "/v1/credentials/issue", body)
    except OSError:
        return cid, 0


def _wait_exit(node: NodeProcess, timeout: float) -> int:
    assert node.process is not None
    process, node.process = node.process, None
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"the node kept running:\n{log_tail(node)}") from None


def _flip(path: Path, offsets: list[int]) -> None:
    data = bytearray(path.read_bytes())
    for offset in offsets:
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_full_disk_stops_the_node_and_loses_nothing_acknowledged(
    cluster: Cluster, tmpfs_data: Path
) -> None:
    node = cluster[0]
    node.start()
    schema = node.publish_schema()
    stat = os.statvfs(tmpfs_data)
    ballast = tmpfs_data / "ballast"
    ballast.write_bytes(bytes(stat.f_bavail * stat.f_frsize - 96 * 1024))
    acked = []
    for i in range(5_000):
        cid, status = _issue(node, schema, f"full/{i}")
        if status != 200:
            break
        acked.append(cid)
    else:
        pytest.fail("the disk never filled up")

    code = _wait_exit(node, 60)
    log = log_tail(node, 20_000)
    assert code == EXIT_STORAGE, log
    assert "No space left on device" in log and "free space" in log, log

    ballast.unlink()
    db_verify(node.config)
    node.start()
    assert not missing_credentials(node, node.agency_id, acked)
    for i in range(3):  # writable again, and acknowledged writes now last
        cid, status = _issue(node, schema, f"full/after/{i}")
        assert status == 200
        acked.append(cid)
    assert node.stop() == 0
    db_verify(node.config)
    node.start()
    assert not missing_credentials(node, node.agency_id, acked)


def test_read_only_data_directory_is_refused_with_a_clear_error(
    cluster: Cluster, tmpfs_data: Path
) -> None:
    node = cluster[0]
    node.start()
    schema = node.publish_schema()
    acked = [cid_for(f"ro/{i}") for i in range(5)]
    for cid in acked:
        node.issue(cid, schema)  # asserts HTTP 200
    assert node.stop() == 0
    _mount("-o", "remount,ro", str(tmpfs_data))

    done = run_node_until_exit(node, 60)
    assert done.returncode == EXIT_STORAGE, done.stderr[-3000:]
    assert "Read-only file system" in done.stderr, done.stderr[-3000:]
    assert "another Calpe node" not in done.stderr  # not mistaken for a held lock
    assert "Traceback" not in done.stderr, done.stderr[-3000:]

    _mount("-o", "remount,rw", str(tmpfs_data))
    db_verify(node.config)
    node.start()
    assert not missing_credentials(node, node.agency_id, acked)


def test_corrupt_table_file_is_reported_with_what_to_do(cluster: Cluster) -> None:
    cluster.prefill(0, 3_000)
    data = cluster[0].config.parent / "data"
    db = plyvel.DB(str(data))
    db.compact_range()  # move everything from the log into an .ldb table
    db.close()
    (table,) = [p for p in data.iterdir() if p.suffix == ".ldb"]
    size = table.stat().st_size
    _flip(table, [100, 5_000, size // 2])

    done = calpe("db", "verify", "--config", str(cluster[0].config))
    assert done.returncode != 0, done.stdout
    message = done.stdout + done.stderr
    assert "corrupt" in message or "does not match" in message, message
    assert all(advice in message for advice in ADVICE), message
    assert "Traceback" not in message, message


def test_corrupt_log_file_is_found_by_verify_and_not_papered_over_by_rebuild(
    cluster: Cluster,
) -> None:
    cluster.prefill(0, 3_000)
    data = cluster[0].config.parent / "data"
    (log,) = [p for p in data.iterdir() if p.suffix == ".log"]
    size = log.stat().st_size
    _flip(log, [size // 3, size // 2, 2 * size // 3])

    done = calpe("db", "verify", "--config", str(cluster[0].config))
    assert done.returncode != 0, done.stdout
    assert all(advice in done.stderr for advice in ADVICE), done.stderr
    # The flips destroyed stored blocks (primary data): rebuild cannot invent them, says so and
    # points to the backup or a re-sync rather than reporting a repaired database.
    rebuilt = calpe("db", "rebuild", "--config", str(cluster[0].config))
    assert rebuilt.returncode != 0, rebuilt.stdout
    assert "stored block" in rebuilt.stdout, rebuilt.stdout
    assert all(advice in rebuilt.stderr for advice in ADVICE), rebuilt.stderr
