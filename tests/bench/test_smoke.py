"""Every benchmark still runs: its smoke size, through `calpe bench NAME --smoke --json --plot`.

These check that the benchmarks work, print JSON and draw their figures (also later, from the
saved JSON, as `calpe bench plot` does), never how fast anything is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.cli import BENCHMARKS
from bench.plots import FIGURES, plot_results
from tests.bench.png import assert_png
from tests.integration.cluster import REPO

pytestmark = [pytest.mark.slow, pytest.mark.integration]

EXPECTED = {
    "resources": [
        "events",
        "events_per_s",
        "rss_mib.max",
        "rss_mib.end",
        "rss_anon_mib.max",
        "rss_file_mib.max",
        "anchoring.anchored",
        "disk.bytes_per_event_end",
        "disk.bytes_per_event_settled",
        "disk.bytes_per_event_compacted",
        "series.rows",
        "targets_met.rss_mib_max",
    ],
    "network": ["latency.samples_ms", "latency.percentiles_ms.p99", "catchup.mode"],
    "proofs": ["smt_proofs_by_size"],
}
"""Fields (dotted paths) a benchmark's document must have: the figures and the report read them."""


def _field(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for key in dotted.split("."):
        value = value[key]
    return value


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_smoke_prints_json(name: str, tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", "bench", name, "--smoke", "--json", "--plot", plots],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert isinstance(report, dict) and report
    for dotted in EXPECTED.get(name, []):
        assert _field(report, dotted), f"{name}: {dotted} missing or empty"
    if name == "resources":  # fed up to its target, and the series ends there
        assert report["events"] == report["sizes"]["events"]
        assert report["series"]["rows"][-1][1] == report["events"]
        split = report["rss_anon_mib"]["end"] + report["rss_file_mib"]["end"]
        assert split <= report["rss_mib"]["end"] + 1  # VmRSS = anon + file (+ shmem)
    expected = {f"{stem}.png" for stem, _ in FIGURES.get(name, ())}
    drawn = {p.name for p in plots.iterdir()} if plots.exists() else set()
    assert drawn == expected
    for png in drawn:
        assert_png(plots / png)
    saved = tmp_path / "results"
    saved.mkdir()
    (saved / f"{name}.json").write_text(done.stdout)
    assert {p.name for p in plot_results(saved, tmp_path / "later")} == expected
