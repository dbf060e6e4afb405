"""``CalpeScreen``: the frame every section shares (nav bar, connection banner, footer)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from tui.client.errors import ApiError, ClientError, NodeUnreachable
from tui.client.protocol import ClientProtocol
from tui.state import ConnectionState
from tui.widgets.banner import ConnectionBanner
from tui.widgets.nav import NavBar

if TYPE_CHECKING:
    from tui.app import CalpeApp


class CalpeScreen(Screen[None]):
    """A section of the console. Subclasses give ``NAV`` and ``compose_body`` and may override
    ``reload`` (fetch this section's data; called when shown and when the node comes back)."""

    NAV = ""

    @property
    def calpe(self) -> CalpeApp:
        return cast("CalpeApp", self.app)

    @property
    def client(self) -> ClientProtocol:
        return self.calpe.client

    def now_ms(self) -> int:
        return int(self.calpe.config.clock() * 1000)

    def compose(self) -> ComposeResult:
        yield NavBar(self.NAV)
        yield ConnectionBanner(id="banner")
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> Iterable[Widget]:
        return ()

    def on_mount(self) -> None:
        self.watch(self.calpe, "connection", self._connection_changed)

    def on_screen_resume(self) -> None:
        if self.calpe.connection.up:
            self.reload()

    def _connection_changed(self, old: ConnectionState, new: ConnectionState) -> None:
        self.query_one(ConnectionBanner).show_state(new)
        if new.up and not old.up and self.is_current:
            self.reload()

    def reload(self) -> None:
        """Fetch this section's data (in a worker); the default has nothing to fetch."""

    def report(self, error: ClientError, what: str) -> None:
        """Tell the user a request failed; unreachable nodes are the banner's job."""
        if isinstance(error, NodeUnreachable):
            self.calpe.node_lost(error)
            return
        message = error.message if isinstance(error, ApiError) else str(error)
        self.notify(f"{what}: {message}", severity="error", timeout=8, markup=False)
