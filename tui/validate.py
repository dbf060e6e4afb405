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
