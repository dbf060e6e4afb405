"""The main job: a three-agency devnet on loopback, anchored to the embedded chain, with the TUI.

Steps, each reported as it happens: create a fresh devnet (genesis, keystores, configs), start the
embedded EVM chain and deploy the checkpoint contract, start the three node processes, start demo
traffic, then open the console on the first agency. Quitting the console stops everything in
reverse order. The devnet is throwaway: each run starts a new one in the same directory.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import click
import httpx

from node.devnet import LocalNetwork, create_local_network

if TYPE_CHECKING:
    from plugins.rsk_bridge.devnet_anchor import EmbeddedAnchor


def _free_base_port(count: int) -> int:
    """A base port with ``count`` consecutive free ports after it."""
    for base in range(7400, 9000, 10):
        if all(_port_free(base + i) for i in range(count)):
            return base
    raise click.ClickException("no free ports between 7400 and 9000 for the devnet")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _step(message: str) -> None:
    click.echo(click.style("==> ", fg="cyan", bold=True) + message)


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise click.ClickException(f"timed out waiting for {what}")


def _answers(sock: Path) -> bool:
    if not sock.exists():
        return False
    transport = httpx.HTTPTransport(uds=str(sock))
    with httpx.Client(transport=transport, base_url="http://calpe", timeout=2) as client:
        return bool(client.get("/health").json().get("ok"))


def _checkpoint_confirmed(sock: Path) -> bool:
    transport = httpx.HTTPTransport(uds=str(sock))
    with httpx.Client(transport=transport, base_url="http://calpe", timeout=2) as client:
        checkpoints = client.get("/v1/checkpoints", params={"limit": 5}).json()["checkpoints"]
    return any(c["state"] == "confirmed" for c in checkpoints)


class Devnet:
    def __init__(self, root: Path, checkpoint_interval_s: int) -> None:
        self.root = root
        self.interval = checkpoint_interval_s
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.anchor: EmbeddedAnchor | None = None
        self.network: LocalNetwork | None = None

    def start(self, traffic: bool) -> Path:
        from plugins.rsk_bridge.devnet_anchor import start_embedded_anchor

        if self.root.exists():
            shutil.rmtree(self.root)
        _step(f"creating a three-agency devnet in {self.root}")
        base = _free_base_port(3)
        self.network = create_local_network(
            self.root, base_port=base, checkpoint_interval_s=self.interval
        )
        _step("starting the embedded chain (chain id 33) and deploying the checkpoint contract")
        anchor = start_embedded_anchor(self.network, block_time=2.0, bridge={"confirmations": 3})
        self.anchor = anchor
        click.echo(f"    contract {anchor.setup.contract} at {anchor.setup.rpc_url}")
        sockets = []
        for agency_id, config in self.network.configs.items():
            _step(f"starting the node of {agency_id}")
            log = (config.parent / "process.log").open("ab")
            process = subprocess.Popen(
                [sys.executable, "-m", "node.cli", "node", "run", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.processes.append((agency_id, process))
            sockets.append(config.parent / "admin.sock")
        for (agency_id, _), sock in zip(self.processes, sockets, strict=True):
            _wait(partial(_answers, sock), 60, f"the node of {agency_id}")
        click.echo("    all three nodes answer on their admin sockets")
        if traffic:
            _step("starting demo traffic (issue, suspend, reinstate, revoke)")
            process = subprocess.Popen(
                [sys.executable, "-m", "node.devnet_traffic", *map(str, sockets)],
                stdout=subprocess.DEVNULL,
                stderr=(self.root / "traffic.log").open("ab"),
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.processes.append(("traffic", process))
        return sockets[0]

    def stop(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                click.echo(f"    {name} did not stop in 30 s; killing it", err=True)
                process.kill()
        if self.anchor is not None:
            self.anchor.stop()
        self.processes.clear()


def run_devnet(root: Path, *, tui: bool, traffic: bool, interval: int) -> None:
    devnet = Devnet(root, interval)
    try:
        first = devnet.start(traffic)
        if tui:
            _step("opening the console on the first agency (press q to quit and stop the devnet)")
            import tui as console

            console.main(["--socket", str(first)])
        else:
            _step("waiting for the first confirmed checkpoint (Ctrl-C to stop)")
            _wait(partial(_checkpoint_confirmed, first), 15 * interval, "a confirmed checkpoint")
            click.echo("    checkpoint confirmed on the embedded chain")
            signals = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, signals)  # children are already started
            signal.sigwait(signals)
    except KeyboardInterrupt:
        pass
    finally:
        _step("stopping the devnet")
        devnet.stop()
        click.echo("    stopped cleanly")
