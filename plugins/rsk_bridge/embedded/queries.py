"""The parsed forms of ``eth_call``/``eth_estimateGas`` requests and ``eth_getLogs`` filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from eth.constants import ZERO_ADDRESS
from eth_typing import Address

from plugins.rsk_bridge.embedded.formats import JsonDict

BlockRef = int | Literal["latest", "earliest", "pending"]
"""A block number or one of the tags RSK accepts."""


@dataclass(frozen=True)
class CallRequest:
    """The transaction object of ``eth_call`` / ``eth_estimateGas``; ``to == b""`` creates."""

    sender: Address = ZERO_ADDRESS
    to: bytes = b""
    gas: int | None = None
    gas_price: int = 0
    value: int = 0
    data: bytes = b""


@dataclass(frozen=True)
class LogQuery:
    """An ``eth_getLogs`` filter; each ``topics`` position is ``None`` (any) or a set of values."""

    from_block: BlockRef = "latest"
    to_block: BlockRef = "latest"
    block_hash: bytes | None = None
    addresses: frozenset[bytes] = frozenset()
    topics: tuple[frozenset[bytes] | None, ...] = ()


@dataclass(frozen=True)
class IndexedLog:
    """A mined log, kept with its JSON form so that queries need not re-read receipts."""

    address: bytes
    topics: tuple[bytes, ...]
    json: JsonDict = field(hash=False)

    def matches(self, query: LogQuery) -> bool:
        if query.addresses and self.address not in query.addresses:
            return False
        if len(query.topics) > len(self.topics):
            return False
        return all(
            wanted is None or topic in wanted
            for wanted, topic in zip(query.topics, self.topics, strict=False)
        )
