"""Helpers for fault tests on real node processes: parallel restarts, offline checks, queries."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.integration.cluster import REPO, NodeProcess


def in_parallel(nodes: Iterable[NodeProcess], action: Callable[[NodeProcess], Any]) -> list[Any]:
    """Run ``action`` on every node at once (starting a node mostly waits on its imports)."""
    chosen = list(nodes)
    with ThreadPoolExecutor(max_workers=max(1, len(chosen))) as pool:
        return list(pool.map(action, chosen))


def calpe(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the ``calpe`` CLI as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "node.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def db_verify(config: Path) -> dict[str, Any]:
    """``calpe db verify --config CONFIG --json`` on a stopped node; the report (must be ok)."""
    done = calpe("db", "verify", "--config", str(config), "--json")
    assert done.returncode == 0, f"db verify of {config} failed:\n{done.stdout}\n{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["ok"] is True, report
    return report


def missing_credentials(node: NodeProcess, issuer: str, cids: Sequence[str]) -> list[str]:
    """Which of ``cids`` (issued by ``issuer``) ``node`` does not hold as active credentials."""
    missing = []
    transport = httpx.HTTPTransport(uds=str(node.socket))
    with httpx.Client(transport=transport, base_url="http://calpe", timeout=30) as client:
        for cid in cids:
            response = client.get(f"/v1/credentials/{issuer}/{cid}")
            ok = response.status_code == 200
            if not ok or response.json()["credential"]["status"] != "active":
                missing.append(cid)
    return missing


def log_tail(node: NodeProcess, chars: int = 3000) -> str:
    return node.log_path.read_text(errors="replace")[-chars:]


def run_node_until_exit(node: NodeProcess, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``calpe node run`` in the foreground (for nodes expected to refuse to start)."""
    return subprocess.run(
        [sys.executable, "-m", "node.cli", "node", "run", "--config", str(node.config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
