"""Serving the admin API (Unix socket, optional TCP with a bearer token) and the public endpoint.

Everything runs on hypercorn's trio worker inside the node's nursery:
``await nursery.start(serve_admin, node)`` returns the :class:`Endpoints` once every listener is
bound, and cancelling the nursery closes them and removes the socket file.
"""

from __future__ import annotations

import errno
import hmac
import logging
import os
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from node.admin.api import AdminApi, build_admin_app
from node.admin.backup import backup_dir
from node.admin.logs import LogRing
from node.admin.metrics import NodeMetrics
from node.admin.public import build_public_app
from node.admin.shapes import error_body
from node.core.errors import ConfigError

if TYPE_CHECKING:
    from node.services.node import LedgerNode

log = logging.getLogger(__name__)

_MAX_UNIX_PATH = 107


@dataclass
class Endpoints:
    """Where the servers listen (``host:port`` with the real port if 0 was configured)."""

    socket: Path
    tcp: str | None = None
    public: str | None = None
    logs: LogRing | None = None
    _stop: trio.Event = field(default_factory=trio.Event)

    def stop(self) -> None:
        """Shut the servers down gracefully (they also stop when their nursery is cancelled)."""
        self._stop.set()


class BearerAuth:
    """Refuses (401) any request without ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                response = JSONResponse(
                    error_body("unauthorized", "a valid bearer token is required"),
                    401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)


def bind_unix_socket(path: Path) -> socket.socket:
    """A listening socket at ``path`` with mode 0600; a stale socket file is replaced, a live one
    (another node answering there) is refused."""
    if len(os.fsencode(path)) > _MAX_UNIX_PATH:
        raise ConfigError(f"admin socket path {path} is too long for a Unix socket; shorten it")
    if path.exists() or path.is_symlink():
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise ConfigError(f"{path} exists and is not a socket; remove it or choose another")
        if _answers(path):
            raise ConfigError(
                f"another node is already serving its admin API on {path}; stop it, or give "
                "this node its own [admin] socket"
            )
        log.info("removing stale admin socket path=%s", path)
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        sock.bind(str(path))
    except OSError:
        sock.close()
        raise
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def _answers(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError as exc:
        if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return False
        raise ConfigError(f"cannot check the admin socket {path}: {exc}") from None
    finally:
        probe.close()


def _read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the admin token file: {exc}") from None
    if len(token) < 16:
        raise ConfigError(f"{path}: the admin token must be at least 16 characters")
    return token


def _hypercorn_config(bind: str) -> Config:
    config = Config()
    config.bind = [bind]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 2.0
    config.include_server_header = False
    return config


async def _serve(
    app: ASGIApp, bind: str, stop: trio.Event, *, task_status: Any = trio.TASK_STATUS_IGNORED
) -> None:
    await serve(
        app,  # type: ignore[arg-type]
        _hypercorn_config(bind),
        shutdown_trigger=stop.wait,
        task_status=task_status,
        mode="asgi",
    )


def _host_port(binds: list[str]) -> str:
    return binds[0].split("://", 1)[1]


async def serve_admin(node: LedgerNode, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Serve the admin API (and the public endpoint if configured) until cancelled."""
    config = node.config
    heads = await node.store.call(node.store.store.heads)
    logs = LogRing()
    metrics = NodeMetrics(node, {a: h.height for a, h in heads.items()})
    app = build_admin_app(AdminApi(node, logs, metrics, backup_dir(config)))
    token = None if config.admin.token_file is None else _read_token(config.admin.token_file)
    path = config.admin.socket
    sock = bind_unix_socket(path)
    inode = os.stat(path).st_ino
    endpoints = Endpoints(socket=path, logs=logs)
    logs.attach()
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(_serve, app, f"fd://{sock.detach()}", endpoints._stop)
            if config.admin.tcp is not None and token is not None:
                binds = await nursery.start(
                    _serve, BearerAuth(app, token), config.admin.tcp, endpoints._stop
                )
                endpoints.tcp = _host_port(binds)
            if config.public.listen is not None:
                public = build_public_app(node, config.public.requests_per_minute)
                binds = await nursery.start(_serve, public, config.public.listen, endpoints._stop)
                endpoints.public = _host_port(binds)
            log.info(
                "admin API listening socket=%s tcp=%s public=%s",
                path,
                endpoints.tcp,
                endpoints.public,
            )
            task_status.started(endpoints)
    finally:
        logs.detach()
        _remove_socket(path, inode)


def _remove_socket(path: Path, inode: int) -> None:
    try:
        if os.stat(path).st_ino == inode:
            path.unlink()
    except FileNotFoundError:
        pass
