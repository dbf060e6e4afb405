"""Real ``calpe node run`` processes and a runner for the ``calpe`` CLI."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.config import load_config
from node.devnet import LocalNetwork
from tests.admin.conftest import AGENCY, BASE_BLOCKS, make_network, open_node, seed

MAIN = "from node.cli import main; main()"


def calpe(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def calpe_json(*args: str | Path) -> Any:
    done = calpe(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@dataclass
class NodeProcess:
    net: LocalNetwork
    config: Path
    socket: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)


def wait_healthy(path: Path, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the node exited with {process.returncode}")
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(path))
                break
            except OSError:
                pass
        time.sleep(0.05)  # polling for readiness, not a timed assertion
    else:
        raise TimeoutError(f"no node answered on {path}")
    transport = httpx.HTTPTransport(uds=str(path))
    with httpx.Client(transport=transport, base_url="http://node", timeout=10) as http:
        assert http.get("/health").json() == {"ok": True}


def start_process(net: LocalNetwork) -> NodeProcess:
    config_path = net.configs[AGENCY]
    _, store, keys = open_node(net)
    with store:
        if store.head(AGENCY).height == 0:
            seed(store, keys, BASE_BLOCKS)
    with (config_path.parent / "stdout.log").open("wb") as log:  # the child keeps its copy
        process = subprocess.Popen(
            [sys.executable, "-c", MAIN, "node", "run", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    node = NodeProcess(net, config_path, load_config(config_path).admin.socket, process)
    try:
        wait_healthy(node.socket, process)
    except BaseException:
        node.stop()
        raise
    return node


@pytest.fixture(scope="module")
def node_process() -> Iterator[NodeProcess]:
    net = make_network()
    node = start_process(net)
    yield node
    node.stop()
    shutil.rmtree(net.root.parent, ignore_errors=True)
