"""The embedded chain seen from web3 8 over HTTP, as the RSK bridge will see it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from eth_account import Account
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import RPCEndpoint, TxParams

from plugins.rsk_bridge.embedded_chain import EmbeddedChain

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]

# solc 0.8.34 (npm solc), evmVersion "cancun", optimizer on (200 runs). The lock uses transient
# storage (TLOAD/TSTORE, Cancun) and the code uses PUSH0 (Shanghai): running it proves the fork.
#
#   pragma solidity 0.8.34;
#   contract Counter {
#       event Bumped(address indexed by, uint256 total);
#       uint256 public total;
#       bool transient locked;
#       function bump(uint256 by) external {
#           require(by > 0, "zero bump");
#           require(!locked, "reentrant");
#           locked = true;
#           total += by;
#           emit Bumped(msg.sender, total);
#           locked = false;
#       }
#   }
COUNTER_BYTECODE = (
    "6080604052348015600e575f5ffd5b506101be8061001c5f395ff3fe608060405234801561000f575f5ffd5b50"
    "60043610610034575f3560e01c80632ddbd13a14610038578063b20eb4c414610052575b5f5ffd5b6100405f54"
    "81565b60405190815260200160405180910390f35b61006561006036600461014c565b610067565b005b5f8111"
    "6100a75760405162461bcd60e51b815260206004820152600960248201526807a65726f2062756d760bc1b6044"
    "8201526064015b60405180910390fd5b60ff5f5c16156100e55760405162461bcd60e51b815260206004820152"
    "60096024820152681c99595b9d1c985b9d60ba1b604482015260640161009e565b60015f805c60ff1916821790"
    "5d50805f5f8282546101039190610163565b90915550505f5460405190815233907f5311a32e1bc07c65f9f3c5"
    "7e845d29af6c46065a94add70de6af009b370c33899060200160405180910390a25f60ff19815c16815d505056"
    "5b5f6020828403121561015c575f5ffd5b5035919050565b8082018082111561018257634e487b7160e01b5f52"
    "601160045260245ffd5b9291505056fea26469706673582212204713723586c66cc52240c7a4e61b5352470d55"
    "c7cae72e8a144253460ca52ba764736f6c63430008220033"
)
COUNTER_ABI: list[dict[str, Any]] = [
    {
        "anonymous": False,
        "inputs": [
            {"indexed": True, "name": "by", "type": "address"},
            {"indexed": False, "name": "total", "type": "uint256"},
        ],
        "name": "Bumped",
        "type": "event",
    },
    {
        "inputs": [{"name": "by", "type": "uint256"}],
        "name": "bump",
        "outputs": [],
        "stateMutability": "nonpayable",
        "type": "function",
    },
    {
        "inputs": [],
        "name": "total",
        "outputs": [{"name": "", "type": "uint256"}],
        "stateMutability": "view",
        "type": "function",
    },
]
WAIT_TIMEOUT = 20.0


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_TIMEOUT) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def ticking() -> Iterator[EmbeddedChain]:
    """A chain that seals a block every 0.2 s, like the devnet but faster."""
    with EmbeddedChain(block_time=0.2) as chain:
        yield chain


@pytest.fixture
def manual() -> Iterator[EmbeddedChain]:
    """A chain that seals blocks only on ``evm_mine``, for exact block arithmetic."""
    with EmbeddedChain(block_time=3600) as chain:
        yield chain


@pytest.fixture
def per_tx() -> Iterator[EmbeddedChain]:
    """A chain that seals one block per transaction (``block_time=0``)."""
    with EmbeddedChain(block_time=0) as chain:
        yield chain


def connect(chain: EmbeddedChain) -> Web3:
    return Web3(HTTPProvider(chain.url, request_kwargs={"timeout": 10}))


def rpc(chain: EmbeddedChain, body: bytes | str) -> Any:
    response = httpx.post(
        chain.url, content=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 200
    return response.json()


def send_legacy(w3: Web3, private_key: str, tx: dict[str, Any]) -> HexBytes:
    """Sign like the bridge must for RSK: legacy, explicit gasPrice and chainId, pending nonce."""
    sender = Account.from_key(private_key)
    full = {
        "chainId": w3.eth.chain_id,
        "gasPrice": w3.eth.gas_price,
        "nonce": w3.eth.get_transaction_count(sender.address, "pending"),
        **tx,
    }
    if "gas" not in full:
        full["gas"] = w3.eth.estimate_gas(cast(TxParams, {"from": sender.address, **tx}))
    return w3.eth.send_raw_transaction(sender.sign_transaction(full).raw_transaction)


def deploy_counter(w3: Web3, private_key: str) -> Contract:
    tx_hash = send_legacy(w3, private_key, {"data": "0x" + COUNTER_BYTECODE})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=WAIT_TIMEOUT, poll_latency=0.05)
    assert receipt["status"] == 1
    return cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=COUNTER_ABI))


def bump(w3: Web3, counter: Contract, private_key: str, by: int) -> Any:
    data = counter.encode_abi("bump", args=[by])
    tx_hash = send_legacy(w3, private_key, {"to": counter.address, "data": data})
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=WAIT_TIMEOUT, poll_latency=0.05)


def test_web3_connects_to_an_rsk_regtest_chain(ticking: EmbeddedChain) -> None:
    w3 = connect(ticking)
    assert w3.is_connected()
    assert w3.eth.chain_id == 33
    assert w3.net.version == "33"
    assert w3.client_version.startswith("calpe-embedded/")
    assert w3.eth.get_balance(ticking.dev_accounts[0].address) > 0
    assert list(w3.eth.accounts) == []  # the node holds no keys: clients sign locally


def test_dev_accounts_are_the_public_development_ones(ticking: EmbeddedChain) -> None:
    address, private_key = ticking.dev_accounts[0]
    assert address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert Account.from_key(private_key).address == address
    assert len({account.address for account in ticking.dev_accounts}) == 10


def test_legacy_transfer_is_mined_and_confirmations_grow(ticking: EmbeddedChain) -> None:
    w3 = connect(ticking)
    (_, key), (recipient, _) = ticking.dev_accounts[1], ticking.dev_accounts[2]
    before = w3.eth.get_balance(recipient)
    tx_hash = send_legacy(w3, key, {"to": recipient, "value": 12345, "gas": 21_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=WAIT_TIMEOUT, poll_latency=0.05)
    assert receipt["status"] == 1
    assert receipt["type"] == 0
    assert w3.eth.get_balance(recipient) == before + 12345
    mined_in = receipt["blockNumber"]
    wait_until(lambda: w3.eth.block_number - mined_in + 1 >= 3)
    block = w3.eth.get_block(mined_in)
    assert block["hash"] == receipt["blockHash"]
    assert tx_hash in block["transactions"]
    assert w3.eth.get_transaction(tx_hash)["blockNumber"] == mined_in


def test_pending_nonce_counts_unmined_transactions(manual: EmbeddedChain) -> None:
    w3 = connect(manual)
    (sender, key), (recipient, _) = manual.dev_accounts[0], manual.dev_accounts[1]
    tx_hash = send_legacy(w3, key, {"to": recipient, "value": 1, "gas": 21_000})
    assert w3.eth.get_transaction_count(sender, "pending") == 1
    assert w3.eth.get_transaction_count(sender, "latest") == 0
    assert w3.eth.get_transaction(tx_hash)["blockNumber"] is None
    assert (
        rpc(manual, _request("eth_getTransactionReceipt", "0x" + tx_hash.hex()))["result"] is None
    )
    w3.provider.make_request(RPCEndpoint("evm_mine"), [])
    assert w3.eth.get_transaction_receipt(tx_hash)["blockNumber"] == 1
    assert w3.eth.get_transaction_count(sender, "latest") == 1


def test_cancun_contract_deploys_calls_and_reverts(ticking: EmbeddedChain) -> None:
    w3 = connect(ticking)
    _, key = ticking.dev_accounts[3]
    counter = deploy_counter(w3, key)
    assert w3.eth.get_code(counter.address).hex() in COUNTER_BYTECODE
    receipt = bump(w3, counter, key, 5)
    assert receipt["status"] == 1
    assert counter.functions.total().call() == 5
    with pytest.raises(ContractLogicError, match="zero bump"):
        counter.functions.bump(0).call()


def test_get_logs_returns_events_and_refuses_wide_ranges(per_tx: EmbeddedChain) -> None:
    w3 = connect(per_tx)
    sender, key = per_tx.dev_accounts[0]
    counter = deploy_counter(w3, key)
    first = bump(w3, counter, key, 2)
    bump(w3, counter, key, 3)
    event = counter.events.Bumped()
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": counter.address})
    assert [event.process_log(log)["args"]["total"] for log in logs] == [2, 5]
    assert logs[0]["transactionHash"] == first["transactionHash"]
    assert logs[0]["logIndex"] == 0
    sender_topic = "0x" + "00" * 12 + sender[2:].lower()
    by_sender = w3.eth.get_logs({"fromBlock": 0, "topics": [None, sender_topic]})
    assert len(by_sender) == 2
    assert w3.eth.get_logs({"fromBlock": 0, "topics": [None, "0x" + "11" * 32]}) == []
    assert len(w3.eth.get_logs({"blockHash": first["blockHash"]})) == 1
    assert len(w3.eth.get_logs({"fromBlock": 0, "toBlock": 1999})) == 2
    with pytest.raises(Web3RPCError, match="block range too large"):
        w3.eth.get_logs({"fromBlock": 0, "toBlock": 2000})


def test_typed_transactions_are_rejected(manual: EmbeddedChain) -> None:
    w3 = connect(manual)
    (sender, key), (recipient, _) = manual.dev_accounts[0], manual.dev_accounts[1]
    eip1559 = {
        "type": 2,
        "chainId": 33,
        "nonce": 0,
        "to": recipient,
        "value": 1,
        "gas": 21_000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    raw = Account.from_key(key).sign_transaction(eip1559).raw_transaction
    with pytest.raises(Web3RPCError, match="legacy"):
        w3.eth.send_raw_transaction(raw)
    assert w3.eth.get_transaction_count(sender, "pending") == 0


def test_wrong_chain_id_and_low_gas_price_are_rejected(manual: EmbeddedChain) -> None:
    w3 = connect(manual)
    (_, key), (recipient, _) = manual.dev_accounts[0], manual.dev_accounts[1]
    base = {"to": recipient, "value": 1, "gas": 21_000, "nonce": 0}
    wrong_chain = Account.from_key(key).sign_transaction(
        {**base, "chainId": 31, "gasPrice": w3.eth.gas_price}
    )
    with pytest.raises(Web3RPCError, match="invalid chain id 31"):
        w3.eth.send_raw_transaction(wrong_chain.raw_transaction)
    cheap = Account.from_key(key).sign_transaction({**base, "chainId": 33, "gasPrice": 1})
    with pytest.raises(Web3RPCError, match="below the minimum gas price"):
        w3.eth.send_raw_transaction(cheap.raw_transaction)
    fine = {**base, "chainId": 33, "gasPrice": w3.eth.gas_price}
    accepted = Account.from_key(key).sign_transaction(fine).raw_transaction
    w3.eth.send_raw_transaction(accepted)
    with pytest.raises(Web3RPCError, match="already known"):
        w3.eth.send_raw_transaction(accepted)
    replay = Account.from_key(key).sign_transaction({**fine, "value": 2}).raw_transaction
    with pytest.raises(Web3RPCError, match="nonce too low"):
        w3.eth.send_raw_transaction(replay)
    gap = Account.from_key(key).sign_transaction({**fine, "nonce": 5}).raw_transaction
    with pytest.raises(Web3RPCError, match="nonce too high"):
        w3.eth.send_raw_transaction(gap)


def test_concurrent_clients_and_the_block_timer_share_the_chain(ticking: EmbeddedChain) -> None:
    senders = ticking.dev_accounts[5:9]
    recipient = ticking.dev_accounts[9].address

    def transfer_ten(private_key: str) -> list[HexBytes]:
        w3 = connect(ticking)
        return [
            send_legacy(w3, private_key, {"to": recipient, "value": 1, "gas": 21_000})
            for _ in range(10)
        ]

    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        batches = list(pool.map(transfer_ten, [key for _, key in senders]))
    w3 = connect(ticking)
    receipts = [
        w3.eth.wait_for_transaction_receipt(tx_hash, timeout=WAIT_TIMEOUT, poll_latency=0.05)
        for batch in batches
        for tx_hash in batch
    ]
    assert all(receipt["status"] == 1 for receipt in receipts)
    assert [w3.eth.get_transaction_count(address) for address, _ in senders] == [10] * 4


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("eth_feeHistory", ["0x1", "latest", []]),
        ("eth_maxPriorityFeePerGas", []),
        ("eth_createAccessList", [{"to": "0x" + "00" * 20}, "latest"]),
        ("eth_getBlockReceipts", ["latest"]),
    ],
)
def test_methods_rsk_lacks_are_refused(
    ticking: EmbeddedChain, method: str, params: list[Any]
) -> None:
    error = rpc(ticking, _request(method, *params))["error"]
    assert error["code"] == -32601
    assert "RSK" in error["message"]


def test_fee_history_through_web3_is_refused(ticking: EmbeddedChain) -> None:
    with pytest.raises(Web3RPCError, match="not supported"):
        connect(ticking).eth.fee_history(1, "latest")


@pytest.mark.parametrize("tag", ["safe", "finalized"])
def test_safe_and_finalized_tags_are_refused(ticking: EmbeddedChain, tag: str) -> None:
    error = rpc(ticking, _request("eth_getBlockByNumber", tag, False))["error"]
    assert error["code"] == -32602
    assert tag in error["message"]


def test_blocks_look_like_rsk_blocks(ticking: EmbeddedChain) -> None:
    block = rpc(ticking, _request("eth_getBlockByNumber", "latest", False))["result"]
    assert "baseFeePerGas" not in block  # clients must not build EIP-1559 transactions
    assert int(block["gasLimit"], 16) == 6_800_000
    assert block["minimumGasPrice"] == rpc(ticking, _request("eth_gasPrice"))["result"]
    assert rpc(ticking, _request("eth_getBlockByNumber", "0xffffff", False))["result"] is None


def test_malformed_requests_get_errors_and_the_server_keeps_serving(
    ticking: EmbeddedChain,
) -> None:
    parse = rpc(ticking, b'{"jsonrpc": "2.0", "method": "eth_chainId", "id": 1')
    assert parse == {"jsonrpc": "2.0", "id": None, "error": parse["error"]}
    assert parse["error"]["code"] == -32700
    assert rpc(ticking, b"\xff\xfe garbage")["error"]["code"] == -32700
    assert rpc(ticking, b"[]")["error"]["code"] == -32600
    assert rpc(ticking, b'"just a string"')["error"]["code"] == -32600
    assert rpc(ticking, _request("eth_noSuchMethod"))["error"]["code"] == -32601
    assert rpc(ticking, _request("eth_getBalance", "0x1234"))["error"]["code"] == -32602
    assert rpc(ticking, _request("eth_sendRawTransaction", "0xc0"))["error"]["code"] == -32003
    assert connect(ticking).eth.chain_id == 33


def test_batch_requests_are_answered_in_order(ticking: EmbeddedChain) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_feeHistory", "params": []},
        {"jsonrpc": "2.0", "method": "eth_blockNumber", "params": []},  # a notification
        {"jsonrpc": "2.0", "id": 3, "method": "net_version"},
    ]
    responses = rpc(ticking, json.dumps(batch))
    assert [response["id"] for response in responses] == [1, 2, 3]
    assert responses[0]["result"] == "0x21"
    assert responses[1]["error"]["code"] == -32601
    assert responses[2]["result"] == "33"


@pytest.mark.slow
def test_command_line_serves_until_terminated(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "plugins.rsk_bridge.embedded_chain", "--block-time", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert Web3(HTTPProvider(url)).eth.chain_id == 33
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT_TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _request(method: str, *params: Any) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)})
