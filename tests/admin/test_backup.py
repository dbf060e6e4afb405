"""Backups of a running node and restores into a stopped one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import trio

from node.admin.backup import restore
from node.config import load_config
from node.core.errors import StorageError
from node.devnet import LocalNetwork
from node.storage import integrity, schema
from node.storage.store import LedgerStore
from tests.admin.conftest import AGENCY, BASE_BLOCKS, Running, make_network, start_node

pytestmark = [pytest.mark.integration]


def second_config(net: LocalNetwork, data_dir: str) -> Path:
    """Another config of the same agency, with its own data directory and socket."""
    source = net.configs[AGENCY]
    text = source.read_text().replace('data_dir = "data"', f'data_dir = "{data_dir}"')
    path = source.with_name(f"{data_dir}.toml")
    path.write_text(text)
    return path


@pytest.mark.trio
async def test_backup_paths_are_confined(running: Running) -> None:
    for bad in ("../../etc", "/etc/passwd", "a/b", ".hidden", "", "x" * 200, "a\x00b", 7):
        response = await running.post("/v1/backup", {"path": bad})
        assert response.status_code == 400, bad
    ok = await running.post("/v1/backup", {"path": "first.tar"})
    assert ok.status_code == 200, ok.text
    again = await running.post("/v1/backup", {"path": "first.tar"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "backup_exists"
    inside = Path(ok.json()["path"]).parent
    absolute = await running.post("/v1/backup", {"path": str(inside / "second")})
    assert absolute.status_code == 200 and Path(absolute.json()["path"]).is_dir()
    default = await running.post("/v1/backup", {})
    assert default.status_code == 200 and "calpe-devnet" in default.json()["path"]
    assert inside == running.config.source.parent / "backups"


@pytest.mark.trio
@pytest.mark.parametrize("name", ["snap", "snap.tar"])
async def test_backup_restores_to_the_same_roots(
    nursery: trio.Nursery, net: LocalNetwork, name: str
) -> None:
    async with start_node(nursery, net, BASE_BLOCKS) as running:
        doc = (await running.post("/v1/backup", {"path": name})).json()
    manifest = doc["manifest"]
    assert manifest["network_id"] == net.genesis.network_id.hex()
    assert manifest["schema_version"] == schema.SCHEMA_VERSION
    assert manifest["heads"][AGENCY]["height"] == 3
    config = load_config(second_config(net, "restored"))
    restored, aside = restore(Path(doc["path"]), config.node.data_dir, net.genesis)
    assert aside is None and restored["heads"] == manifest["heads"]
    with LedgerStore.open(config.node.data_dir, net.genesis) as store:
        assert integrity.verify(store).ok
        head = store.head(AGENCY)
        assert head.state_root.hex() == manifest["heads"][AGENCY]["state_root"]
        assert head.log_root.hex() == manifest["heads"][AGENCY]["log_root"]


@pytest.mark.trio
async def test_restore_refusals(nursery: trio.Nursery, net: LocalNetwork) -> None:
    async with start_node(nursery, net, BASE_BLOCKS) as running:
        path = Path((await running.post("/v1/backup", {"path": "snap"})).json()["path"])
    config = load_config(net.configs[AGENCY])
    with pytest.raises(StorageError, match="not empty; pass --force"):
        restore(path, config.node.data_dir, net.genesis)
    restored, aside = restore(path, config.node.data_dir, net.genesis, force=True)
    assert aside is not None and aside.is_dir() and restored["heads"][AGENCY]["height"] == 3

    other = make_network()
    try:
        other_config = load_config(other.configs[AGENCY])
        with pytest.raises(StorageError, match="backup of network"):
            restore(path, other_config.node.data_dir, other.genesis)
    finally:
        shutil.rmtree(other.root.parent, ignore_errors=True)

    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "schema_version": 99}))
    fresh = load_config(second_config(net, "fresh"))
    with pytest.raises(StorageError, match="newer than this Calpe supports"):
        restore(path, fresh.node.data_dir, net.genesis)
    manifest_path.write_text(json.dumps({**manifest, "schema_version": 1}))
    with pytest.raises(StorageError, match="older than this Calpe"):
        restore(path, fresh.node.data_dir, net.genesis)
    assert not fresh.node.data_dir.exists()


@pytest.mark.trio
async def test_restore_refuses_a_running_node(running: Running) -> None:
    path = Path((await running.post("/v1/backup", {"path": "live"})).json()["path"])
    with pytest.raises(StorageError, match="in use by a running node"):
        restore(path, running.config.node.data_dir, running.net.genesis, force=True)
