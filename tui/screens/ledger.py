"""Ledger: the events browser. Pages through the API by cursor; never holds more than a page.

Filters by agency, kind, credential and time; Enter opens the block of the selected event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Input, Select, Static

from tui.client.errors import ClientError
from tui.client.models import EVENT_KINDS, BlockSummary, Event, EventPage, Status
from tui.client.stream import Dropped, StreamEvent
from tui.format import parse_when, short, utc
from tui.screens.base import CalpeScreen
from tui.screens.block_detail import BlockDetailScreen
from tui.validate import hex_id
from tui.widgets.cell import Cell
from tui.widgets.page_table import PageTable
from tui.widgets.paint import tinted


@dataclass(frozen=True, slots=True)
class EventFilter:
    agency: str | None = None
    kind: str | None = None
    credential: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None


class PageLoaded(Message):
    def __init__(self, page: EventPage, number: int) -> None:
        super().__init__()
        self.page = page
        self.number = number


class LedgerScreen(CalpeScreen):
    NAV = "ledger"
    BINDINGS = [  # noqa: RUF012
        Binding("n", "next_page", "Next page"),
        Binding("p", "prev_page", "Prev page"),
        Binding("t", "newest", "Newest"),
        Binding("f", "focus_filters", "Filters"),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = EventFilter()
        self.cursors: list[str | None] = [None]  # cursor of each page shown so far
        self.page: EventPage | None = None
        self.new_events = 0
        self.missed = False  # the stream skipped updates: the count of new events is a floor
        self.agencies: tuple[str, ...] = ()

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(classes="toolbar", id="filters"):
            yield Select[str]([], prompt="any agency", id="f-agency", compact=True)
            kinds = [(k, k) for k in EVENT_KINDS]
            yield Select[str](kinds, prompt="any kind", id="f-kind", compact=True)
        with Horizontal(classes="toolbar", id="filters2"):
            yield Input(placeholder="credential id (64 hex)", id="f-credential", compact=True)
            yield Input(placeholder="since: -2h/2025-06-01", id="f-since", compact=True)
            yield Input(placeholder="until", id="f-until", compact=True)
        yield PageTable(id="events", cursor_type="row", zebra_stripes=True)
        yield Static("", id="page-info", classes="hint")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#events", DataTable)
        table.add_columns("time (UTC)", "agency", "block", "kind", "credential", "detail")
        self.watch(self.calpe, "status", self._agencies)
        self.calpe.stream_signal.subscribe(self, self._on_stream)

    def _agencies(self, status: Status | None) -> None:
        agencies = tuple(h.agency_id for h in status.heads) if status else ()
        if agencies and agencies != self.agencies:
            self.agencies = agencies
            self.query_one("#f-agency", Select).set_options((a, a) for a in agencies)

    def _on_stream(self, event: StreamEvent) -> None:
        if isinstance(event.data, BlockSummary):
            self.new_events += event.data.event_count
            self._show_info()
        elif isinstance(event.data, Dropped):
            self.missed = True
            self._show_info()

    # -- loading ---------------------------------------------------------------------------------

    def reload(self) -> None:
        self._fetch(len(self.cursors) - 1)

    @work(exclusive=True, group="page")
    async def _fetch(self, number: int) -> None:
        f = self.filter
        try:
            page = await self.client.events(
                agency=f.agency,
                kind=f.kind,
                credential=f.credential,
                since_ms=f.since_ms,
                until_ms=f.until_ms,
                cursor=self.cursors[number],
                limit=self.calpe.config.page_size,
            )
        except ClientError as exc:
            self.report(exc, "loading events")
            return
        self.post_message(PageLoaded(page, number))

    def on_page_loaded(self, message: PageLoaded) -> None:
        del self.cursors[message.number + 1 :]
        self.page = message.page
        if message.number == 0:
            self.new_events = 0
            self.missed = False
        self._fill(message.page.events)
        self._show_info()

    def _fill(self, events: tuple[Event, ...]) -> None:
        table = self.query_one("#events", DataTable)
        table.clear()
        for event in events:
            table.add_row(
                Cell(utc(event.timestamp_ms)),
                Cell(event.agency_id),
                Cell(f"{event.height}.{event.index}"),
                tinted(self.app, event.kind),
                Cell(short(event.credential_id, 12)),
                Cell(event.reason or (short(event.schema_id, 8) if event.schema_id else "")),
                key=f"{event.agency_id}/{event.height}/{event.index}",
            )

    def _show_info(self) -> None:
        number = len(self.cursors)
        count = len(self.page.events) if self.page else 0
        more = "n next · " if self.page and self.page.next_cursor else "last page · "
        back = "p prev · " if number > 1 else ""
        plus = "+" if self.missed else ""
        fresh = (
            f" · [b]{self.new_events}{plus} new[/b], t to see them"
            if self.new_events or self.missed
            else ""
        )
        info = self.query_one("#page-info", Static)
        text = Content.from_markup(
            f"page {number} · {count} events · {more}{back}Enter block{fresh}"
        )
        # A new layout re-renders the whole screen (half of a page turn's time): ask for one only
        # when the line wraps differently.
        room = info.content_region.width
        lines = -(-text.cell_length // room) if room else 0
        info.update(text, layout=not room or lines != info.content_region.height)

    # -- paging ----------------------------------------------------------------------------------

    def action_next_page(self) -> None:
        if self.page is None or self.page.next_cursor is None:
            self.notify("This is the oldest page.", timeout=2)
            return
        self.cursors.append(self.page.next_cursor)
        self._fetch(len(self.cursors) - 1)

    def action_prev_page(self) -> None:
        if len(self.cursors) > 1:
            self.cursors.pop()
            self._fetch(len(self.cursors) - 1)

    def action_newest(self) -> None:
        self.cursors = [None]
        self._fetch(0)

    def action_focus_filters(self) -> None:
        self.query_one("#f-agency", Select).focus()

    def action_focus_table(self) -> None:
        self.query_one("#events", DataTable).focus()

    @on(DataTable.RowSelected, "#events")
    def _open_block(self, message: DataTable.RowSelected) -> None:
        agency, height, _ = str(message.row_key.value).split("/")
        self.app.push_screen(BlockDetailScreen(self.client, agency, int(height)))

    # -- filters ---------------------------------------------------------------------------------

    @on(Select.Changed)
    @on(Input.Submitted)
    def _apply_filters(self) -> None:
        built = self._read_filters()
        if built is None:
            return
        self.filter = built
        self.cursors = [None]
        self._fetch(0)
        self.action_focus_table()

    def _read_filters(self) -> EventFilter | None:
        agency = self.query_one("#f-agency", Select).value
        kind = self.query_one("#f-kind", Select).value
        credential = self.query_one("#f-credential", Input).value.strip()
        if credential and (error := hex_id(credential, "credential id")):
            self.notify(error, severity="error")
            return None
        now_s = self.calpe.config.clock()
        try:
            since = parse_when(self.query_one("#f-since", Input).value, now_s)
            until = parse_when(self.query_one("#f-until", Input).value, now_s)
        except ValueError as exc:
            self.notify(f"time filter: {exc}", severity="error")
            return None
        return EventFilter(
            agency=agency if isinstance(agency, str) else None,
            kind=kind if isinstance(kind, str) else None,
            credential=credential or None,
            since_ms=since,
            until_ms=until,
        )
