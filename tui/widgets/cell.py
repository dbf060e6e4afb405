"""``Cell``: a one-line table cell that renders as a single styled segment.

A ``DataTable`` renders every visible cell through Rich on each repaint, and measures every cell of
each new row. A plain ``str`` cell is parsed as markup each time and a ``Text`` is wrapped and
divided; a ``Cell`` is neither (it is already one line), which roughly halves both costs. It is
what the ledger uses, because paging replaces every visible cell at once.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

PLAIN = Style()


class Cell:
    """``text`` in ``style`` on one line, cropped to the width it is given."""

    __slots__ = ("style", "text", "width")

    def __init__(self, text: str, style: Style = PLAIN) -> None:
        self.text = text
        self.style = style
        self.width = cell_len(text)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Cell({self.text!r})"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.width <= options.max_width:
            yield Segment(self.text, self.style)
        else:
            yield Segment(self.text[: max(options.max_width - 1, 0)] + "…", self.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)
