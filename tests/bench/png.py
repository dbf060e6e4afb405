"""A structural check of PNG files: signature, a well-formed IHDR, and the IEND chunk last."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

SIGNATURE = b"\x89PNG\r\n\x1a\n"
IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def assert_png(path: Path) -> tuple[int, int]:
    """Fail unless ``path`` is a non-empty, well-formed PNG; its ``(width, height)``."""
    data = path.read_bytes()
    assert data.startswith(SIGNATURE), f"{path}: not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR"), f"{path}: the first chunk is not IHDR"
    header = data[16:29]
    (crc,) = struct.unpack(">I", data[29:33])
    assert zlib.crc32(kind + header) == crc, f"{path}: IHDR checksum mismatch"
    width, height = struct.unpack(">II", header[:8])
    assert width > 0 and height > 0, f"{path}: empty image"
    assert data.endswith(IEND), f"{path}: truncated (no IEND chunk)"
    return width, height
