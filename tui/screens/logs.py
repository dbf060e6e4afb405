"""Logs: the node's recent log lines, then a live tail, filtered by level."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import RichLog, Select, Static

from tui.client.errors import ClientError
from tui.client.models import LOG_LEVELS, LogLine
from tui.client.stream import StreamEvent
from tui.format import tone, utc
from tui.screens.base import CalpeScreen

MAX_LINES = 2_000


class LogsLoaded(Message):
    def __init__(self, lines: tuple[LogLine, ...]) -> None:
        super().__init__()
        self.lines = lines


class LogsScreen(CalpeScreen):
    NAV = "logs"
    BINDINGS = [Binding("space", "pause", "Pause/follow")]  # noqa: RUF012

    def __init__(self) -> None:
        super().__init__()
        self.level = "info"
        self.paused = False

    def compose_body(self) -> Iterable[Widget]:
        with Horizontal(classes="toolbar"):
            levels = [(f"{lvl} and above", lvl) for lvl in LOG_LEVELS]
            yield Select[str](levels, value="info", allow_blank=False, id="level", compact=True)
            yield Static("following", id="follow", classes="hint")
        yield RichLog(id="log", max_lines=MAX_LINES, wrap=False, markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.calpe.stream_signal.subscribe(self, self._on_stream)

    def reload(self) -> None:
        self._fetch(self.level)

    @work(exclusive=True, group="load")
    async def _fetch(self, level: str) -> None:
        try:
            self.post_message(LogsLoaded(await self.client.logs(level, limit=200)))
        except ClientError as exc:
            self.report(exc, "loading logs")

    def on_logs_loaded(self, message: LogsLoaded) -> None:
        log = self.query_one(RichLog)
        log.clear()
        for line in message.lines:
            log.write(self._line_text(line))

    def _on_stream(self, event: StreamEvent) -> None:
        line = event.data
        if event.kind != "log" or not isinstance(line, LogLine) or self.paused:
            return
        if _rank(line.level) >= _rank(self.level):
            self.query_one(RichLog).write(self._line_text(line))

    def _line_text(self, line: LogLine) -> Text:
        colour = self.app.theme_variables.get(tone(line.level), "")
        return Text.assemble(
            (utc(line.at_ms)[11:], "dim"),
            " ",
            (f"{line.level.upper():<8}", f"bold {colour}".strip()),
            (f"{line.logger} ", "dim"),
            line.message,
        )

    @on(Select.Changed, "#level")
    def _level(self, message: Select.Changed) -> None:
        if isinstance(message.value, str) and message.value != self.level:
            self.level = message.value
            self._fetch(self.level)

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.query_one("#follow", Static).update("paused" if self.paused else "following")


def _rank(level: str) -> int:
    return LOG_LEVELS.index(level) if level in LOG_LEVELS else 0
