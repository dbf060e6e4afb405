"""Backups of a running node's LevelDB, and restore into a stopped node's data directory.

A backup is a LevelDB snapshot (taken in the store's worker thread, so between two committed
blocks) copied key by key into a new LevelDB directory, next to a ``manifest.json`` naming the
network, the storage schema version and every agency's head at the snapshot. Layout::

    <name>/manifest.json
    <name>/ledger/            a LevelDB directory

or the same two entries in a tar file when the name ends in ``.tar``. The manifest is written
last, and the backup is built under ``<name>.partial`` and renamed when complete, so a backup
with a manifest is whole. Backups are only written inside the node's backup directory.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plyvel
import trio

from node.admin.inputs import ApiError, bad
from node.config import NodeConfig
from node.core.errors import StorageError
from node.core.genesis import Genesis
from node.core.ledger import AgencyHead
from node.storage import schema
from node.storage.store import LedgerStore

if TYPE_CHECKING:
    from node.services.node import LedgerNode

MANIFEST = "manifest.json"
LEDGER = "ledger"
FORMAT = "calpe-backup"
VERSION = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_BATCH_KEYS = 5000


def backup_dir(config: NodeConfig) -> Path:
    """``[admin] backup_dir`` if the config has it, else ``<node dir>/backups``."""
    configured = config.admin.backup_dir
    if configured is not None:
        return Path(configured)
    return config.source.resolve().parent / "backups"


def target_path(backups: Path, name: str | None, network: str) -> Path:
    """Where to write a backup named ``name`` (default: network and UTC time); 400 for a name
    that is not a plain file name or an absolute path inside ``backups``, 409 if it exists."""
    if name is None:
        name = f"{network}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    candidate = Path(name)
    if candidate.is_absolute() and candidate.parent == backups.resolve():
        name = candidate.name
    if not _NAME.fullmatch(name) or ".." in name or name.endswith(".partial"):
        raise bad(
            "path must be a plain file name (letters, digits, '.', '_', '-'; no '/' or '..'): "
            f"backups are written only inside {backups}",
            "bad_path",
        )
    target = backups.resolve() / name
    if target.exists() or _partial(target).exists():
        raise ApiError(409, "backup_exists", f"{target} already exists; choose another name")
    return target


def _partial(target: Path) -> Path:
    return target.with_name(target.name + ".partial")


def _heads_json(heads: dict[str, AgencyHead]) -> dict[str, Any]:
    return {
        a: {
            "height": h.height,
            "block_hash": h.block_hash.hex(),
            "state_root": h.state_root.hex(),
            "log_root": h.log_root.hex(),
        }
        for a, h in sorted(heads.items())
    }


async def backup_running(node: LedgerNode, target: Path) -> dict[str, Any]:
    """Snapshot the node's database between two blocks and copy it to ``target``."""
    store = node.store.store

    def take() -> tuple[Any, dict[str, Any]]:
        return store.raw_db.snapshot(), _heads_json(store.heads())

    snapshot, heads = await node.store.call(take)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "network": store.genesis.network,
        "network_id": store.network_id.hex(),
        "schema_version": schema.SCHEMA_VERSION,
        "agency_id": node.agency_id,
        "created_ms": int(time.time() * 1000),
        "heads": heads,
    }
    try:  # off the store's thread: LevelDB reads a snapshot safely while the node writes
        return await trio.to_thread.run_sync(write_backup, snapshot, target, manifest)
    finally:
        snapshot.close()


def write_backup(snapshot: Any, target: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = _partial(target)
    as_tar = target.name.endswith(".tar")
    directory = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-")) if as_tar else work
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        manifest = {**manifest, "keys": _copy(snapshot, directory / LEDGER)}
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        if as_tar:
            with tarfile.open(work, "w") as tar:
                tar.add(directory / MANIFEST, arcname=MANIFEST)
                tar.add(directory / LEDGER, arcname=LEDGER)
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True) if work.is_dir() else work.unlink(missing_ok=True)
        raise
    finally:
        if as_tar:
            shutil.rmtree(directory, ignore_errors=True)
    return manifest


def _copy(snapshot: Any, destination: Path) -> int:
    db = plyvel.DB(str(destination), create_if_missing=True, error_if_exists=True)
    count = 0
    try:
        batch = db.write_batch()
        for key, value in snapshot.iterator():
            batch.put(key, value)
            count += 1
            if count % _BATCH_KEYS == 0:
                batch.write()
                batch = db.write_batch()
        batch.write()
    finally:
        db.close()
    return count


# --- restore ------------------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise StorageError(f"{path}: not a Calpe backup manifest: {exc}") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise StorageError(f"{path}: not a version {VERSION} Calpe backup")
    return manifest


@contextmanager
def _unpacked(snapshot: Path, scratch: Path) -> Iterator[Path]:
    """The backup as a directory (a tar is extracted under ``scratch`` first)."""
    if snapshot.is_dir():
        yield snapshot
        return
    if not tarfile.is_tarfile(snapshot):
        raise StorageError(f"{snapshot}: neither a backup directory nor a backup tar file")
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=scratch, prefix=".restore-"))
    try:
        with tarfile.open(snapshot) as tar:
            tar.extractall(work, filter="data")
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _check_manifest(manifest: dict[str, Any], snapshot: Path, genesis: Genesis) -> None:
    if manifest.get("network_id") != genesis.network_id.hex():
        raise StorageError(
            f"{snapshot} is a backup of network '{manifest.get('network')}' "
            f"({str(manifest.get('network_id'))[:16]}…), not of '{genesis.network}' "
            f"({genesis.network_id.hex()[:16]}…); restore it with that network's config"
        )
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version > schema.SCHEMA_VERSION:
        raise StorageError(
            f"{snapshot} uses storage schema version {version}, newer than this Calpe supports "
            f"({schema.SCHEMA_VERSION}); upgrade Calpe to restore it"
        )
    if version < schema.SCHEMA_VERSION:
        raise StorageError(
            f"{snapshot} uses storage schema version {version}, older than this Calpe's "
            f"({schema.SCHEMA_VERSION}): restore it with the Calpe that made it, or re-sync the "
            "node from its peers into an empty data directory"
        )


def _clear_data_dir(data_dir: Path, force: bool) -> Path | None:
    """Refuse a non-empty ``data_dir`` unless ``force``; then move it aside (returned)."""
    if not data_dir.exists() or not any(data_dir.iterdir()):
        return None
    if not force:
        raise StorageError(
            f"{data_dir} is not empty; pass --force to replace it (it is moved aside, not deleted)"
        )
    try:  # a running node holds the LevelDB lock
        plyvel.DB(str(data_dir), create_if_missing=False).close()
    except plyvel.IOError as exc:
        raise StorageError(
            f"{data_dir} is in use by a running node ({exc}); stop the node before restoring"
        ) from None
    except plyvel.Error:
        pass  # not a LevelDB directory: still moved aside
    aside = data_dir.with_name(f"{data_dir.name}.before-restore-{int(time.time())}")
    data_dir.rename(aside)
    return aside


def restore(
    snapshot: Path, data_dir: Path, genesis: Genesis, *, force: bool = False
) -> tuple[dict[str, Any], Path | None]:
    """Restore ``snapshot`` into ``data_dir`` (the node must be stopped).

    Returns the manifest and where the previous data directory was moved (if it was not empty).
    """
    with _unpacked(snapshot, data_dir.parent) as source:
        manifest = read_manifest(source / MANIFEST)
        _check_manifest(manifest, snapshot, genesis)
        if not (source / LEDGER).is_dir():
            raise StorageError(f"{snapshot}: the backup has no '{LEDGER}' database")
        aside = _clear_data_dir(data_dir, force)
        if data_dir.exists():
            data_dir.rmdir()
        shutil.copytree(source / LEDGER, data_dir)
    with LedgerStore.open(data_dir, genesis) as store:
        restored = _heads_json(store.heads())
    if restored != manifest["heads"]:
        raise StorageError(f"{data_dir}: the restored heads differ from the backup's manifest")
    return manifest, aside
