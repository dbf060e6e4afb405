"""``calpe bench``: run the benchmarks under ``bench/`` (each prints JSON) and draw their figures.

    calpe bench [--smoke] [--json] [--plot DIR]             every benchmark but the long ones
    calpe bench NAME [--smoke] [--json] [--plot DIR] [ARGS]  one; ARGS go to ``bench.<module>``
    calpe bench plot [--from DIR] [--out DIR]               figures from saved JSON documents

``--plot DIR`` writes the PNG figures of each benchmark run (``bench.plots``; needs matplotlib,
the ``bench`` extra); ``plot`` draws them later from ``bench/results/NAME.json`` files.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import click

# name -> module with ``main(argv: list[str]) -> int``
BENCHMARKS = {
    "ingest": "bench.ingest",
    "proofs": "bench.proofs",
    "checkpoint": "bench.checkpoint_gas",
    "checkpoint_latency": "bench.checkpoint_latency",
    "network": "bench.network",
    "verify": "bench.verify",
    "resources": "bench.resources",
    "snapshot_join": "bench.snapshot_join",
    "soak": "bench.soak",
    "tui": "bench.tui",
    "fuzz": "bench.fuzz_decoders",
}
ON_REQUEST = {"soak", "fuzz"}
"""Long runs (a 30-minute soak, a million fuzz inputs): run only when named."""
PLOT_COMMAND = "plot"
BENCH_EXTRA_HINT = "figures need matplotlib: pip install 'calpe[bench]' ({})"


class _Tee(io.TextIOBase):
    """Writes through to ``sink`` and keeps a copy (a benchmark's JSON, for its figures)."""

    def __init__(self, sink: TextIO) -> None:
        self._sink = sink
        self._copy = io.StringIO()

    def write(self, text: str) -> int:
        self._copy.write(text)
        return self._sink.write(text)

    def flush(self) -> None:
        self._sink.flush()

    def getvalue(self) -> str:
        return self._copy.getvalue()


def _plots_module() -> Any:
    try:
        return importlib.import_module("bench.plots")
    except ImportError as exc:
        raise click.UsageError(BENCH_EXTRA_HINT.format(exc)) from exc


def _use_source_tree() -> None:
    """The process-level benchmarks drive real nodes with the integration-test harness
    (``tests/integration/cluster.py``): make it importable when run from a source checkout."""
    root = Path(__file__).resolve().parent.parent
    if (root / "tests" / "integration").is_dir() and str(root) not in sys.path:
        sys.path.append(str(root))


def run_benchmark(name: str, argv: list[str], plot_dir: Path | None) -> int:
    """Run benchmark ``name`` with ``argv``; draw its figures into ``plot_dir``; its exit code."""
    plots = _plots_module() if plot_dir is not None else None
    _use_source_tree()
    module = importlib.import_module(BENCHMARKS[name])
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        code: int = module.main(argv)
    if plots is not None and plot_dir is not None and code == 0:
        _draw(plots, name, tee.getvalue(), plot_dir)
    return code


def _draw(plots: Any, name: str, printed: str, plot_dir: Path) -> None:
    try:
        doc = json.loads(printed)
    except json.JSONDecodeError:
        click.echo(f"bench {name}: its output is not one JSON document; no figures", err=True)
        return
    for path in plots.write_figures(name, doc, plot_dir):
        click.echo(f"wrote {path}", err=True)


def _common_argv(smoke: bool, as_json: bool) -> list[str]:
    return (["--smoke"] if smoke else []) + (["--json"] if as_json else [])


def _one_command(name: str) -> click.Command:
    @click.command(
        name,
        context_settings={"ignore_unknown_options": True},
        short_help=f"python -m {BENCHMARKS[name]}",
        help=f"Run {BENCHMARKS[name]}; options other than these go to it "
        f"(python -m {BENCHMARKS[name]} --help).",
    )
    @click.option("--smoke", is_flag=True, help="Tiny sizes: check it runs, not the figure.")
    @click.option("--json", "as_json", is_flag=True, help="Print only JSON.")
    @click.option("--plot", "plot_dir", type=click.Path(path_type=Path), help="Write PNGs here.")
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    @click.pass_context
    def command(
        ctx: click.Context, smoke: bool, as_json: bool, plot_dir: Path | None, args: tuple[str, ...]
    ) -> None:
        group = ctx.parent.params if ctx.parent is not None else {}
        argv = _common_argv(
            smoke or bool(group.get("smoke")), as_json or bool(group.get("as_json"))
        )
        plot_dir = plot_dir or group.get("plot_dir")
        if run_benchmark(name, [*argv, *args], plot_dir) != 0:
            raise SystemExit(1)

    return command


@click.command(PLOT_COMMAND)
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("bench/results"),
    show_default=True,
    help="Directory of NAME.json documents (as scripts/run_benchmarks.sh writes them).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bench/results/plots"),
    show_default=True,
    help="Directory for the PNG figures.",
)
def plot_command(source: Path, out: Path) -> None:
    """Draw the figures of saved benchmark results (no benchmark is run)."""
    written = _plots_module().plot_results(source, out)
    for path in written:
        click.echo(f"wrote {path}", err=True)
    if not written:
        raise click.ClickException(f"no figures: no benchmark document with figures in {source}")


class BenchGroup(click.Group):
    """Subcommands: one per benchmark (built on demand) and ``plot``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*sorted(BENCHMARKS), PLOT_COMMAND]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == PLOT_COMMAND:
            return plot_command
        return _one_command(cmd_name) if cmd_name in BENCHMARKS else None


@click.group(cls=BenchGroup, invoke_without_command=True)
@click.option(
    "--smoke", is_flag=True, help="Tiny sizes: check the benchmarks run, not the figures."
)
@click.option("--json", "as_json", is_flag=True, help="Print only JSON.")
@click.option(
    "--plot", "plot_dir", type=click.Path(path_type=Path), help="Write the PNG figures here."
)
@click.pass_context
def bench(ctx: click.Context, smoke: bool, as_json: bool, plot_dir: Path | None) -> None:
    """Run one benchmark, or all of them (except the soak and the fuzzer, run by name).

    \b
    calpe bench [--smoke] [--json] [--plot DIR]
    calpe bench NAME [--smoke] [--json] [--plot DIR] [BENCHMARK OPTIONS]
    calpe bench plot [--from bench/results] [--out bench/results/plots]
    """
    if ctx.invoked_subcommand is not None:
        return
    failed = 0
    for name in sorted(set(BENCHMARKS) - ON_REQUEST):
        failed += int(run_benchmark(name, _common_argv(smoke, as_json), plot_dir) != 0)
    if failed:
        raise SystemExit(1)
