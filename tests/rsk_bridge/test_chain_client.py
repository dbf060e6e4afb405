"""The chain client against anvil behind the RSK-strict proxy: chain-id guard, legacy
transactions, EIP-1191 addresses, chunked logs, reorgs, replacement, typed errors, retries."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_account import Account

from node.core import eip712
from node.core.errors import ConfigError
from plugins.rsk_bridge.chain import MAX_LOG_RANGE, ChainClient
from plugins.rsk_bridge.chain_errors import (
    EndpointUnavailableError,
    InsufficientFundsError,
    NonceConflictError,
    WrongChainError,
)
from plugins.rsk_bridge.rsk_strict import RskStrictProxy
from tests.rsk_bridge.conftest import (
    CHAIN_ID,
    NETWORK_ID,
    SIGNER_KEYS,
    Chain,
    packed_checkpoint,
    root_of,
    signer_addresses,
)

pytestmark = pytest.mark.integration


def submit(client: ChainClient, epoch: int) -> str:
    assert client.contract is not None
    signatures = packed_checkpoint(SIGNER_KEYS[:3], client.contract, epoch, root_of(epoch))
    return client.submit_checkpoint(epoch, root_of(epoch), signatures)


def test_transactions_are_legacy_with_chain_id_and_marked_up_gas_price(
    deployed: ChainClient,
) -> None:
    market = int(deployed.rpc("eth_gasPrice"), 16)
    tx_hash = submit(deployed, 1)
    tx = deployed.rpc("eth_getTransactionByHash", [tx_hash])
    assert tx["type"] == "0x0"
    assert int(tx["chainId"], 16) == CHAIN_ID
    assert int(tx["gasPrice"], 16) >= market * 11 // 10
    assert "maxFeePerGas" not in tx
    assert deployed.wait_for_success(tx_hash, timeout=30).gas_used < int(tx["gas"], 16)


def test_a_wrong_chain_id_is_refused_before_sending(anvil_chain: Chain) -> None:
    client = anvil_chain.client(contract=None)
    nonce_before = client.rpc("eth_getTransactionCount", [client.account, "pending"])
    wrong = ChainClient(anvil_chain.proxy.url, 31, anvil_chain.anvil.dev_keys[0])
    with pytest.raises(WrongChainError, match="serves chain id 33, but the config says 31"):
        wrong.deploy(NETWORK_ID, signer_addresses(SIGNER_KEYS[:3]), 2)
    assert client.rpc("eth_getTransactionCount", [client.account, "pending"]) == nonce_before


def test_eip1191_checksummed_contract_addresses_are_accepted(
    anvil_chain: Chain, deployed: ChainClient
) -> None:
    assert deployed.contract is not None
    rsk_form = eip712.to_checksum_address(deployed.contract, CHAIN_ID)
    assert rsk_form != deployed.contract  # the chain-aware checksum differs here
    reader = ChainClient(anvil_chain.proxy.url, CHAIN_ID, contract=rsk_form)
    assert reader.contract == deployed.contract
    assert reader.threshold() == 3
    for wrong in (rsk_form.swapcase().replace("0X", "0x"), rsk_form[:-1]):
        with pytest.raises(ConfigError):
            ChainClient(anvil_chain.proxy.url, CHAIN_ID, contract=wrong)


@pytest.mark.slow
def test_logs_are_read_in_chunks_across_more_than_2000_blocks(
    anvil_chain: Chain, deployed: ChainClient
) -> None:
    start = deployed.block_number()
    first = deployed.wait_for_success(submit(deployed, 1), timeout=30).block_number
    anvil_chain.raw("anvil_mine", [hex(MAX_LOG_RANGE + 500)])
    second = deployed.wait_for_success(submit(deployed, 2), timeout=30).block_number
    assert second - first > MAX_LOG_RANGE
    logs = deployed.anchored_logs(start)
    assert [(log.epoch, log.root, log.block_number) for log in logs] == [
        (1, root_of(1), first),
        (2, root_of(2), second),
    ]
    assert deployed.anchored_logs(first + 1, second - 1) == []


def test_a_reorg_that_drops_the_tx_is_noticed_by_confirmations(
    anvil_chain: Chain, deployed: ChainClient
) -> None:
    tx_hash = submit(deployed, 1)
    receipt = deployed.wait_for_success(tx_hash, timeout=30)
    anvil_chain.raw("anvil_mine", ["0x2"])
    assert deployed.confirmations(tx_hash) == 3
    assert deployed.confirmations_at(receipt.block_number) == 3
    # a block above the head the endpoint reports (read before a reorg shortened the chain)
    assert deployed.confirmations_at(deployed.block_number() + 2) == 0
    assert deployed.checkpoint_of(1).root == root_of(1)

    anvil_chain.raw("anvil_reorg", [3, []])  # replace the tx's block and the two on top

    assert deployed.block_number() == receipt.block_number + 2
    assert deployed.confirmations(tx_hash) == 0
    assert deployed.receipt(tx_hash) is None
    assert deployed.checkpoint_of(1).root == b"\x00" * 32
    # Resubmitting (what the bridge does after a reorg) anchors it again.
    deployed.wait_for_success(submit(deployed, 1), timeout=30)
    assert deployed.checkpoint_of(1).root == root_of(1)


@pytest.fixture
def manual_mining(anvil_chain: Chain) -> Iterator[None]:
    anvil_chain.raw("evm_setAutomine", [False])
    try:
        yield
    finally:
        anvil_chain.raw("evm_setAutomine", [True])


def test_a_stuck_transaction_is_replaced_with_a_higher_gas_price(
    anvil_chain: Chain, deployed: ChainClient, manual_mining: None
) -> None:
    stuck = submit(deployed, 1)
    assert deployed.confirmations(stuck) == 0
    old = deployed.rpc("eth_getTransactionByHash", [stuck])
    replacement = deployed.replace_transaction(stuck)
    new = deployed.rpc("eth_getTransactionByHash", [replacement])
    assert new["nonce"] == old["nonce"] and new["input"] == old["input"]
    assert int(new["gasPrice"], 16) > int(old["gasPrice"], 16)

    anvil_chain.raw("evm_mine")
    assert deployed.wait_for_success(replacement, timeout=30).status == 1
    assert deployed.receipt(stuck) is None
    assert deployed.checkpoint_of(1).root == root_of(1)


def test_an_unfunded_account_gets_a_clear_error(anvil_chain: Chain, deployed: ChainClient) -> None:
    poor = ChainClient(
        anvil_chain.proxy.url, CHAIN_ID, eip712.keccak256(b"poor"), contract=deployed.contract
    )
    assert poor.balance() == 0
    with pytest.raises(InsufficientFundsError, match="fund it with RBTC"):
        submit(poor, 1)


def test_a_reused_nonce_is_a_nonce_conflict(anvil_chain: Chain, deployed: ChainClient) -> None:
    key = anvil_chain.anvil.dev_keys[0]
    tx = {"nonce": 0, "gasPrice": deployed.gas_price(), "gas": 21_000, "to": deployed.account}
    signed = Account.sign_transaction({**tx, "value": 1, "chainId": CHAIN_ID}, key)
    with pytest.raises(NonceConflictError, match="nonce"):
        deployed.rpc("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])


def test_the_key_is_never_logged(
    anvil_chain: Chain, deployed: ChainClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    deployed.wait_for_success(submit(deployed, 1), timeout=30)
    key_hex = anvil_chain.anvil.dev_keys[0].hex()
    assert "tx sent" in caplog.text
    assert key_hex not in caplog.text.lower()
    assert key_hex not in repr(deployed).lower()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_endpoint_raises_after_retries() -> None:
    client = ChainClient(f"http://127.0.0.1:{_closed_port()}", CHAIN_ID, retries=2, backoff=0.001)
    with pytest.raises(EndpointUnavailableError, match="after 3 attempts"):
        client.block_number()


class _RateLimited:
    """An endpoint answering HTTP 429 to the first ``limited`` requests, then forwarding."""

    def __init__(self, upstream: str, limited: int) -> None:
        self.remaining = limited
        self.seen = 0
        proxy = RskStrictProxy(upstream)  # used only for its forwarding
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.seen += 1
                if outer.remaining > 0:
                    outer.remaining -= 1
                    self.send_response(429)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = json.dumps(proxy.handle(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._proxy = proxy
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()
        self._proxy.stop()


def test_http_429_is_retried_with_backoff_then_reported(anvil_chain: Chain) -> None:
    limited = _RateLimited(anvil_chain.anvil.url, limited=2)
    try:
        client = ChainClient(limited.url, CHAIN_ID, retries=3, backoff=0.001)
        assert client.block_number() >= 0
        assert limited.seen == 3
        limited.remaining = 10
        client = ChainClient(limited.url, CHAIN_ID, retries=1, backoff=0.001)
        with pytest.raises(EndpointUnavailableError, match="HTTP 429"):
            client.block_number()
    finally:
        limited.close()
