"""What every CLI command shares: error-to-exit-code mapping, passphrase input, JSON output."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from node.config import PASSPHRASE_ENV
from node.core.errors import CalpeError, ConfigError, KeystoreError, StorageError

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_STORAGE = 4


def run_guarded(command: click.Group) -> int:
    """Run the click app; turn Calpe errors into one clear line and a documented exit code."""
    try:
        try:
            command.main(standalone_mode=False)
        except BaseExceptionGroup as group:  # trio wraps a lone startup error in a group
            if len(group.exceptions) == 1 and isinstance(group.exceptions[0], Exception):
                raise group.exceptions[0] from None
            raise
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except (ConfigError, KeystoreError) as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_CONFIG
    except StorageError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_STORAGE
    except CalpeError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_PROBLEM
    except SystemExit as exc:
        if isinstance(exc.code, str):
            click.echo(f"error: {exc.code}", err=True)
            return EXIT_PROBLEM
        return int(exc.code or 0)
    return EXIT_OK


def ask_passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> str:
    """From a file, else $CALPE_PASSPHRASE, else an interactive prompt (never an argument)."""
    if passphrase_file is not None:
        return passphrase_file.read_text().rstrip("\n")
    if PASSPHRASE_ENV in os.environ:
        return os.environ[PASSPHRASE_ENV]
    if not sys.stdin.isatty():
        raise ConfigError(f"no passphrase: pass --passphrase-file or set ${PASSPHRASE_ENV}")
    value: str = click.prompt("Keystore passphrase", hide_input=True, confirmation_prompt=confirm)
    return value


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))
