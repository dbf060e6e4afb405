"""``CheckpointCard``: the latest checkpoint, its signatures against the quorum, its RSK tx."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import ProgressBar, Static

from tui.client.models import Checkpoint
from tui.format import ago, anchor_tx, tone


class CheckpointCard(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("no checkpoint yet", id="cp-title")
        with Horizontal(id="cp-sig-row"):
            yield Static("", id="cp-sig-text")
            yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="cp-sigs")
        yield Static("", id="cp-tx")

    def show(self, checkpoint: Checkpoint | None, members: int, now_ms: int) -> None:
        title = self.query_one("#cp-title", Static)
        bar = self.query_one("#cp-sigs", ProgressBar)
        tx = self.query_one("#cp-tx", Static)
        if checkpoint is None:
            title.update("no checkpoint yet")
            bar.update(total=max(members, 1), progress=0)
            tx.update("")
            return
        title.update(
            Content.from_markup(
                f"epoch [b]$epoch[/b] [b ${tone(checkpoint.state)}]$state[/] · $age",
                epoch=str(checkpoint.epoch),
                state=checkpoint.state.upper(),
                age=ago(checkpoint.timestamp_ms, now_ms),
            )
        )
        self.query_one("#cp-sig-text", Static).update(
            Content.from_markup(
                "sigs [b]$k/$n[/b] q$q ",
                k=str(checkpoint.signatures),
                n=str(max(members, checkpoint.signatures)),
                q=str(checkpoint.quorum),
            )
        )
        bar.update(total=max(members, checkpoint.signatures, 1), progress=checkpoint.signatures)
        bar.set_class(checkpoint.signatures >= checkpoint.quorum, "-quorate")
        tx.update(
            Content.from_markup(
                "tx $tx · [b]$conf[/b] confirmations",
                tx=anchor_tx(checkpoint.tx_hash, checkpoint.state, keep=12),
                conf=str(checkpoint.confirmations),
            )
        )
