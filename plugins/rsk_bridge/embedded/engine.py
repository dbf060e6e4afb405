"""The EVM behind the embedded chain: a py-evm ``MiningChain`` shaped like RSK regtest.

* Cancun rules (``CancunVM``), chain id 33 by default, a constant 6.8M block gas limit, a genesis
  base fee of 0 and a minimum gas price (RSK has no base fee; it refuses a gas price below the
  block's ``minimumGasPrice``).
* Legacy (type-0) transactions only. A valid transaction is executed at once into the pending
  block, so an invalid one (bad nonce, no funds) is refused when sent: there is no mempool and
  a nonce gap is refused rather than queued.
* State lives in memory only (py-evm's ``AtomicDB`` over a dict) and is lost on exit: the devnet is
  throwaway. Nothing here ever reorganises the chain.

py-evm is not thread-safe: every public method of :class:`ChainEngine` holds one lock.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import rlp  # type: ignore[import-untyped]
from eth.abc import BlockAPI, BlockHeaderAPI, SignedTransactionAPI, VirtualMachineAPI
from eth.chains.base import MiningChain
from eth.constants import POST_MERGE_MIX_HASH, POST_MERGE_NONCE, ZERO_ADDRESS
from eth.db.atomic import AtomicDB
from eth.exceptions import HeaderNotFound, VMError
from eth.typing import AccountDetails, AccountState, HeaderParams
from eth.vm.forks.cancun import CancunVM
from eth.vm.spoof import SpoofTransaction
from eth_keys.exceptions import BadSignature
from eth_typing import Address, BlockNumber, Hash32
from eth_utils.address import to_canonical_address
from eth_utils.exceptions import ValidationError

from plugins.rsk_bridge.embedded import formats
from plugins.rsk_bridge.embedded.accounts import DevAccount
from plugins.rsk_bridge.embedded.errors import (
    LIMIT_EXCEEDED,
    SERVER_ERROR,
    TRANSACTION_REJECTED,
    RpcError,
    execution_error,
)
from plugins.rsk_bridge.embedded.queries import BlockRef, CallRequest, IndexedLog, LogQuery

RSK_REGTEST_CHAIN_ID = 33
RSK_BLOCK_GAS_LIMIT = 6_800_000
DEFAULT_MIN_GAS_PRICE = 10**9
"""Wei. A non-zero floor keeps clients' fee arithmetic honest."""
MAX_LOG_BLOCK_RANGE = 2_000
"""Blocks per ``eth_getLogs`` query, the limit of hosted RSK endpoints."""

P = ParamSpec("P")
R = TypeVar("R")


def _locked(
    method: Callable[Concatenate[ChainEngine, P], R],
) -> Callable[Concatenate[ChainEngine, P], R]:
    @functools.wraps(method)
    def wrapper(self: ChainEngine, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class _RskRegtestChain(MiningChain):
    chain_id = RSK_REGTEST_CHAIN_ID
    vm_configuration: tuple[tuple[BlockNumber, type[VirtualMachineAPI]], ...] = (
        (BlockNumber(0), CancunVM),
    )

    def create_header_from_parent(
        self, parent_header: BlockHeaderAPI, **header_params: Any
    ) -> BlockHeaderAPI:
        # RSK's gas limit does not drift toward a target the way Ethereum's may.
        header_params["gas_limit"] = parent_header.gas_limit
        return super().create_header_from_parent(parent_header, **header_params)


def _chain_class(chain_id: int) -> type[_RskRegtestChain]:
    class _Chain(_RskRegtestChain):
        pass

    _Chain.chain_id = chain_id
    return _Chain


class ChainEngine:
    """An in-memory chain with prefunded ``accounts``; see the module docstring for its rules."""

    def __init__(
        self,
        accounts: Sequence[DevAccount],
        balance_wei: int,
        *,
        chain_id: int = RSK_REGTEST_CHAIN_ID,
        gas_limit: int = RSK_BLOCK_GAS_LIMIT,
        min_gas_price: int = DEFAULT_MIN_GAS_PRICE,
        automine: bool = False,
    ) -> None:
        self._lock = threading.RLock()
        self.chain_id = chain_id
        self.min_gas_price = min_gas_price
        self.automine = automine
        genesis_state: AccountState = {
            to_canonical_address(account.address): AccountDetails(
                balance=balance_wei, nonce=0, code=b"", storage={}
            )
            for account in accounts
        }
        genesis_params: dict[str, HeaderParams] = {
            "coinbase": ZERO_ADDRESS,
            "difficulty": 0,
            "extra_data": b"",
            "gas_limit": gas_limit,
            "mix_hash": POST_MERGE_MIX_HASH,
            "nonce": POST_MERGE_NONCE,
            "timestamp": int(time.time()),
            "base_fee_per_gas": 0,
        }
        chain = _chain_class(chain_id).from_genesis(AtomicDB(), genesis_params, genesis_state)
        self._chain = cast(MiningChain, chain)
        self._tx_blocks: dict[bytes, int] = {}
        self._logs: dict[int, list[IndexedLog]] = {}

    # -- blocks -------------------------------------------------------------------------------

    @_locked
    def latest_number(self) -> int:
        return self._chain.header.block_number - 1

    @_locked
    def block(self, ref: BlockRef, full: bool) -> formats.JsonDict | None:
        if ref == "pending":
            return formats.block_json(self._chain.get_block(), full, True, self.min_gas_price)
        number = self._number(ref)
        if number > self.latest_number():
            return None
        block = self._chain.get_canonical_block_by_number(BlockNumber(number))
        return formats.block_json(block, full, False, self.min_gas_price)

    @_locked
    def block_by_hash(self, block_hash: bytes, full: bool) -> formats.JsonDict | None:
        block = self._canonical_block_by_hash(block_hash)
        if block is None:
            return None
        return formats.block_json(block, full, False, self.min_gas_price)

    @_locked
    def mine(self, count: int = 1) -> int:
        """Seal the pending block (and ``count - 1`` empty ones); return the new latest number."""
        for _ in range(count):
            self._mine_one()
        return self.latest_number()

    # -- state --------------------------------------------------------------------------------

    @_locked
    def balance(self, account: Address, ref: BlockRef) -> int:
        return self._chain.get_vm(self._header(ref)).state.get_balance(account)

    @_locked
    def nonce(self, account: Address, ref: BlockRef) -> int:
        return self._chain.get_vm(self._header(ref)).state.get_nonce(account)

    @_locked
    def code(self, account: Address, ref: BlockRef) -> bytes:
        return self._chain.get_vm(self._header(ref)).state.get_code(account)

    @_locked
    def gas_price(self) -> int:
        return max(self.min_gas_price, self._chain.header.base_fee_per_gas or 0)

    @_locked
    def call(self, request: CallRequest, ref: BlockRef) -> bytes:
        header = self._header(ref)
        transaction = self._spoof(request, header, request.gas or header.gas_limit)
        try:
            return self._chain.get_transaction_result(transaction, header)
        except VMError as error:
            raise execution_error(error) from error
        except ValidationError as error:
            raise RpcError(SERVER_ERROR, str(error)) from error

    @_locked
    def estimate_gas(self, request: CallRequest, ref: BlockRef) -> int:
        header = self._header(ref)
        transaction = self._spoof(request, header, request.gas or header.gas_limit)
        try:
            return self._chain.estimate_gas(transaction, header)
        except VMError as error:
            raise execution_error(error) from error
        except ValidationError as error:
            raise RpcError(SERVER_ERROR, str(error)) from error

    # -- transactions -------------------------------------------------------------------------

    @_locked
    def send_raw_transaction(self, raw: bytes) -> bytes:
        """Execute a signed legacy transaction into the pending block; return its hash."""
        tx = self._decode_legacy(raw)
        self._check_admissible(tx)
        if tx.gas > self._chain.header.gas_limit - self._chain.header.gas_used:
            self._mine_one()  # the pending block is full: the transaction opens the next one
        try:
            self._chain.apply_transaction(tx)
        except ValidationError as error:
            raise RpcError(TRANSACTION_REJECTED, f"transaction rejected: {error}") from error
        self._tx_blocks[tx.hash] = self._chain.header.block_number
        if self.automine:
            self._mine_one()
        return tx.hash

    @_locked
    def transaction(self, tx_hash: bytes) -> formats.JsonDict | None:
        found = self._find_transaction(tx_hash)
        if found is None:
            return None
        block, index, pending = found
        return formats.transaction_json(block.transactions[index], block, index, pending)

    @_locked
    def receipt(self, tx_hash: bytes) -> formats.JsonDict | None:
        found = self._find_transaction(tx_hash)
        if found is None or found[2]:
            return None
        block, index, _ = found
        return formats.receipt_json(block, block.get_receipts(self._chain.chaindb), index)

    @_locked
    def logs(self, query: LogQuery) -> list[formats.JsonDict]:
        first, last = self._log_range(query)
        matches = []
        for number in range(first, last + 1):
            for log in self._logs.get(number, ()):
                if log.matches(query):
                    matches.append(log.json)
        return matches

    # -- internals (the lock is held) ---------------------------------------------------------

    def _number(self, ref: BlockRef) -> int:
        if ref == "latest":
            return self.latest_number()
        if ref == "earliest":
            return 0
        if ref == "pending":
            return self._chain.header.block_number
        return ref

    def _header(self, ref: BlockRef) -> BlockHeaderAPI:
        if ref == "pending":
            return self._chain.header
        number = self._number(ref)
        if number > self.latest_number():
            raise RpcError(SERVER_ERROR, f"header not found: block {number} is not mined yet")
        return self._chain.get_canonical_block_header_by_number(BlockNumber(number))

    def _canonical_block_by_hash(self, block_hash: bytes) -> BlockAPI | None:
        try:
            header = self._chain.get_block_header_by_hash(Hash32(block_hash))
        except HeaderNotFound:
            return None
        if header.block_number > self.latest_number():
            return None
        block = self._chain.get_canonical_block_by_number(header.block_number)
        return block if block.hash == block_hash else None

    def _spoof(
        self, request: CallRequest, header: BlockHeaderAPI, gas: int
    ) -> SignedTransactionAPI:
        nonce = self._chain.get_vm(header).state.get_nonce(request.sender)
        unsigned = self._chain.get_vm(header).create_unsigned_transaction(
            nonce=nonce,
            gas_price=request.gas_price,
            gas=gas,
            to=Address(request.to),
            value=request.value,
            data=request.data,
        )
        # A SpoofTransaction quacks like a signed one; py-evm's own estimator relies on that.
        return cast(SignedTransactionAPI, SpoofTransaction(unsigned, from_=request.sender))

    def _decode_legacy(self, raw: bytes) -> SignedTransactionAPI:
        if not raw:
            raise RpcError(TRANSACTION_REJECTED, "empty transaction")
        if raw[0] < 0xC0:
            raise RpcError(
                TRANSACTION_REJECTED,
                f"typed transaction (EIP-2718 type {raw[0]:#04x}) not supported: "
                "RSK accepts only legacy transactions; set gasPrice and chainId",
            )
        try:
            tx = self._chain.get_vm().get_transaction_builder().decode(raw)
            tx.check_signature_validity()
        except (rlp.exceptions.RLPException, ValidationError, BadSignature, ValueError) as error:
            raise RpcError(TRANSACTION_REJECTED, f"malformed transaction: {error}") from error
        return tx

    def _check_admissible(self, tx: SignedTransactionAPI) -> None:
        reason = self._rejection(tx)
        if reason is not None:
            raise RpcError(TRANSACTION_REJECTED, f"transaction rejected: {reason}")

    def _rejection(self, tx: SignedTransactionAPI) -> str | None:
        """Why ``tx`` cannot enter the pending block, in the words clients look for (geth's)."""
        header = self._chain.header
        if tx.chain_id is not None and tx.chain_id != self.chain_id:
            return f"invalid chain id {tx.chain_id}, this chain is {self.chain_id}"
        if tx.hash in self._tx_blocks:
            return "already known"
        if tx.gas_price < self.gas_price():
            return f"gas price {tx.gas_price} below the minimum gas price {self.gas_price()}"
        if tx.gas > header.gas_limit:
            return f"gas {tx.gas} exceeds the block gas limit {header.gas_limit}"
        state = self._chain.get_vm(header).state
        expected = state.get_nonce(tx.sender)
        if tx.nonce != expected:
            too = "low" if tx.nonce < expected else "high (no mempool: send in nonce order)"
            return f"nonce too {too}: next nonce {expected}, got {tx.nonce}"
        cost = tx.gas * tx.gas_price + tx.value
        balance = state.get_balance(tx.sender)
        if balance < cost:
            return f"insufficient funds for gas * price + value: have {balance}, want {cost}"
        return None

    def _mine_one(self) -> None:
        pending = self._chain.header
        if not pending.gas_used:
            # Nothing ran against the pending header yet: date it now rather than when it opened.
            parent_time = self._chain.get_canonical_head().timestamp
            self._chain.set_header_timestamp(max(int(time.time()), parent_time + 1))
        block = self._chain.mine_block(mix_hash=os.urandom(32))
        self._index_logs(block)

    def _index_logs(self, block: BlockAPI) -> None:
        indexed: list[IndexedLog] = []
        for tx_index, receipt in enumerate(block.get_receipts(self._chain.chaindb)):
            tx = block.transactions[tx_index]
            for log in receipt.logs:
                topics = tuple(topic.to_bytes(32, "big") for topic in log.topics)
                json = formats.log_json(log, block, tx, tx_index, len(indexed))
                indexed.append(IndexedLog(log.address, topics, json))
        if indexed:
            self._logs[block.number] = indexed

    def _find_transaction(self, tx_hash: bytes) -> tuple[BlockAPI, int, bool] | None:
        number = self._tx_blocks.get(tx_hash)
        if number is None:
            return None
        pending = number > self.latest_number()
        block = (
            self._chain.get_block()
            if pending
            else self._chain.get_canonical_block_by_number(BlockNumber(number))
        )
        for index, tx in enumerate(block.transactions):
            if tx.hash == tx_hash:
                return block, index, pending
        return None

    def _log_range(self, query: LogQuery) -> tuple[int, int]:
        if query.block_hash is not None:
            block = self._canonical_block_by_hash(query.block_hash)
            if block is None:
                raise RpcError(SERVER_ERROR, "unknown block hash")
            return block.number, block.number
        first, last = self._number(query.from_block), self._number(query.to_block)
        # The limit applies to the range asked for, as a hosted endpoint applies it.
        if last - first + 1 > MAX_LOG_BLOCK_RANGE:
            raise RpcError(
                LIMIT_EXCEEDED,
                f"block range too large: {last - first + 1} blocks, at most "
                f"{MAX_LOG_BLOCK_RANGE} per eth_getLogs query",
            )
        return first, min(last, self.latest_number())
