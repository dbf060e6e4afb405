"""``calpe tui --socket …`` in a real terminal (tmux, 100x30) against the real devnet.

Goes to the credentials section, issues a credential through the form by typing, sees the new
height on the dashboard, quits with ``q`` and checks the exit code and that the terminal is back
to the shell (the alternate screen left). Reads the screen with ``tmux capture-pane -p``, polling.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.cluster import cid_for
from tests.tui.devnet import OWN, Devnet, prefill_schema

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"
    ),
]

WIDTH, HEIGHT = 100, 30
EXIT_MARK = "CALPE-TUI-EXIT="


def _terminal_env() -> dict[str, str]:
    """Our environment for the tmux server (the console inherits it), minus COLUMNS and LINES:
    pytest sets them, and a program that reads them would ignore the pane's real size."""
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}


class Terminal:
    """One tmux server of our own (``-L``), one session, one pane."""

    def __init__(self, command: str) -> None:
        self.server = f"calpe-test-{uuid.uuid4().hex[:8]}"
        self._tmux(
            "new-session", "-d", "-s", "tui", "-x", str(WIDTH), "-y", str(HEIGHT),
            # Keep the pane after the console exits, to read its exit code and the restored screen.
            f"{command}; echo {EXIT_MARK}$?; exec sleep 600",
        )  # fmt: skip

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.server, *args],
            capture_output=True,
            text=True,
            check=True,
            env=_terminal_env(),
        )
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "tui")

    def styled(self) -> str:
        """The screen with its colours (``-e``): shows focus moving, which plain text does not."""
        return self._tmux("capture-pane", "-p", "-e", "-t", "tui")

    def keys_then_repaint(self, *keys: str, timeout: float = 10) -> None:
        """Send ``keys`` and wait until the screen changes: Textual acts on a key (a focus move)
        after reading the ones typed behind it, so typing on at once would land in the old field."""
        before = self.styled()
        self.keys(*keys)
        deadline = time.monotonic() + timeout
        while self.styled() == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"no repaint after {keys} within {timeout} s")
            time.sleep(0.05)

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "tui", *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "tui", "-l", text)

    def wait(self, predicate: Callable[[str], object], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        shown = ""
        while time.monotonic() < deadline:
            shown = self.screen()
            if predicate(shown):
                return shown
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; screen:\n{shown}")

    def wait_text(self, text: str, timeout: float = 30) -> str:
        return self.wait(lambda s: text in s, repr(text), timeout)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.server, "kill-server"], capture_output=True, check=False)


def calpe_command() -> list[str]:
    script = Path(sys.executable).with_name("calpe")
    return [str(script)] if script.exists() else [sys.executable, "-m", "node.cli"]


@pytest.fixture
def terminal(devnet: Devnet) -> Iterator[Terminal]:
    command = shlex.join([*calpe_command(), "tui", "--socket", str(devnet.own.socket)])
    term = Terminal(f"cd {shlex.quote(str(Path(__file__).parents[2]))} && {command}")
    try:
        yield term
    finally:
        term.close()


def height_of(agency: str, screen: str) -> int | None:
    found = re.search(rf"{re.escape(agency)}\s+([\d,]+)\s", screen)
    return int(found.group(1).replace(",", "")) if found else None


def test_issue_in_a_real_terminal_and_quit_cleanly(terminal: Terminal) -> None:
    shown = terminal.wait(lambda s: height_of(OWN, s) is not None, "the dashboard's heads")
    assert "1 Dash" in shown and "gi.agency1" in shown and "gi.agency2" in shown
    before = height_of(OWN, shown)
    assert before is not None

    terminal.keys("4")
    terminal.wait_text("Look up a credential")
    terminal.keys("i")
    terminal.wait_text("Issue a credential")
    cid = cid_for(f"tui-tmux/{uuid.uuid4()}")
    # The form focuses its first field; Tab moves through the rest, Enter submits.
    terminal.type(cid)
    terminal.wait_text(cid[:40])
    terminal.keys_then_repaint("Tab")
    terminal.type(prefill_schema(OWN))
    terminal.wait_text(prefill_schema(OWN)[:40])
    terminal.keys_then_repaint("Tab")
    terminal.type("2025-06-01")
    terminal.keys("Enter")
    terminal.wait(lambda s: "ACTIVE" in s and cid[:40] in s, "the issued credential")
    committed = re.search(r"Committed at \S+ #(\d+)", terminal.screen())

    terminal.keys("1")
    shown = terminal.wait(
        lambda s: (height_of(OWN, s) or 0) > before, "the new block on the dashboard"
    )
    if committed:
        assert height_of(OWN, shown) == int(committed.group(1))

    terminal.keys("q")
    shown = terminal.wait_text(EXIT_MARK, timeout=15)
    assert f"{EXIT_MARK}0" in shown
    assert "1 Dash" not in shown and "gi.agency0" not in shown  # the alternate screen is gone
