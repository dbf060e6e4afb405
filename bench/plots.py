"""Figures (PNG) from the benchmarks' JSON documents.

One small function per figure; each takes one benchmark's JSON document (as printed by
``calpe bench NAME --json``, or saved in ``bench/results/NAME.json``) and returns a matplotlib
:class:`~matplotlib.figure.Figure`, or ``None`` when the document lacks what the figure needs (an
older run, say). :data:`FIGURES` maps a benchmark name to its figures; :func:`write_figures` and
:func:`plot_results` write them. Needs matplotlib (``pip install 'calpe[bench]'``); Agg backend,
no display, no pyplot global state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

logger = logging.getLogger(__name__)

Doc = dict[str, Any]
FigureFn = Callable[[Doc], Figure | None]

TARGET_STYLE: dict[str, Any] = {"color": "black", "linestyle": "--", "linewidth": 1}
DPI = 110


# ------------------------------------------------------------------------------ helpers
def _figure(panels: int, title: str) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(5.2 * panels, 4.0), layout="constrained")
    axes = [figure.add_subplot(1, panels, i + 1) for i in range(panels)]
    figure.suptitle(title)
    return figure, axes


def _target(ax: Axes, value: float | None, label: str) -> None:
    if value is not None:
        ax.axhline(value, label=label, **TARGET_STYLE)


def _by_events(ax: Axes, xlabel: str = "credential events in the ledger") -> None:
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.grid(True, which="both", alpha=0.3)


def _compact(n: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:g}{unit}"
    return f"{n:g}"


# ------------------------------------------------------------------------------ ingest
def ingest_cost(doc: Doc) -> Figure | None:
    """Events/s and disk bytes per event against the ledger's size (10k, 100k, 1M marks)."""
    marks = doc.get("marks") or []
    if not marks:
        return None
    targets = doc.get("targets", {})
    events = [m["events"] for m in marks]
    figure, (rate, disk) = _figure(2, "Ingest cost vs ledger size (LedgerStore.ingest)")
    rate.plot(events, [m["events_per_s"] for m in marks], marker="o", label="events/s (0 → n)")
    _target(rate, targets.get("events_per_s"), "target")
    rate.set_ylabel("events per second")
    rate.set_ylim(bottom=0)
    disk.plot(
        events, [m["disk_bytes_per_event"] for m in marks], marker="o", label="no checkpoints"
    )
    pruned = (doc.get("checkpoint_pruning") or {}).get("marks") or []
    if pruned:  # the history below each anchored cut pruned, as a running node does
        disk.plot(
            [m["events"] for m in pruned],
            [m["disk_bytes_per_event"] for m in pruned],
            marker="s",
            label="checkpoints pruning history",
        )
    _target(disk, targets.get("disk_bytes_per_event"), "target")
    disk.set_ylabel("disk bytes per event")
    disk.set_ylim(bottom=0)
    for ax in (rate, disk):
        _by_events(ax)
        ax.legend()
    return figure


def ingest_disk_tables(doc: Doc) -> Figure | None:
    """Disk bytes per event, stacked by table, at each mark: where the bytes go."""
    marks = [m for m in doc.get("marks") or [] if m.get("table_bytes_per_event")]
    if not marks:
        return None
    tables = sorted({t for m in marks for t in m["table_bytes_per_event"]})
    big = [t for t in tables if max(m["table_bytes_per_event"].get(t, 0) for m in marks) >= 5]
    labels = [_compact(m["events"]) for m in marks]
    figure, (ax,) = _figure(1, "Ingest: disk bytes per event by table")
    figure.set_figwidth(7.0)
    bottom = [0.0] * len(marks)
    for table in [*big, "other"]:
        if table == "other":
            values = [
                sum(v for t, v in m["table_bytes_per_event"].items() if t not in big) for m in marks
            ]
        else:
            values = [m["table_bytes_per_event"].get(table, 0.0) for m in marks]
        ax.bar(labels, values, bottom=bottom, label=table)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _target(ax, doc.get("targets", {}).get("disk_bytes_per_event"), "target")
    ax.set_xlabel("credential events in the ledger")
    ax.set_ylabel("bytes per event (approximate, by key range)")
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure


# ------------------------------------------------------------------------------ proofs
def proofs_vs_size(doc: Doc) -> Figure | None:
    """Sparse-Merkle proof time and size against the number of keys."""
    rows = doc.get("smt_proofs_by_size") or []
    if not rows:
        return None
    keys = [r["keys"] for r in rows]
    figure, (time_ax, size_ax) = _figure(2, "Sparse-Merkle proofs vs ledger size")
    time_ax.plot(keys, [r["prove_us"] for r in rows], marker="o", label="prove")
    time_ax.plot(keys, [r["decode_and_verify_us"] for r in rows], marker="o", label="verify")
    time_ax.set_ylabel("microseconds per proof")
    size_ax.plot(keys, [r["membership_bytes_mean"] for r in rows], marker="o", label="membership")
    size_ax.plot(
        keys, [r["non_membership_bytes_mean"] for r in rows], marker="o", label="non-membership"
    )
    size_ax.set_ylabel("bytes per proof (mean)")
    for ax in (time_ax, size_ax):
        _by_events(ax, "keys in the tree (credentials)")
        ax.set_ylim(bottom=0)
        ax.legend()
    return figure


# ----------------------------------------------------------------------------- network
def network_latency(doc: Doc) -> Figure | None:
    """Distribution of issue → committed-at-every-node latencies: histogram and CDF."""
    latency = doc.get("latency", {})
    samples = sorted(latency.get("samples_ms") or [])
    if not samples:
        return None
    targets = doc.get("targets", {})
    nodes = doc.get("sizes", {}).get("nodes", "?")
    figure, (hist, cdf) = _figure(2, f"Issue → committed at all {nodes} nodes")
    hist.hist(samples, bins=min(40, max(5, len(samples) // 3)))
    hist.set_xlabel("latency (ms)")
    hist.set_ylabel("issues")
    hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    fractions = [(i + 1) / len(samples) for i in range(len(samples))]
    cdf.step(samples, fractions, where="post", label=f"{len(samples)} samples")
    for key, label, style in (("latency_p50_ms", "p50", "--"), ("latency_p99_ms", "p99", ":")):
        if key in targets:
            target = {**TARGET_STYLE, "linestyle": style}
            cdf.axvline(targets[key], label=f"{label} target ({targets[key]:g} ms)", **target)
    cdf.set_xlabel("latency (ms)")
    cdf.set_ylabel("fraction of issues")
    cdf.set_ylim(0, 1.02)
    cdf.legend()
    for ax in (hist, cdf):
        ax.grid(True, alpha=0.3)
    return figure


# -------------------------------------------------------------------------- checkpoint
def checkpoint_gas(doc: Doc) -> Figure | None:
    """Gas per checkpoint by quorum, and gas per covered event against events covered.

    The contract stores only the checkpoint root, so its gas does not depend on how many events
    the checkpoint covers: the right panel is derived (steady 3-of-5 gas / events), not measured.
    """
    by_k = doc.get("submit_k_of_7") or {}
    steady = doc.get("submit_3_of_5", {}).get("steady_median")
    if not by_k or steady is None:
        return None
    figure, (quorum, per_event) = _figure(2, "submitCheckpoint gas (anvil, Cancun schedule)")
    labels = [k.replace("_", " ") for k in by_k]
    bars = quorum.bar(labels, [v["steady_median"] for v in by_k.values()])
    quorum.bar_label(bars, fmt="{:,.0f}", fontsize="small")
    quorum.set_ylabel("gas per checkpoint (steady median)")
    quorum.set_xlabel("signatures checked (k of 7)")
    covered = [10.0**e for e in range(2, 8)]
    per_event.plot(
        covered, [steady / n for n in covered], marker="o", label="3 of 5: gas / events (derived)"
    )
    per_event.set_yscale("log")
    per_event.set_ylabel("gas per covered event")
    _by_events(per_event, "events covered by one checkpoint")
    per_event.legend()
    return figure


# --------------------------------------------------------------------------- resources
def resources(doc: Doc) -> Figure | None:
    """One node's RSS and disk bytes per event as its ledger grows."""
    series = doc.get("series", {})
    columns: Sequence[str] = series.get("columns", [])
    rows = [r for r in series.get("rows", []) if r[columns.index("events")] > 0] if columns else []
    if not rows:
        return None
    col = {name: i for i, name in enumerate(columns)}
    events = [r[col["events"]] for r in rows]
    targets = doc.get("targets", {})
    figure, (rss, disk) = _figure(2, "One node: memory and disk vs ledger size")
    rss.plot(events, [r[col["rss_mib"]] for r in rows], label="RSS")
    for name, label in (("anon_mib", "anonymous"), ("file_mib", "mapped files (page cache)")):
        if name in col:  # older documents lack the split
            rss.plot(events, [r[col[name]] for r in rows], linestyle="--", label=label)
    _target(rss, targets.get("rss_mib_max"), "target")
    rss.set_ylabel("resident memory (MiB)")
    per_event = [r[col["disk_bytes"]] / r[col["events"]] for r in rows]
    disk.plot(events, per_event, label="as LevelDB left it")
    compacted = doc.get("disk", {}).get("bytes_per_event_compacted")
    if compacted is not None:
        disk.plot([events[-1]], [compacted], "o", label="after full compaction")
    _target(disk, targets.get("disk_bytes_per_event"), "target")
    disk.set_ylabel("disk bytes per event")
    for ax in (rss, disk):
        ax.set_xlabel("credential events issued")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend()
    return figure


def soak_rss(doc: Doc) -> Figure | None:
    """Each node's RSS and open descriptors over the soak."""
    series = doc.get("series", {})
    nodes = {k: v for k, v in series.items() if k != "columns" and v}
    if not nodes:
        return None
    figure, (rss, fds) = _figure(2, f"Soak: {doc.get('duration_s', '?')} s of steady issuing")
    for agency, points in sorted(nodes.items()):
        minutes = [p[0] / 60 for p in points]
        rss.plot(minutes, [p[1] for p in points], label=agency)
        fds.plot(minutes, [p[2] for p in points], label=agency)
    rss.set_ylabel("resident memory (MiB)")
    fds.set_ylabel("open file descriptors")
    for ax in (rss, fds):
        ax.set_xlabel("minutes")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    return figure


FIGURES: dict[str, tuple[tuple[str, FigureFn], ...]] = {
    "ingest": (("ingest_cost", ingest_cost), ("ingest_disk_tables", ingest_disk_tables)),
    "proofs": (("proofs_vs_size", proofs_vs_size),),
    "network": (("network_latency", network_latency),),
    "checkpoint": (("checkpoint_gas", checkpoint_gas),),
    "resources": (("resources", resources),),
    "soak": (("soak_rss", soak_rss),),
}
"""Benchmark name (as in ``calpe bench NAME``) -> its figures, each ``(file stem, function)``."""


# ------------------------------------------------------------------------------ writing
def write_figures(name: str, doc: Doc, out: Path) -> list[Path]:
    """Write benchmark ``name``'s figures drawn from ``doc`` as ``out/<figure>.png``."""
    written = []
    for stem, draw in FIGURES.get(name, ()):
        figure = draw(doc)
        if figure is None:
            logger.warning("figure=%s skipped: the %s document lacks its data", stem, name)
            continue
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{stem}.png"
        figure.savefig(path, dpi=DPI)
        written.append(path)
    return written


def plot_results(source: Path, out: Path) -> list[Path]:
    """Figures of every ``source/NAME.json`` whose NAME has figures (e.g. ``bench/results``)."""
    written = []
    for path in sorted(source.glob("*.json")):
        if path.stem in FIGURES:
            written += write_figures(path.stem, json.loads(path.read_text()), out)
    return written
