"""Checkpoints: epochs, roots, signers, the RSK transaction and its confirmations."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on, work
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.client.errors import ClientError
from tui.client.models import Checkpoint
from tui.client.stream import StreamEvent
from tui.format import ago, anchor_tx, short, utc
from tui.screens.base import CalpeScreen
from tui.widgets.paint import painted

NO_CHECKPOINTS = (
    "No checkpoints on this node yet: none has been proposed since it started, or this network "
    "has no [anchor] contract configured (the node's log says which)."
)


class CheckpointsLoaded(Message):
    def __init__(self, checkpoints: tuple[Checkpoint, ...]) -> None:
        super().__init__()
        self.checkpoints = checkpoints


class CheckpointsScreen(CalpeScreen):
    NAV = "checkpoints"

    def __init__(self) -> None:
        super().__init__()
        self.checkpoints: dict[int, Checkpoint] = {}

    def compose_body(self) -> Iterable[Widget]:
        yield DataTable[object](id="cp-table", cursor_type="row")
        yield Static("", id="cp-detail", classes="panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).add_columns(
            "epoch", "state", "sigs", "confs", "age", "root", "tx"
        )
        self.calpe.stream_signal.subscribe(self, self._on_stream)

    def _on_stream(self, event: StreamEvent) -> None:
        if event.kind == "checkpoint":
            self.reload()

    def reload(self) -> None:
        self._fetch()

    @work(exclusive=True, group="load")
    async def _fetch(self) -> None:
        try:
            self.post_message(CheckpointsLoaded(await self.client.checkpoints(limit=50)))
        except ClientError as exc:
            self.report(exc, "loading checkpoints")

    def on_checkpoints_loaded(self, message: CheckpointsLoaded) -> None:
        now = self.now_ms()
        table = self.query_one(DataTable)
        table.clear()
        self.checkpoints = {c.epoch: c for c in message.checkpoints}
        status = self.calpe.status
        for c in message.checkpoints:
            members = len(status.heads) if status else max(c.signatures, c.quorum)
            quorate = c.signatures >= c.quorum
            table.add_row(
                str(c.epoch),
                painted(self.app, c.state),
                painted(self.app, f"{c.signatures}/{members}", "active" if quorate else "warning"),
                str(c.confirmations),
                ago(c.timestamp_ms, now),
                short(c.checkpoint_root, 10),
                short(c.tx_hash, 10) if c.tx_hash else "-",
                key=str(c.epoch),
            )
        if message.checkpoints:
            self._detail(message.checkpoints[0])
        else:
            self.query_one("#cp-detail", Static).update(Content(NO_CHECKPOINTS))

    @on(DataTable.RowHighlighted)
    def _highlighted(self, message: DataTable.RowHighlighted) -> None:
        checkpoint = self.checkpoints.get(int(str(message.row_key.value)))
        if checkpoint is not None:
            self._detail(checkpoint)

    def _detail(self, c: Checkpoint) -> None:
        self.query_one("#cp-detail", Static).update(
            Content.from_markup(
                "epoch [b]$epoch[/b] at $time UTC · root $root\n"
                "signers $signers · tx $tx · $confs confirmations",
                epoch=str(c.epoch),
                time=utc(c.timestamp_ms),
                root=c.checkpoint_root,
                signers=", ".join(c.signers) or "none yet",
                tx=anchor_tx(c.tx_hash, c.state),
                confs=str(c.confirmations),
            )
        )
