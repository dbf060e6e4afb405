"""An HTTP JSON-RPC proxy that makes any endpoint (anvil in tests) answer like RSK.

RSK serves a subset of Ethereum's JSON-RPC; anvil serves all of it, so code that works on anvil
may still fail on RSK. Put this proxy in between and it refuses what RSK refuses:

- typed transactions (EIP-2930 type 1, EIP-1559 type 2, ...), raw or via ``eth_sendTransaction``
  with fee-market or access-list fields: RSK takes legacy (type 0) transactions only (an
  ``eth_sendTransaction`` without any fee field gets the node's gas price, as RSK does);
- ``eth_feeHistory``, ``eth_maxPriorityFeePerGas``, ``eth_createAccessList``,
  ``eth_getBlockReceipts``: method not found;
- the ``safe`` and ``finalized`` block tags;
- ``eth_getLogs`` over more than ``max_log_range`` blocks (2,000: hosted RSK endpoints' limit).

Everything else is forwarded as is; batch requests are handled element by element. Each refusal
is recorded in :attr:`RskStrictProxy.rejections` so tests can assert none happened.

Run in-process (a thread)::

    with RskStrictProxy(anvil.url) as proxy:
        client = ChainClient(proxy.url, 33, key)

or standalone: ``python -m plugins.rsk_bridge.rsk_strict --upstream URL --port N``.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INVALID_REQUEST = -32600
PARSE_ERROR = -32700
TX_REJECTED = -32010
UNSUPPORTED_METHODS = frozenset(
    {"eth_feeHistory", "eth_maxPriorityFeePerGas", "eth_createAccessList", "eth_getBlockReceipts"}
)
UNSUPPORTED_TAGS = frozenset({"safe", "finalized"})
_FEE_MARKET_FIELDS = ("maxFeePerGas", "maxPriorityFeePerGas", "accessList", "blobVersionedHashes")
_LEGACY_TYPES = (None, "0x0", "0x00", 0)

Json = dict[str, Any]


class RefusedError(Exception):
    """A request the proxy answers with a JSON-RPC error instead of forwarding."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _contains_tag(value: object) -> str | None:
    if isinstance(value, str):
        return value if value in UNSUPPORTED_TAGS else None
    if isinstance(value, list):
        return next((t for t in map(_contains_tag, value) if t), None)
    if isinstance(value, dict):
        return next((t for t in map(_contains_tag, value.values()) if t), None)
    return None


def _check_raw_transaction(raw: object) -> None:
    if not isinstance(raw, str) or not raw.startswith("0x") or len(raw) < 4:
        raise RefusedError(INVALID_PARAMS, "invalid raw transaction")
    first = int(raw[2:4], 16)
    if first <= 0x7F:  # EIP-2718 envelope: a type byte, not an RLP list prefix
        raise RefusedError(
            TX_REJECTED,
            f"transaction type {first} is not supported: RSK accepts legacy transactions only",
        )


def _check_transaction_object(tx: object) -> None:
    if not isinstance(tx, dict):
        return
    fields = [f for f in _FEE_MARKET_FIELDS if f in tx]
    if fields or tx.get("type") not in _LEGACY_TYPES:
        raise RefusedError(
            TX_REJECTED,
            f"typed transaction fields {fields or ['type']} are not supported: "
            "RSK accepts legacy transactions (gasPrice) only",
        )


class RskStrictProxy:
    """The proxy server, listening on 127.0.0.1:``port`` (0: any free port) in a thread."""

    def __init__(self, upstream: str, port: int = 0, *, max_log_range: int | None = 2_000) -> None:
        self.upstream = upstream
        self.max_log_range = max_log_range
        self.rejections: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_class(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RskStrictProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        logger.info("rsk-strict proxy url=%s upstream=%s", self.url, self.upstream)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the command-line mode)."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> RskStrictProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------- handling

    def handle(self, body: object) -> object:
        """The response to a decoded request body (one request or a batch)."""
        if isinstance(body, list):
            if not body:
                return _error(None, INVALID_REQUEST, "empty batch")
            return [self._handle_one(item) for item in body]
        return self._handle_one(body)

    def _handle_one(self, request: object) -> Json:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, INVALID_REQUEST, "invalid request")
        method: str = request["method"]
        try:
            self._check(method, request.get("params") or [])
        except RefusedError as refusal:
            with self._lock:
                self.rejections.append((method, refusal.message))
            logger.info("rsk-strict refused method=%s reason=%s", method, refusal.message)
            return _error(request.get("id"), refusal.code, refusal.message)
        if method == "eth_sendTransaction":
            request = self._as_legacy(request)
        return self._forward(request)

    def _as_legacy(self, request: Json) -> Json:
        """RSK fills a missing gas price itself and builds a legacy transaction; anvil would
        build an EIP-1559 one. Give anvil the gas price so the result is what RSK makes."""
        params = request.get("params") or []
        if not params or not isinstance(params[0], dict) or "gasPrice" in params[0]:
            return request
        price = self._forward({"jsonrpc": "2.0", "id": 0, "method": "eth_gasPrice", "params": []})
        tx = {**params[0], "gasPrice": price.get("result", "0x0")}
        return {**request, "params": [tx, *params[1:]]}

    def _check(self, method: str, params: list[Any]) -> None:
        if method in UNSUPPORTED_METHODS:
            raise RefusedError(
                METHOD_NOT_FOUND, f"the method {method} does not exist/is not available"
            )
        tag = _contains_tag(params)
        if tag is not None:
            raise RefusedError(INVALID_PARAMS, f"unknown block tag '{tag}'")
        if method == "eth_sendRawTransaction":
            _check_raw_transaction(params[0] if params else None)
        elif method == "eth_sendTransaction":
            _check_transaction_object(params[0] if params else None)
        elif method == "eth_getLogs" and self.max_log_range is not None and params:
            self._check_log_range(params[0])

    def _check_log_range(self, query: object) -> None:
        if not isinstance(query, dict) or "blockHash" in query:
            return
        limit = self.max_log_range
        assert limit is not None
        start = self._block_ref(query.get("fromBlock", "latest"))
        end = self._block_ref(query.get("toBlock", "latest"))
        if end - start + 1 > limit:
            raise RefusedError(
                INVALID_PARAMS, f"block range {end - start + 1} exceeds the limit of {limit} blocks"
            )

    def _block_ref(self, ref: object) -> int:
        if ref == "earliest":
            return 0
        if isinstance(ref, str) and ref.startswith("0x"):
            return int(ref, 16)
        head = self._forward({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []})
        return int(head["result"], 16)

    def _forward(self, request: Json) -> Json:
        data = json.dumps(request).encode()
        http_request = urllib.request.Request(
            self.upstream, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(http_request, timeout=30) as response:
                answer: Json = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return _error(request.get("id"), -32603, f"upstream {self.upstream} failed: {exc}")
        return answer


def _error(request_id: object, code: int, message: str) -> Json:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def _handler_class(proxy: RskStrictProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                answer: object = _error(None, PARSE_ERROR, "parse error")
            else:
                answer = proxy.handle(body)
            payload = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("rsk-strict http: " + format, *args)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="JSON-RPC proxy that behaves like RSK")
    parser.add_argument("--upstream", required=True, help="endpoint to forward to")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any)")
    parser.add_argument("--max-log-range", type=int, default=2_000, help="eth_getLogs limit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    proxy = RskStrictProxy(args.upstream, args.port, max_log_range=args.max_log_range)
    logger.info("rsk-strict proxy listening url=%s upstream=%s", proxy.url, args.upstream)
    try:
        proxy.serve_forever()
    except KeyboardInterrupt:
        logger.info("rsk-strict proxy stopped")


if __name__ == "__main__":
    main()
