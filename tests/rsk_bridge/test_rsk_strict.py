"""The RSK-strict proxy refuses what RSK refuses and forwards the rest."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import warnings
from typing import Any

import httpx
import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.exceptions import MethodUnavailable

from plugins.rsk_bridge.chain import ChainClient, load_artifact
from plugins.rsk_bridge.chain_errors import RpcRejectedError
from plugins.rsk_bridge.rsk_strict import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    TX_REJECTED,
    UNSUPPORTED_METHODS,
)
from tests.rsk_bridge.conftest import CHAIN_ID, Chain

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("allow_rsk_refusals")]


def post(url: str, body: Any) -> Any:
    return httpx.post(url, json=body, timeout=10).json()


def call(url: str, method: str, params: list[Any]) -> dict[str, Any]:
    answer: dict[str, Any] = post(
        url, {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
    )
    return answer


def _signed(key: bytes, nonce: int, **fields: Any) -> str:
    to = Account.from_key(key).address
    tx = {"nonce": nonce, "gas": 21_000, "to": to, "value": 1, "chainId": CHAIN_ID, **fields}
    return "0x" + bytes(Account.sign_transaction(tx, key).raw_transaction).hex()


@pytest.mark.parametrize(
    "fees",
    [
        {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9},  # EIP-1559, type 2
        {"gasPrice": 10**10, "accessList": []},  # EIP-2930, type 1
    ],
)
def test_typed_raw_transactions_are_rejected(anvil_chain: Chain, fees: dict[str, Any]) -> None:
    key = anvil_chain.anvil.dev_keys[1]
    client = ChainClient(anvil_chain.proxy.url, CHAIN_ID, key)
    nonce = int(client.rpc("eth_getTransactionCount", [client.account, "pending"]), 16)
    with pytest.raises(RpcRejectedError, match="legacy transactions only") as info:
        client.rpc("eth_sendRawTransaction", [_signed(key, nonce, **fees)])
    assert info.value.code == TX_REJECTED
    assert int(client.rpc("eth_getTransactionCount", [client.account, "pending"]), 16) == nonce
    # The same transfer as a legacy transaction goes through.
    tx_hash = client.rpc("eth_sendRawTransaction", [_signed(key, nonce, gasPrice=10**10)])
    assert client.wait_for_receipt(tx_hash, timeout=30).status == 1


def test_eth_send_transaction_with_fee_market_fields_is_rejected(anvil_chain: Chain) -> None:
    url = anvil_chain.proxy.url
    sender = Account.from_key(anvil_chain.anvil.dev_keys[2]).address
    tx = {"from": sender, "to": sender, "value": "0x1", "maxFeePerGas": hex(10**10)}
    assert call(url, "eth_sendTransaction", [tx])["error"]["code"] == TX_REJECTED
    # Without fee fields RSK builds a legacy transaction, and so does anvil behind the proxy.
    plain = {"from": sender, "to": sender, "value": "0x1"}
    tx_hash = call(url, "eth_sendTransaction", [plain])["result"]
    assert call(url, "eth_getTransactionByHash", [tx_hash])["result"]["type"] == "0x0"


def test_web3_default_fee_filling_fails_on_rsk(anvil_chain: Chain) -> None:
    """web3 fills EIP-1559 fees from fee-market methods RSK lacks; the chain client must not
    rely on it."""
    w3 = Web3(HTTPProvider(anvil_chain.proxy.url))
    sender = Account.from_key(anvil_chain.anvil.dev_keys[2]).address
    before = len(anvil_chain.proxy.rejections)
    contract = w3.eth.contract(address=sender, abi=load_artifact()["abi"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # web3 warns before falling back to eth_feeHistory
        with pytest.raises(MethodUnavailable, match="does not exist/is not available"):
            contract.functions.latestEpoch().build_transaction({"from": sender, "gas": 50_000})
    refused = {method for method, _ in anvil_chain.proxy.rejections[before:]}
    assert refused == {"eth_maxPriorityFeePerGas", "eth_feeHistory"}


@pytest.mark.parametrize("method", sorted(UNSUPPORTED_METHODS))
def test_methods_rsk_lacks_are_not_found(anvil_chain: Chain, method: str) -> None:
    params: dict[str, list[Any]] = {
        "eth_feeHistory": ["0x4", "latest", [50]],
        "eth_maxPriorityFeePerGas": [],
        "eth_createAccessList": [{"to": "0x" + "00" * 20}, "latest"],
        "eth_getBlockReceipts": ["latest"],
    }
    assert call(anvil_chain.proxy.url, method, params[method])["error"]["code"] == METHOD_NOT_FOUND
    assert "error" not in call(anvil_chain.anvil.url, method, params[method])  # anvil has it


@pytest.mark.parametrize("tag", ["safe", "finalized"])
def test_safe_and_finalized_tags_are_rejected(anvil_chain: Chain, tag: str) -> None:
    url = anvil_chain.proxy.url
    assert call(url, "eth_getBlockByNumber", [tag, False])["error"]["code"] == INVALID_PARAMS
    logs = call(url, "eth_getLogs", [{"fromBlock": tag, "toBlock": "latest"}])
    assert logs["error"]["code"] == INVALID_PARAMS
    assert call(url, "eth_getBlockByNumber", ["latest", False])["result"]["number"]


def test_batches_are_answered_element_by_element(anvil_chain: Chain) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_feeHistory", "params": ["0x1", "latest", []]},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_blockNumber", "params": []},
    ]
    answers = post(anvil_chain.proxy.url, batch)
    assert [a["id"] for a in answers] == [1, 2, 3]
    assert answers[0]["result"] == hex(CHAIN_ID)
    assert answers[1]["error"]["code"] == METHOD_NOT_FOUND
    assert answers[2]["result"].startswith("0x")
    assert post(anvil_chain.proxy.url, [])["error"]["code"] == -32600


def test_log_ranges_over_2000_blocks_are_rejected(anvil_chain: Chain) -> None:
    client = ChainClient(anvil_chain.anvil.url, CHAIN_ID)
    if client.block_number() < 2_001:
        client.rpc("anvil_mine", [hex(2_001)])
    url = anvil_chain.proxy.url
    wide = call(url, "eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(2_000)}])
    assert wide["error"]["code"] == INVALID_PARAMS
    assert "exceeds the limit of 2000 blocks" in wide["error"]["message"]
    assert isinstance(
        call(url, "eth_getLogs", [{"fromBlock": "0x1", "toBlock": hex(2_000)}])["result"], list
    )
    assert "error" in call(url, "eth_getLogs", [{"fromBlock": "earliest"}])


@pytest.mark.slow
def test_runs_as_a_command(anvil_chain: Chain) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plugins.rsk_bridge.rsk_strict",
            "--upstream",
            anvil_chain.anvil.url,
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stderr = process.stderr

    def read() -> None:
        for line in stderr:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        line = lines.get(timeout=20)
        url = line.split("url=")[1].split()[0]
        assert call(url, "eth_chainId", [])["result"] == hex(CHAIN_ID)
        assert call(url, "eth_feeHistory", ["0x1", "latest", []])["error"]["code"] == (
            METHOD_NOT_FOUND
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        reader.join(timeout=10)
        stderr.close()
