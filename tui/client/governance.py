"""Typed models of the governance API: ``GET /v1/governance`` and the proposal/vote writes.

Member agencies join, leave and have their keys rotated by proposals that need ``quorum``
approvals. A proposal's ``action`` is one of five shapes told apart by ``type``; an action type
this console does not know parses as :class:`OtherAction`, so a newer node does not break it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Tag

from tui.client.models import Model, WriteResult

MemberState = Literal["active", "removed"]
ProposalState = Literal["open", "adopted", "failed", "expired"]
ACTION_TYPES = (
    "add_agency",
    "remove_agency",
    "rotate_keys",
    "set_quorum",
    "set_checkpoint_interval",
)


class Member(Model):
    agency_id: str
    ed25519: str
    secp256k1_address: str
    state: MemberState
    since_epoch: int


class AddAgency(Model):
    type: Literal["add_agency"] = "add_agency"
    agency_id: str
    ed25519: str
    secp256k1_address: str
    addresses: tuple[str, ...] = ()

    def summary(self) -> str:
        return f"add {self.agency_id}"


class RemoveAgency(Model):
    type: Literal["remove_agency"] = "remove_agency"
    agency_id: str

    def summary(self) -> str:
        return f"remove {self.agency_id}"


class RotateKeys(Model):
    type: Literal["rotate_keys"] = "rotate_keys"
    agency_id: str
    ed25519: str
    secp256k1_address: str

    def summary(self) -> str:
        return f"rotate the keys of {self.agency_id}"


class SetQuorum(Model):
    type: Literal["set_quorum"] = "set_quorum"
    quorum: int

    def summary(self) -> str:
        return f"quorum {self.quorum}"


class SetCheckpointInterval(Model):
    type: Literal["set_checkpoint_interval"] = "set_checkpoint_interval"
    seconds: int

    def summary(self) -> str:
        return f"checkpoint every {self.seconds} s"


class OtherAction(Model):
    """An action type newer than this console: shown by its type, its fields kept as sent."""

    model_config = ConfigDict(frozen=True, extra="allow")
    type: str

    def summary(self) -> str:
        return f"{self.type} (unknown to this console)"


KnownAction = AddAgency | RemoveAgency | RotateKeys | SetQuorum | SetCheckpointInterval


def _action_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ACTION_TYPES else "other"


Action = Annotated[
    Annotated[AddAgency, Tag("add_agency")]
    | Annotated[RemoveAgency, Tag("remove_agency")]
    | Annotated[RotateKeys, Tag("rotate_keys")]
    | Annotated[SetQuorum, Tag("set_quorum")]
    | Annotated[SetCheckpointInterval, Tag("set_checkpoint_interval")]
    | Annotated[OtherAction, Tag("other")],
    Discriminator(_action_tag),
]


class Proposal(Model):
    proposal_id: str
    proposer: str
    height: int
    expires_s: int
    """When the proposal lapses (Unix seconds) if no checkpoint has adopted it by then."""
    action: Action
    approvals: tuple[str, ...] = ()
    state: ProposalState
    effective_epoch: int | None = None
    reason: str | None = None


class Governance(Model):
    """``GET /v1/governance``: what is in force at ``epoch``, and the proposals, newest first."""

    epoch: int
    quorum: int
    checkpoint_interval_s: int
    members: tuple[Member, ...] = ()
    proposals: tuple[Proposal, ...] = ()

    @property
    def active_members(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.state == "active")

    def proposal(self, proposal_id: str) -> Proposal | None:
        return next((p for p in self.proposals if p.proposal_id == proposal_id), None)


class ProposalReceipt(Model):
    """The answer to ``POST /v1/governance/proposals``: the new id and the committed write."""

    proposal_id: str
    receipt: WriteResult


class VoteReceipt(Model):
    """The answer to ``POST /v1/governance/proposals/{id}/votes``."""

    receipt: WriteResult
