"""``calpe keys``, ``calpe genesis`` and ``calpe init``: create identities and networks."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from node.cli.common import ask_passphrase, print_json
from node.config import load_genesis
from node.core.errors import ConfigError
from node.core.genesis import Agency, Genesis, check_agency_id, genesis_from_json
from node.devnet import DEVNET_AGENCIES, create_local_network
from node.keyfiles import create_keystore, load_keystore

passphrase_option = click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the keystore passphrase from this file (else $CALPE_PASSPHRASE or a prompt).",
)


@click.group()
def keys() -> None:
    """Create and inspect an agency's encrypted keystore."""


@keys.command("new")
@click.option("--agency", "agency_id", required=True, help="Agency id, e.g. gi.transport.")
@click.option("--name", required=True, help="Display name of the agency.")
@click.option("--keystore", type=click.Path(dir_okay=False, path_type=Path), required=True)
@passphrase_option
def keys_new(agency_id: str, name: str, keystore: Path, passphrase_file: Path | None) -> None:
    """Generate keys into a new keystore and print the public member entry for the genesis."""
    check_agency_id(agency_id)
    made = create_keystore(keystore, agency_id, ask_passphrase(passphrase_file, confirm=True))
    print_json(Agency(agency_id, name, made.ed25519_public, made.secp256k1_address).to_json())


@keys.command("show")
@click.option("--keystore", type=click.Path(dir_okay=False, path_type=Path), required=True)
def keys_show(keystore: Path) -> None:
    """Print a keystore's public keys (no passphrase needed)."""
    try:
        doc = json.loads(keystore.read_text())
        print_json({"agency_id": doc["agency_id"], **doc["public"]})
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{keystore}: not a readable keystore ({exc})") from None


@keys.command("check")
@click.option("--keystore", type=click.Path(dir_okay=False, path_type=Path), required=True)
@passphrase_option
def keys_check(keystore: Path, passphrase_file: Path | None) -> None:
    """Unlock a keystore to prove the passphrase is right."""
    agency_id, _ = load_keystore(keystore, ask_passphrase(passphrase_file))
    click.echo(f"keystore of {agency_id} unlocks")


@click.group()
def genesis() -> None:
    """Create and inspect genesis files."""


@genesis.command("create")
@click.option("--network", required=True, help="Network name, e.g. gi-credentials.")
@click.option(
    "--member",
    "members",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A member entry printed by 'calpe keys new' (repeat per agency).",
)
@click.option("--quorum", type=int, required=True, help="Signatures a checkpoint needs (k).")
@click.option("--checkpoint-interval", type=int, default=3600, show_default=True)
@click.option("--rsk-chain-id", type=click.Choice(["30", "31", "33"]), default="31")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def genesis_create(
    network: str,
    members: tuple[Path, ...],
    quorum: int,
    checkpoint_interval: int,
    rsk_chain_id: str,
    out: Path,
) -> None:
    """Assemble a genesis from the member entries of each agency."""
    entries = sorted((json.loads(p.read_text()) for p in members), key=lambda e: e["agency_id"])
    doc = {
        "network": network,
        "created_ms": int(time.time() * 1000),
        "quorum": quorum,
        "checkpoint_interval_s": checkpoint_interval,
        "rsk_chain_id": int(rsk_chain_id),
        "agencies": entries,
    }
    made = genesis_from_json(doc, "new genesis")
    if out.exists():
        raise ConfigError(f"{out}: exists; refusing to overwrite a genesis")
    out.write_text(made.dumps())
    click.echo(f"network id {made.network_id.hex()}")


@genesis.command("show")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def genesis_show(path: Path) -> None:
    """Validate a genesis file and print its network id and members."""
    made = load_genesis(path)
    print_json({"network_id": made.network_id.hex(), **made.to_json()})


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--network", default="calpe-devnet", show_default=True)
@click.option(
    "--agency",
    "agencies",
    multiple=True,
    help="agency_id=Display Name of a local agency (repeat; default: a 3-agency devnet).",
)
@click.option("--quorum", type=int, default=2, show_default=True)
@click.option("--join", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--keystore", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def init(
    directory: Path,
    network: str,
    agencies: tuple[str, ...],
    quorum: int,
    join: Path | None,
    keystore: Path | None,
) -> None:
    """Create a new local network (all keys here), or join one: --join GENESIS --keystore FILE."""
    if join is not None:
        _join(directory, load_genesis(join), join, keystore)
        return
    if any("=" not in a for a in agencies):
        raise click.BadParameter("use --agency id=Name", param_hint="--agency")
    pairs = [(a.split("=", 1)[0], a.split("=", 1)[1]) for a in agencies] or list(DEVNET_AGENCIES)
    made = create_local_network(directory, pairs, network=network, quorum=quorum)
    click.echo(f"network {network} ({made.genesis.network_id.hex()[:16]}…) in {directory}")
    for agency_id, path in made.configs.items():
        click.echo(f"  {agency_id:<20} {path}")


def _join(directory: Path, made: Genesis, genesis_path: Path, keystore: Path | None) -> None:
    if keystore is None:
        raise click.BadParameter("--join needs --keystore", param_hint="--keystore")
    doc = json.loads(keystore.read_text())
    agency_id = str(doc.get("agency_id", ""))
    member = made.agency(agency_id)
    if member is not None and member.ed25519_public.hex() != doc["public"]["ed25519"]:
        raise ConfigError(
            f"{keystore}: {agency_id} is a genesis member with other keys; use its own keystore"
        )
    if member is None:
        check_agency_id(agency_id)
        click.echo(
            f"{agency_id} is not in the genesis: a member must propose it (calpe governance "
            f"propose add-agency --from-keystore {keystore}) and a quorum approve it before "
            "its node can connect; then start it with 'calpe node run --snapshot-join'"
        )
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "node.toml"
    if config.exists():
        raise ConfigError(f"{config}: exists; refusing to overwrite it")
    config.write_text(
        f'[node]\nagency_id = "{agency_id}"\ngenesis = "{genesis_path.resolve()}"\n'
        f'data_dir = "data"\nkeystore = "{keystore.resolve()}"\n'
        '# passphrase_file = "/run/credentials/calpe.service/passphrase"\n\n'
        '[network]\nlisten = ["/ip4/0.0.0.0/tcp/7400"]\npeers = []\n'
    )
    click.echo(f"wrote {config}; add peers under [network] and start with 'calpe node run'")
