"""Operating a running node through its admin API: ``calpe status``, ``peers``, ``credential``,
``schema``, ``events tail``, ``backup``, and ``restore`` (offline, the node stopped).

Find the node with ``--config FILE`` (its ``[admin] socket``) or ``--socket PATH``. Tables by
default; ``--json`` prints the API's JSON unchanged. Exit codes, beyond those of ``calpe``
(0 ok, 2 usage, 3 config, 4 storage):

  1  the node refused the request (its error code and message are printed)
  5  no node is listening on the socket, or it is not ready (busy, shutting down)
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from node.admin.client import AdminHttp, ApiCallError, NodeUnreachableError
from node.cli.common import EXIT_PROBLEM, print_json
from node.config import load_config

EXIT_UNREACHABLE = 5
F = TypeVar("F", bound=Callable[..., Any])


def connection(fn: F) -> F:
    """Add ``--config``, ``--socket`` and ``--json``; the command gets ``api`` and ``as_json``."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The node's config file (to find its admin socket).",
    )
    @click.option(
        "--socket", "socket_path", type=click.Path(path_type=Path), help="The node's admin socket."
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
    @functools.wraps(fn)
    def wrapper(config_path: Path | None, socket_path: Path | None, **kwargs: Any) -> Any:
        with _client(config_path, socket_path) as api:
            return fn(api=api, **kwargs)

    return wrapper  # type: ignore[return-value]


@contextmanager
def _client(config_path: Path | None, socket_path: Path | None) -> Iterator[AdminHttp]:
    if (config_path is None) == (socket_path is None):
        raise click.UsageError("give exactly one of --config FILE or --socket PATH")
    if config_path is not None:
        socket = load_config(config_path).admin.socket
        hint = f"'calpe node run --config {config_path}'"
    else:
        assert socket_path is not None
        socket, hint = socket_path, "'calpe node run --config …'"
    try:
        with AdminHttp(socket, hint=hint) as api:
            yield api
    except NodeUnreachableError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_UNREACHABLE) from None
    except ApiCallError as exc:
        click.echo(f"error: the node refused: {exc.code}: {exc.message}", err=True)
        raise SystemExit(EXIT_UNREACHABLE if exc.status == 503 else EXIT_PROBLEM) from None


def table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def when(ms: int | None) -> str:
    return "-" if not ms else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def _short(value: str | None) -> str:
    return "-" if not value else value[:16]


# --- reads ---------------------------------------------------------------------------------------


@click.command("status")
@connection
def status(api: AdminHttp, as_json: bool) -> None:
    """Show the node's agency, heads and lag, peers and alerts."""
    doc = api.get("/v1/status")
    if as_json:
        print_json(doc)
        return
    click.echo(
        f"{doc['agency_name']} ({doc['agency_id']}) on {doc['network']} "
        f"{doc['network_id'][:16]}…  version {doc['version']}"
    )
    click.echo(f"up {doc['uptime_s']:.0f} s, {doc['events_per_s']:.1f} events/s\n")
    table(
        [
            [
                h["agency_id"],
                str(h["height"]),
                str(h["lag_blocks"]),
                _short(h["block_hash"]),
                when(h["timestamp_ms"]),
                "FROZEN" if h["frozen"] else "",
            ]
            for h in doc["heads"]
        ],
        ["AGENCY", "HEIGHT", "LAG", "HEAD", "AT", ""],
    )
    click.echo("")
    _peers_table(doc["peers"])
    for alert in doc["alerts"]:
        click.echo(f"{alert['level'].upper()} {when(alert['at_ms'])} {alert['message']}")


def _peers_table(peers: list[dict[str, Any]]) -> None:
    table(
        [
            [
                p["agency_id"],
                "up" if p["connected"] else "down",
                f"{p['score']:g}",
                "-" if p["latency_ms"] is None else f"{p['latency_ms']:.1f}",
                ",".join(p["addrs"]),
            ]
            for p in peers
        ],
        ["PEER", "STATE", "SCORE", "RTT_MS", "ADDRESSES"],
    )


@click.command("peers")
@connection
def peers(api: AdminHttp, as_json: bool) -> None:
    """List the other member agencies' nodes and their connection state."""
    doc = api.get("/v1/peers")
    print_json(doc) if as_json else _peers_table(doc["peers"])


@click.group("credential")
def credential() -> None:
    """Issue, change, show and prove credentials."""


def _show_write(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(doc)
        return
    click.echo(
        f"committed in {doc['agency_id']} block {doc['height']} "
        f"({_short(doc['block_hash'])}…), event {doc['event_index']}; "
        f"request {doc['request_id']}"
    )
    cred = doc.get("credential")
    if cred:
        reason = f" ({cred['reason']})" if cred["reason"] else ""
        click.echo(f"credential {cred['credential_id']} is {cred['status']}{reason}")


_rid = click.option(
    "--request-id",
    default=None,
    help="Idempotency key (default: a fresh one); repeat it to retry safely.",
)


@credential.command("issue")
@click.argument("credential_id")
@click.option("--schema", "schema_id", required=True, help="Schema id (64 hex).")
@click.option("--valid-from", type=int, default=None, help="Unix seconds (default: now).")
@click.option("--valid-until", type=int, default=None, help="Unix seconds (default: none).")
@_rid
@connection
def issue(
    *,
    api: AdminHttp,
    as_json: bool,
    credential_id: str,
    schema_id: str,
    valid_from: int | None,
    valid_until: int | None,
    request_id: str | None,
) -> None:
    """Issue CREDENTIAL_ID (64 hex) under a published schema."""
    body: dict[str, Any] = {
        "request_id": request_id or str(uuid.uuid4()),
        "credential_id": credential_id,
        "schema_id": schema_id,
        "valid_from_s": int(time.time()) if valid_from is None else valid_from,
    }
    if valid_until is not None:
        body["valid_until_s"] = valid_until
    _show_write(api.post("/v1/credentials/issue", body), as_json)


def _change(action: str, reasons: bool) -> Callable[..., None]:
    def command(
        api: AdminHttp,
        as_json: bool,
        credential_id: str,
        request_id: str | None,
        reason: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"request_id": request_id or str(uuid.uuid4())}
        if reason is not None:
            body["reason"] = reason
        _show_write(api.post(f"/v1/credentials/{credential_id}/{action}", body), as_json)

    command.__doc__ = f"{action.capitalize()} CREDENTIAL_ID (one of this agency's)."
    decorated = connection(command)
    decorated = _rid(decorated)
    if reasons:
        decorated = click.option(
            "--reason",
            default="unspecified",
            show_default=True,
            help="Reason code, e.g. key_compromise.",
        )(decorated)
    return click.argument("credential_id")(decorated)


credential.command("revoke")(_change("revoke", True))
credential.command("suspend")(_change("suspend", True))
credential.command("reinstate")(_change("reinstate", False))


def _issuer(api: AdminHttp, issuer: str | None) -> str:
    return issuer or str(api.get("/v1/status")["agency_id"])


@credential.command("show")
@click.argument("credential_id")
@click.option("--issuer", default=None, help="Issuing agency (default: this node's).")
@connection
def show(api: AdminHttp, as_json: bool, credential_id: str, issuer: str | None) -> None:
    """Show a credential's status and history."""
    doc = api.get(f"/v1/credentials/{_issuer(api, issuer)}/{credential_id}")
    if as_json:
        print_json(doc)
        return
    cred = doc["credential"]
    reason = f" ({cred['reason']})" if cred["reason"] else ""
    click.echo(f"{cred['credential_id']} issued by {cred['issuer']}: {cred['status']}{reason}")
    click.echo(
        f"schema {cred['schema_id']}, valid from {cred['valid_from_s']}"
        f" until {cred['valid_until_s'] or '-'}\n"
    )
    table(
        [
            [
                str(e["height"]),
                str(e["index"]),
                e["kind"],
                e.get("reason") or "",
                when(e["timestamp_ms"]),
            ]
            for e in doc["history"]
        ],
        ["HEIGHT", "INDEX", "EVENT", "REASON", "AT"],
    )


@credential.command("proof")
@click.argument("credential_id")
@click.option("--issuer", default=None, help="Issuing agency (default: this node's).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the bundle to this file instead of stdout.",
)
@connection
def proof(
    api: AdminHttp, as_json: bool, credential_id: str, issuer: str | None, out: Path | None
) -> None:
    """Export a credential's proof bundle (JSON, docs/proof-bundle.md)."""
    doc = api.get(f"/v1/credentials/{_issuer(api, issuer)}/{credential_id}/proof")
    if out is None:
        print_json(doc)
        return
    out.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    if as_json:
        print_json({"path": str(out), "status": doc["status"]})
    else:
        click.echo(f"wrote the proof bundle of {credential_id} ({doc['status']}) to {out}")


@click.group("schema")
def schema() -> None:
    """Publish credential schemas."""


@schema.command("publish")
@click.argument("schema_id")
@click.option(
    "--class",
    "credential_class",
    default="other",
    show_default=True,
    help="Credential class, e.g. driving_licence.",
)
@click.option("--version", "version", type=int, default=1, show_default=True)
@_rid
@connection
def publish(
    *,
    api: AdminHttp,
    as_json: bool,
    schema_id: str,
    credential_class: str,
    version: int,
    request_id: str | None,
) -> None:
    """Publish SCHEMA_ID (64 hex) for this agency's credentials."""
    doc = api.post(
        "/v1/schemas",
        {
            "request_id": request_id or str(uuid.uuid4()),
            "schema_id": schema_id,
            "credential_class": credential_class,
            "version": version,
        },
    )
    if as_json:
        print_json(doc)
    else:
        click.echo(
            f"schema {doc['schema_id']} published in {doc['agency_id']} block "
            f"{doc['height']}; request {doc['request_id']}"
        )


@click.group("events")
def events() -> None:
    """Watch the ledger's events."""


@events.command("tail")
@click.option("--count", type=int, default=None, help="Stop after this many blocks and alerts.")
@connection
def tail(api: AdminHttp, as_json: bool, count: int | None) -> None:
    """Follow committed blocks and alerts as they happen (Ctrl-C to stop)."""
    seen = 0
    for event, data in api.stream():
        if event not in ("block", "alert", "dropped"):
            continue
        if as_json:
            print_json({"event": event, "data": data})
        elif event == "block":
            click.echo(
                f"{when(data['timestamp_ms'])} {data['agency_id']} block {data['height']}"
                f" {_short(data['block_hash'])} {data['event_count']} events"
            )
        elif event == "alert":
            click.echo(f"{when(data['at_ms'])} {data['level'].upper()} {data['message']}")
        else:
            click.echo(f"(missed {data['count']} updates)")
        seen += 1
        if count is not None and seen >= count:
            return


@click.command("backup")
@click.option(
    "--name",
    default=None,
    help="Backup name in the node's backup directory "
    "(default: network and time; end it in .tar for a tar file).",
)
@connection
def backup(api: AdminHttp, as_json: bool, name: str | None) -> None:
    """Back up the running node's database (consistent snapshot) into its backup directory."""
    doc = api.post("/v1/backup", {} if name is None else {"path": name})
    if as_json:
        print_json(doc)
        return
    heights = ", ".join(f"{a} {h['height']}" for a, h in doc["manifest"]["heads"].items())
    click.echo(f"backup written to {doc['path']} ({heights})")


@click.command("restore")
@click.argument("snapshot", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The (stopped) node's config file.",
)
@click.option("--force", is_flag=True, help="Replace a non-empty data directory (moved aside).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def restore(snapshot: Path, config_path: Path, force: bool, as_json: bool) -> None:
    """Restore a backup into the node's data directory (the node must be stopped)."""
    from node.admin.backup import restore as restore_backup  # deferred: plyvel is heavy

    config = load_config(config_path)
    manifest, aside = restore_backup(
        snapshot, config.node.data_dir, config.load_genesis(), force=force
    )
    if as_json:
        print_json(
            {
                "data_dir": str(config.node.data_dir),
                "moved_aside": aside and str(aside),
                "manifest": manifest,
            }
        )
        return
    if aside is not None:
        click.echo(f"the previous data directory was moved to {aside}")
    click.echo(f"restored {snapshot} into {config.node.data_dir}")


COMMANDS = (status, peers, credential, schema, events, backup, restore)
