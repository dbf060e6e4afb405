"""The committed example configs, genesis files and systemd unit load and agree with the code,
and docs/api-reference.md is what scripts/gen_api_docs.py makes of the current OpenAPI schema."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from node.config import load_config, load_genesis
from node.core.errors import ConfigError
from node.core.genesis import RSK_CHAIN_IDS
from node.devnet import create_local_network
from plugins.rsk_bridge.settings import BridgeSettings

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
NODE_CONFIGS = sorted(CONFIGS.rglob("*.toml"))
GENESIS_FILES = sorted(CONFIGS.rglob("*genesis*.json"))
PRODUCTION = CONFIGS / "production"
UNIT = PRODUCTION / "calpe-node.service"
OPTIONAL_SETTING = re.compile(r"^# ([a-z_]+ = .+)$", re.MULTILINE)


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(CONFIGS)) for p in paths]


def test_examples_are_committed() -> None:
    assert len(NODE_CONFIGS) >= 2
    assert len(GENESIS_FILES) >= 2


@pytest.mark.parametrize("path", NODE_CONFIGS, ids=_ids(NODE_CONFIGS))
def test_node_config_loads(path: Path) -> None:
    config = load_config(path)
    assert config.anchor is not None, "the examples show the [anchor] section"
    BridgeSettings.from_table(config.plugins["rsk_bridge"], str(path))
    if config.node.genesis.exists():
        assert config.load_genesis().agency(config.node.agency_id) is not None


@pytest.mark.parametrize("path", NODE_CONFIGS, ids=_ids(NODE_CONFIGS))
def test_node_config_loads_with_its_optional_settings(path: Path, tmp_path: Path) -> None:
    """Settings shown commented out (``# key = value``) are valid once uncommented too."""
    text = OPTIONAL_SETTING.sub(r"\1", path.read_text())
    copy = tmp_path / "node.toml"
    copy.write_text(text)
    config = load_config(copy)
    BridgeSettings.from_table(config.plugins["rsk_bridge"], str(copy))


def test_storage_memory_is_bounded_and_named_in_errors(tmp_path: Path) -> None:
    production = (PRODUCTION / "node.toml").read_text()
    assert load_config(PRODUCTION / "node.toml").storage.write_buffer_mib == 16
    for line, field in (("cache_mib = 1", "cache_mib"), ("max_open_files = 5", "max_open_files")):
        copy = tmp_path / "node.toml"
        key = line.split(" = ")[0]
        copy.write_text(re.sub(rf"^{key} = .*$", line, production, flags=re.MULTILINE))
        with pytest.raises(ConfigError, match=rf"field 'storage.{field}'"):
            load_config(copy)


@pytest.mark.parametrize("path", GENESIS_FILES, ids=_ids(GENESIS_FILES))
def test_genesis_example_loads(path: Path) -> None:
    genesis = load_genesis(path)
    assert genesis.rsk_chain_id in RSK_CHAIN_IDS
    assert 1 <= genesis.quorum <= len(genesis.agencies)


def test_production_template_targets_rsk_testnet() -> None:
    assert load_genesis(PRODUCTION / "genesis.example.json").rsk_chain_id == 31
    config = load_config(PRODUCTION / "node.toml")
    assert config.plugins["rsk_bridge"]["rpc_url"].startswith("https://")
    assert config.node.passphrase_file is not None


def test_devnet_example_matches_what_the_devnet_writes(tmp_path: Path) -> None:
    made = create_local_network(tmp_path / "net", scrypt_n=2**10)
    written = tomllib.loads(made.configs["gi.health"].read_text())
    example = tomllib.loads((CONFIGS / "devnet" / "gi.health" / "node.toml").read_text())
    assert {**example["node"], "genesis": "../genesis.json"} == written["node"]
    assert example["network"] == written["network"]
    assert example["anchor"].keys() == {"contract"}
    assert set(example["plugins"]["rsk_bridge"]) == {"rpc_url", "fee_keystore", "confirmations"}


def _unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_systemd_unit_is_hardened() -> None:
    unit = _unit_settings()
    for key, value in {
        "User": "calpe",
        "ProtectSystem": "strict",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
        "NoNewPrivileges": "yes",
    }.items():
        assert unit.get(key) == [value], key
    assert int(unit["TimeoutStopSec"][0]) > 15, "longer than the node's own 15 s shutdown grace"
    assert "--config /etc/calpe/node.toml" in unit["ExecStart"][0]


def test_systemd_unit_matches_the_production_config() -> None:
    """Every secret the config reads is a credential the unit loads; every path the node
    writes is writable under ProtectSystem=strict."""
    unit = _unit_settings()
    config = load_config(PRODUCTION / "node.toml")
    credentials_dir = Path("/run/credentials/calpe-node.service")
    loaded = {value.split(":", 1)[0] for value in unit["LoadCredential"]}
    secrets = [
        config.node.passphrase_file,
        Path(config.plugins["rsk_bridge"]["fee_passphrase_file"]),
    ]
    for secret in secrets:
        assert secret is not None and secret.parent == credentials_dir
        assert secret.name in loaded
    writable = [Path(p) for p in unit["ReadWritePaths"][0].split()]
    writable.append(Path("/run") / unit["RuntimeDirectory"][0])
    assert config.admin.backup_dir is not None
    for path in (config.node.data_dir, config.admin.backup_dir, config.admin.socket.parent):
        assert any(path == w or w in path.parents for w in writable), path


def _gen_api_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_api_docs", ROOT / "scripts/gen_api_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_current() -> None:
    generated = _gen_api_docs().reference()
    committed = (ROOT / "docs" / "api-reference.md").read_text()
    assert committed == generated, "docs/api-reference.md is stale: run scripts/gen_api_docs.py"
