"""Every benchmark still runs: its smoke size, through `calpe bench NAME --smoke --json`.

These check that the benchmarks work and print JSON, never how fast anything is."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.cli import BENCHMARKS
from tests.integration.cluster import REPO

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_smoke_prints_json(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", "bench", name, "--smoke", "--json"],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert isinstance(report, dict) and report
