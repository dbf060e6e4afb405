"""A block's header and its events, over whatever screen asked for it (Esc closes)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui.client.errors import ClientError
from tui.client.models import BlockDetail
from tui.client.protocol import ClientProtocol
from tui.format import short, utc
from tui.widgets.paint import painted


class BlockDetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close")]  # noqa: RUF012

    def __init__(self, client: ClientProtocol, agency: str, height: int) -> None:
        super().__init__()
        self.client = client
        self.agency = agency
        self.height = height

    def compose(self) -> ComposeResult:
        with Vertical(id="block-box", classes="dialog"):
            yield Static(f"Block {self.agency} #{self.height:,}", classes="dialog-title")
            yield Static("loading…", id="block-header")
            yield DataTable[object](id="block-events", cursor_type="row")
            yield Static("Esc close", classes="hint")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("#", "kind", "credential / schema", "reason")
        self._fetch()

    @work(exclusive=True)
    async def _fetch(self) -> None:
        try:
            detail = await self.client.block(self.agency, self.height)
        except ClientError as exc:
            self.query_one("#block-header", Static).update(
                Content(f"cannot load this block: {exc}")
            )
            return
        self._show(detail)

    def _show(self, detail: BlockDetail) -> None:
        b = detail.block
        self.query_one("#block-header", Static).update(
            Content.from_markup(
                "time [b]$time[/b] UTC · $count events\nhash $hash\nprev $prev\n"
                "events root $er\nstate root  $sr",
                time=utc(b.timestamp_ms),
                count=str(b.event_count),
                hash=b.block_hash,
                prev=b.prev_hash,
                er=b.events_root,
                sr=b.state_root,
            )
        )
        table = self.query_one(DataTable)
        table.clear()
        for event in detail.events:
            table.add_row(
                str(event.index),
                painted(self.app, event.kind),
                short(event.credential_id or event.schema_id, 24),
                event.reason or "",
            )
