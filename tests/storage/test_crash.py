"""Crash safety: SIGKILL a writer at random moments; nothing acknowledged may be lost."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from node.storage import LedgerStore
from node.storage.integrity import verify
from tests.storage.crash_worker import AGENCY, crash_genesis

ROOT = Path(__file__).resolve().parents[2]
KILLS = 22


def _run_until_killed(path: Path, acks_wanted: int) -> int:
    """Start the worker, wait for ``acks_wanted`` acknowledged heights, SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.crash_worker", str(path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked = 0
    try:
        assert proc.stdout is not None
        for _ in range(acks_wanted):
            line = proc.stdout.readline()
            if not line:
                assert proc.stderr is not None
                pytest.fail(f"worker died on its own: {proc.stderr.read()[-2000:]}")
            acked = max(acked, int(line))
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    return acked


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.timeout(120)
def test_sigkill_loses_no_acknowledged_block(tmp_path: Path) -> None:
    rng = random.Random()
    path = tmp_path / "db"
    acknowledged = 0
    for _ in range(KILLS):
        # 0 acks kills it while it opens the store; more kills it in the middle of a block
        acknowledged = max(acknowledged, _run_until_killed(path, rng.randint(0, 4)))
    with LedgerStore.open(path, crash_genesis(), retention=5) as store:
        head = store.head(AGENCY)
        assert head.height >= acknowledged > 0
        for height in range(1, acknowledged + 1):
            assert store.block(AGENCY, height) is not None
        report = verify(store)
        assert report.ok, report.mismatches
