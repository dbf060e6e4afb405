"""Keystore files on disk: written atomically with mode 0600, unlocked with a passphrase."""

from __future__ import annotations

import os
from pathlib import Path

from node.core.errors import ConfigError, KeystoreError
from node.core.keys import AgencyKeys
from node.core.keystore import DEFAULT_SCRYPT_N, seal, unseal


def write_private_file(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only, atomically (never a half-written secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def create_keystore(
    path: Path, agency_id: str, passphrase: str, *, n: int = DEFAULT_SCRYPT_N
) -> AgencyKeys:
    if path.exists():
        raise ConfigError(f"{path}: a keystore already exists; refusing to overwrite it")
    keys = AgencyKeys.generate()
    write_private_file(path, seal(keys, agency_id, passphrase, n=n))
    return keys


def load_keystore(path: Path, passphrase: str) -> tuple[str, AgencyKeys]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the keystore: {exc}") from None
    try:
        return unseal(text, passphrase)
    except KeystoreError as exc:
        raise KeystoreError(f"{path}: {exc}") from None
