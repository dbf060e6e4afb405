"""JSON-RPC 2.0 dispatch for the embedded chain: the subset of ``eth_*`` a web3 client of RSK uses.

Requests are single objects or batches; params are positional. Every failure becomes a JSON-RPC
error object: :meth:`RpcDispatcher.handle` never raises. Methods RSK lacks (fee history, priority
fees, access lists, block receipts) and the ``safe``/``finalized`` tags are refused, so a client
that works here does not lean on Ethereum-only features.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from importlib import metadata
from typing import Any, cast

from plugins.rsk_bridge.embedded import formats
from plugins.rsk_bridge.embedded.engine import ChainEngine
from plugins.rsk_bridge.embedded.errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
    invalid_params,
)
from plugins.rsk_bridge.embedded.queries import BlockRef, CallRequest, LogQuery

logger = logging.getLogger(__name__)

MAX_BATCH = 100
MAX_MINE_BLOCKS = 10_000
RSK_UNSUPPORTED = frozenset(
    {"eth_feeHistory", "eth_maxPriorityFeePerGas", "eth_createAccessList", "eth_getBlockReceipts"}
)
_EIP1559_FIELDS = frozenset(
    {
        "maxFeePerGas",
        "maxPriorityFeePerGas",
        "accessList",
        "maxFeePerBlobGas",
        "blobVersionedHashes",
    }
)
_MISSING = object()

Handler = Callable[[list[Any]], Any]


def _param(params: list[Any], index: int, default: Any = _MISSING) -> Any:
    if index < len(params):
        return params[index]
    if default is _MISSING:
        raise invalid_params(f"missing parameter {index}")
    return default


def _flag(params: list[Any], index: int) -> bool:
    value = _param(params, index, False)
    if not isinstance(value, bool):
        raise invalid_params(f"parameter {index} must be true or false")
    return value


def parse_block_ref(value: object) -> BlockRef:
    if value in ("latest", "earliest", "pending"):
        return cast(BlockRef, value)
    if value in ("safe", "finalized"):
        raise invalid_params(
            f"block tag {value!r} not supported: RSK knows latest, earliest, pending and numbers"
        )
    return formats.parse_quantity(value, "block number or tag")


def parse_call(value: object) -> CallRequest:
    if not isinstance(value, dict):
        raise invalid_params("the transaction parameter must be an object")
    typed = _EIP1559_FIELDS.intersection(value)
    if typed or value.get("type", "0x0") not in ("0x0", "0x00", 0):
        raise invalid_params(
            f"fields {sorted(typed) or ['type']} not supported: RSK is legacy-only"
        )
    payload = value.get("input", value.get("data", "0x"))
    gas = value.get("gas")
    return CallRequest(
        sender=formats.parse_address(value.get("from", "0x" + "00" * 20)),
        to=formats.parse_address(value["to"]) if value.get("to") else b"",
        gas=None if gas is None else formats.parse_quantity(gas, "gas"),
        gas_price=formats.parse_quantity(value.get("gasPrice", 0), "gasPrice"),
        value=formats.parse_quantity(value.get("value", 0), "value"),
        data=formats.parse_data(payload, "input"),
    )


def _parse_topics(value: object) -> tuple[frozenset[bytes] | None, ...]:
    if not isinstance(value, list):
        raise invalid_params("topics must be a list")
    topics: list[frozenset[bytes] | None] = []
    for entry in value:
        if entry is None:
            topics.append(None)
        elif isinstance(entry, list):
            topics.append(frozenset(formats.parse_hash(item) for item in entry) or None)
        else:
            topics.append(frozenset({formats.parse_hash(entry)}))
    return tuple(topics)


def parse_filter(value: object) -> LogQuery:
    if not isinstance(value, dict):
        raise invalid_params("the filter parameter must be an object")
    raw_addresses = value.get("address") or []
    if isinstance(raw_addresses, str):
        raw_addresses = [raw_addresses]
    if not isinstance(raw_addresses, list):
        raise invalid_params("address must be an address or a list of addresses")
    block_hash = value.get("blockHash")
    if block_hash is not None and ("fromBlock" in value or "toBlock" in value):
        raise invalid_params("blockHash excludes fromBlock and toBlock")
    return LogQuery(
        from_block=parse_block_ref(value.get("fromBlock", "latest")),
        to_block=parse_block_ref(value.get("toBlock", "latest")),
        block_hash=None if block_hash is None else formats.parse_hash(block_hash),
        addresses=frozenset(formats.parse_address(item) for item in raw_addresses),
        topics=_parse_topics(value.get("topics") or []),
    )


def _error(request_id: Any, error: RpcError) -> formats.JsonDict:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


class RpcDispatcher:
    """Turns request bodies into response bodies against one :class:`ChainEngine`."""

    def __init__(self, engine: ChainEngine) -> None:
        self._engine = engine
        self._client_version = f"calpe-embedded/py-evm-{metadata.version('py-evm')}"
        self._methods: dict[str, Handler] = self._method_table()

    def handle(self, body: bytes) -> bytes | None:
        """The response body for ``body``, or ``None`` when it held only notifications."""
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            response: Any = _error(None, RpcError(PARSE_ERROR, f"parse error: {error}"))
        else:
            response = self._handle_payload(payload)
        return None if response is None else json.dumps(response).encode()

    def _handle_payload(self, payload: Any) -> Any:
        if not isinstance(payload, list):
            return self._handle_one(payload)
        if not payload or len(payload) > MAX_BATCH:
            reason = f"a batch holds 1 to {MAX_BATCH} requests, got {len(payload)}"
            return _error(None, RpcError(INVALID_REQUEST, reason))
        responses = [self._handle_one(item) for item in payload]
        return [item for item in responses if item is not None] or None

    def _handle_one(self, request: Any) -> formats.JsonDict | None:
        if not isinstance(request, dict):
            return _error(None, RpcError(INVALID_REQUEST, "a request must be a JSON object"))
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params", [])
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return _error(request_id, RpcError(INVALID_REQUEST, "not a JSON-RPC 2.0 request"))
        try:
            if not isinstance(params, list):
                raise invalid_params("params must be an array")
            result = self._dispatch(method, params)
        except RpcError as error:
            logger.debug("rpc method=%s refused: %s", method, error.message)
            response = _error(request_id, error)
        except Exception:
            logger.exception("rpc method=%s failed", method)
            response = _error(request_id, RpcError(INTERNAL_ERROR, "internal error"))
        else:
            response = {"jsonrpc": "2.0", "id": request_id, "result": result}
        return response if "id" in request else None

    def _dispatch(self, method: str, params: list[Any]) -> Any:
        handler = self._methods.get(method)
        if handler is not None:
            return handler(params)
        if method in RSK_UNSUPPORTED:
            raise RpcError(METHOD_NOT_FOUND, f"method {method} not supported: RSK does not have it")
        raise RpcError(METHOD_NOT_FOUND, f"method {method} does not exist")

    def _method_table(self) -> dict[str, Handler]:
        engine = self._engine
        chain_id = engine.chain_id
        return {
            "eth_chainId": lambda _: formats.quantity(chain_id),
            "net_version": lambda _: str(chain_id),
            "web3_clientVersion": lambda _: self._client_version,
            "net_listening": lambda _: True,
            "eth_syncing": lambda _: False,
            "eth_accounts": lambda _: [],
            "eth_blockNumber": lambda _: formats.quantity(engine.latest_number()),
            "eth_gasPrice": lambda _: formats.quantity(engine.gas_price()),
            "eth_getBlockByNumber": lambda p: engine.block(
                parse_block_ref(_param(p, 0)), _flag(p, 1)
            ),
            "eth_getBlockByHash": lambda p: engine.block_by_hash(
                formats.parse_hash(_param(p, 0)), _flag(p, 1)
            ),
            "eth_getBalance": lambda p: formats.quantity(engine.balance(*self._account_at(p))),
            "eth_getTransactionCount": lambda p: formats.quantity(
                engine.nonce(*self._account_at(p))
            ),
            "eth_getCode": lambda p: formats.data(engine.code(*self._account_at(p))),
            "eth_call": lambda p: formats.data(engine.call(*self._call_at(p))),
            "eth_estimateGas": lambda p: formats.quantity(engine.estimate_gas(*self._call_at(p))),
            "eth_sendRawTransaction": lambda p: formats.data(
                engine.send_raw_transaction(formats.parse_data(_param(p, 0), "transaction"))
            ),
            "eth_getTransactionByHash": lambda p: engine.transaction(
                formats.parse_hash(_param(p, 0))
            ),
            "eth_getTransactionReceipt": lambda p: engine.receipt(formats.parse_hash(_param(p, 0))),
            "eth_getLogs": lambda p: engine.logs(parse_filter(_param(p, 0))),
            "evm_mine": self._evm_mine,
        }

    @staticmethod
    def _account_at(params: list[Any]) -> tuple[Any, BlockRef]:
        return formats.parse_address(_param(params, 0)), parse_block_ref(
            _param(params, 1, "latest")
        )

    @staticmethod
    def _call_at(params: list[Any]) -> tuple[CallRequest, BlockRef]:
        return parse_call(_param(params, 0)), parse_block_ref(_param(params, 1, "latest"))

    def _evm_mine(self, params: list[Any]) -> str:
        """``evm_mine`` or ``evm_mine({"blocks": n})``: seal the pending block, then n - 1 more."""
        options = _param(params, 0, None) or {}
        if not isinstance(options, dict):
            raise invalid_params('evm_mine takes no parameter or {"blocks": n}')
        count = formats.parse_quantity(options.get("blocks", 1), "blocks")
        if not 1 <= count <= MAX_MINE_BLOCKS:
            raise invalid_params(f"blocks must be between 1 and {MAX_MINE_BLOCKS}")
        self._engine.mine(count)
        return "0x0"
