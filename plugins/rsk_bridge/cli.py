"""``calpe rsk deploy`` and ``calpe rsk status``, added to the CLI through the plugin hook."""

from __future__ import annotations

import json
from pathlib import Path

import click

from node.config import load_config
from node.core.eip712 import to_checksum_address
from node.core.errors import ConfigError
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.settings import BridgeSettings, load_fee_key

_CONFIG = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("rsk")
def rsk() -> None:
    """Anchor checkpoints on RSK: deploy the contract, show the bridge's chain state."""


def _fee_client(config_path: Path, rpc: str | None) -> tuple[ChainClient, BridgeSettings]:
    config = load_config(config_path)
    table = config.plugins.get("rsk_bridge")
    if not table:
        raise ConfigError(f"{config_path}: no [plugins.rsk_bridge] table (fee_keystore, rpc_url)")
    settings = BridgeSettings.from_table(
        {**table, **({"rpc_url": rpc} if rpc else {})}, str(config_path)
    )
    passphrase_file = settings.fee_passphrase_file
    passphrase = (
        passphrase_file.read_text().rstrip("\n") if passphrase_file else config.passphrase()
    )
    key = load_fee_key(settings.fee_keystore, passphrase)
    contract = config.anchor.contract if config.anchor else None
    chain_id = config.load_genesis().rsk_chain_id
    return ChainClient(settings.rpc_url, chain_id, key, contract=contract), settings


@rsk.command("deploy")
@click.option("--config", "config_path", type=_CONFIG, required=True, help="A node config.")
@click.option("--rpc", required=True, help="JSON-RPC URL of the RSK node.")
def deploy(config_path: Path, rpc: str) -> None:
    """Deploy the checkpoint contract with the genesis signers and quorum, paid by this node's
    fee account; prints the address to put in every node's [anchor] section."""
    client, _ = _fee_client(config_path, rpc)
    client.contract = None
    genesis = load_config(config_path).load_genesis()
    signers = [to_checksum_address(a.secp256k1_address) for a in genesis.agencies]
    contract = client.deploy(genesis.network_id, signers, genesis.quorum)
    click.echo(
        json.dumps(
            {
                "contract": contract,
                "chain_id": client.chain_id,
                "signers": signers,
                "quorum": genesis.quorum,
            }
        )
    )
    click.echo(f'add to every node.toml:\n[anchor]\ncontract = "{contract}"', err=True)


@rsk.command("status")
@click.option("--config", "config_path", type=_CONFIG, required=True, help="A node config.")
@click.option("--rpc", default=None, help="Override the config's rpc_url.")
def status(config_path: Path, rpc: str | None) -> None:
    """The contract's latest epoch and root, its signers and the fee account's balance (JSON)."""
    client, _ = _fee_client(config_path, rpc)
    client.check_chain_id()
    out: dict[str, object] = {
        "endpoint": client.url,
        "chain_id": client.chain_id,
        "account": client.account,
        "balance_wei": str(client.balance()),
        "block_number": client.block_number(),
        "contract": client.contract,
    }
    if client.contract is not None:
        epoch = client.latest_epoch()
        record = client.checkpoint_of(epoch)
        out.update(
            latest_epoch=epoch,
            latest_root=record.root.hex(),
            anchored_block=record.block_number,
            signers=client.signers(),
            threshold=client.threshold(),
        )
    click.echo(json.dumps(out, indent=2))
