"""Governance: the member agencies (from status). Proposals have no API yet, and say so."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.client.models import Status
from tui.screens.base import CalpeScreen
from tui.widgets.paint import badge

NO_PROPOSALS = (
    "No governance proposals API on this node: admin API v1 serves no proposals or votes. "
    "Membership changes, key rotations and equivocation decisions will be listed here once "
    "the node exposes them."
)


class GovernanceScreen(CalpeScreen):
    NAV = "governance"

    def compose_body(self) -> Iterable[Widget]:
        yield Static("Members", classes="section-title")
        yield DataTable[object](id="members", cursor_type="row")
        yield Static("Proposals", classes="section-title")
        yield Static(NO_PROPOSALS, id="no-proposals", classes="empty-state")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).add_columns("agency", "name", "height", "link", "log")
        self.watch(self.calpe, "status", self._show)

    def _show(self, status: Status | None) -> None:
        if status is None:
            return
        connected = {p.agency_id for p in status.peers if p.connected}
        table = self.query_one(DataTable)
        table.clear()
        for head in status.heads:
            if head.agency_id == status.agency_id:
                link = badge(self.app, "this node", "info")
            elif head.agency_id in connected:
                link = badge(self.app, "connected", "active")
            else:
                link = badge(self.app, "offline", "critical")
            log = (
                badge(self.app, "FROZEN", "critical")
                if head.frozen
                else badge(self.app, "ok", "active")
            )
            table.add_row(head.agency_id, head.name, f"{head.height:,}", link, log)
