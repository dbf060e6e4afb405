"""The ``calpe`` command.

Exit codes (stable, for scripts):
  0  success
  1  the operation ran and found a problem (e.g. ``db verify`` found mismatches)
  2  usage error (bad arguments)
  3  configuration, genesis or keystore error
  4  storage error (database of another network, in use, corrupt)
"""

from __future__ import annotations

import logging
import sys

import click

from node.cli.common import run_guarded
from node.cli.db import db
from node.cli.demo import demo
from node.cli.keys import genesis, init, keys
from node.cli.node_cmd import node_group
from node.cli.ops import COMMANDS as OPS_COMMANDS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Calpe: a permissioned, tamper-evident ledger of credential events, anchored on RSK."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")


cli.add_command(init)
cli.add_command(keys)
cli.add_command(genesis)
cli.add_command(db)
cli.add_command(demo)
cli.add_command(node_group)
for _command in OPS_COMMANDS:
    cli.add_command(_command)


def _add_bench() -> None:
    from bench.cli import bench

    cli.add_command(bench)


_add_bench()


def main() -> None:
    sys.exit(run_guarded(cli))
