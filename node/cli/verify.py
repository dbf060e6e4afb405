"""``calpe verify BUNDLE``: check a proof bundle against the checkpoint contract on RSK.

Imports only :mod:`node.verify` and click, so it works in a verifier-only install
(``pip install calpe``). Exit codes (stable, for scripts): 0 VALID, 10 REVOKED, 11 SUSPENDED,
12 EXPIRED, 13 NOT_YET_VALID, 14 UNKNOWN, 20 INVALID, 2 usage error, 3 could not check (the
endpoint or the node could not be read).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from node.core.errors import ConfigError
from node.verify import RpcChainReader, Verdict, load_bundle, to_compact, verify_bundle
from node.verify.chain import ChainReadError
from node.verify.checks import DEFAULT_MIN_CONFIRMATIONS
from node.verify.fetch import FetchError, fetch_bundle
from node.verify.verdict import EXIT_ERROR, Outcome

_DURATION = re.compile(r"(\d+)\s*(s|m|min|h|d)?")
_UNITS = {None: 1, "s": 1, "m": 60, "min": 60, "h": 3_600, "d": 86_400}


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic only in click >= 8.3
    """``90``, ``90s``, ``15m``, ``2h``, ``7d`` -> seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        match = _DURATION.fullmatch(str(value).strip())
        if match is None:
            self.fail(f"{value!r} is not a duration such as 90s, 15m, 2h or 7d", param, ctx)
        return int(match.group(1)) * _UNITS[match.group(2)]


@click.command("verify")
@click.argument("bundle", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--rpc", required=True, help="JSON-RPC endpoint of the chain (RSK node URL).")
@click.option("--contract", required=True, help="The checkpoint contract address you trust.")
@click.option(
    "--min-confirmations",
    type=click.IntRange(min=0),
    default=DEFAULT_MIN_CONFIRMATIONS,
    show_default=True,
    help="Blocks the anchoring block must have on top of it (itself included).",
)
@click.option("--max-age", type=Duration(), help="Refuse a checkpoint anchored longer ago.")
@click.option("--node", "node_url", help="A node's public endpoint: also check a fresh bundle.")
@click.option(
    "--save-compact",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the bundle's compact (CBOR) form to this file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify(
    bundle: Path,
    rpc: str,
    contract: str,
    min_confirmations: int,
    max_age: int | None,
    node_url: str | None,
    save_compact: Path | None,
    as_json: bool,
) -> None:
    """Check BUNDLE (JSON or compact; - for stdin) against the checkpoint contract on chain."""
    data = sys.stdin.buffer.read() if str(bundle) == "-" else _read(bundle)
    try:
        reader = RpcChainReader(rpc)
        options: dict[str, Any] = {
            "contract": contract,
            "min_confirmations": min_confirmations,
            "max_age_s": max_age,
        }
        verdict = verify_bundle(data, reader, **options)
        fresh = _fresh(verdict, node_url, reader, options)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    except (ChainReadError, FetchError) as exc:
        click.echo(f"error: cannot check: {exc}", err=True)
        raise SystemExit(EXIT_ERROR) from exc
    if save_compact is not None and verdict.outcome is not Outcome.INVALID:
        save_compact.write_bytes(to_compact(load_bundle(data)))
    final = fresh if fresh is not None and fresh.outcome is not Outcome.INVALID else verdict
    if as_json:
        click.echo(json.dumps(_json(verdict, fresh), indent=2))
    else:
        _print(verdict, fresh)
    raise SystemExit(final.exit_code)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise click.UsageError(f"cannot read the bundle {path}: {exc.strerror}") from exc


def _fresh(
    verdict: Verdict, node_url: str | None, reader: RpcChainReader, options: dict[str, Any]
) -> Verdict | None:
    if node_url is None or verdict.issuer is None or verdict.credential_id is None:
        return None
    doc = fetch_bundle(node_url, verdict.issuer, verdict.credential_id)
    return verify_bundle(doc, reader, **options)


def _changed(verdict: Verdict, fresh: Verdict | None) -> bool | None:
    if fresh is None or fresh.outcome is Outcome.INVALID or verdict.outcome is Outcome.INVALID:
        return None
    return fresh.outcome is not verdict.outcome


def _json(verdict: Verdict, fresh: Verdict | None) -> dict[str, Any]:
    return {
        **verdict.to_json(),
        "fresh": None if fresh is None else fresh.to_json(),
        "status_changed": _changed(verdict, fresh),
    }


def _line(verdict: Verdict) -> str:
    who = ""
    if verdict.issuer is not None and verdict.credential_id is not None:
        who = f"{verdict.issuer} {verdict.credential_id.hex()[:16]}…: "
    if verdict.outcome is Outcome.INVALID:
        return f"INVALID ({verdict.reason}) {who}{verdict.message}"
    return f"{verdict.outcome.name} {who}{verdict.message}"


def _print(verdict: Verdict, fresh: Verdict | None) -> None:
    click.echo(_line(verdict))
    if fresh is None:
        return
    click.echo(f"node's fresh bundle: {_line(fresh)}")
    changed = _changed(verdict, fresh)
    if changed:
        click.echo(
            f"STATUS CHANGED: was {verdict.outcome.name}, "
            f"now {fresh.outcome.name} at a later checkpoint"
        )
    elif changed is False:
        click.echo("status unchanged at the node's latest checkpoint")
