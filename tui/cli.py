"""``calpe tui``: parse the command line, build the client, run the console."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from tui.app import make_app
from tui.client.fake import FakeClient
from tui.client.http import AdminClient
from tui.client.protocol import ClientProtocol
from tui.state import AppConfig

SOCKET_ENV = "CALPE_ADMIN_SOCKET"
DEFAULT_SOCKET = "admin.sock"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="calpe tui", description="The Calpe node console.")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--socket",
        type=Path,
        help=f"the node's admin socket (default ${SOCKET_ENV}, else ./{DEFAULT_SOCKET})",
    )
    where.add_argument("--url", help="the node's admin API over TCP, e.g. http://10.0.0.2:8700")
    p.add_argument("--token-file", type=Path, help="file holding the bearer token (with --url)")
    p.add_argument("--light", action="store_true", help="start in the light theme")
    p.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)  # development only
    return p


def build_client(args: argparse.Namespace) -> ClientProtocol:
    if args.fake:
        return FakeClient(history=100_000, stream_interval_s=1.0, clock=time.time)
    if args.url:
        if args.token_file is None:
            raise SystemExit("calpe tui: --url needs --token-file (the admin API's bearer token)")
        token = args.token_file.read_text(encoding="utf-8").strip()
        return AdminClient.for_url(args.url, token)
    if args.token_file is not None:
        raise SystemExit("calpe tui: --token-file goes with --url")
    socket = args.socket or Path(os.environ.get(SOCKET_ENV, DEFAULT_SOCKET))
    return AdminClient.for_socket(socket)


def run(argv: list[str] | None) -> int:
    args = parser().parse_args(argv)
    client = build_client(args)
    config = AppConfig()
    app = make_app(client, config)
    if args.light:
        app.theme = "textual-light"
    app.run()
    return app.return_code or 0
