"""The one hash function of Calpe's commitments: SHA-256."""

from __future__ import annotations

import hashlib

HASH_LEN = 32
"""Length in bytes of every hash Calpe commits to."""

ZERO_HASH = bytes(HASH_LEN)
"""32 zero bytes: the hash of an empty sparse-Merkle subtree."""


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()
