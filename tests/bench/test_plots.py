"""``bench.plots``: figures from the committed benchmark results, and documents without data."""

from __future__ import annotations

import json
from pathlib import Path

from bench.plots import FIGURES, plot_results, write_figures
from tests.bench.png import assert_png
from tests.integration.cluster import REPO

RESULTS = REPO / "bench" / "results"


def test_committed_results_plot_to_valid_pngs(tmp_path: Path) -> None:
    written = plot_results(RESULTS, tmp_path)
    assert {p.name for p in written} >= {f"{stem}.png" for stem, _ in FIGURES["ingest"]}
    for path in written:
        assert path.parent == tmp_path
        assert_png(path)


def test_a_document_without_the_data_draws_nothing(tmp_path: Path) -> None:
    older_network_run = {"latency": {"samples": 100, "p50_ms": 233.2, "p99_ms": 245.5}}
    assert write_figures("network", older_network_run, tmp_path) == []
    assert write_figures("verify", {"anything": 1}, tmp_path) == []
    assert not list(tmp_path.iterdir())


def test_plot_results_reads_only_benchmarks_with_figures(tmp_path: Path) -> None:
    source = tmp_path / "results"
    source.mkdir()
    (source / "machine.json").write_text(json.dumps({"cpu": "x", "cores": 2}))
    assert plot_results(source, tmp_path / "plots") == []
