"""The one-line bar of sections at the top of every screen, with their keys."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

# (mode name, key, label): the order of the bar and of the number keys.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("dashboard", "1", "Dashboard"),
    ("peers", "2", "Peers"),
    ("ledger", "3", "Ledger"),
    ("credentials", "4", "Credentials"),
    ("checkpoints", "5", "Checkpoints"),
    ("governance", "6", "Governance"),
    ("plugins", "7", "Plugins"),
    ("logs", "8", "Logs"),
    ("help", "?", "Help"),
)

SHORT = {
    "Dashboard": "Dash",
    "Credentials": "Creds",
    "Checkpoints": "Chkpts",
    "Governance": "Gov",
    "Plugins": "Plug",
}


class NavBar(Static):
    """Sections with their keys; the current one highlighted. Short labels below 100 columns."""

    def __init__(self, current: str) -> None:
        super().__init__(id="nav")
        self.current = current

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        narrow = self.size.width and self.size.width < 100
        parts = []
        for mode, key, label in SECTIONS:
            text = SHORT.get(label, label) if narrow else label
            if mode == self.current:
                parts.append(Content.from_markup(" [b reverse]$key $text[/] ", key=key, text=text))
            else:
                parts.append(Content.from_markup(" [dim]$key[/] $text ", key=key, text=text))
        self.update(Content("").join(parts))
