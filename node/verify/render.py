"""What a bundle's display fields must say, derived from its record (the evidence)."""

from __future__ import annotations

from typing import Any

from node.admin.shapes import credential_json
from node.core.status import decode_status_record


def status_of(record: bytes | None) -> str:
    """The ``status`` member a bundle with this record carries."""
    return "unknown" if record is None else decode_status_record(record).status.name.lower()


def credential_of(record: bytes | None) -> dict[str, Any] | None:
    """The ``credential`` member a bundle with this record carries (admin API's shape)."""
    return None if record is None else credential_json(decode_status_record(record))
