"""What the verifier reads from the chain, behind a four-method :class:`ChainReader`.

The checkpoint contract's views are ABI-encoded here by hand (they take and return only words
and one ``address[]``), so verifying needs no web3. :func:`read_facts` makes the reads; the
checks in :mod:`node.verify.checks` then run on the :class:`ChainFacts` without I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from node.core.eip712 import keccak256, to_checksum_address
from node.core.errors import CalpeError

WORD = 32


class ChainReadError(CalpeError):
    """The chain could not be read, or answered something a checkpoint contract would not."""


class ChainReader(Protocol):
    """Read access to one EVM chain (RSK, or anvil in tests)."""

    def chain_id(self) -> int:
        """``eth_chainId`` as the endpoint serves it."""
        ...

    def block_number(self) -> int:
        """The endpoint's current block number."""
        ...

    def block_timestamp(self, number: int) -> int:
        """Unix seconds of block ``number``."""
        ...

    def call(self, contract: str, data: bytes) -> bytes:
        """``eth_call`` of ``data`` on ``contract`` at the latest block; the return data."""
        ...


@dataclass(frozen=True, slots=True)
class ChainFacts:
    """The chain's side of one verification, read once."""

    chain_id: int
    contract: str
    network_id: bytes
    epoch: int
    root: bytes
    """The root anchored for ``epoch``; 32 zero bytes if none."""
    anchored_block: int
    """The block that anchored ``epoch``; 0 if none."""
    anchored_at_s: int
    """That block's timestamp; 0 if none."""
    head_block: int
    latest_epoch: int
    signers: frozenset[str]
    """The contract's current signer set, EIP-55."""
    threshold: int


def _selector(signature: str) -> bytes:
    return keccak256(signature.encode("ascii"))[:4]


CHECKPOINT_OF = _selector("checkpointOf(uint64)")
LATEST_EPOCH = _selector("latestEpoch()")
THRESHOLD = _selector("threshold()")
SIGNERS = _selector("signers()")
NETWORK_ID = _selector("networkId()")


def _words(data: bytes, count: int, what: str) -> list[bytes]:
    if len(data) < count * WORD:
        raise ChainReadError(
            f"{what} returned {len(data)} bytes: is the address a Calpe checkpoint contract?"
        )
    return [data[i * WORD : (i + 1) * WORD] for i in range(count)]


def _uint(word: bytes) -> int:
    return int.from_bytes(word, "big")


def decode_address_array(data: bytes) -> list[str]:
    """ABI-decode a lone ``address[]`` return value."""
    (offset,) = (_uint(w) for w in _words(data, 1, "signers()"))
    if offset + WORD > len(data):
        raise ChainReadError("signers() returned a malformed array")
    count = _uint(data[offset : offset + WORD])
    body = data[offset + WORD :]
    if count > 1024:
        raise ChainReadError(f"signers() claims {count} signers")
    return [to_checksum_address(w[12:]) for w in _words(body, count, "signers()")]


def read_facts(reader: ChainReader, contract: str, epoch: int) -> ChainFacts:
    """Everything :func:`node.verify.checks.evaluate` needs from the chain for ``epoch``."""
    chain_id = reader.chain_id()
    head = reader.block_number()
    root_word, block_word = _words(
        reader.call(contract, CHECKPOINT_OF + epoch.to_bytes(WORD, "big")), 2, "checkpointOf"
    )
    anchored = _uint(block_word)
    (latest,) = _words(reader.call(contract, LATEST_EPOCH), 1, "latestEpoch()")
    (threshold,) = _words(reader.call(contract, THRESHOLD), 1, "threshold()")
    (network_id,) = _words(reader.call(contract, NETWORK_ID), 1, "networkId()")
    signers = decode_address_array(reader.call(contract, SIGNERS))
    return ChainFacts(
        chain_id=chain_id,
        contract=contract,
        network_id=network_id,
        epoch=epoch,
        root=root_word,
        anchored_block=anchored,
        anchored_at_s=reader.block_timestamp(anchored) if anchored else 0,
        head_block=head,
        latest_epoch=_uint(latest),
        signers=frozenset(signers),
        threshold=_uint(threshold),
    )
