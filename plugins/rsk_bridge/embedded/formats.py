"""Ethereum JSON-RPC encodings: parse request values, render py-evm objects as RSK-like JSON.

Quantities are ``0x``-hex without leading zeros, data is ``0x``-hex bytes, addresses are
lowercase (as RSKj returns them). Blocks carry no EIP-1559/4844/4895 fields (RSK has none), so
a client that needs ``baseFeePerGas`` fails here as it would against RSK.
"""

from __future__ import annotations

from typing import Any

import rlp  # type: ignore[import-untyped]
from eth._utils.address import generate_contract_address
from eth.abc import BlockAPI, LogAPI, ReceiptAPI, SignedTransactionAPI
from eth_typing import Address

from plugins.rsk_bridge.embedded.errors import invalid_params

JsonDict = dict[str, Any]

_BLOOM_BYTES = 256


def quantity(value: int) -> str:
    return hex(value)


def data(value: bytes) -> str:
    return "0x" + value.hex()


def address(value: bytes) -> str | None:
    return data(value) if value else None


def parse_quantity(value: object, what: str = "quantity") -> int:
    """A non-negative integer from ``0x``-hex (or a plain JSON integer, which some clients send)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value[:2] in ("0x", "0X") and len(value) > 2:
        try:
            return int(value[2:], 16)
        except ValueError:
            pass
    raise invalid_params(f"invalid {what}: {value!r} (expected 0x-prefixed hex)")


def parse_data(value: object, what: str = "data", length: int | None = None) -> bytes:
    """Bytes from ``0x``-hex; ``length`` is an exact size (20 for addresses, 32 for hashes)."""
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raw = None
        if raw is not None and (length is None or len(raw) == length):
            return raw
    size = "" if length is None else f" of {length} bytes"
    raise invalid_params(f"invalid {what}: {value!r} (expected 0x-prefixed hex{size})")


def parse_address(value: object) -> Address:
    # Any letter case is accepted: RSK addresses may carry EIP-1191 checksums.
    return Address(parse_data(value, "address", 20))


def parse_hash(value: object) -> bytes:
    return parse_data(value, "hash", 32)


def _legacy_v(tx: SignedTransactionAPI) -> int:
    if tx.chain_id is None:
        return 27 + tx.y_parity
    return 35 + 2 * tx.chain_id + tx.y_parity


def _bloom(value: int) -> str:
    return data(value.to_bytes(_BLOOM_BYTES, "big"))


def block_json(block: BlockAPI, full: bool, pending: bool, min_gas_price: int) -> JsonDict:
    header = block.header
    txs: list[Any] = [
        transaction_json(tx, block, index, pending) if full else data(tx.hash)
        for index, tx in enumerate(block.transactions)
    ]
    return {
        "number": quantity(header.block_number),
        "hash": None if pending else data(header.hash),
        "parentHash": data(header.parent_hash),
        "nonce": data(header.nonce),
        "sha3Uncles": data(header.uncles_hash),
        "logsBloom": _bloom(header.bloom),
        "transactionsRoot": data(header.transaction_root),
        "stateRoot": data(header.state_root),
        "receiptsRoot": data(header.receipt_root),
        "miner": data(header.coinbase),
        "difficulty": quantity(header.difficulty),
        "totalDifficulty": quantity(header.difficulty),
        "extraData": data(header.extra_data),
        "size": quantity(len(rlp.encode(block))),
        "gasLimit": quantity(header.gas_limit),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp),
        "transactions": txs,
        "uncles": [data(uncle.hash) for uncle in block.uncles],
        "minimumGasPrice": quantity(min_gas_price),
    }


def transaction_json(
    tx: SignedTransactionAPI, block: BlockAPI, index: int, pending: bool
) -> JsonDict:
    result: JsonDict = {
        "hash": data(tx.hash),
        "nonce": quantity(tx.nonce),
        "blockHash": None if pending else data(block.hash),
        "blockNumber": None if pending else quantity(block.number),
        "transactionIndex": None if pending else quantity(index),
        "from": data(tx.sender),
        "to": address(tx.to),
        "value": quantity(tx.value),
        "gas": quantity(tx.gas),
        "gasPrice": quantity(tx.gas_price),
        "input": data(tx.data),
        "type": "0x0",
        "v": quantity(_legacy_v(tx)),
        "r": quantity(tx.r),
        "s": quantity(tx.s),
    }
    if tx.chain_id is not None:
        result["chainId"] = quantity(tx.chain_id)
    return result


def log_json(
    log: LogAPI, block: BlockAPI, tx: SignedTransactionAPI, tx_index: int, log_index: int
) -> JsonDict:
    """``log_index`` is the log's position in the whole block, as JSON-RPC defines it."""
    return {
        "removed": False,
        "logIndex": quantity(log_index),
        "transactionIndex": quantity(tx_index),
        "transactionHash": data(tx.hash),
        "blockHash": data(block.hash),
        "blockNumber": quantity(block.number),
        "address": data(log.address),
        "data": data(log.data),
        "topics": [data(topic.to_bytes(32, "big")) for topic in log.topics],
    }


def receipt_json(block: BlockAPI, receipts: tuple[ReceiptAPI, ...], index: int) -> JsonDict:
    tx = block.transactions[index]
    receipt = receipts[index]
    previous_cumulative = receipts[index - 1].gas_used if index else 0
    first_log_index = sum(len(r.logs) for r in receipts[:index])
    created = generate_contract_address(tx.sender, tx.nonce) if not tx.to else b""
    return {
        "transactionHash": data(tx.hash),
        "transactionIndex": quantity(index),
        "blockHash": data(block.hash),
        "blockNumber": quantity(block.number),
        "from": data(tx.sender),
        "to": address(tx.to),
        "cumulativeGasUsed": quantity(receipt.gas_used),
        "gasUsed": quantity(receipt.gas_used - previous_cumulative),
        "effectiveGasPrice": quantity(tx.gas_price),
        "contractAddress": address(created),
        "logs": [
            log_json(log, block, tx, index, first_log_index + offset)
            for offset, log in enumerate(receipt.logs)
        ],
        "logsBloom": _bloom(receipt.bloom),
        "status": quantity(1 if receipt.state_root == b"\x01" else 0),
        "type": "0x0",
    }
