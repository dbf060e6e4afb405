"""The ``calpe`` command.

Subcommands are registered by name and imported only when run (or listed by ``--help``), so
that ``calpe verify`` works in a verifier-only install (``pip install calpe``) where the node's
and the TUI's dependencies are absent; see ``COMMANDS``.

Exit codes (stable, for scripts):
  0  success
  1  the operation ran and found a problem (e.g. ``db verify`` found mismatches)
  2  usage error (bad arguments)
  3  configuration, genesis or keystore error
  4  storage error (database of another network, in use, corrupt)
``calpe verify`` has its own (``node/cli/verify.py``): 0 VALID, 10-14 a proven status other than
valid, 20 INVALID, 3 could not check.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("node.cli.keys", "init"),
    "keys": ("node.cli.keys", "keys"),
    "genesis": ("node.cli.keys", "genesis"),
    "db": ("node.cli.db", "db"),
    "devnet": ("node.cli.devnet_cmd", "devnet"),
    "node": ("node.cli.node_cmd", "node_group"),
    "status": ("node.cli.ops", "status"),
    "peers": ("node.cli.ops", "peers"),
    "credential": ("node.cli.ops", "credential"),
    "schema": ("node.cli.ops", "schema"),
    "events": ("node.cli.ops", "events"),
    "backup": ("node.cli.ops", "backup"),
    "restore": ("node.cli.ops", "restore"),
    "governance": ("node.cli.governance_cmd", "governance"),
    "tui": ("node.cli", "tui_command"),
    "bench": ("bench.cli", "bench"),
    "verify": ("node.cli.verify", "verify"),
}
"""Built-in command name -> (module, attribute). Plugins add theirs (``calpe_cli_commands``)."""

EXTRA_HINT = "this command needs the node's dependencies: pip install 'calpe[node]' ({})"


class LazyGroup(click.Group):
    """A group that imports a built-in command's module only when that command is wanted."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lazy = lazy
        self._plugins: dict[str, click.Command] | None = None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self._lazy, *self.commands, *self._plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in self._lazy:
            module_name, attribute = self._lazy[cmd_name]
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise click.UsageError(EXTRA_HINT.format(exc), ctx) from exc
            command: click.Command = getattr(module, attribute)
            return command
        return self._plugin_commands().get(cmd_name)

    def _plugin_commands(self) -> dict[str, click.Command]:
        """Commands plugins add through the ``calpe_cli_commands`` hook (e.g. ``calpe rsk``);
        none in an install without the node's dependencies."""
        if self._plugins is None:
            try:
                from node.plugins_host import cli_commands
            except ImportError:
                self._plugins = {}
            else:
                found = {c.name: c for c in cli_commands() if c.name}
                self._plugins = {n: c for n, c in found.items() if n not in self._lazy}
        return self._plugins


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Calpe: a permissioned, tamper-evident ledger of credential events, anchored on RSK."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@click.command("tui", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def tui_command(args: tuple[str, ...]) -> None:
    """Open the sysadmin console: calpe tui [--socket PATH | --url URL --token-file FILE]."""
    import tui

    raise SystemExit(tui.main(list(args)))


def main() -> None:
    try:
        from node.cli.common import run_guarded
    except ImportError:  # a verifier-only install: `calpe verify` maps its own errors
        cli.main()
    else:
        sys.exit(run_guarded(cli))
