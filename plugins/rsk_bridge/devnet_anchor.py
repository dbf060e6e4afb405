"""Anchor a local devnet: deploy the checkpoint contract, fund fee accounts, write the config.

:func:`anchor_devnet` works against any endpoint (anvil, RSK regtest, the embedded chain);
:func:`start_embedded_anchor` is the devnet's default when no RSK endpoint is configured: it
starts the embedded py-evm chain in its own process and anchors to it. The embedded chain keeps
its state in memory: when it stops, the contract is gone; start it again (same port) and re-run
the anchoring to get a fresh contract (the deployer's first contract has the same address).
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from node.config import load_config
from node.core.eip712 import to_checksum_address
from node.core.errors import ConfigError
from node.core.genesis import Genesis
from node.devnet import LocalNetwork
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.embedded.accounts import derive_dev_accounts
from plugins.rsk_bridge.settings import create_fee_keystore

FEE_KEYSTORE = "fee_keystore.json"


@dataclass(frozen=True)
class AnchorSetup:
    contract: str
    rpc_url: str
    fee_accounts: dict[str, str]
    """Fee account address by agency id."""


def anchor_devnet(
    configs: Mapping[str, Path],
    genesis: Genesis,
    rpc_url: str,
    funder_key: bytes,
    *,
    fund_wei: int = 10**18,
    scrypt_n: int = 2**12,
    bridge: Mapping[str, object] | None = None,
) -> AnchorSetup:
    """Deploy a contract with the genesis signers (ascending) and quorum, create and fund one fee
    account per agency (keystore encrypted under the node's passphrase), and append ``[anchor]``
    and ``[plugins.rsk_bridge]`` (plus the ``bridge`` overrides) to each node config."""
    client = ChainClient(rpc_url, genesis.rsk_chain_id, funder_key, poll_interval=0.05)
    signers = [to_checksum_address(a.secp256k1_address) for a in genesis.agencies]
    contract = client.deploy(genesis.network_id, signers, genesis.quorum)
    accounts: dict[str, str] = {}
    for agency_id, path in configs.items():
        text = path.read_text()
        if "\n[anchor]" in text or "[plugins.rsk_bridge]" in text:
            raise ConfigError(f"{path}: already has [anchor] or [plugins.rsk_bridge]")
        passphrase = load_config(path).passphrase()
        address = create_fee_keystore(path.parent / FEE_KEYSTORE, passphrase, scrypt_n=scrypt_n)
        client.wait_for_success(client.transfer(address, fund_wei), timeout=60)
        accounts[agency_id] = address
        table = {"rpc_url": rpc_url, "fee_keystore": FEE_KEYSTORE, **(bridge or {})}
        path.write_text(text.rstrip("\n") + "\n\n" + _anchor_toml(contract, table))
    return AnchorSetup(contract, rpc_url, accounts)


def _anchor_toml(contract: str, table: Mapping[str, object]) -> str:
    lines = ["[anchor]", f'contract = "{contract}"', "", "[plugins.rsk_bridge]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


@dataclass
class EmbeddedAnchor:
    """The embedded chain process and what was anchored to it; ``stop()`` ends the chain."""

    process: subprocess.Popen[str]
    setup: AnchorSetup
    _reader: threading.Thread = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._reader.join(timeout=5)


def start_embedded_anchor(
    network: LocalNetwork,
    *,
    port: int = 0,
    block_time: float = 2.0,
    bridge: Mapping[str, object] | None = None,
    timeout: float = 60.0,
) -> EmbeddedAnchor:
    """Start the embedded chain in its own process and anchor ``network`` to it."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "plugins.rsk_bridge.embedded_chain",
            *("--port", str(port), "--block-time", str(block_time)),
            *("--log-level", "WARNING"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_drain, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        url = lines.get(timeout=timeout).strip()
    except queue.Empty:
        url = ""
    if not url.startswith("http"):
        process.kill()
        process.wait(timeout=5)
        raise RuntimeError(f"the embedded chain did not start (exit code {process.poll()})")
    funder = bytes.fromhex(derive_dev_accounts(1)[0].private_key.removeprefix("0x"))
    try:
        setup = anchor_devnet(network.configs, network.genesis, url, funder, bridge=bridge)
    except BaseException:
        process.kill()
        process.wait(timeout=5)
        raise
    return EmbeddedAnchor(process, setup, reader)


def _drain(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)
