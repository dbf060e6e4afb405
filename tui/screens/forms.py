"""Write forms: issue a credential, publish a schema. Each checks its fields, sends the write
in a worker and stays open to show the node's refusal; it closes with the committed result."""

from __future__ import annotations

from typing import Generic, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tui.client.errors import ApiError, ClientError
from tui.client.models import CREDENTIAL_CLASSES, WriteResult
from tui.client.protocol import ClientProtocol
from tui.validate import date_s, hex_id

ResultT = TypeVar("ResultT")


class WriteForm(ModalScreen[ResultT | None], Generic[ResultT]):
    """Shared frame: title, fields from ``fields()``, an error line, Submit/Cancel. It dismisses
    with what ``write()`` returns once the node has committed it."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]  # noqa: RUF012
    TITLE_TEXT = ""
    FORM_ID = ""

    def __init__(self, client: ClientProtocol) -> None:
        super().__init__()
        self.client = client

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id=self.FORM_ID or None):
            yield Static(self.TITLE_TEXT, classes="dialog-title")
            yield from self.fields()
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="buttons"):
                yield Button("Submit", variant="primary", id="submit")
                yield Button("Cancel", id="cancel")

    def fields(self) -> ComposeResult:
        yield from ()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    def value(self, selector: str) -> str:
        return self.query_one(selector, Input).value.strip()

    def show_error(self, text: str) -> None:
        self.query_one("#form-error", Static).update(Content(text))

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#submit")
    @on(Input.Submitted)
    def _submit(self) -> None:
        errors = self.check()
        self.show_error("\n".join(errors))
        if not errors:
            self.query_one("#submit", Button).disabled = True
            self._send()

    def check(self) -> list[str]:
        return []

    async def write(self) -> ResultT:
        raise NotImplementedError

    @work(exclusive=True)
    async def _send(self) -> None:
        try:
            result = await self.write()
        except ClientError as exc:
            reason = f"{exc.message} [{exc.code}]" if isinstance(exc, ApiError) else str(exc)
            self.show_error(f"refused: {reason}")
            self.query_one("#submit", Button).disabled = False
            return
        self.dismiss(result)


class IssueForm(WriteForm[WriteResult]):
    TITLE_TEXT = "Issue a credential"

    def fields(self) -> ComposeResult:
        yield Label("Credential id (64 hex, derived by your case system)")
        yield Input(id="credential_id", compact=True)
        yield Label("Schema id (64 hex, published by this agency)")
        yield Input(id="schema_id", compact=True)
        yield Label("Valid from (YYYY-MM-DD UTC)        Valid until (optional)")
        with Horizontal(classes="pair"):
            yield Input(id="valid_from", placeholder="2025-06-01", compact=True)
            yield Input(id="valid_until", placeholder="no expiry", compact=True)

    def check(self) -> list[str]:
        errors = [
            e
            for e in (
                hex_id(self.value("#credential_id"), "credential id"),
                hex_id(self.value("#schema_id"), "schema id"),
            )
            if e
        ]
        start, e1 = date_s(self.value("#valid_from"), "valid from", required=True)
        end, e2 = date_s(self.value("#valid_until"), "valid until", required=False)
        errors += [e for e in (e1, e2) if e]
        if start is not None and end is not None and end <= start:
            errors.append("valid until must be after valid from")
        return errors

    async def write(self) -> WriteResult:
        start, _ = date_s(self.value("#valid_from"), "", required=True)
        end, _ = date_s(self.value("#valid_until"), "", required=False)
        assert start is not None  # check() passed
        return await self.client.issue(
            self.value("#credential_id"), self.value("#schema_id"), start, end
        )


class SchemaForm(WriteForm[WriteResult]):
    TITLE_TEXT = "Publish a schema"

    def fields(self) -> ComposeResult:
        yield Label("Schema id (64 hex)")
        yield Input(id="schema_id", compact=True)
        yield Label("Credential class")
        yield Select[str]([(c, c) for c in CREDENTIAL_CLASSES], id="class", compact=True)
        yield Label("Version")
        yield Input("1", id="version", compact=True)

    def check(self) -> list[str]:
        errors = [e for e in [hex_id(self.value("#schema_id"), "schema id")] if e]
        if not isinstance(self.query_one("#class", Select).value, str):
            errors.append("choose a credential class")
        version = self.value("#version")
        if not (version.isdigit() and int(version) <= 65_535):
            errors.append("version must be a whole number 0..65535")
        return errors

    async def write(self) -> WriteResult:
        klass = str(self.query_one("#class", Select).value)
        return await self.client.publish_schema(
            self.value("#schema_id"), klass, int(self.value("#version"))
        )
