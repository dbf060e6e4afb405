"""A minimal JSON-RPC :class:`~node.verify.chain.ChainReader` on the standard library.

Made for public RSK endpoints: it reads only (``eth_chainId``, ``eth_blockNumber``,
``eth_getBlockByNumber``, ``eth_call`` at ``latest``, ``eth_getLogs``), never uses the ``safe``
or ``finalized`` tags RSK rejects, reads logs in ranges of at most 2,000 blocks, and backs off
on HTTP 429 and 5xx (honouring ``Retry-After``) and on connection errors.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from node.core.eip712 import keccak256
from node.verify.chain import ChainReadError

logger = logging.getLogger(__name__)

MAX_LOG_RANGE = 2_000
ANCHORED_TOPIC = "0x" + keccak256(b"CheckpointAnchored(uint64,bytes32,address)").hex()
_RETRY_STATUS = {429, 502, 503, 504}
_MAX_RETRY_AFTER = 30.0


@dataclass(frozen=True, slots=True)
class AnchorLog:
    epoch: int
    root: bytes
    block_number: int
    tx_hash: str


class RpcChainReader:
    """JSON-RPC reads over HTTP(S). ``retries`` extra attempts after a retryable failure."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 15.0,
        retries: int = 4,
        backoff: float = 0.5,
        log_range: int = MAX_LOG_RANGE,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ChainReadError(f"{url!r} is not an http(s) JSON-RPC endpoint URL")
        self.url = url
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._log_range = min(log_range, MAX_LOG_RANGE)
        self._ids = itertools.count(1)
        self._chain_id: int | None = None

    def __repr__(self) -> str:
        return f"RpcChainReader(url={self.url!r})"

    # ----------------------------------------------------------------------- transport

    def rpc(self, method: str, params: list[Any]) -> Any:
        """One call; the ``result`` member, or :class:`ChainReadError`."""
        body = json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        ).encode()
        answer = self._post(method, body)
        if not isinstance(answer, dict):
            raise ChainReadError(f"{self.url} answered {method} with something not JSON-RPC")
        if answer.get("error") is not None:
            error = answer["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ChainReadError(f"{self.url} refused {method}: {message}")
        return answer.get("result")

    def _post(self, method: str, body: bytes) -> Any:
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        for attempt in range(self._retries + 1):
            delay = self._backoff * 2**attempt
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                if exc.code not in _RETRY_STATUS or attempt == self._retries:
                    raise ChainReadError(
                        f"{self.url} answered HTTP {exc.code} to {method}: check the endpoint "
                        "URL, or use a node with a higher rate limit"
                    ) from exc
                delay = max(delay, _retry_after(exc.headers.get("Retry-After")))
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self._retries:
                    raise ChainReadError(
                        f"cannot reach the chain endpoint {self.url} ({exc}) after "
                        f"{attempt + 1} attempts: check the URL and your connection"
                    ) from exc
            except json.JSONDecodeError as exc:
                raise ChainReadError(f"{self.url} answered {method} with invalid JSON") from exc
            logger.warning("rpc retry method=%s attempt=%s delay=%.2f", method, attempt + 1, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------------ reads

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = _quantity(self.rpc("eth_chainId", []), "eth_chainId")
        return self._chain_id

    def block_number(self) -> int:
        return _quantity(self.rpc("eth_blockNumber", []), "eth_blockNumber")

    def block_timestamp(self, number: int) -> int:
        block = self.rpc("eth_getBlockByNumber", [hex(number), False])
        if not isinstance(block, dict):
            raise ChainReadError(f"{self.url} does not know block {number}")
        return _quantity(block.get("timestamp"), "block timestamp")

    def call(self, contract: str, data: bytes) -> bytes:
        result = self.rpc("eth_call", [{"to": contract, "data": "0x" + data.hex()}, "latest"])
        if not isinstance(result, str) or not result.startswith("0x"):
            raise ChainReadError(f"{self.url} answered eth_call with {result!r}")
        try:
            return bytes.fromhex(result[2:])
        except ValueError as exc:
            raise ChainReadError(f"{self.url} answered eth_call with non-hex data") from exc

    def anchored_logs(
        self, contract: str, from_block: int, to_block: int, epoch: int | None = None
    ) -> list[AnchorLog]:
        """``CheckpointAnchored`` events of ``contract`` (of one ``epoch`` if given) in
        ``[from_block, to_block]``, read in ranges of at most 2,000 blocks."""
        topics: list[Any] = [ANCHORED_TOPIC]
        if epoch is not None:
            topics.append("0x" + epoch.to_bytes(32, "big").hex())
        found: list[AnchorLog] = []
        for start in range(from_block, to_block + 1, self._log_range):
            end = min(start + self._log_range - 1, to_block)
            query = {
                "address": contract,
                "fromBlock": hex(start),
                "toBlock": hex(end),
                "topics": topics,
            }
            for raw in self.rpc("eth_getLogs", [query]) or []:
                found.append(_anchor_log(raw))
        return found


def _anchor_log(raw: Any) -> AnchorLog:
    try:
        data = bytes.fromhex(raw["data"][2:])
        return AnchorLog(
            epoch=int(raw["topics"][1], 16),
            root=data[:32],
            block_number=int(raw["blockNumber"], 16),
            tx_hash=str(raw["transactionHash"]),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ChainReadError(f"malformed CheckpointAnchored log: {exc}") from exc


def _quantity(value: Any, what: str) -> int:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainReadError(f"{what}: expected a hex quantity, got {value!r}")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise ChainReadError(f"{what}: expected a hex quantity, got {value!r}") from exc


def _retry_after(value: str | None) -> float:
    try:
        return min(float(value), _MAX_RETRY_AFTER) if value else 0.0
    except ValueError:
        return 0.0
