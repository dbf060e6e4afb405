"""Real node processes on loopback for integration tests.

Each node is ``calpe node run`` in its own process with its own LevelDB and admin socket. Tests talk
to nodes only as operators do: through the admin API on the Unix socket. Links between nodes can go
through :class:`LinkProxy` so a test can cut and heal them (a partition) without root.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.config import load_config
from node.core.genesis import Genesis
from node.devnet import create_local_network
from node.keyfiles import load_keystore
from node.storage.store import LedgerStore
from plugins.rsk_bridge.anvil import Anvil, find_anvil, start_anvil
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.devnet_anchor import AnchorSetup, anchor_devnet
from plugins.rsk_bridge.rsk_strict import RskStrictProxy

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except (httpx.HTTPError, OSError, KeyError) as exc:
            last_error = exc
        time.sleep(every)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what} (last error: {last_error})"
    )


def cid_for(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


@dataclass
class NodeProcess:
    agency_id: str
    config: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.config.parent / "process.log"

    @property
    def socket(self) -> Path:
        return self.config.parent / "admin.sock"

    def start(
        self,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        timeout: float = 30,
    ) -> None:
        env = {**os.environ, **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "node.cli", "node", "run", "--config", str(self.config)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
            )
        wait_until(self._answers, timeout, f"{self.agency_id} to serve its admin API")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"{self.agency_id} exited:\n{self.log_path.read_text()[-3000:]}")
        # Probe with a plain socket first: httpx leaks the socket of a refused Unix connection.
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(self.socket))
            except OSError:
                return False
        return self.get("/health")["ok"] is True

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        process, self.process = self.process, None
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            tail = self.log_path.read_text()[-3000:]
            raise AssertionError(
                f"{self.agency_id} did not stop within {timeout} s:\n{tail}"
            ) from None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self) -> httpx.Client:
        transport = httpx.HTTPTransport(uds=str(self.socket))
        return httpx.Client(transport=transport, base_url="http://calpe", timeout=30)

    def get(self, path: str, **params: Any) -> Any:
        with self.client() as client:
            response = client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        with self.client() as client:
            return client.post(path, json=body)

    def heads(self) -> dict[str, dict[str, Any]]:
        return {h["agency_id"]: h for h in self.get("/v1/status")["heads"]}

    def publish_schema(self, name: str = "permit") -> str:
        schema_id = cid_for(f"{self.agency_id}/schema/{name}")
        response = self.post(
            "/v1/schemas",
            {
                "request_id": str(uuid.uuid4()),
                "schema_id": schema_id,
                "credential_class": "permit",
                "version": 1,
            },
        )
        assert response.status_code == 200, response.text
        return schema_id

    def issue(self, credential_id: str, schema_id: str) -> dict[str, Any]:
        response = self.post(
            "/v1/credentials/issue",
            {
                "request_id": str(uuid.uuid4()),
                "credential_id": credential_id,
                "schema_id": schema_id,
                "valid_from_s": 1_700_000_000,
                "valid_until_s": 2_000_000_000,
            },
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


class LinkProxy:
    """A TCP forwarder on loopback standing for one network link; ``cut()`` and ``heal()`` it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._open = True
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._open = False
            for conn in self._conns:
                _close(conn)
            self._conns.clear()

    def heal(self) -> None:
        with self._lock:
            self._open = True

    def close(self) -> None:
        self._stop = True
        self.cut()
        _close(self._listener)

    def _accept_loop(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if not self._open:
                    _close(client)
                    continue
                try:
                    upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
                except OSError:
                    _close(client)
                    continue
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


class Cluster:
    """A devnet of ``n`` agencies under ``root``; ``links`` says who dials whom."""

    def __init__(
        self,
        root: Path,
        n: int = 3,
        *,
        links: Iterable[tuple[int, int]] | None = None,
        proxied: bool = False,
        checkpoint_interval_s: int = 30,
    ) -> None:
        agencies = [(f"gi.agency{i}", f"Agency {i}") for i in range(n)]
        ports = [free_port() for _ in range(n)]
        made = create_local_network(
            root,
            agencies,
            base_port=ports[0],
            scrypt_n=2**10,
            checkpoint_interval_s=checkpoint_interval_s,
        )
        self.root = root
        self.genesis = made.genesis
        self.configs = made.configs
        self.nodes = [
            NodeProcess(aid, made.configs[aid], ports[i]) for i, (aid, _) in enumerate(agencies)
        ]
        pairs = list(links) if links is not None else [(i, j) for i in range(n) for j in range(n)]
        self.proxies: dict[tuple[int, int], LinkProxy] = {}
        for i, node in enumerate(self.nodes):
            peers = []
            for j, other in enumerate(self.nodes):
                if i == j or ((i, j) not in pairs and (j, i) not in pairs):
                    continue
                port = other.port
                if proxied:
                    proxy = self.proxies.setdefault((i, j), LinkProxy(other.port))
                    port = proxy.port
                peers.append((other.agency_id, port))
            _rewrite_network(node.config, node.port, peers)

    def __getitem__(self, index: int) -> NodeProcess:
        return self.nodes[index]

    def peer_id(self, index: int) -> str:
        """The libp2p peer ID of node ``index`` (its agency's Ed25519 key in genesis)."""
        from node.network import peer_id_from_ed25519_public

        agency = self.genesis.agency(self.nodes[index].agency_id)
        assert agency is not None
        return peer_id_from_ed25519_public(agency.ed25519_public)

    def start(self, indexes: Iterable[int] | None = None) -> None:
        for i in range(len(self.nodes)) if indexes is None else indexes:
            self.nodes[i].start()

    def stop(self) -> None:
        for node in self.nodes:
            if node.running:
                node.stop()
        for proxy in self.proxies.values():
            proxy.close()

    def cut(self, group_a: Iterable[int], group_b: Iterable[int]) -> None:
        self._links(group_a, group_b, LinkProxy.cut)

    def heal(self, group_a: Iterable[int], group_b: Iterable[int]) -> None:
        self._links(group_a, group_b, LinkProxy.heal)

    def _links(
        self, a: Iterable[int], b: Iterable[int], action: Callable[[LinkProxy], None]
    ) -> None:
        b = list(b)
        for i in a:
            for j in b:
                for key in ((i, j), (j, i)):
                    if key in self.proxies:
                        action(self.proxies[key])

    def prefill(self, index: int, events: int, block_size: int = 500) -> None:
        """Author ``events`` credentials into a stopped node's database, offline and fast."""
        from node.core.events import CredentialClass, CredentialIssued, SchemaPublished

        config = load_config(self.nodes[index].config)
        _, keys = load_keystore(config.node.keystore, config.passphrase())
        agency = config.node.agency_id
        schema = hashlib.sha256(f"{agency}/prefill".encode()).digest()
        with LedgerStore.open(config.node.data_dir, self.genesis) as store:
            now = int(time.time() * 1000)
            store.author(
                agency, [SchemaPublished(schema, CredentialClass.PERMIT, 1)], keys, now_ms=now
            )
            for start in range(0, events, block_size):
                batch = [
                    CredentialIssued(
                        hashlib.sha256(f"{agency}/prefill/{i}".encode()).digest(),
                        schema,
                        1_700_000_000,
                        None,
                    )
                    for i in range(start, min(events, start + block_size))
                ]
                store.author(agency, batch, keys, now_ms=now)

    def converged(self, indexes: Iterable[int] | None = None) -> bool:
        """Every running node reports the same height, block hash and state root everywhere."""
        nodes = (
            [n for n in self.nodes if n.running]
            if indexes is None
            else [self.nodes[i] for i in indexes]
        )
        views = [
            {a: (h["height"], h["block_hash"], h["state_root"]) for a, h in n.heads().items()}
            for n in nodes
        ]
        return all(view == views[0] for view in views)


def _rewrite_network(config: Path, port: int, peers: list[tuple[str, int]]) -> None:
    text = config.read_text()
    lines = ",\n".join(
        f'  {{ agency_id = "{aid}", address = "/ip4/127.0.0.1/tcp/{p}" }}' for aid, p in peers
    )
    network = f'[network]\nlisten = ["/ip4/127.0.0.1/tcp/{port}"]\npeers = [\n{lines}\n]\n'
    text = re.sub(r"\[network\]\n.*?(?=\n\[|\Z)", network.rstrip("\n"), text, flags=re.S)
    config.write_text(text)


@dataclass
class AnchoredCluster:
    """A cluster whose nodes anchor checkpoints on anvil, behind the RSK-strict proxy."""

    cluster: Cluster
    anvil: Anvil
    proxy: RskStrictProxy
    setup: AnchorSetup
    nodes: list[NodeProcess]
    """The cluster's nodes, and any a test starts besides (all are killed at the end)."""

    def chain(self) -> ChainClient:
        return ChainClient(self.anvil.url, 33, contract=self.setup.contract, poll_interval=0.05)


@contextlib.contextmanager
def anchored_chain(
    configs: dict[str, Path], genesis: Genesis, bridge: dict[str, Any], *, block_time: float = 0.5
) -> Iterator[tuple[Anvil, RskStrictProxy, AnchorSetup]]:
    """A fresh anvil behind the RSK-strict proxy, the checkpoint contract on it, and ``configs``
    given ``[anchor]`` and the RSK bridge (``bridge``: its settings over the defaults)."""
    with start_anvil(block_time=block_time) as anvil, RskStrictProxy(anvil.url) as proxy:
        funder = anvil.dev_keys[0]
        setup = anchor_devnet(configs, genesis, proxy.url, funder, scrypt_n=2**10, bridge=bridge)
        yield anvil, proxy, setup


@contextlib.contextmanager
def anchored_cluster(
    root: Path, bridge: dict[str, Any], *, n: int = 3, checkpoint_interval_s: int = 5
) -> Iterator[AnchoredCluster]:
    """``n`` running node processes, checkpoints every few seconds anchored on a fresh anvil
    (0.5 s blocks) through the RSK-strict proxy; asserts at the end that RSK would have taken
    every request the bridges made. Skips when anvil is not installed."""
    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm install` at the repository root")
    cluster = Cluster(root, n, checkpoint_interval_s=checkpoint_interval_s)
    nodes = list(cluster.nodes)
    with anchored_chain(cluster.configs, cluster.genesis, bridge) as (anvil, proxy, setup):
        try:
            for node in nodes:
                node.start()
            yield AnchoredCluster(cluster, anvil, proxy, setup, nodes)
        finally:
            for node in nodes:
                if node.running:
                    node.kill()
        assert proxy.rejections == [], "the bridge did something RSK refuses"
