"""Checks on what the user types, before anything is sent (the node checks again)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_HEX64 = re.compile(r"[0-9a-f]{64}")


def hex_id(value: str, what: str) -> str | None:
    """An error message, or ``None`` when ``value`` is a 64-char lowercase hex id."""
    value = value.strip()
    if not value:
        return f"{what} is required"
    if value.startswith("0x"):
        return f"{what} is written without 0x"
    if not _HEX64.fullmatch(value):
        return f"{what} must be 64 lowercase hex characters (got {len(value)})"
    return None


def date_s(value: str, what: str, *, required: bool) -> tuple[int | None, str | None]:
    """``(seconds, None)`` for ``YYYY-MM-DD`` (UTC) or epoch seconds; else ``(None, error)``."""
    value = value.strip()
    if not value:
        return None, (f"{what} is required" if required else None)
    if value.isdigit():
        return int(value), None
    try:
        parsed = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None, f"{what}: use YYYY-MM-DD or epoch seconds"
    return int(parsed.timestamp()), None


# -- governance ---------------------------------------------------------------------------------

AGENCY_ID = re.compile(r"[a-z][a-z0-9]*(\.[a-z0-9][a-z0-9-]*){0,3}")
MAX_AGENCY_ID_LEN = 32
MIN_INTERVAL_S = 5
MAX_INTERVAL_S = 7 * 86_400
MAX_ADDRESSES = 4
MAX_ADDRESS_LEN = 96
_ED25519 = re.compile(r"[0-9a-fA-F]{64}")
_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_MULTIADDR = re.compile(r"/(ip4|ip6|dns|dns4|dns6)/[A-Za-z0-9.:-]{1,64}/tcp/[0-9]{1,5}(/p2p/\w+)?")


def agency_id(value: str) -> str | None:
    """An error message, or ``None`` for a well-formed agency id such as ``gi.transport``."""
    value = value.strip()
    if not value:
        return "agency id is required"
    if len(value) > MAX_AGENCY_ID_LEN or not AGENCY_ID.fullmatch(value):
        return (
            f"agency id {value!r} must be up to 4 dotted lowercase words of at most "
            f"{MAX_AGENCY_ID_LEN} characters, e.g. gi.transport"
        )
    return None


def ed25519_key(value: str) -> str | None:
    value = value.strip()
    if not value:
        return "Ed25519 public key is required"
    if not _ED25519.fullmatch(value):
        return f"Ed25519 public key must be 64 hex characters, without 0x (got {len(value)})"
    return None


def evm_address(value: str) -> str | None:
    value = value.strip()
    if not value:
        return "secp256k1 address is required"
    if not _EVM_ADDRESS.fullmatch(value):
        return "secp256k1 address must be 0x and 40 hex characters"
    return None


def whole_number(value: str, what: str, low: int, high: int) -> tuple[int | None, str | None]:
    """``(n, None)`` when ``value`` is a whole number in ``low..high``; else ``(None, error)``."""
    value = value.strip()
    if not value.isdigit() or not low <= int(value) <= high:
        return None, f"{what} must be a whole number {low}..{high}"
    return int(value), None


def multiaddrs(value: str) -> tuple[tuple[str, ...], str | None]:
    """Comma- or space-separated ``/ip4/HOST/tcp/PORT`` addresses (none is fine)."""
    found = tuple(a for a in re.split(r"[\s,]+", value.strip()) if a)
    if len(found) > MAX_ADDRESSES:
        return (), f"at most {MAX_ADDRESSES} addresses"
    for address in found:
        if len(address) > MAX_ADDRESS_LEN or not _MULTIADDR.fullmatch(address):
            return (), f"address {address!r} is not like /ip4/10.0.0.4/tcp/7400"
    return found, None
