"""The RSK bridge's only boundary to web3: a synchronous JSON-RPC client for the checkpoint
contract.

Sync on purpose (web3's ``HTTPProvider``): the trio node calls it through ``trio.to_thread``.
It speaks the subset of JSON-RPC that RSK serves:

- refuses to send unless ``eth_chainId`` equals the configured chain id;
- builds **legacy** (type 0) transactions only, with ``chainId``, ``gasPrice`` =
  ``eth_gasPrice`` x 1.1, the ``pending`` nonce and ``eth_estimateGas`` x 1.25 capped below the
  6.8M block gas limit; never calls ``eth_feeHistory``, ``eth_maxPriorityFeePerGas``,
  ``eth_createAccessList``, ``eth_getBlockReceipts`` nor uses the ``safe``/``finalized`` tags;
- reads ``eth_getLogs`` in ranges of at most 2,000 blocks (hosted endpoints' limit);
- retries connection errors and HTTP 429/5xx with exponential backoff.

Errors are :class:`ChainError` subclasses whose message says what to do. The account key is a
raw secp256k1 private key handed in by the caller; it is never logged nor shown in a repr.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider
from web3.types import RPCEndpoint

from node.core.eip712 import keccak256, normalise_address, to_checksum_address
from plugins.rsk_bridge import abi_codec
from plugins.rsk_bridge.chain_errors import (
    ChainError,
    ContractRevertedError,
    EndpointUnavailableError,
    TransactionTimeoutError,
    WrongChainError,
    error_from_rpc,
)
from plugins.rsk_bridge.chain_types import (
    AnchoredLog,
    CheckpointRecord,
    Receipt,
    anchored_from_json,
    receipt_from_json,
)

__all__ = [
    "AnchoredLog",
    "ChainClient",
    "ChainError",
    "CheckpointRecord",
    "Receipt",
    "load_artifact",
]

logger = logging.getLogger(__name__)

ARTIFACT_PATH = Path(__file__).with_name("contracts") / "CalpeCheckpoints.json"
MAX_LOG_RANGE = 2_000
GAS_CAP = 6_500_000
"""Below RSK's 6.8M block gas limit, so a transaction always fits a block."""
_RETRY_STATUS = {429, 502, 503, 504}
_ANCHORED_TOPIC = "0x" + keccak256(b"CheckpointAnchored(uint64,bytes32,address)").hex()
T = TypeVar("T")


@cache
def load_artifact() -> dict[str, Any]:
    """The committed compiler output: ``abi``, ``bytecode``, ``deployedBytecode``, ..."""
    artifact: dict[str, Any] = json.loads(ARTIFACT_PATH.read_text())
    return artifact


@dataclass(frozen=True)
class _TxParams:
    nonce: int
    to: str | None
    data: bytes
    gas: int
    gas_price: int
    value: int = 0


def _quantity(value: int) -> str:
    return hex(value)


def _int(value: str) -> int:
    return int(value, 16)


class ChainClient:
    """JSON-RPC client for one chain, one optional sending account and one checkpoint contract.

    ``url``: the endpoint; ``chain_id``: the chain it must serve (30 RSK mainnet, 31 testnet,
    33 regtest); ``private_key``: raw 32 bytes, needed only to send; ``contract``: the
    checkpoint contract (EIP-55, EIP-1191 or lowercase), set by :meth:`deploy` otherwise.
    """

    def __init__(
        self,
        url: str,
        chain_id: int,
        private_key: bytes | None = None,
        *,
        contract: str | None = None,
        timeout: float = 15.0,
        retries: int = 4,
        backoff: float = 0.5,
        poll_interval: float = 2.0,
    ) -> None:
        self.url = url
        self.chain_id = chain_id
        self.contract = normalise_address(contract, chain_id) if contract else None
        self._account: LocalAccount | None = (
            Account.from_key(private_key) if private_key is not None else None
        )
        self._provider = HTTPProvider(
            url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
        self._retries = retries
        self._backoff = backoff
        self._poll_interval = poll_interval
        self._sent: dict[str, _TxParams] = {}
        self.deployment: Receipt | None = None
        """The receipt of the contract this client deployed, if it did."""

    def __repr__(self) -> str:
        return f"ChainClient(url={self.url!r}, chain_id={self.chain_id}, account={self.account})"

    @property
    def account(self) -> str | None:
        """EIP-55 address of the sending account, if any."""
        return self._account.address if self._account else None

    # ----------------------------------------------------------------------- transport

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One JSON-RPC call with retries; the ``result`` member or a :class:`ChainError`."""
        endpoint = RPCEndpoint(method)
        response: dict[str, Any] = self._with_retries(
            method, lambda: dict(self._provider.make_request(endpoint, list(params)))
        )
        error = response.get("error")
        if error is not None:
            details = error if isinstance(error, dict) else {"message": str(error)}
            raise error_from_rpc(method, details, self._decode_revert)
        return response.get("result")

    def _with_retries(self, method: str, call: Callable[[], T]) -> T:
        for attempt in range(self._retries + 1):
            try:
                return call()
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status not in _RETRY_STATUS or attempt == self._retries:
                    raise EndpointUnavailableError(
                        f"{self.url} answered HTTP {status} to {method}: "
                        "check the endpoint URL, or use a node with a higher rate limit"
                    ) from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self._retries:
                    raise EndpointUnavailableError(
                        f"cannot reach the chain endpoint {self.url} ({type(exc).__name__}) "
                        f"after {self._retries + 1} attempts: check that the node is up and "
                        "the URL in the config is right"
                    ) from exc
            delay = self._backoff * 2**attempt
            logger.warning("rpc retry method=%s attempt=%s delay=%.2f", method, attempt + 1, delay)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _decode_revert(self, data: bytes) -> tuple[str, tuple[Any, ...]]:
        return abi_codec.decode_error(load_artifact()["abi"], data)

    # --------------------------------------------------------------------- chain state

    def check_chain_id(self) -> None:
        """Raise :class:`WrongChainError` unless the endpoint serves the configured chain."""
        served = _int(self.rpc("eth_chainId"))
        if served != self.chain_id:
            raise WrongChainError(
                f"{self.url} serves chain id {served}, but the config says {self.chain_id}: "
                "point the bridge at the right endpoint or fix the chain id in the genesis"
            )

    def block_number(self) -> int:
        return _int(self.rpc("eth_blockNumber"))

    def balance(self, address: str | None = None) -> int:
        """Balance in wei of ``address`` (default: the sending account)."""
        target = self._address_or_account(address)
        return _int(self.rpc("eth_getBalance", [target, "latest"]))

    def gas_price(self) -> int:
        """``eth_gasPrice`` plus 10 %: RSK's minimum gas price may rise 1 % per block."""
        return _int(self.rpc("eth_gasPrice")) * 11 // 10

    def _address_or_account(self, address: str | None) -> str:
        if address is not None:
            return normalise_address(address, self.chain_id)
        if self.account is None:
            raise ChainError("no account configured: pass an address")
        return self.account

    # ---------------------------------------------------------------------- contract calls

    def _contract(self) -> str:
        if self.contract is None:
            raise ChainError("no checkpoint contract configured: deploy one or set its address")
        return self.contract

    def call(self, function: str, *args: Any) -> tuple[Any, ...]:
        """``eth_call`` a view of the checkpoint contract at ``latest``; decoded outputs."""
        abi = load_artifact()["abi"]
        data = abi_codec.encode_call(abi, function, args)
        request = {"to": self._contract(), "data": "0x" + data.hex()}
        raw = self.rpc("eth_call", [request, "latest"])
        return abi_codec.decode_result(abi, function, bytes.fromhex(raw[2:]))

    def checkpoint_of(self, epoch: int) -> CheckpointRecord:
        root, block_number = self.call("checkpointOf", epoch)
        return CheckpointRecord(root, block_number)

    def latest_epoch(self) -> int:
        return int(self.call("latestEpoch")[0])

    def signers(self) -> list[str]:
        return [to_checksum_address(a) for a in self.call("signers")[0]]

    def threshold(self) -> int:
        return int(self.call("threshold")[0])

    def signer_set_nonce(self) -> int:
        """The nonce the next ``SignerSetChange`` must carry."""
        return int(self.call("signerSetNonce")[0])

    def network_id(self) -> bytes:
        return bytes(self.call("networkId")[0])

    def domain_separator(self) -> bytes:
        return bytes(self.call("domainSeparator")[0])

    # ---------------------------------------------------------------------- transactions

    def deploy(
        self, network_id: bytes, signers: Sequence[str], threshold: int, *, timeout: float = 300
    ) -> str:
        """Deploy a checkpoint contract, wait for it to be mined, and use it from now on."""
        artifact = load_artifact()
        ordered = sorted((normalise_address(a, self.chain_id) for a in signers), key=str.lower)
        args = abi_codec.encode_constructor(artifact["abi"], (network_id, ordered, threshold))
        code = bytes.fromhex(artifact["bytecode"][2:]) + args
        receipt = self.wait_for_receipt(self._transact(None, code), timeout=timeout)
        if receipt.status != 1 or receipt.contract_address is None:
            raise ChainError(f"contract deployment {receipt.tx_hash} failed on chain")
        self.deployment = receipt
        self.contract = receipt.contract_address
        logger.info("checkpoint contract deployed address=%s", self.contract)
        return self.contract

    def submit_checkpoint(
        self, epoch: int, root: bytes, signatures: bytes | Sequence[bytes]
    ) -> str:
        """Send ``submitCheckpoint``; returns the tx hash without waiting. The contract's
        rejections (stale epoch, bad quorum, ...) surface before sending, at gas estimation,
        as :class:`ContractRevertedError`."""
        packed = signatures if isinstance(signatures, bytes) else b"".join(signatures)
        data = abi_codec.encode_call(
            load_artifact()["abi"], "submitCheckpoint", (epoch, root, packed)
        )
        return self._transact(self._contract(), data)

    def transfer(self, to: str, wei: int) -> str:
        """Send ``wei`` to ``to`` (funding a fee account); returns the tx hash."""
        account = self._require_account()
        self.check_chain_id()
        nonce = _int(self.rpc("eth_getTransactionCount", [account.address, "pending"]))
        target = normalise_address(to, self.chain_id)
        return self._send(_TxParams(nonce, target, b"", 21_000, self.gas_price(), wei))

    def account_nonces(self) -> tuple[int, int]:
        """The sending account's ``(latest, pending)`` nonces: unequal while one of its
        transactions waits in the mempool."""
        account = self._require_account()
        latest = _int(self.rpc("eth_getTransactionCount", [account.address, "latest"]))
        pending = _int(self.rpc("eth_getTransactionCount", [account.address, "pending"]))
        return latest, pending

    def change_signers(
        self, signers: Sequence[str], threshold: int, signatures: bytes | Sequence[bytes]
    ) -> str:
        """Send ``changeSigners`` (signers in ascending order); returns the tx hash."""
        packed = signatures if isinstance(signatures, bytes) else b"".join(signatures)
        ordered = [normalise_address(a, self.chain_id) for a in signers]
        data = abi_codec.encode_call(
            load_artifact()["abi"], "changeSigners", (ordered, threshold, packed)
        )
        return self._transact(self._contract(), data)

    def replace_transaction(self, tx_hash: str, *, bump: float = 1.25) -> str:
        """Resend a stuck transaction with the same nonce and a gas price at least ``bump``
        times the old one (and not below the market's); returns the new hash."""
        self.check_chain_id()
        old = self._sent.get(tx_hash) or self._params_from_node(tx_hash)
        gas_price = max(int(old.gas_price * bump) + 1, self.gas_price())
        new = _TxParams(old.nonce, old.to, old.data, old.gas, gas_price, old.value)
        logger.info(
            "replacing tx old=%s nonce=%s gas_price=%s->%s",
            tx_hash,
            old.nonce,
            old.gas_price,
            gas_price,
        )
        return self._send(new)

    def _params_from_node(self, tx_hash: str) -> _TxParams:
        tx = self.rpc("eth_getTransactionByHash", [tx_hash])
        if tx is None:
            raise ChainError(f"transaction {tx_hash} is unknown to the node: nothing to replace")
        if tx.get("blockNumber") is not None:
            raise ChainError(f"transaction {tx_hash} is already mined: nothing to replace")
        data = bytes.fromhex(tx["input"][2:])
        return _TxParams(
            _int(tx["nonce"]), tx.get("to"), data, _int(tx["gas"]), _int(tx["gasPrice"])
        )

    def _transact(self, to: str | None, data: bytes) -> str:
        account = self._require_account()
        self.check_chain_id()
        request: dict[str, Any] = {"from": account.address, "data": "0x" + data.hex()}
        if to is not None:
            request["to"] = to
        estimate = _int(self.rpc("eth_estimateGas", [request]))
        gas = min(estimate * 5 // 4 + 10_000, GAS_CAP)
        if estimate > GAS_CAP:
            raise ChainError(f"the transaction needs {estimate} gas, above the {GAS_CAP} cap")
        nonce = _int(self.rpc("eth_getTransactionCount", [account.address, "pending"]))
        return self._send(_TxParams(nonce, to, data, gas, self.gas_price()))

    def _send(self, params: _TxParams) -> str:
        account = self._require_account()
        tx: dict[str, Any] = {
            "nonce": params.nonce,
            "gasPrice": params.gas_price,
            "gas": params.gas,
            "value": params.value,
            "data": params.data,
            "chainId": self.chain_id,
        }
        if params.to is not None:
            tx["to"] = params.to
        signed = account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        try:
            self.rpc("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
        except ChainError:
            # A retried send whose first attempt got through ("already known", or "nonce too
            # low" once mined): the node has it, so the send succeeded.
            if self.rpc("eth_getTransactionByHash", [tx_hash]) is None:
                raise
        self._sent[tx_hash] = params
        logger.info(
            "tx sent hash=%s nonce=%s gas=%s gas_price=%s",
            tx_hash,
            params.nonce,
            params.gas,
            params.gas_price,
        )
        return tx_hash

    def _require_account(self) -> LocalAccount:
        if self._account is None:
            raise ChainError("no account key configured: this client can only read")
        return self._account

    # --------------------------------------------------------------------- receipts

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt if the transaction is mined in a block that is still canonical."""
        raw = self.rpc("eth_getTransactionReceipt", [tx_hash])
        if raw is None or raw.get("blockNumber") is None:
            return None
        block = self.rpc("eth_getBlockByNumber", [raw["blockNumber"], False])
        if block is None or block["hash"] != raw["blockHash"]:
            return None
        return receipt_from_json(raw)

    def confirmations(self, tx_hash: str) -> int:
        """Blocks on top of (and including) the tx's block; 0 if pending, unknown or reorged
        out."""
        receipt = self.receipt(tx_hash)
        if receipt is None:
            return 0
        return self.confirmations_at(receipt.block_number)

    def confirmations_at(self, block_number: int) -> int:
        """Blocks on top of (and including) block ``block_number`` by the head the endpoint
        reports now; 0 if that head is below it (a reorg since the block was read, or an
        endpoint behind the one that served it)."""
        return max(self.block_number() - block_number + 1, 0)

    def wait_for_receipt(self, tx_hash: str, *, timeout: float = 300) -> Receipt:
        """Poll until the transaction is mined; :class:`TransactionTimeoutError` otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                raise TransactionTimeoutError(
                    f"transaction {tx_hash} not mined after {timeout:.0f} s: the gas price may be "
                    "too low; replace it with a higher one (replace_transaction)"
                )
            time.sleep(self._poll_interval)

    def wait_for_success(self, tx_hash: str, *, timeout: float = 300) -> Receipt:
        """:meth:`wait_for_receipt`, raising :class:`ContractRevertedError` on status 0."""
        receipt = self.wait_for_receipt(tx_hash, timeout=timeout)
        if receipt.status != 1:
            raise ContractRevertedError(
                "unknown",
                (),
                f"transaction {tx_hash} reverted on chain in block "
                f"{receipt.block_number}: another submission may have landed first",
            )
        return receipt

    # ------------------------------------------------------------------------- logs

    def anchored_logs(self, from_block: int, to_block: int | None = None) -> list[AnchoredLog]:
        """``CheckpointAnchored`` events in ``[from_block, to_block]`` (default: head), read in
        ranges of at most 2,000 blocks."""
        last = self.block_number() if to_block is None else to_block
        found: list[AnchoredLog] = []
        for start in range(from_block, last + 1, MAX_LOG_RANGE):
            end = min(start + MAX_LOG_RANGE - 1, last)
            query = {
                "address": self._contract(),
                "fromBlock": _quantity(start),
                "toBlock": _quantity(end),
                "topics": [_ANCHORED_TOPIC],
            }
            found.extend(anchored_from_json(raw) for raw in self.rpc("eth_getLogs", [query]))
        return found
