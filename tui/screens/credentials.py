"""Credentials: look one up (status, history); issue, revoke, suspend, reinstate; export proof."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path

from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Select, Static

from tui.client.errors import ApiError, ClientError
from tui.client.models import CredentialRecord, Status, WriteResult
from tui.format import tone, utc, utc_date
from tui.screens.base import CalpeScreen
from tui.screens.change_form import ChangeForm
from tui.screens.export import ExportDialog
from tui.screens.forms import IssueForm, SchemaForm
from tui.validate import hex_id
from tui.widgets.paint import painted


class CredentialLoaded(Message):
    def __init__(self, record: CredentialRecord) -> None:
        super().__init__()
        self.record = record


class CredentialsScreen(CalpeScreen):
    NAV = "credentials"
    BINDINGS = [  # noqa: RUF012
        Binding("i", "issue", "Issue"),
        Binding("x", "change('revoke')", "Revoke"),
        Binding("s", "change('suspend')", "Suspend"),
        Binding("u", "change('reinstate')", "Reinstate"),
        Binding("e", "export", "Export proof"),
        Binding("n", "schema", "New schema", show=False),
        Binding("slash", "focus_lookup", "Look up", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.record: CredentialRecord | None = None
        # The credential last asked for: what `reload` fetches again. Not `record`, which still
        # holds the previous one while a lookup is in flight (a write's follow-up lookup would
        # otherwise be cancelled by the reload that comes when its form closes).
        self.target: tuple[str, str] | None = None
        self.agencies: tuple[str, ...] = ()

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(classes="toolbar"):
            yield Select[str]([], prompt="issuer", id="issuer", compact=True)
            yield Input(
                placeholder="credential id (64 hex), Enter to look up", id="cid", compact=True
            )
            yield Button("Look up", id="lookup", compact=True)
        yield Static(
            "Look up a credential by issuer and id. i issue · n new schema", id="cred-summary"
        )
        yield DataTable[object](id="history", cursor_type="row")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#history", DataTable).add_columns("time (UTC)", "block", "event", "reason")
        self.watch(self.calpe, "status", self._agencies)

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Issue a credential", "Open the issue form (i)", self.action_issue)
        yield SystemCommand("Publish a schema", "Open the schema form (n)", self.action_schema)
        yield SystemCommand(
            "Export proof bundle", "Write the proof to a file (e)", self.action_export
        )

    def _agencies(self, status: Status | None) -> None:
        agencies = tuple(h.agency_id for h in status.heads) if status else ()
        if status is None or agencies == self.agencies:
            return
        self.agencies = agencies
        select = self.query_one("#issuer", Select)
        select.set_options((a, a) for a in agencies)
        select.value = status.agency_id

    @property
    def own_agency(self) -> str | None:
        return self.calpe.status.agency_id if self.calpe.status else None

    # -- lookup ----------------------------------------------------------------------------------

    def action_focus_lookup(self) -> None:
        self.query_one("#cid", Input).focus()

    @on(Input.Submitted, "#cid")
    @on(Button.Pressed, "#lookup")
    def _lookup(self) -> None:
        issuer = self.query_one("#issuer", Select).value
        cid = self.query_one("#cid", Input).value.strip()
        if not isinstance(issuer, str):
            self.notify("choose the issuing agency", severity="error")
        elif error := hex_id(cid, "credential id"):
            self.notify(error, severity="error")
        else:
            self.look_up(issuer, cid)

    def reload(self) -> None:
        if self.target is not None:
            self.look_up(*self.target)

    def look_up(self, issuer: str, credential_id: str) -> None:
        self.target = (issuer, credential_id)
        self._fetch(issuer, credential_id)

    @work(exclusive=True, group="lookup")
    async def _fetch(self, issuer: str, credential_id: str) -> None:
        try:
            record = await self.client.credential(issuer, credential_id)
        except ClientError as exc:
            if isinstance(exc, ApiError):  # e.g. unknown: keep reloading what is shown
                shown = self.record.credential if self.record else None
                self.target = (shown.issuer, shown.credential_id) if shown else None
            self.report(exc, "looking up the credential")
            return
        self.post_message(CredentialLoaded(record))

    def on_credential_loaded(self, message: CredentialLoaded) -> None:
        self.record = message.record
        c = message.record.credential
        self.query_one("#cid", Input).value = c.credential_id
        self.query_one("#cred-summary", Static).update(
            Content.from_markup(
                f"[b reverse ${tone(c.status)}] $status [/] $issuer · $cid\n"
                "schema $schema · valid $start → $end · issued at #$issued, updated at #$updated"
                "$reason",
                status=c.status.upper(),
                issuer=c.issuer,
                cid=c.credential_id,
                schema=c.schema_id[:16] + "…",
                start=utc_date(c.valid_from_s),
                end=utc_date(c.valid_until_s),
                issued=str(c.issued_height),
                updated=str(c.updated_height),
                reason=f" · reason {c.reason}" if c.reason and c.status != "active" else "",
            )
        )
        table = self.query_one("#history", DataTable)
        table.clear()
        table.focus()  # so the action keys act instead of typing into the id field
        for event in message.record.history:
            table.add_row(
                utc(event.timestamp_ms),
                f"{event.height}.{event.index}",
                painted(self.app, event.kind),
                event.reason or "",
            )

    # -- writes ----------------------------------------------------------------------------------

    def action_issue(self) -> None:
        self.app.push_screen(IssueForm(self.client), self._written)

    def action_schema(self) -> None:
        self.app.push_screen(SchemaForm(self.client), self._written)

    def action_change(self, action: str) -> None:
        record = self.record
        if record is None:
            self.notify("Look up a credential first.", severity="warning")
            return
        if record.credential.issuer != self.own_agency:
            self.notify(
                f"Only {record.credential.issuer} can change its credentials.",
                severity="warning",
            )
            return
        form = ChangeForm(self.client, action, record.credential.credential_id)
        self.app.push_screen(form, self._written)

    def _written(self, result: WriteResult | None) -> None:
        if result is None:
            return
        what = result.credential.status if result.credential else f"schema {result.schema_id}"
        self.notify(f"Committed at {result.agency_id} #{result.height}: {what}", timeout=6)
        if result.credential is not None:
            self.look_up(result.credential.issuer, result.credential.credential_id)

    def action_export(self) -> None:
        if self.record is None:
            self.notify("Look up a credential first.", severity="warning")
            return
        cid = self.record.credential.credential_id
        default = Path.cwd() / f"proof-{cid[:16]}.json"
        self.app.push_screen(ExportDialog(default), self._export_to)

    def _export_to(self, path: Path | None) -> None:
        if path is not None and self.record is not None:
            c = self.record.credential
            self.export_proof(c.issuer, c.credential_id, path)

    @work(exclusive=True, group="export")
    async def export_proof(self, issuer: str, credential_id: str, path: Path) -> None:
        try:
            bundle = await self.client.proof(issuer, credential_id)
        except ClientError as exc:
            self.report(exc, "fetching the proof")
            return
        text = json.dumps(bundle.raw, indent=2, sort_keys=True) + "\n"
        try:
            await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc.strerror}", severity="error", markup=False)
            return
        self.notify(f"Proof bundle written to {path}", timeout=6, markup=False)
