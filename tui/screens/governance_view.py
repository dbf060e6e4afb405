"""How the governance section draws a member, a proposal row and a proposal's detail."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.app import App
from textual.content import Content

from tui.client.governance import Governance, Member, Proposal
from tui.client.models import Status
from tui.format import duration, short
from tui.widgets.paint import badge, painted

TYPE_SHORT = {
    "add_agency": "add",
    "remove_agency": "remove",
    "rotate_keys": "rotate",
    "set_quorum": "quorum",
    "set_checkpoint_interval": "interval",
}


def member_row(app: App[object], member: Member, status: Status | None) -> tuple[object, ...]:
    return (
        member.agency_id,
        painted(app, member.state),
        str(member.since_epoch),
        _link(app, member, status),
        short(member.ed25519, 10),
        short(member.secp256k1_address, 12),
    )


def _link(app: App[object], member: Member, status: Status | None) -> Text | str:
    if member.state != "active" or status is None:
        return "-"
    if member.agency_id == status.agency_id:
        return badge(app, "this node", "info")
    if any(p.agency_id == member.agency_id and p.connected for p in status.peers):
        return badge(app, "connected", "active")
    return badge(app, "offline", "critical")


def expires_text(proposal: Proposal, now_s: int) -> str:
    left = proposal.expires_s - now_s
    if proposal.state == "open":
        return f"in {duration(left)}" if left > 0 else "lapsing"
    if proposal.state == "expired":
        return f"{duration(-left)} ago"
    return "-"


def proposal_row(
    app: App[object], proposal: Proposal, quorum: int, members: int, now_s: int
) -> tuple[object, ...]:
    count = len(proposal.approvals)
    tone = "active" if count >= quorum else ("warning" if proposal.state == "open" else "stopped")
    return (
        TYPE_SHORT.get(proposal.action.type, proposal.action.type),
        proposal.action.summary(),
        painted(app, f"{count}/{members}", tone),
        painted(app, proposal.state),
        expires_text(proposal, now_s),
    )


def utc_s(at_s: int) -> str:
    return datetime.fromtimestamp(at_s, UTC).strftime("%Y-%m-%d %H:%M")


def _outcome(proposal: Proposal, gov: Governance) -> Content:
    count, names = len(proposal.approvals), ", ".join(proposal.approvals) or "none"
    if proposal.state == "open":
        return Content.from_markup(
            "approvals [b]$count[/b] of $quorum needed: $names",
            count=str(count),
            quorum=str(gov.quorum),
            names=names,
        )
    if proposal.state == "adopted":
        epoch = "?" if proposal.effective_epoch is None else str(proposal.effective_epoch)
        return Content.from_markup(
            "adopted, in force from epoch [b]$epoch[/b] · approved by $names",
            epoch=epoch,
            names=names,
        )
    reason = f": {proposal.reason}" if proposal.reason else ""
    return Content(f"{proposal.state}{reason} · approved by {names}")


def proposal_detail(proposal: Proposal, gov: Governance, now_s: int) -> Content:
    """Everything about ``proposal``: who, when, its approvals and the action's fields in full."""
    head = Content.from_markup(
        "[b]$summary[/b] · $state · proposed by $proposer at block #$height",
        summary=proposal.action.summary(),
        state=proposal.state.upper(),
        proposer=proposal.proposer,
        height=str(proposal.height),
    )
    lapse = expires_text(proposal, now_s)
    when = f"expires {utc_s(proposal.expires_s)} UTC" + (f" ({lapse})" if lapse != "-" else "")
    fields = proposal.action.model_dump(exclude={"type"})
    lines = [head, Content(f"id {proposal.proposal_id}"), _outcome(proposal, gov), Content(when)]
    for name, value in fields.items():
        shown = ", ".join(value) if isinstance(value, list | tuple) else str(value)
        lines.append(Content(f"{name} {shown or '-'}"))
    return Content("\n").join(lines)
