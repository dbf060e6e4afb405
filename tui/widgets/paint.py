"""Colour by meaning: the current theme's success/warning/error colours, readable light or dark."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import App

from tui.format import tone
from tui.widgets.cell import PLAIN, Cell


def painted(app: App[object], text: str, state: str | None = None, *, bold: bool = False) -> Text:
    """``text`` in the theme colour of ``state`` (defaults to ``text`` itself, e.g. ``active``)."""
    colour = app.theme_variables.get(tone(state or text), "")
    return Text(text, style=f"{'bold ' if bold else ''}{colour}".strip())


def badge(app: App[object], text: str, state: str) -> Text:
    """A reversed label (``LAG 3``, ``FROZEN``) that reads as a badge."""
    colour = app.theme_variables.get(tone(state), "")
    return Text(f" {text} ", style=f"bold reverse {colour}".strip())


def tinted(app: App[object], text: str, state: str | None = None) -> Cell:
    """``painted`` as a :class:`Cell`: the same colour, cheaper for a table to draw."""
    colour = app.theme_variables.get(tone(state or text), "")
    return Cell(text, Style.parse(colour) if colour else PLAIN)
