"""Plain records the chain client returns, and their decoding from JSON-RPC objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from node.core.eip712 import to_checksum_address


class CheckpointRecord(NamedTuple):
    """What the contract stores for an epoch; all zeros when nothing was anchored."""

    root: bytes
    block_number: int


@dataclass(frozen=True)
class Receipt:
    """A mined transaction's receipt, on the canonical chain when it was read."""

    tx_hash: str
    block_number: int
    block_hash: str
    status: int
    gas_used: int
    contract_address: str | None


@dataclass(frozen=True)
class AnchoredLog:
    """One ``CheckpointAnchored`` event."""

    epoch: int
    root: bytes
    submitter: str
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int


def _int(value: str) -> int:
    return int(value, 16)


def receipt_from_json(raw: dict[str, Any]) -> Receipt:
    address = raw.get("contractAddress")
    return Receipt(
        tx_hash=raw["transactionHash"],
        block_number=_int(raw["blockNumber"]),
        block_hash=raw["blockHash"],
        status=_int(raw["status"]),
        gas_used=_int(raw["gasUsed"]),
        contract_address=to_checksum_address(address) if address else None,
    )


def anchored_from_json(raw: dict[str, Any]) -> AnchoredLog:
    data = bytes.fromhex(raw["data"][2:])
    return AnchoredLog(
        epoch=_int(raw["topics"][1]),
        root=data[:32],
        submitter=to_checksum_address(data[44:64]),
        block_number=_int(raw["blockNumber"]),
        block_hash=raw["blockHash"],
        tx_hash=raw["transactionHash"],
        log_index=_int(raw["logIndex"]),
    )
