"""``calpe node run``: run this agency's node in the foreground (systemd runs it as a service)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from node.config import load_config


@click.group("node")
def node_group() -> None:
    """Run the ledger node."""


@node_group.command("run")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The node's config file (TOML).",
)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning"]), default="info")
@click.option(
    "--snapshot-join",
    is_flag=True,
    help="If the database is empty, first install the state of the newest checkpoint anchored "
    "on chain from a peer, then sync only the blocks after it (else start normally).",
)
def node_run(config_path: Path, log_level: str, snapshot_join: bool) -> None:
    """Run the node until SIGINT or SIGTERM."""
    from node.daemon import run_node, setup_logging

    config = load_config(config_path)
    setup_logging(config.node.log_file, getattr(logging, log_level.upper()))
    run_node(config, snapshot_join=snapshot_join)
