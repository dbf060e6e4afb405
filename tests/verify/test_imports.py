"""The verifier's import path, and ``calpe verify``'s, stay free of the node's runtimes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ["plyvel", "libp2p", "textual", "trio", "web3", "pydantic", "starlette", "httpx"]

PROBE = """
import json, sys
{imports}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})))
"""


def _loaded(imports: str) -> list[str]:
    code = PROBE.format(imports=imports, heavy=set(HEAVY))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    loaded: list[str] = json.loads(out.stdout)
    return loaded


def test_the_verifier_library_imports_no_node_runtime() -> None:
    assert _loaded("import node.verify\nfrom node.verify import verify_bundle") == []


def test_calpe_verify_imports_no_node_runtime() -> None:
    imports = (
        "from node.cli import cli\n"
        "import click\n"
        "ctx = click.Context(cli)\n"
        "assert cli.get_command(ctx, 'verify') is not None\n"
        "import node.cli.verify"
    )
    assert _loaded(imports) == []


def test_calpe_verify_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "node.cli", "verify", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert "--contract" in out.stdout and "--max-age" in out.stdout
