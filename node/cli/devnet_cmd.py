"""``calpe devnet``: the main job — a local three-agency devnet with the console."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("devnet")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".devnet"),
    show_default=True,
    help="Where the throwaway devnet lives (recreated on each run).",
)
@click.option("--no-tui", is_flag=True, help="Run headless until Ctrl-C instead of the console.")
@click.option("--no-traffic", is_flag=True, help="Do not generate demo credentials.")
@click.option("--checkpoint-interval", type=int, default=10, show_default=True)
def devnet(directory: Path, no_tui: bool, no_traffic: bool, checkpoint_interval: int) -> None:
    """Run three agencies on loopback, anchored to an embedded chain, with the console."""
    from node.devnet_run import run_devnet

    run_devnet(
        directory.resolve(),
        tui=not no_tui,
        traffic=not no_traffic,
        interval=checkpoint_interval,
    )
