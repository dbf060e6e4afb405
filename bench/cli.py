"""``calpe bench [NAME]``: run the benchmarks under ``bench/``; each prints JSON."""

from __future__ import annotations

import importlib

import click

# name -> module with ``main(argv: list[str]) -> int``
BENCHMARKS = {
    "ingest": "bench.ingest",
    "proofs": "bench.proofs",
    "checkpoint": "bench.checkpoint_gas",
    "checkpoint_latency": "bench.checkpoint_latency",
    "network": "bench.network",
    "verify": "bench.verify",
    "soak": "bench.soak",
    "tui": "bench.tui",
    "fuzz": "bench.fuzz_decoders",
}
ON_REQUEST = {"soak", "fuzz"}
"""Long runs (a 30-minute soak, a million fuzz inputs): run only when named."""


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("name", required=False, type=click.Choice(sorted(BENCHMARKS)))
@click.option("--smoke", is_flag=True, help="Tiny sizes: check the benchmark runs, not the figure.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON.")
def bench(name: str | None, smoke: bool, as_json: bool) -> None:
    """Run one benchmark, or all of them (except the soak and the fuzzer, run by name)."""
    argv = (["--smoke"] if smoke else []) + (["--json"] if as_json else [])
    failed = 0
    for bench_name in [name] if name else sorted(set(BENCHMARKS) - ON_REQUEST):
        module = importlib.import_module(BENCHMARKS[bench_name])
        failed += int(module.main(argv) != 0)
    if failed:
        raise SystemExit(1)
