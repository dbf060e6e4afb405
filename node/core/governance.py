"""Governance: the membership, quorum and checkpoint interval in force, and how they change.

Proposals and votes are events in the agencies' own logs. Nothing changes when they are written:
a proposal takes effect at the first **signed checkpoint** whose cut holds ``quorum`` approving
votes (the proposal counts as its proposer's vote) from agencies that were members when that
checkpoint was proposed. Every node folds the same checkpoints, in epoch order, over the same
events (those between the previous cut and this one), so every node computes the same
:class:`Governance` at every cut — no ordering of the agencies' logs is needed.

Within one checkpoint, adopted proposals apply in ``proposal_id`` order; one whose precondition no
longer holds (two proposals adding the same agency id, a removal that would leave fewer members
than the quorum) is ``failed`` with a reason, identically everywhere. A removed agency stays in
every later cut, pinned at its height in the adopting cut, so that its credentials stay provable;
its later blocks are refused. The contract on RSK learns each new signer set from a
``changeSigners`` transaction signed by the previous set (:attr:`Governance.signer_nonce`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from node.core.encoding import as_bytes, as_list, as_text, as_uint, decode, encode, expect_version
from node.core.errors import EncodingError
from node.core.events import AgencyKeyRotated, Event, GovernanceProposed, GovernanceVoted
from node.core.genesis import Genesis
from node.core.hashing import ZERO_HASH
from node.core.proposals import (
    MAX_MEMBERS,
    Action,
    AddAgency,
    RemoveAgency,
    RotateKeys,
    SetQuorum,
    action_from_wire,
    action_to_json,
    action_to_wire,
)

PROPOSAL_STATES = ("open", "adopted", "failed", "expired")


@dataclass(frozen=True, slots=True)
class Member:
    agency_id: str
    ed25519_public: bytes
    secp256k1_address: bytes
    addresses: tuple[str, ...] = ()
    since_epoch: int = 0
    removed_height: int | None = None
    """Set once removed: the agency's log ends at this height (its height in the adopting cut)."""

    @property
    def active(self) -> bool:
        return self.removed_height is None

    def to_wire(self) -> list[Any]:
        removed = -1 if self.removed_height is None else self.removed_height
        return [
            self.agency_id,
            self.ed25519_public,
            self.secp256k1_address,
            list(self.addresses),
            self.since_epoch,
            removed + 1,
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "agency_id": self.agency_id,
            "ed25519": self.ed25519_public.hex(),
            "secp256k1_address": "0x" + self.secp256k1_address.hex(),
            "addresses": list(self.addresses),
            "state": "active" if self.active else "removed",
            "since_epoch": self.since_epoch,
            "removed_height": self.removed_height,
        }


@dataclass(frozen=True, slots=True)
class Proposal:
    proposal_id: bytes
    proposer: str
    height: int
    action: Action
    expires_s: int
    approvals: frozenset[str]
    state: str = "open"
    effective_epoch: int | None = None
    reason: str | None = None

    def to_wire(self) -> list[Any]:
        return [
            self.proposal_id,
            self.proposer,
            self.height,
            action_to_wire(self.action),
            self.expires_s,
            sorted(self.approvals),
            PROPOSAL_STATES.index(self.state),
            0 if self.effective_epoch is None else self.effective_epoch + 1,
            self.reason or "",
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "proposal_id": self.proposal_id.hex(),
            "proposer": self.proposer,
            "height": self.height,
            "action": action_to_json(self.action),
            "summary": self.action.summary(),
            "expires_s": self.expires_s,
            "approvals": sorted(self.approvals),
            "state": self.state,
            "effective_epoch": self.effective_epoch,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Governance:
    """What is in force after the signed checkpoint of ``epoch`` (epoch 0: the genesis)."""

    epoch: int
    checkpoint_hash: bytes
    members: tuple[Member, ...]
    """Every agency ever admitted, sorted by id; removed ones stay (their cut leaf is pinned)."""
    quorum: int
    checkpoint_interval_s: int
    schedule_base_epoch: int
    schedule_base_ms: int
    """Epoch ``schedule_base_epoch`` starts at ``schedule_base_ms``; later ones every interval."""
    signer_nonce: int
    """The contract's ``signerSetNonce()`` once the signer set below is on chain (1 at deploy)."""
    cut_heights: Mapping[str, int] = field(default_factory=dict)
    proposals: tuple[Proposal, ...] = ()
    early_votes: Mapping[bytes, frozenset[str]] = field(default_factory=dict)
    """Votes for proposals not yet inside a cut (another agency's log may lag)."""

    # --- views --------------------------------------------------------------------------------

    @property
    def active(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.active)

    @property
    def active_ids(self) -> tuple[str, ...]:
        return tuple(m.agency_id for m in self.active)

    def member(self, agency_id: str) -> Member | None:
        return next((m for m in self.members if m.agency_id == agency_id), None)

    def is_active(self, agency_id: str) -> bool:
        member = self.member(agency_id)
        return member is not None and member.active

    def signers(self) -> list[bytes]:
        """The active members' secp256k1 addresses, ascending (the contract's order)."""
        return sorted(m.secp256k1_address for m in self.active)

    def proposal(self, pid: bytes) -> Proposal | None:
        return next((p for p in self.proposals if p.proposal_id == pid), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "quorum": self.quorum,
            "checkpoint_interval_s": self.checkpoint_interval_s,
            "signer_nonce": self.signer_nonce,
            "members": [m.to_json() for m in self.members],
            "proposals": [p.to_json() for p in sorted(self.proposals, key=lambda p: -p.height)],
        }

    # --- encoding -----------------------------------------------------------------------------

    def encode(self) -> bytes:
        return encode(
            [
                1,
                self.epoch,
                self.checkpoint_hash,
                [m.to_wire() for m in self.members],
                self.quorum,
                self.checkpoint_interval_s,
                self.schedule_base_epoch,
                self.schedule_base_ms,
                self.signer_nonce,
                dict(self.cut_heights),
                [p.to_wire() for p in self.proposals],
                [[pid, sorted(votes)] for pid, votes in sorted(self.early_votes.items())],
            ]
        )


def genesis_governance(genesis: Genesis) -> Governance:
    members = tuple(
        Member(a.agency_id, a.ed25519_public, a.secp256k1_address) for a in genesis.agencies
    )
    return Governance(
        epoch=0,
        checkpoint_hash=ZERO_HASH,
        members=members,
        quorum=genesis.quorum,
        checkpoint_interval_s=genesis.checkpoint_interval_s,
        schedule_base_epoch=0,
        schedule_base_ms=genesis.created_ms,
        signer_nonce=1,
        cut_heights={a.agency_id: 0 for a in genesis.agencies},
    )


# ------------------------------------------------------------------------------------ the fold


@dataclass(frozen=True, slots=True)
class CutEvent:
    """A governance-relevant event at ``height`` of ``agency_id``'s log."""

    agency_id: str
    height: int
    event: Event


def advance(
    gov: Governance,
    *,
    epoch: int,
    checkpoint_hash: bytes,
    timestamp_ms: int,
    cut_heights: Mapping[str, int],
    events: Iterable[CutEvent],
) -> Governance:
    """The governance in force after the signed checkpoint ``epoch`` whose cut is ``cut_heights``.

    ``events`` are the governance events of each agency above ``gov.cut_heights`` and up to
    ``cut_heights`` (any order). Pure and deterministic.
    """
    if epoch <= gov.epoch:
        raise ValueError(f"checkpoint {epoch} does not follow {gov.epoch}")
    members = {m.agency_id: m for m in gov.members}
    proposals = {p.proposal_id: p for p in gov.proposals}
    early = {pid: set(votes) for pid, votes in gov.early_votes.items()}
    for item in sorted(events, key=lambda e: (e.agency_id, e.height)):
        voter = members.get(item.agency_id)
        if voter is None or not voter.active or item.height > cut_heights.get(item.agency_id, 0):
            continue
        _note(item, members, proposals, early)
    counting = {m.agency_id for m in gov.active}
    step = _Step(gov, members, epoch)
    for pid in sorted(proposals):
        proposal = proposals[pid]
        if proposal.state != "open":
            continue
        if proposal.expires_s * 1000 <= timestamp_ms:
            proposals[pid] = replace(proposal, state="expired")
        elif len(proposal.approvals & counting) >= gov.quorum:
            reason = step.apply(proposal.action, cut_heights)
            state = "adopted" if reason is None else "failed"
            proposals[pid] = replace(proposal, state=state, effective_epoch=epoch, reason=reason)
    return step.finish(checkpoint_hash, cut_heights, proposals, early)


def with_pending(gov: Governance, events: Iterable[CutEvent]) -> Governance:
    """``gov`` plus the proposals and votes written since its cut, none adopted yet: what an
    operator should see before the next checkpoint folds them."""
    members = {m.agency_id: m for m in gov.members}
    proposals = {p.proposal_id: p for p in gov.proposals}
    early = {pid: set(votes) for pid, votes in gov.early_votes.items()}
    for item in sorted(events, key=lambda e: (e.agency_id, e.height)):
        voter = members.get(item.agency_id)
        if voter is not None and voter.active and not isinstance(item.event, AgencyKeyRotated):
            _note(item, members, proposals, early)
    return replace(
        gov,
        proposals=tuple(proposals[pid] for pid in sorted(proposals)),
        early_votes={pid: frozenset(v) for pid, v in sorted(early.items()) if v},
    )


def _note(
    item: CutEvent,
    members: dict[str, Member],
    proposals: dict[bytes, Proposal],
    early: dict[bytes, set[str]],
) -> None:
    event = item.event
    if isinstance(event, AgencyKeyRotated):
        members[item.agency_id] = replace(
            members[item.agency_id],
            ed25519_public=event.ed25519_public,
            secp256k1_address=event.secp256k1_address,
        )
    elif isinstance(event, GovernanceProposed):
        pid = event.proposal_id(item.agency_id)
        if pid not in proposals:
            votes = frozenset(early.pop(pid, set()) | {item.agency_id})
            proposals[pid] = Proposal(
                pid, item.agency_id, item.height, event.action, event.expires_s, votes
            )
    elif isinstance(event, GovernanceVoted):
        pid = event.proposal_id
        if pid in proposals:
            found = proposals[pid]
            proposals[pid] = replace(found, approvals=found.approvals | {item.agency_id})
        else:
            early.setdefault(pid, set()).add(item.agency_id)


class _Step:
    """The changes adopted at one checkpoint, applied in proposal-id order."""

    def __init__(self, gov: Governance, members: dict[str, Member], epoch: int) -> None:
        self.gov = gov
        self.members = members
        self.epoch = epoch
        self.quorum = gov.quorum
        self.interval = gov.checkpoint_interval_s

    def active_count(self) -> int:
        return sum(1 for m in self.members.values() if m.active)

    def apply(self, action: Action, cut_heights: Mapping[str, int]) -> str | None:
        """Apply ``action``; return why it cannot apply (nothing changes then)."""
        if isinstance(action, AddAgency):
            return self._add(action)
        if isinstance(action, RemoveAgency):
            member = self.members.get(action.agency_id)
            if member is None or not member.active:
                return f"{action.agency_id} is not a member"
            if self.active_count() - 1 < self.quorum:
                return f"removing {action.agency_id} would leave fewer members than the quorum"
            height = cut_heights.get(action.agency_id, 0)
            self.members[action.agency_id] = replace(member, removed_height=height)
            return None
        if isinstance(action, RotateKeys):
            member = self.members.get(action.agency_id)
            if member is None or not member.active:
                return f"{action.agency_id} is not a member"
            clash = self._key_clash(action.ed25519_public, action.secp256k1_address, member)
            if clash:
                return clash
            self.members[action.agency_id] = replace(
                member,
                ed25519_public=action.ed25519_public,
                secp256k1_address=action.secp256k1_address,
            )
            return None
        if isinstance(action, SetQuorum):
            if not action.quorum * 2 > self.active_count() or action.quorum > self.active_count():
                return (
                    f"a quorum of {action.quorum} is not a majority of the "
                    f"{self.active_count()} members"
                )
            self.quorum = action.quorum
            return None
        self.interval = action.seconds
        return None

    def _add(self, action: AddAgency) -> str | None:
        if action.agency_id in self.members:
            return f"{action.agency_id} is or was a member already"
        if self.active_count() >= MAX_MEMBERS:
            return f"the network has the maximum of {MAX_MEMBERS} members"
        clash = self._key_clash(action.ed25519_public, action.secp256k1_address, None)
        if clash:
            return clash
        self.members[action.agency_id] = Member(
            action.agency_id,
            action.ed25519_public,
            action.secp256k1_address,
            action.addresses,
            since_epoch=self.epoch + 1,
        )
        return None

    def _key_clash(self, ed: bytes, address: bytes, own: Member | None) -> str | None:
        for other in self.members.values():
            if other is own:
                continue
            if other.ed25519_public == ed or other.secp256k1_address == address:
                return f"the keys are already used by {other.agency_id}"
        return None

    def finish(
        self,
        checkpoint_hash: bytes,
        cut_heights: Mapping[str, int],
        proposals: dict[bytes, Proposal],
        early: dict[bytes, set[str]],
    ) -> Governance:
        gov = self.gov
        members = tuple(sorted(self.members.values(), key=lambda m: m.agency_id))
        changed = replace(gov, members=members, quorum=self.quorum)
        nonce = gov.signer_nonce
        if changed.signers() != gov.signers() or self.quorum != gov.quorum:
            nonce += 1
        base_epoch, base_ms = gov.schedule_base_epoch, gov.schedule_base_ms
        if self.interval != gov.checkpoint_interval_s:
            # the next epoch starts on the old schedule; later ones follow the new interval
            base_ms = base_ms + (self.epoch + 1 - base_epoch) * gov.checkpoint_interval_s * 1000
            base_epoch = self.epoch + 1
        heights = {**gov.cut_heights, **cut_heights}
        return replace(
            changed,
            epoch=self.epoch,
            checkpoint_hash=checkpoint_hash,
            checkpoint_interval_s=self.interval,
            schedule_base_epoch=base_epoch,
            schedule_base_ms=base_ms,
            signer_nonce=nonce,
            cut_heights=heights,
            proposals=tuple(proposals[pid] for pid in sorted(proposals)),
            early_votes={pid: frozenset(v) for pid, v in sorted(early.items()) if v},
        )


# ------------------------------------------------------------------------------------ decoding


def decode_governance(data: bytes) -> Governance:
    items = as_list(decode(data), "governance", 12)
    expect_version(items[0], "governance")
    heights = items[9]
    if not isinstance(heights, dict):
        raise EncodingError("governance: cut_heights must be a map")
    early = [as_list(pair, "early vote", 2) for pair in as_list(items[11], "early votes")]
    return Governance(
        epoch=as_uint(items[1], "epoch"),
        checkpoint_hash=as_bytes(items[2], "checkpoint_hash", 32),
        members=tuple(_member(m) for m in as_list(items[3], "members")),
        quorum=as_uint(items[4], "quorum", maximum=MAX_MEMBERS),
        checkpoint_interval_s=as_uint(items[5], "checkpoint_interval_s"),
        schedule_base_epoch=as_uint(items[6], "schedule_base_epoch"),
        schedule_base_ms=as_uint(items[7], "schedule_base_ms"),
        signer_nonce=as_uint(items[8], "signer_nonce"),
        cut_heights={as_text(a, "agency", 32): as_uint(h, "height") for a, h in heights.items()},
        proposals=tuple(_proposal(p) for p in as_list(items[10], "proposals")),
        early_votes={
            as_bytes(pid, "proposal_id", 32): frozenset(
                as_text(v, "voter", 32) for v in as_list(votes, "votes")
            )
            for pid, votes in early
        },
    )


def _member(value: Any) -> Member:
    agency, ed, addr, addresses, since, removed = as_list(value, "member", 6)
    removed_plus_one = as_uint(removed, "removed_height")
    return Member(
        as_text(agency, "agency_id", 32),
        as_bytes(ed, "ed25519_public", 32),
        as_bytes(addr, "secp256k1_address", 20),
        tuple(as_text(a, "address", 96) for a in as_list(addresses, "addresses")),
        as_uint(since, "since_epoch"),
        None if removed_plus_one == 0 else removed_plus_one - 1,
    )


def _proposal(value: Any) -> Proposal:
    pid, proposer, height, action, expires, approvals, state, effective, reason = as_list(
        value, "proposal", 9
    )
    state_code = as_uint(state, "state")
    if state_code >= len(PROPOSAL_STATES):
        raise EncodingError(f"proposal: unknown state {state_code}")
    effective_plus_one = as_uint(effective, "effective_epoch")
    return Proposal(
        as_bytes(pid, "proposal_id", 32),
        as_text(proposer, "proposer", 32),
        as_uint(height, "height"),
        action_from_wire(action),
        as_uint(expires, "expires_s"),
        frozenset(as_text(a, "approval", 32) for a in as_list(approvals, "approvals")),
        PROPOSAL_STATES[state_code],
        None if effective_plus_one == 0 else effective_plus_one - 1,
        as_text(reason, "reason", 200) or None,
    )
