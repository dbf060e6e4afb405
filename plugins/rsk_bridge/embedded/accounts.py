"""Deterministic, prefunded development accounts of the embedded chain.

The keys come from the well-known development mnemonic used by Hardhat and anvil, on the same
BIP-44 path (``m/44'/60'/0'/0/{index}``), so the embedded chain and an anvil devnet hand out the
same addresses. These keys are public knowledge: never use them on a real network.
"""

from __future__ import annotations

from typing import NamedTuple

from eth_account.hdaccount import seed_from_mnemonic
from eth_account.hdaccount.deterministic import HDPath
from eth_keys.datatypes import PrivateKey
from eth_typing import ChecksumAddress

DEV_MNEMONIC = "test test test test test test test test test test test junk"
"""The public development mnemonic (BIP-39, empty passphrase)."""

DEV_HD_PATH = "m/44'/60'/0'/0/{index}"
"""BIP-44 path of the ``index``-th development account."""

DEFAULT_DEV_ACCOUNT_COUNT = 10
DEFAULT_DEV_BALANCE_WEI = 10_000 * 10**18


class DevAccount(NamedTuple):
    """A prefunded account: unpacks as ``(address, private_key)``."""

    address: ChecksumAddress
    """EIP-55 checksummed address."""
    private_key: str
    """``0x``-prefixed 32-byte hex private key, as web3/eth-account accept it."""


def derive_dev_accounts(
    count: int = DEFAULT_DEV_ACCOUNT_COUNT, mnemonic: str = DEV_MNEMONIC
) -> list[DevAccount]:
    """Derive the first ``count`` accounts of ``mnemonic`` on :data:`DEV_HD_PATH`."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    seed = seed_from_mnemonic(mnemonic, "")
    accounts = []
    for index in range(count):
        key = PrivateKey(HDPath(DEV_HD_PATH.format(index=index)).derive(seed))
        accounts.append(DevAccount(key.public_key.to_checksum_address(), key.to_hex()))
    return accounts
