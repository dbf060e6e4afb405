"""The embedded chain as a service: JSON-RPC over HTTP on loopback, plus a block timer.

:class:`EmbeddedChain` runs an in-memory, RSK-regtest-like EVM chain (see
:mod:`plugins.rsk_bridge.embedded.engine`) inside the calling process and serves it at
``http://127.0.0.1:PORT`` so that web3 talks to it exactly as to an RSK node. State is in memory
only: stopping the chain discards it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from plugins.rsk_bridge.embedded.accounts import (
    DEFAULT_DEV_ACCOUNT_COUNT,
    DEFAULT_DEV_BALANCE_WEI,
    DevAccount,
    derive_dev_accounts,
)
from plugins.rsk_bridge.embedded.engine import (
    DEFAULT_MIN_GAS_PRICE,
    RSK_BLOCK_GAS_LIMIT,
    RSK_REGTEST_CHAIN_ID,
    ChainEngine,
)
from plugins.rsk_bridge.embedded.rpc import RpcDispatcher

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_TIME = 2.0
MAX_BODY_BYTES = 8 * 1024 * 1024
_IDLE_CONNECTION_TIMEOUT = 120.0  # closes keep-alive connections a client forgot


class _RpcServer(ThreadingHTTPServer):
    """Tracks open connections so that :meth:`close_connections` can end keep-alive ones."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], dispatcher: RpcDispatcher) -> None:
        self.dispatcher = dispatcher
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RpcHandler)

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._connections_lock:
            if is_open:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def handle_error(self, request: object, client_address: object) -> None:
        # socketserver's default prints a traceback to stderr; a dropped client is routine here.
        logger.debug("http connection from %s failed", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the peer may have closed it already
                connection.shutdown(socket.SHUT_RDWR)


class _RpcHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as web3's requests session expects
    disable_nagle_algorithm = True  # else headers and body in two segments cost ~40 ms a call
    timeout = _IDLE_CONNECTION_TIMEOUT
    server: _RpcServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.send_error(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return
        if not 0 <= length <= MAX_BODY_BYTES:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
            return
        response = self.server.dispatcher.handle(self.rfile.read(length))
        if response is None:
            self.send_response(HTTPStatus.NO_CONTENT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)

    def do_GET(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "JSON-RPC takes POST requests")

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("http %s " + format, self.address_string(), *args)


class EmbeddedChain:
    """An RSK-regtest-like chain in this process, served over JSON-RPC on 127.0.0.1.

    ``block_time`` > 0 seals a block every ``block_time`` seconds (empty or not), so that
    confirmations advance; ``block_time == 0`` seals one block per accepted transaction.
    ``port=0`` picks a free port. The prefunded :attr:`dev_accounts` come from the public
    development mnemonic (:mod:`~plugins.rsk_bridge.embedded.accounts`); clients sign locally,
    the node holds no keys. Use as a context manager or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        block_time: float = DEFAULT_BLOCK_TIME,
        chain_id: int = RSK_REGTEST_CHAIN_ID,
        account_count: int = DEFAULT_DEV_ACCOUNT_COUNT,
        balance_wei: int = DEFAULT_DEV_BALANCE_WEI,
        gas_limit: int = RSK_BLOCK_GAS_LIMIT,
        min_gas_price: int = DEFAULT_MIN_GAS_PRICE,
    ) -> None:
        if block_time < 0:
            raise ValueError(f"block_time must be >= 0, got {block_time}")
        self.block_time = block_time
        self._port = port
        self.dev_accounts: list[DevAccount] = derive_dev_accounts(account_count)
        self.engine = ChainEngine(
            self.dev_accounts,
            balance_wei,
            chain_id=chain_id,
            gas_limit=gas_limit,
            min_gas_price=min_gas_price,
            automine=block_time == 0,
        )
        self._server: _RpcServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the embedded chain is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Start serving (and mining, if ``block_time`` > 0); return the endpoint URL."""
        if self._server is not None:
            raise RuntimeError("the embedded chain is already running")
        self._stopping.clear()
        self._server = _RpcServer(("127.0.0.1", self._port), RpcDispatcher(self.engine))
        server = self._server
        self._spawn("embedded-chain-http", lambda: server.serve_forever(poll_interval=0.05))
        if self.block_time > 0:
            self._spawn("embedded-chain-miner", self._mine_forever)
        logger.info(
            "embedded chain serving url=%s chain_id=%s block_time=%s",
            self.url,
            self.engine.chain_id,
            self.block_time,
        )
        return self.url

    def stop(self) -> None:
        """Stop serving and mining; idempotent. The chain's state stays readable in-process."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        logger.info("embedded chain stopped")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _mine_forever(self) -> None:
        while not self._stopping.wait(self.block_time):
            try:
                number = self.engine.mine()
            except Exception:
                logger.exception("embedded chain failed to seal a block")
                continue
            logger.debug("embedded chain sealed height=%s", number)
