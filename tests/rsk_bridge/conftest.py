"""Fixtures for the RSK bridge tests: one anvil per session behind the RSK-strict proxy, the
checkpoint contract, and seven deterministic signer keys sorted by address."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from node.core import eip712
from plugins.rsk_bridge.anvil import Anvil, find_anvil, start_anvil
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.rsk_strict import RskStrictProxy

CHAIN_ID = 33
NETWORK_ID = eip712.keccak256(b"calpe test network")


def _signer_keys(count: int) -> list[bytes]:
    keys = [eip712.keccak256(b"calpe-test-signer-%d" % i) for i in range(count)]
    return sorted(keys, key=lambda k: eip712.address_bytes(eip712.address_of(k)))


SIGNER_KEYS = _signer_keys(7)
"""Ascending by address: SIGNER_KEYS[:5] is a valid 5-member set."""


def signer_addresses(keys: Sequence[bytes]) -> list[str]:
    return [eip712.address_of(k) for k in keys]


def sign_checkpoint(
    keys: Sequence[bytes], contract: str, epoch: int, root: bytes, network_id: bytes = NETWORK_ID
) -> list[bytes]:
    """Signatures by ``keys``, in the order of ``keys``."""
    digest = eip712.checkpoint_digest(CHAIN_ID, contract, network_id, epoch, root)
    return [eip712.sign_digest(k, digest) for k in keys]


def packed_checkpoint(keys: Sequence[bytes], contract: str, epoch: int, root: bytes) -> bytes:
    digest = eip712.checkpoint_digest(CHAIN_ID, contract, NETWORK_ID, epoch, root)
    return eip712.pack_signatures(digest, sign_checkpoint(keys, contract, epoch, root))


def root_of(epoch: int) -> bytes:
    return eip712.keccak256(b"root-%d" % epoch)


@dataclass
class Chain:
    anvil: Anvil
    proxy: RskStrictProxy

    def client(self, key_index: int = 0, **kwargs: object) -> ChainClient:
        """A client through the strict proxy, sending from anvil's dev account ``key_index``."""
        return ChainClient(
            self.proxy.url,
            CHAIN_ID,
            self.anvil.dev_keys[key_index],
            poll_interval=0.02,
            **kwargs,  # type: ignore[arg-type]
        )

    def raw(self, method: str, params: Sequence[object] = ()) -> object:
        """A call straight to anvil (test controls such as anvil_mine, evm_setAutomine)."""
        return ChainClient(self.anvil.url, CHAIN_ID).rpc(method, params)


@pytest.fixture(scope="session")
def anvil_chain() -> Iterator[Chain]:
    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm install` at the repository root")
    with start_anvil(chain_id=CHAIN_ID) as anvil, RskStrictProxy(anvil.url) as proxy:
        yield Chain(anvil, proxy)


@pytest.fixture
def client(anvil_chain: Chain) -> ChainClient:
    return anvil_chain.client()


@pytest.fixture
def deployed(client: ChainClient) -> ChainClient:
    """A fresh 3-of-5 checkpoint contract, deployed through the strict proxy."""
    client.deploy(NETWORK_ID, signer_addresses(SIGNER_KEYS[:5]), 3)
    return client


@pytest.fixture
def allow_rsk_refusals() -> None:
    """Request this in a test that expects the strict proxy to refuse something."""


@pytest.fixture(autouse=True)
def _no_rsk_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test does through the client, the strict proxy must not have refused it."""
    names = request.fixturenames
    if "anvil_chain" not in names or "allow_rsk_refusals" in names:
        yield
        return
    proxy: RskStrictProxy = request.getfixturevalue("anvil_chain").proxy
    before = len(proxy.rejections)
    yield
    assert proxy.rejections[before:] == [], "the code under test did something RSK refuses"
