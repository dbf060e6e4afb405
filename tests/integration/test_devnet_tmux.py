"""The README's first command, driven in a real terminal: three agencies, a confirmed checkpoint,
and a clean stop when the console quits."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.cluster import REPO

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def _tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session, "-S", "-200")


def _wait_for(session: str, texts: list[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _screen(session)
        if all(text in screen for text in texts):
            return screen
        time.sleep(0.5)
    raise AssertionError(f"never saw {texts} on screen; last screen:\n{screen}")


def test_first_readme_command_runs_the_devnet_with_the_console(tmp_path: Path) -> None:
    session = f"calpe-{uuid.uuid4().hex[:8]}"
    devnet = tmp_path / "devnet"
    command = (
        f"cd {REPO} && CALPE_DEVNET_DIR={devnet} ./scripts/devnet.sh --checkpoint-interval 5; "
        "echo DEVNET-EXIT=$?; sleep 600"
    )
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command)
    try:
        _wait_for(session, ["gi.health", "gi.registry", "gi.transport"], 180)
        _wait_for(session, ["CONFIRMED"], 180)
        _tmux("send-keys", "-t", session, "q")
        screen = _wait_for(session, ["DEVNET-EXIT="], 90)
        assert "DEVNET-EXIT=0" in screen, screen
        assert "stopped cleanly" in screen, screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, timeout=30)
        subprocess.run(["pkill", "-f", str(devnet)], check=False)
