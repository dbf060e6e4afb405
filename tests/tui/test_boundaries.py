"""The console talks to the node only through the admin API; the client needs no Textual."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tui

FORBIDDEN = {"node", "plugins", "trio", "plyvel", "libp2p", "web3"}
TUI = Path(tui.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_module_of_tui_imports_node_internals() -> None:
    offenders = {
        str(path.relative_to(TUI)): sorted(imported_roots(path) & FORBIDDEN)
        for path in TUI.rglob("*.py")
        if imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_client_imports_without_textual() -> None:
    code = (
        "import sys, tui.client, tui.client.fake; "
        "bad = [m for m in ('textual', 'node', 'trio') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
