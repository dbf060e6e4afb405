"""Node configuration: a TOML file per node, validated into small typed objects.

Relative paths are resolved against the directory of the config file, so a node's directory can be
moved as a whole. Secrets never appear here: the keystore is a file encrypted under a passphrase,
and the passphrase comes from a file (for example a systemd credential) or the environment.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from node.core.errors import ConfigError
from node.core.genesis import Genesis, check_agency_id, genesis_from_json
from node.storage.database import LevelDBMemory

PASSPHRASE_ENV = "CALPE_PASSPHRASE"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeSection(_Section):
    agency_id: str = Field(description="This node's agency, as listed in the genesis.")
    genesis: Path = Field(description="The network's genesis file (JSON).")
    data_dir: Path = Field(description="LevelDB directory; one node process owns it.")
    keystore: Path = Field(description="Encrypted keystore with the agency's keys.")
    passphrase_file: Path | None = Field(
        default=None,
        description=f"File holding the keystore passphrase; else ${PASSPHRASE_ENV} is read.",
    )
    log_file: Path | None = Field(default=None, description="Where to write the node's log.")

    @field_validator("agency_id")
    @classmethod
    def _agency_id(cls, value: str) -> str:
        return check_agency_id(value)


class PeerEntry(_Section):
    agency_id: str = Field(description="The member agency reachable at this address.")
    address: str = Field(description="libp2p multiaddr, e.g. /ip4/10.0.0.2/tcp/7400.")


class NetworkSection(_Section):
    listen: list[str] = Field(
        default_factory=lambda: ["/ip4/127.0.0.1/tcp/7400"],
        description="libp2p listen multiaddrs.",
    )
    peers: list[PeerEntry] = Field(default_factory=list, description="Static peer addresses.")


class AdminSection(_Section):
    socket: Path = Field(
        default=Path("admin.sock"),
        description="Unix socket of the admin API (created with mode 0600).",
    )
    tcp: str | None = Field(
        default=None,
        description="Also serve the admin API on HOST:PORT over TCP; needs token_file.",
    )
    token_file: Path | None = Field(
        default=None, description="File holding the bearer token required on TCP."
    )
    backup_dir: Path | None = Field(
        default=None,
        description="Where backups may be written (default: 'backups' next to the config).",
    )


class PublicSection(_Section):
    listen: str | None = Field(
        default=None,
        description="HOST:PORT of the public read-only endpoint (status and proofs); off if unset.",
    )
    requests_per_minute: int = Field(
        default=60, ge=1, description="Requests per minute allowed per client address."
    )


class AnchorSection(_Section):
    """Where checkpoints are anchored. Its contract address is part of every checkpoint signature
    (the EIP-712 domain), so every node of a network MUST name the same contract: a node with
    another address signs digests nobody else matches and never reaches a quorum."""

    contract: str = Field(
        description="Checkpoint contract address (EIP-55, EIP-1191 for RSK, or lowercase)."
    )
    takeover_s: float | None = Field(
        default=None,
        gt=0,
        description="Seconds before the next member proposes when an epoch's proposer is "
        "silent (default: half the checkpoint interval, at least 1 s).",
    )

    @field_validator("contract")
    @classmethod
    def _contract(cls, value: str) -> str:
        from node.core.eip712 import normalise_address
        from node.core.genesis import RSK_CHAIN_IDS

        problem = ""
        for chain_id in (None, *RSK_CHAIN_IDS):
            try:
                return normalise_address(value, chain_id)
            except ConfigError as exc:
                problem = problem or str(exc)
        raise ValueError(problem)


class StorageSection(_Section):
    cache_mib: int = Field(
        default=LevelDBMemory.cache_mib,
        ge=4,
        le=4096,
        description="LevelDB block cache (MiB) for table reads.",
    )
    write_buffer_mib: int = Field(
        default=LevelDBMemory.write_buffer_mib,
        ge=4,
        le=1024,
        description="LevelDB memtable size (MiB); two can be in memory. Larger: faster bulk "
        "loads (a snapshot join), more memory.",
    )
    max_open_files: int = Field(
        default=LevelDBMemory.max_open_files,
        ge=20,
        le=50_000,
        description="Table files LevelDB keeps open (each holds its index and filter in memory).",
    )
    state_cache_mib: int = Field(
        default=LevelDBMemory.state_cache_mib,
        ge=1,
        le=4096,
        description="Memory (MiB) for the cached tops of all agencies' state trees; when they "
        "outgrow it, the largest caches fewer levels (one more LevelDB read per event each).",
    )


class NodeConfig(_Section):
    node: NodeSection
    network: NetworkSection = Field(default_factory=NetworkSection)
    storage: StorageSection = Field(default_factory=StorageSection)
    admin: AdminSection = Field(default_factory=AdminSection)
    public: PublicSection = Field(default_factory=PublicSection)
    anchor: AnchorSection | None = Field(
        default=None, description="The checkpoint contract; without it no checkpoints are signed."
    )
    plugins: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="One table per plugin, e.g. [plugins.rsk_bridge]."
    )
    source: Path = Field(default=Path("."), exclude=True, description="The config file itself.")

    def load_genesis(self) -> Genesis:
        return load_genesis(self.node.genesis)

    def passphrase(self) -> str:
        return read_passphrase(self.node.passphrase_file)


def load_config(path: str | Path) -> NodeConfig:
    """Read and validate a node config; errors name the file and the field."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        config = NodeConfig.model_validate({**raw, "source": path})
    except ValidationError as exc:
        problems = "; ".join(
            f"field '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return _resolve_paths(config, path.parent)


def _resolve_paths(config: NodeConfig, base: Path) -> NodeConfig:
    def resolve(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else (base / p).resolve())

    node = config.node.model_copy(
        update={
            "genesis": resolve(config.node.genesis),
            "data_dir": resolve(config.node.data_dir),
            "keystore": resolve(config.node.keystore),
            "passphrase_file": resolve(config.node.passphrase_file),
            "log_file": resolve(config.node.log_file),
        }
    )
    admin = config.admin.model_copy(
        update={
            "socket": resolve(config.admin.socket),
            "token_file": resolve(config.admin.token_file),
            "backup_dir": resolve(config.admin.backup_dir),
        }
    )
    if admin.tcp is not None and admin.token_file is None:
        raise ConfigError(
            f"{config.source}: field 'admin.tcp' needs 'admin.token_file': the admin API is never "
            "served on TCP without a bearer token"
        )
    return config.model_copy(update={"node": node, "admin": admin})


def load_genesis(path: str | Path) -> Genesis:
    import json

    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such genesis file") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    return genesis_from_json(doc, str(path))


def read_passphrase(passphrase_file: Path | None) -> str:
    if passphrase_file is not None:
        try:
            return passphrase_file.read_text().rstrip("\n")
        except OSError as exc:
            raise ConfigError(
                f"{passphrase_file}: cannot read the passphrase file: {exc}"
            ) from None
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        raise ConfigError(
            f"no keystore passphrase: set node.passphrase_file in the config or ${PASSPHRASE_ENV}"
        )
    return value
