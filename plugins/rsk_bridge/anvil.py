"""Start and stop a local anvil (Foundry's dev chain) shaped like RSK regtest.

anvil comes from npm (``npm install`` at the repository root puts the binary in
``node_modules/@foundry-rs/anvil-linux-amd64/bin``); ``CALPE_ANVIL`` overrides the path. It runs
with ``--chain-id 33 --hardfork cancun`` and RSK's 6.8M block gas limit, on 127.0.0.1 and a port
the OS picks. anvil accepts things RSK does not (typed transactions, fee history): put
:mod:`plugins.rsk_bridge.rsk_strict` in front of it to catch those.

Used by tests and benchmarks::

    with start_anvil() as chain:
        client = ChainClient(chain.url, chain.chain_id, chain.dev_keys[0])
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

logger = logging.getLogger(__name__)

REGTEST_CHAIN_ID = 33
RSK_BLOCK_GAS_LIMIT = 6_800_000
_REPO_ROOT = Path(__file__).resolve().parents[2]
_NPM_BINARY = _REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
_LISTENING = re.compile(r"Listening on ([0-9.]+):(\d+)")


class AnvilError(RuntimeError):
    """anvil is missing, or did not start."""


def find_anvil() -> Path | None:
    """Path of the anvil binary: ``$CALPE_ANVIL``, the npm package, then ``PATH``."""
    override = os.environ.get("CALPE_ANVIL")
    if override:
        return Path(override)
    if _NPM_BINARY.is_file():
        return _NPM_BINARY
    found = shutil.which("anvil")
    return Path(found) if found else None


@dataclass
class Anvil:
    """A running anvil. ``dev_keys`` are its prefunded accounts' raw private keys."""

    url: str
    chain_id: int
    dev_keys: list[bytes]
    process: subprocess.Popen[str]
    _workdir: tempfile.TemporaryDirectory[str] = field(repr=False)
    _reader: threading.Thread = field(repr=False)

    def stop(self) -> None:
        """Terminate anvil and wait for it (kill after 5 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._reader.join(timeout=5)  # it ends at the pipe's EOF
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._workdir.cleanup()

    def __enter__(self) -> Anvil:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _drain(stream: IO[str], ready: queue.Queue[str]) -> None:
    """Read anvil's stdout to its end (a full pipe would block it); report the listen line."""
    for line in stream:
        if _LISTENING.search(line):
            ready.put(line)
        logger.debug("anvil: %s", line.rstrip())
    ready.put("")


def start_anvil(
    *,
    chain_id: int = REGTEST_CHAIN_ID,
    block_time: float | None = None,
    accounts: int = 10,
    timeout: float = 20.0,
) -> Anvil:
    """Start anvil and return once it listens. ``block_time`` None mines one block per tx."""
    binary = find_anvil()
    if binary is None:
        raise AnvilError("anvil not found: run `npm install` at the repository root")
    workdir = tempfile.TemporaryDirectory(prefix="calpe-anvil-")
    config_out = Path(workdir.name) / "anvil.json"
    args = [
        str(binary),
        *("--chain-id", str(chain_id), "--hardfork", "cancun"),
        *("--host", "127.0.0.1", "--port", "0"),
        *("--gas-limit", str(RSK_BLOCK_GAS_LIMIT), "--accounts", str(accounts)),
        *("--config-out", str(config_out)),
    ]
    if block_time is not None:
        args += ["--block-time", str(block_time)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    ready: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_drain, args=(process.stdout, ready), daemon=True)
    reader.start()
    try:
        line = ready.get(timeout=timeout)
    except queue.Empty:
        line = ""
    match = _LISTENING.search(line)
    if match is None:
        process.kill()
        process.wait(timeout=5)
        reader.join(timeout=5)
        process.stdout.close()
        workdir.cleanup()
        raise AnvilError(f"anvil did not start within {timeout} s (exit code {process.poll()})")
    keys = json.loads(config_out.read_text())["private_keys"]
    url = f"http://{match.group(1)}:{match.group(2)}"
    logger.info("anvil started url=%s chain_id=%s pid=%s", url, chain_id, process.pid)
    return Anvil(
        url=url,
        chain_id=chain_id,
        dev_keys=[bytes.fromhex(k.removeprefix("0x")) for k in keys],
        process=process,
        _workdir=workdir,
        _reader=reader,
    )
