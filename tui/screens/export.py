"""Ask where to write a proof bundle."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ExportDialog(ModalScreen[Path | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]  # noqa: RUF012

    def __init__(self, default: Path) -> None:
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Export proof bundle", classes="dialog-title")
            yield Label("Write the bundle (JSON) to")
            yield Input(str(self.default), id="path", compact=True)
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Export", variant="primary", id="submit")
                yield Button("Cancel", id="cancel")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#submit")
    @on(Input.Submitted)
    def _submit(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        path = Path(text).expanduser()
        if not text or path.is_dir():
            self.query_one("#form-error", Static).update("give a file path")
        elif not path.parent.is_dir():
            self.query_one("#form-error", Static).update(
                Content(f"no such directory: {path.parent}")
            )
        else:
            self.dismiss(path)
