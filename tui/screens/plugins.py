"""Plugins: which are loaded, their state, recent errors; enable or disable them."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on, work
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.client.errors import ClientError
from tui.client.models import Plugin
from tui.screens.base import CalpeScreen
from tui.widgets.paint import badge, painted

NO_PLUGINS = "No plugins are installed on this node."


class PluginsLoaded(Message):
    def __init__(self, plugins: tuple[Plugin, ...]) -> None:
        super().__init__()
        self.plugins = plugins


class PluginsScreen(CalpeScreen):
    NAV = "plugins"
    BINDINGS = [  # noqa: RUF012
        Binding("space", "toggle_plugin", "Enable/disable"),
        Binding("e", "toggle_plugin", "Enable/disable", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plugins: dict[str, Plugin] = {}

    def compose_body(self) -> Iterable[Widget]:
        yield DataTable[object](id="plugin-table", cursor_type="row")
        yield Static(NO_PLUGINS, id="plugin-empty", classes="empty-state")
        yield Static("", id="plugin-errors", classes="panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).add_columns("plugin", "enabled", "state", "errors")
        self.query_one("#plugin-errors").border_title = "Recent errors"
        self.query_one("#plugin-empty").display = False

    def reload(self) -> None:
        self._fetch()

    @work(exclusive=True, group="load")
    async def _fetch(self) -> None:
        try:
            self.post_message(PluginsLoaded(await self.client.plugins()))
        except ClientError as exc:
            self.report(exc, "loading plugins")

    def on_plugins_loaded(self, message: PluginsLoaded) -> None:
        self.plugins = {p.name: p for p in message.plugins}
        self.query_one("#plugin-empty").display = not message.plugins
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for p in message.plugins:
            enabled = (
                badge(self.app, "on", "active") if p.enabled else badge(self.app, "off", "stopped")
            )
            table.add_row(
                p.name, enabled, painted(self.app, p.state), str(len(p.errors)), key=p.name
            )
        if message.plugins:
            table.move_cursor(row=min(row, len(message.plugins) - 1))
            self._errors(self._selected())

    def _selected(self) -> Plugin | None:
        table = self.query_one(DataTable)
        if not self.plugins or table.cursor_row < 0:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return self.plugins.get(str(key))

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._errors(self._selected())

    def _errors(self, plugin: Plugin | None) -> None:
        text = "\n".join(plugin.errors) if plugin and plugin.errors else "none"
        self.query_one("#plugin-errors", Static).update(text)

    def action_toggle_plugin(self) -> None:
        plugin = self._selected()
        if plugin is not None:
            self._set(plugin.name, not plugin.enabled)

    @work(exclusive=True, group="toggle_plugin")
    async def _set(self, name: str, enabled: bool) -> None:
        try:
            plugin = await self.client.set_plugin(name, enabled)
        except ClientError as exc:
            self.report(exc, f"switching {name}")
            return
        self.notify(
            f"{plugin.name}: {'enabled' if plugin.enabled else 'disabled'} ({plugin.state})"
        )
        self._fetch()
