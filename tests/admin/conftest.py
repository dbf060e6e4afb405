"""A real node (LedgerNode under trio, in this process) with its admin API, for the API tests."""

from __future__ import annotations

import random
import shutil
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from node.admin.server import Endpoints
from node.config import NodeConfig, load_config
from node.core.events import CredentialClass, CredentialIssued, Event, SchemaPublished
from node.core.keys import AgencyKeys
from node.devnet import LocalNetwork, create_local_network
from node.keyfiles import load_keystore
from node.services.node import LedgerNode, NodeParams
from node.storage.store import LedgerStore

AGENCY = "gi.health"
TOKEN = "test-token-0123456789abcdef"
SCHEMA = bytes.fromhex("5c" * 32)


def free_base_port(count: int = 3) -> int:
    """A port p with p..p+count-1 free on 127.0.0.1 just now."""
    for _ in range(200):
        base = random.randrange(20_000, 60_000)
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free ports")


def make_network(extra_toml: str = "") -> LocalNetwork:
    """A 3-agency devnet in a short /tmp directory (Unix socket paths are limited to 107 bytes).
    ``extra_toml`` is appended to the config of :data:`AGENCY`."""
    root = Path(tempfile.mkdtemp(prefix="calpe", dir="/tmp"))
    net = create_local_network(root / "net", base_port=free_base_port(), scrypt_n=2**10)
    if extra_toml:
        path = net.configs[AGENCY]
        path.write_text(path.read_text() + extra_toml)
    (root / "net" / AGENCY / "token").write_text(TOKEN + "\n")
    return net


@pytest.fixture
def net() -> Iterator[LocalNetwork]:
    network = make_network(
        '\n[admin]\ntcp = "127.0.0.1:0"\ntoken_file = "token"\n'
        '\n[public]\nlisten = "127.0.0.1:0"\nrequests_per_minute = 600\n'
    )
    yield network
    shutil.rmtree(network.root.parent, ignore_errors=True)


def cid(n: int) -> bytes:
    return n.to_bytes(32, "big")


def seed(store: LedgerStore, keys: AgencyKeys, blocks: Sequence[Sequence[Event]]) -> None:
    """Commit blocks of our agency straight into the store (before the node starts)."""
    start = int(time.time() * 1000) - len(blocks) * 1000
    for i, events in enumerate(blocks):
        store.author(AGENCY, events, keys, now_ms=start + i * 1000)


@dataclass
class Running:
    node: LedgerNode
    config: NodeConfig
    net: LocalNetwork
    endpoints: Endpoints
    http: httpx.AsyncClient

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params)

    async def post(self, path: str, body: Any) -> httpx.Response:
        return await self.http.post(path, json=body)


async def _run(node: LedgerNode, done: trio.Event, *, task_status: Any) -> None:
    try:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as inner:
                await inner.start(node.run)
                task_status.started(scope)
    finally:
        done.set()


def open_node(net: LocalNetwork) -> tuple[NodeConfig, LedgerStore, AgencyKeys]:
    config = load_config(net.configs[AGENCY])
    _, keys = load_keystore(config.node.keystore, config.passphrase())
    return config, LedgerStore.open(config.node.data_dir, net.genesis), keys


@asynccontextmanager
async def start_node(
    nursery: trio.Nursery, net: LocalNetwork, blocks: Sequence[Sequence[Event]] = ()
) -> AsyncIterator[Running]:
    config, store, keys = open_node(net)
    seed(store, keys, blocks)
    node = LedgerNode(config, net.genesis, keys, store, NodeParams(block_max_delay=0.01))
    done = trio.Event()
    scope = await nursery.start(_run, node, done)
    assert node.admin is not None
    transport = httpx.AsyncHTTPTransport(uds=str(node.admin.socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://node", timeout=20) as http:
        yield Running(node, config, net, node.admin, http)
    scope.cancel()
    await done.wait()
    store.close()


BASE_BLOCKS: list[list[Event]] = [
    [SchemaPublished(SCHEMA, CredentialClass.PERMIT, 1)],
    [CredentialIssued(cid(i), SCHEMA, 1_700_000_000) for i in range(1, 6)],
    [CredentialIssued(cid(i), SCHEMA, 1_700_000_000, 1_900_000_000) for i in range(6, 9)],
]


@pytest.fixture
async def running(nursery: trio.Nursery, net: LocalNetwork) -> AsyncIterator[Running]:
    async with start_node(nursery, net, BASE_BLOCKS) as r:
        yield r
