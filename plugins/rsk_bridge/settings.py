"""The RSK bridge's ``[plugins.rsk_bridge]`` table and its fee-account keystore.

Example::

    [anchor]
    contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

    [plugins.rsk_bridge]
    rpc_url = "https://public-node.testnet.rsk.co"
    fee_keystore = "fee_keystore.json"       # Ethereum v3 keystore (eth_account)
    fee_passphrase_file = "fee_passphrase"   # default: the node's own passphrase
    confirmations = 12

The contract address is the node's ``[anchor] contract``: the checkpoint signatures are bound to
it, so the bridge cannot submit anywhere else. The chain id is the genesis's ``rsk_chain_id``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eth_account import Account
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from node.core.errors import ConfigError, KeystoreError
from node.keyfiles import write_private_file


class BridgeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rpc_url: str = Field(description="JSON-RPC endpoint of an RSK node (http or https).")
    fee_keystore: Path = Field(description="Encrypted v3 keystore of the account paying gas.")
    fee_passphrase_file: Path | None = Field(
        default=None, description="File with the fee keystore's passphrase (default: the node's)."
    )
    confirmations: int = Field(default=12, ge=1, description="Blocks before a checkpoint counts.")
    relay_delay_s: float = Field(
        default=60.0,
        ge=0,
        description="Seconds a non-proposer waits for the proposer's submission before relaying.",
    )
    poll_interval_s: float = Field(default=2.0, gt=0, description="Seconds between chain polls.")
    stuck_after_s: float = Field(
        default=180.0, gt=0, description="Seconds before a pending tx is replaced (gas price up)."
    )
    min_balance_wei: int = Field(
        default=10**15, ge=0, description="Alert (low_balance) below this fee-account balance."
    )
    rpc_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one JSON-RPC call.")

    @classmethod
    def from_table(cls, table: Mapping[str, Any], source: str) -> BridgeSettings:
        """Validate the table; relative paths are relative to the config file ``source``."""
        try:
            settings = cls.model_validate(dict(table))
        except ValidationError as exc:
            problems = "; ".join(
                f"field 'plugins.rsk_bridge.{'.'.join(str(p) for p in err['loc'])}': {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigError(f"{source}: {problems}") from None
        if not settings.rpc_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{source}: field 'plugins.rsk_bridge.rpc_url': expected an http(s) URL, "
                f"got {settings.rpc_url!r}"
            )
        base = Path(source).parent
        return settings.model_copy(
            update={
                "fee_keystore": _resolve(base, settings.fee_keystore),
                "fee_passphrase_file": _resolve(base, settings.fee_passphrase_file),
            }
        )


def _resolve(base: Path, path: Path | None) -> Path | None:
    if path is None:
        return None
    return path if path.is_absolute() else (base / path).resolve()


def create_fee_keystore(
    path: Path, passphrase: str, *, private_key: bytes | None = None, scrypt_n: int | None = None
) -> str:
    """Write a new (or the given) fee account key, encrypted (scrypt; ``scrypt_n`` None is
    eth_account's strong default), mode 0600; returns its address."""
    account = Account.from_key(private_key) if private_key else Account.create()
    keystore = Account.encrypt(account.key, passphrase, kdf="scrypt", iterations=scrypt_n)
    write_private_file(path, json.dumps(keystore) + "\n")
    return str(account.address)


def load_fee_key(path: Path, passphrase: str) -> bytes:
    """Decrypt the fee keystore; :class:`KeystoreError` on a wrong passphrase or bad file."""
    try:
        keystore = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such fee keystore") from None
    except json.JSONDecodeError as exc:
        raise KeystoreError(f"{path}: not a JSON keystore: {exc}") from None
    try:
        return bytes(Account.decrypt(keystore, passphrase))
    except ValueError as exc:
        raise KeystoreError(f"{path}: cannot decrypt the fee keystore: {exc}") from None
