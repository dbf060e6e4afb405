"""Create a local network whose every agency lives on this machine (devnets, demos, tests)."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from node.core.genesis import Agency, Genesis, check_agency_id
from node.core.keys import AgencyKeys
from node.keyfiles import create_keystore, write_private_file

DEVNET_AGENCIES = (
    ("gi.health", "Health Authority"),
    ("gi.registry", "Civil Registry"),
    ("gi.transport", "Transport Office"),
)


@dataclass(frozen=True)
class LocalNetwork:
    root: Path
    genesis: Genesis
    configs: dict[str, Path]


def create_local_network(
    root: Path,
    agencies: Sequence[tuple[str, str]] = DEVNET_AGENCIES,
    *,
    network: str = "calpe-devnet",
    quorum: int = 2,
    checkpoint_interval_s: int = 30,
    base_port: int = 7400,
    scrypt_n: int = 2**14,
) -> LocalNetwork:
    """Write genesis, one keystore + passphrase file + node config per agency under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    members: list[Agency] = []
    for agency_id, name in sorted(agencies):
        check_agency_id(agency_id)
        directory = root / agency_id
        passphrase = secrets.token_urlsafe(24)
        write_private_file(directory / "passphrase", passphrase + "\n")
        keys: AgencyKeys = create_keystore(
            directory / "keystore.json", agency_id, passphrase, n=scrypt_n
        )
        members.append(Agency(agency_id, name, keys.ed25519_public, keys.secp256k1_address))
    genesis = Genesis(
        network, tuple(members), quorum, checkpoint_interval_s, 33, int(time.time() * 1000)
    )
    (root / "genesis.json").write_text(genesis.dumps())
    configs = {}
    for index, member in enumerate(members):
        path = root / member.agency_id / "node.toml"
        peers = [
            (other.agency_id, base_port + j)
            for j, other in enumerate(members)
            if other.agency_id != member.agency_id
        ]
        path.write_text(_node_toml(member.agency_id, base_port + index, peers))
        configs[member.agency_id] = path
    os.chmod(root, 0o700)
    return LocalNetwork(root, genesis, configs)


def _node_toml(agency_id: str, port: int, peers: list[tuple[str, int]]) -> str:
    peer_lines = "\n".join(
        f'  {{ agency_id = "{aid}", address = "/ip4/127.0.0.1/tcp/{p}" }},' for aid, p in peers
    )
    return f"""# Node of {agency_id} in a local devnet. Paths are relative to this file.
[node]
agency_id = "{agency_id}"
genesis = "../genesis.json"
data_dir = "data"
keystore = "keystore.json"
passphrase_file = "passphrase"
log_file = "node.log"

[network]
listen = ["/ip4/127.0.0.1/tcp/{port}"]
peers = [
{peer_lines}
]
"""
