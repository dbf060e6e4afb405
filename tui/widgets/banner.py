"""The connection banner: hidden while the node answers, loud when it does not."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tui.state import ConnectionState


class ConnectionBanner(Static):
    """Shows ``ConnectionState``: connecting, or unreachable with the retry countdown."""

    def show_state(self, state: ConnectionState) -> None:
        self.set_class(state.up is False, "-down")
        self.set_class(state.up is None, "-connecting")
        self.display = state.up is not True
        if state.up is None:
            self.update(Content.from_markup("⋯ Connecting to $where…", where=state.where))
            return
        if state.up:
            self.update("")
            return
        retry = f"retrying in {state.retry_in_s:.0f}s" if state.retry_in_s else "retrying"
        self.update(
            Content.from_markup(
                "[b]✖ NODE UNREACHABLE[/b] $detail\n$retry · press [b]r[/b] to retry now",
                detail=state.detail,
                retry=retry,
            )
        )
