"""Revoke, suspend or reinstate one credential: pick a reason, confirm if destructive, send."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Select, Static

from tui.client.errors import ApiError, ClientError
from tui.client.models import REVOCATION_REASONS, SUSPENSION_REASONS, WriteResult
from tui.client.protocol import ClientProtocol
from tui.screens.confirm import ConfirmDialog

REASONS = {"revoke": REVOCATION_REASONS, "suspend": SUSPENSION_REASONS, "reinstate": ()}
WARNINGS = {
    "revoke": "Revocation is final: the credential can never be reinstated.",
    "suspend": "Verifiers will see the credential as SUSPENDED until it is reinstated.",
}


class ChangeForm(ModalScreen[WriteResult | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]  # noqa: RUF012

    def __init__(self, client: ClientProtocol, action: str, credential_id: str) -> None:
        super().__init__()
        self.client = client
        self.action_name = action
        self.credential_id = credential_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"{self.action_name.title()} credential", classes="dialog-title")
            yield Static(self.credential_id, classes="dialog-body")
            if REASONS[self.action_name]:
                yield Label("Reason")
                options = [(r, r) for r in REASONS[self.action_name]]
                yield Select[str](options, value="unspecified", allow_blank=False, id="reason")
            yield Static("", id="form-error", classes="form-error")
            with Horizontal(classes="buttons"):
                yield Button(self.action_name.title(), variant="warning", id="submit")
                yield Button("Cancel", id="cancel")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#submit")
    def _submit(self) -> None:
        warning = WARNINGS.get(self.action_name)
        if warning is None:
            self._send()
            return
        dialog = ConfirmDialog(
            f"{self.action_name.title()} {self.credential_id[:16]}…?",
            warning,
            yes=self.action_name.title(),
        )
        self.app.push_screen(dialog, self._confirmed)

    def _confirmed(self, yes: bool | None) -> None:
        if yes:
            self._send()
        else:
            self.query_one("#form-error", Static).update("cancelled: nothing was sent")

    def _reason(self) -> str | None:
        if not REASONS[self.action_name]:
            return None
        return str(self.query_one("#reason", Select).value)

    @work(exclusive=True)
    async def _send(self) -> None:
        self.query_one("#submit", Button).disabled = True
        reason = self._reason()
        try:
            if self.action_name == "reinstate":
                result = await self.client.reinstate(self.credential_id)
            elif self.action_name == "revoke":
                result = await self.client.revoke(self.credential_id, str(reason))
            else:
                result = await self.client.suspend(self.credential_id, str(reason))
        except ClientError as exc:
            text = f"{exc.message} [{exc.code}]" if isinstance(exc, ApiError) else str(exc)
            self.query_one("#form-error", Static).update(Content(f"refused: {text}"))
            self.query_one("#submit", Button).disabled = False
            return
        self.dismiss(result)
