"""The Calpe console: ``make_app(client)`` builds it; sections live in ``tui/screens``."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import Screen
from textual.signal import Signal

from tui.client.errors import NodeUnreachable
from tui.client.models import Alert, Status
from tui.client.protocol import ClientProtocol
from tui.client.stream import StreamEvent
from tui.link import NodeLink
from tui.messages import ConnectionChanged, StatusUpdated, StreamReceived
from tui.screens.checkpoints import CheckpointsScreen
from tui.screens.credentials import CredentialsScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.governance import GovernanceScreen
from tui.screens.help import HelpScreen
from tui.screens.ledger import LedgerScreen
from tui.screens.logs import LogsScreen
from tui.screens.peers import PeersScreen
from tui.screens.plugins import PluginsScreen
from tui.state import AppConfig, ConnectionState
from tui.widgets.nav import SECTIONS

_SEVERITY: dict[str, SeverityLevel] = {
    "info": "information",
    "warning": "warning",
    "critical": "error",
}


class CalpeApp(NodeLink):
    """Sections are modes (each keeps its screen); dialogs are pushed on top of them."""

    CSS_PATH = "app.tcss"
    TITLE = "Calpe"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "dashboard": DashboardScreen,
        "peers": PeersScreen,
        "ledger": LedgerScreen,
        "credentials": CredentialsScreen,
        "checkpoints": CheckpointsScreen,
        "governance": GovernanceScreen,
        "plugins": PluginsScreen,
        "logs": LogsScreen,
        "help": HelpScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"section('{mode}')", label, show=False) for mode, key, label in SECTIONS),
        Binding("r", "reconnect", "Retry now", show=False),
        Binding("ctrl+t", "toggle_dark", "Light/dark", show=False),
        Binding("q", "quit", "Quit"),
    ]

    status: var[Status | None] = var(None)
    connection: var[ConnectionState] = var(ConnectionState.connecting(""), always_update=True)

    def __init__(self, client: ClientProtocol, config: AppConfig | None = None) -> None:
        super().__init__()
        self.client = client
        self.config = config or AppConfig()
        self.connection = ConnectionState.connecting(client.where)
        self.eps_history: deque[float] = deque(maxlen=self.config.sparkline_points)
        self.stream_signal: Signal[StreamEvent] = Signal(self, "stream")

    def on_mount(self) -> None:
        self.switch_mode("dashboard")
        self.start_link()

    async def on_unmount(self) -> None:
        await self.client.aclose()

    def on_status_updated(self, message: StatusUpdated) -> None:
        self.eps_history.append(message.status.events_per_s)
        self.status = message.status

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        if message.state != self.connection:
            self.connection = message.state

    def on_stream_received(self, message: StreamReceived) -> None:
        data = message.event.data
        if isinstance(data, Status):
            self.post_message(StatusUpdated(data))
        elif isinstance(data, Alert):
            # The dashboard lists it with the next status (every 2 s); say it now, wherever we are.
            self.notify(
                data.message,
                title=f"{data.level.upper()} {data.kind}",
                severity=_SEVERITY.get(data.level, "warning"),
                timeout=10,
                markup=False,
            )
        self.stream_signal.publish(message.event)

    def node_lost(self, error: NodeUnreachable) -> None:
        """A screen's request found the node gone: show it now and let the poller retry."""
        self.connection = ConnectionState(False, self.client.where, str(error), None)
        self.wake()

    def action_section(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_reconnect(self) -> None:
        self.notify("Retrying the node now…", timeout=2)
        self.wake()

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode, key, label in SECTIONS:
            yield SystemCommand(
                f"Go to {label}", f"Show the {label} section (key {key})", self._goto(mode)
            )
        yield SystemCommand("Retry the node now", "Reconnect without waiting", self.wake)
        yield SystemCommand("Toggle light/dark", "Switch theme (ctrl+t)", self.action_toggle_dark)
        yield from getattr(screen, "commands", lambda: ())()

    def _goto(self, mode: str) -> Callable[[], None]:
        return lambda: self.action_section(mode)


def make_app(client: ClientProtocol, config: AppConfig | None = None) -> CalpeApp:
    """The console for ``client`` (an ``AdminClient``, or a ``FakeClient`` in tests)."""
    return CalpeApp(client, config)
