"""Governance: member agencies, proposals and their approvals; vote on one, or propose a change.

The document comes from ``GET /v1/governance`` when the section is shown and from the stream's
``governance`` events after that (the node lists the proposals and votes written since its last
checkpoint as ``open``). A vote cannot be withdrawn, so it asks first, except when this agency's
approval is listed already: then the node's refusal (409 ``duplicate_vote``) is shown as it words
it. Every refusal shows the node's message and code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual import on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tui.client.errors import ApiError, ClientError
from tui.client.governance import Governance, Proposal, ProposalReceipt
from tui.client.models import Status, WriteResult
from tui.client.stream import StreamEvent
from tui.format import duration, short
from tui.screens.base import CalpeScreen
from tui.screens.confirm import ConfirmDialog
from tui.screens.governance_view import member_row, proposal_detail, proposal_row
from tui.screens.propose_form import ProposeForm

NO_GOVERNANCE = (
    "This node serves no governance API (GET /v1/governance answered 404): it runs an admin API "
    "older than governance. Upgrade the node to list proposals and vote."
)
NO_PROPOSALS = "No proposals yet. p proposes a change (a proposal counts as this agency's vote)."


class GovernanceLoaded(Message):
    def __init__(self, gov: Governance) -> None:
        super().__init__()
        self.gov = gov


class GovernanceScreen(CalpeScreen):
    NAV = "governance"
    AUTO_FOCUS = "#proposals"  # what the arrow keys move: the proposal to vote on
    BINDINGS = [  # noqa: RUF012
        Binding("v", "vote", "Vote"),
        Binding("p", "propose", "Propose"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.gov: Governance | None = None

    def compose_body(self) -> Iterable[Widget]:
        yield Static("loading governance…", id="gov-summary", classes="hint")
        yield Static("Members", classes="section-title")
        yield DataTable[object](id="members", cursor_type="row")
        yield Static("Proposals", classes="section-title")
        yield DataTable[object](id="proposals", cursor_type="row")
        yield Static("", id="gov-detail", classes="panel")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#members", DataTable).add_columns(
            "agency", "state", "since epoch", "link", "ed25519", "secp256k1"
        )
        self.query_one("#proposals", DataTable).add_columns(
            "type", "summary", "approvals", "state", "expires"
        )
        self.query_one("#gov-detail").border_title = "Proposal"
        self.watch(self.calpe, "status", self._status_changed)
        self.calpe.stream_signal.subscribe(self, self._on_stream)

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Propose a governance change", "Open the proposal form (p)", self.action_propose
        )
        yield SystemCommand(
            "Vote for the selected proposal", "Approve it, after confirming (v)", self.action_vote
        )

    # -- loading ---------------------------------------------------------------------------------

    def reload(self) -> None:
        self._fetch()

    @work(exclusive=True, group="load")
    async def _fetch(self) -> None:
        try:
            gov = await self.client.governance()
        except ApiError as exc:
            if exc.status == 404:
                self.query_one("#gov-summary", Static).update(Content(NO_GOVERNANCE))
                return
            self._refused(exc, "loading governance")
            return
        except ClientError as exc:
            self._refused(exc, "loading governance")
            return
        self.post_message(GovernanceLoaded(gov))

    def on_governance_loaded(self, message: GovernanceLoaded) -> None:
        self.show(message.gov)

    def _on_stream(self, event: StreamEvent) -> None:
        if isinstance(event.data, Governance):
            self.show(event.data)

    def _status_changed(self, status: Status | None) -> None:
        if self.gov is not None:
            self._fill_members(self.gov, status)

    # -- showing ---------------------------------------------------------------------------------

    def show(self, gov: Governance) -> None:
        """Show ``gov``, keeping the selected proposal selected."""
        selected = self.selected()
        self.gov = gov
        active = len(gov.active_members)
        self.query_one("#gov-summary", Static).update(
            Content.from_markup(
                "epoch [b]$epoch[/b] · quorum [b]$quorum[/b] of $active active members · "
                "checkpoint every $interval",
                epoch=str(gov.epoch),
                quorum=str(gov.quorum),
                active=str(active),
                interval=duration(gov.checkpoint_interval_s),
            )
        )
        self._fill_members(gov, self.calpe.status)
        self._fill_proposals(gov, selected.proposal_id if selected else None)

    def _fill_members(self, gov: Governance, status: Status | None) -> None:
        table = self.query_one("#members", DataTable)
        row = table.cursor_row
        table.clear()
        for member in gov.members:
            table.add_row(*member_row(self.app, member, status), key=member.agency_id)
        if gov.members:
            table.move_cursor(row=min(max(row, 0), len(gov.members) - 1))

    def _fill_proposals(self, gov: Governance, keep: str | None) -> None:
        table = self.query_one("#proposals", DataTable)
        table.clear()
        now_s = self.now_ms() // 1000
        members = len(gov.active_members)
        for p in gov.proposals:
            table.add_row(*proposal_row(self.app, p, gov.quorum, members, now_s), key=p.proposal_id)
        ids = [p.proposal_id for p in gov.proposals]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))
        self._detail(self.selected())

    def selected(self) -> Proposal | None:
        table = self.query_one("#proposals", DataTable)
        if self.gov is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.gov.proposal(str(key))

    @on(DataTable.RowHighlighted, "#proposals")
    def _highlighted(self) -> None:
        self._detail(self.selected())

    def _detail(self, proposal: Proposal | None) -> None:
        detail = self.query_one("#gov-detail", Static)
        if proposal is None or self.gov is None:
            detail.update(Content(NO_PROPOSALS))
            return
        detail.update(proposal_detail(proposal, self.gov, self.now_ms() // 1000))

    # -- voting ----------------------------------------------------------------------------------

    def action_vote(self) -> None:
        proposal = self.selected()
        own = self.calpe.status.agency_id if self.calpe.status else None
        if proposal is None:
            self.notify("Select a proposal first.", severity="warning")
        elif proposal.state != "open":
            self.notify(f"This proposal is {proposal.state}: it takes no votes.", timeout=4)
        elif own in proposal.approvals:
            # Nothing to confirm: a second vote cannot count. The node says why (duplicate_vote).
            self._send_vote(proposal.proposal_id)
        else:
            self.app.push_screen(self._confirm_vote(proposal), self._vote_answer(proposal))

    def _confirm_vote(self, proposal: Proposal) -> ConfirmDialog:
        assert self.gov is not None
        after = len(proposal.approvals) + 1
        body = (
            f"{proposal.action.summary()}, proposed by {proposal.proposer}.\n"
            f"With this vote it has {after} of the {self.gov.quorum} approvals it needs.\n"
            "A vote cannot be withdrawn."
        )
        return ConfirmDialog(
            f"Approve proposal {short(proposal.proposal_id, 12)}?", body, "Approve"
        )

    def _vote_answer(self, proposal: Proposal) -> Callable[[bool | None], None]:
        def answered(yes: bool | None) -> None:
            if yes:
                self._send_vote(proposal.proposal_id)
            else:
                self.notify("Vote cancelled: nothing was sent.", timeout=4)

        return answered

    @work(exclusive=True, group="vote")
    async def _send_vote(self, proposal_id: str) -> None:
        try:
            result = await self.client.vote(proposal_id)
        except ClientError as exc:
            self._refused(exc, "voting")
            return
        self._committed(result, f"Vote for {short(proposal_id, 12)}")
        self._fetch()

    # -- proposing -------------------------------------------------------------------------------

    def action_propose(self) -> None:
        if self.gov is None:
            self.notify("Governance is not loaded yet.", severity="warning")
            return
        form = ProposeForm(self.client, self.gov, self.calpe.config.clock())
        self.app.push_screen(form, self._proposed)

    def _proposed(self, receipt: ProposalReceipt | None) -> None:
        if receipt is not None:
            self._committed(receipt.receipt, f"Proposal {short(receipt.proposal_id, 12)}")
            self._fetch()

    def _refused(self, error: ClientError, what: str) -> None:
        """The node's message and its code (``duplicate_vote``, ``unknown_proposal``, ``busy``…);
        an unreachable node is the banner's job."""
        if isinstance(error, ApiError):
            retry = " Try again shortly." if error.retryable else ""
            text = f"{what}: {error.message} [{error.code}]{retry}"
            self.notify(text, severity="error", timeout=8, markup=False)
        else:
            self.report(error, what)

    def _committed(self, result: WriteResult, what: str) -> None:
        self.notify(f"{what} committed at {result.agency_id} #{result.height}", timeout=6)
