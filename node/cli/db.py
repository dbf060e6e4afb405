"""``calpe db``: check and repair a node's database offline (the node must be stopped)."""

from __future__ import annotations

from pathlib import Path

import click
import plyvel

from node.cli.common import EXIT_PROBLEM, print_json
from node.config import load_config
from node.storage import integrity
from node.storage.database import REPAIR_ADVICE, corruption_error
from node.storage.store import LedgerStore

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The node's config file.",
)


@click.group()
def db() -> None:
    """Verify or rebuild the ledger database."""


def _progress(label: str) -> integrity.Progress:
    def report(agency_id: str, done: int, total: int) -> None:
        click.echo(f"\r{label} {agency_id}: {done}/{total} blocks", nl=False, err=True)
        if done == total:
            click.echo("", err=True)

    return report


@db.command("verify")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def db_verify(config_path: Path, as_json: bool) -> None:
    """Recompute every chain, log and state root from the stored blocks; report mismatches."""
    config = load_config(config_path)
    with LedgerStore.open(config.node.data_dir, config.load_genesis()) as store:
        try:
            report = integrity.verify(store, progress=None if as_json else _progress("verify"))
        except plyvel.CorruptionError as exc:
            raise corruption_error(store.path, exc) from exc
    if as_json:
        print_json(report.to_json())
    else:
        click.echo(report.summary())
    if not report.ok:
        click.echo(f"The database does not match its blocks: {REPAIR_ADVICE}.", err=True)
        raise SystemExit(EXIT_PROBLEM)


@db.command("rebuild")
@config_option
def db_rebuild(config_path: Path) -> None:
    """Drop and rebuild all derived data (indexes, state, logs, heads) from the stored blocks."""
    config = load_config(config_path)
    with LedgerStore.open(config.node.data_dir, config.load_genesis()) as store:
        try:
            integrity.rebuild(store, progress=_progress("rebuild"))
            report = integrity.verify(store)
        except plyvel.CorruptionError as exc:
            raise corruption_error(store.path, exc) from exc
    click.echo(report.summary())
    if not report.ok:
        click.echo(f"Rebuilding could not make the database whole: {REPAIR_ADVICE}.", err=True)
        raise SystemExit(EXIT_PROBLEM)
