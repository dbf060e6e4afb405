"""How a benchmark hands over its result: JSON on stdout (and to ``--out``), a table on stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def emit(result: dict[str, Any], out: Path | None, table: str | None) -> None:
    """Print ``result`` as JSON, also write it to ``out``; ``table`` (unless None) to stderr."""
    text = json.dumps(result, indent=2)
    if out is not None:
        out.write_text(text + "\n")
    print(text)
    if table is not None:
        print(table, file=sys.stderr)
