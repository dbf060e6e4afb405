"""Fixtures: one anvil behind the RSK-strict proxy per session, and a ledger anchored on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from plugins.rsk_bridge.anvil import find_anvil, start_anvil
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.rsk_strict import RskStrictProxy
from tests.verify.world import CHAIN_ID, World, checkpoint_now, make_world


@dataclass(frozen=True)
class Chain:
    proxy_url: str
    """The RSK-strict proxy in front of anvil: what the code under test talks to."""
    anvil_url: str
    dev_key: bytes

    def client(self) -> ChainClient:
        return ChainClient(self.proxy_url, CHAIN_ID, self.dev_key, poll_interval=0.02)


@pytest.fixture(scope="session")
def chain() -> Iterator[Chain]:
    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm install` at the repository root")
    with start_anvil(chain_id=CHAIN_ID) as anvil, RskStrictProxy(anvil.url) as proxy:
        yield Chain(proxy.url, anvil.url, anvil.dev_keys[0])
        assert proxy.rejections == [], "the verifier or the setup did something RSK refuses"


@pytest.fixture(scope="session")
def world(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Epoch 1 anchored with 12 confirmations over the populated ledger. Shared: tests that
    add epochs or change the contract make their own with :func:`fresh_world`."""
    made = make_world(
        tmp_path_factory.mktemp("world"), chain.client(), chain.proxy_url, chain.anvil_url
    )
    try:
        checkpoint_now(made)
        yield made
    finally:
        made.store.close()


@pytest.fixture
def fresh_world(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A world of its own with a contract of its own and no checkpoint yet."""
    made = make_world(
        tmp_path_factory.mktemp("fresh"), chain.client(), chain.proxy_url, chain.anvil_url
    )
    try:
        yield made
    finally:
        made.store.close()
