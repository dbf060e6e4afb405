"""The fake node's governance: members, quorum, proposals and votes, by the node's rules.

A proposal counts as its proposer's approval; one more approval from each other member at most;
a closed proposal takes no votes. It refuses what ``node/admin/governance.py`` refuses, with the
same codes: input problems are 400 ``bad_request`` naming the field, a vote for a proposal no log
holds is 404 ``unknown_proposal``, a second vote (or one on a closed proposal) is 409
``duplicate_vote``. Like the node it accepts a proposal whose precondition does not hold (a
quorum above the members, an agency added twice) and proposing the same change with the same
expiry again (one proposal). Unlike a node, it adopts a proposal as soon as it has ``quorum``
approvals (a node waits for the next checkpoint), effective from the next epoch, and marks it
``failed`` with the reason when its precondition no longer holds then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tui import validate
from tui.actions import build_action, typed_fields
from tui.client import fake_data as data
from tui.client.errors import ApiError
from tui.client.governance import (
    AddAgency,
    Governance,
    KnownAction,
    Member,
    Proposal,
    RemoveAgency,
    RotateKeys,
    SetCheckpointInterval,
    SetQuorum,
)

DEFAULT_LIFETIME_S = 7 * 86_400
MAX_QUORUM = 255
"""The node's bounds on ``action.quorum`` (its member limit); 1..active members is a
precondition checked at adoption, not a refusal."""
# proposer, action, height, approvals, state, effective epoch, reason
_Seed = tuple[str, KnownAction, int, tuple[str, ...], str, int | None, str | None]
_ACTION = TypeAdapter[KnownAction](KnownAction)


def _key(agency: str, n: int = 0) -> tuple[str, str]:
    return data.hexhash("ed25519", agency, n), "0x" + data.hexhash("secp256k1", agency, n)[:40]


def _member(agency: str, state: str, since: int) -> Member:
    ed, address = _key(agency)
    return Member.model_validate(
        {
            "agency_id": agency,
            "ed25519": ed,
            "secp256k1_address": address,
            "state": state,
            "since_epoch": since,
        }
    )


def proposal_id(proposer: str, action: KnownAction, expires_s: int) -> str:
    content = json.dumps(action.model_dump(), sort_keys=True)
    return data.hexhash("proposal", proposer, content, expires_s)


class FakeGovernance:
    """Governance of the fake devnet at epoch 42: quorum 2 of 3, one former member."""

    def __init__(self, now_s: int) -> None:
        self.epoch = 42
        self.quorum = 2
        self.interval_s = 600
        self.members: dict[str, Member] = {
            "gi.civil": _member("gi.civil", "active", 0),
            "gi.health": _member("gi.health", "active", 12),
            "gi.port": _member("gi.port", "removed", 30),
            "gi.transport": _member("gi.transport", "active", 0),
        }
        self.proposals: list[Proposal] = []  # oldest first; the document lists newest first
        self._seed(now_s)

    def document(self) -> Governance:
        return Governance(
            epoch=self.epoch,
            quorum=self.quorum,
            checkpoint_interval_s=self.interval_s,
            members=tuple(sorted(self.members.values(), key=lambda m: m.agency_id)),
            proposals=tuple(reversed(self.proposals)),
        )

    def parse(self, raw: Any) -> KnownAction:
        """The action in a request body, checked as the node would (400 ``bad_request``)."""
        try:
            action = _ACTION.validate_python(raw)
        except ValidationError as exc:
            raise _bad(f"action: {exc.errors()[0]['msg']}") from None
        errors = _format_errors(action)
        if errors:
            raise _bad(errors[0])
        return action

    def propose(
        self, proposer: str, action: KnownAction, expires_s: int, height: int, now_s: int
    ) -> str:
        """Add the proposal; the same change with the same expiry again names the same one."""
        if expires_s <= now_s:
            raise _bad("expires_s must be in the future (Unix seconds)")
        pid = proposal_id(proposer, action, expires_s)
        if any(p.proposal_id == pid for p in self.proposals):
            return pid
        self.proposals.append(
            Proposal(
                proposal_id=pid,
                proposer=proposer,
                height=height,
                expires_s=expires_s,
                action=action,
                approvals=(proposer,),
                state="open",
            )
        )
        self._maybe_adopt(pid)
        return pid

    def check_vote(self, voter: str, pid: str, now_s: int) -> None:
        """Raise what the node answers to a vote that cannot count."""
        proposal = self.document().proposal(pid)
        if proposal is None:
            message = f"no agency's log holds proposal {pid}; check the id"
            raise ApiError("unknown_proposal", message, 404)
        if proposal.state != "open":
            raise ApiError("duplicate_vote", f"proposal {pid} is {proposal.state} already", 409)
        if voter in proposal.approvals:
            raise ApiError("duplicate_vote", f"{voter} already approved this proposal", 409)

    def vote(self, voter: str, pid: str, now_s: int) -> None:
        self.check_vote(voter, pid, now_s)
        self._replace(pid, approvals=(*self.document().proposal(pid).approvals, voter))  # type: ignore[union-attr]
        self._maybe_adopt(pid)

    def _replace(self, pid: str, **update: object) -> None:
        self.proposals = [
            p.model_copy(update=update) if p.proposal_id == pid else p for p in self.proposals
        ]

    def _maybe_adopt(self, pid: str) -> None:
        proposal = self.document().proposal(pid)
        if proposal is None or len(proposal.approvals) < self.quorum:
            return
        action = proposal.action
        _, errors = build_action(action.type, typed_fields(action), self.document())  # type: ignore[arg-type]
        if errors:
            self._replace(pid, state="failed", reason="; ".join(errors))
            return
        self._replace(pid, state="adopted", effective_epoch=self.epoch + 1)
        self._apply(action)  # type: ignore[arg-type]

    def _apply(self, action: KnownAction) -> None:
        epoch = self.epoch + 1
        if isinstance(action, AddAgency):
            member = {"state": "active", "since_epoch": epoch, **action.model_dump()}
            self.members[action.agency_id] = Member.model_validate(member)
        elif isinstance(action, RemoveAgency):
            self.members[action.agency_id] = self.members[action.agency_id].model_copy(
                update={"state": "removed", "since_epoch": epoch}
            )
        elif isinstance(action, RotateKeys):
            self.members[action.agency_id] = self.members[action.agency_id].model_copy(
                update={"ed25519": action.ed25519, "secp256k1_address": action.secp256k1_address}
            )
        elif isinstance(action, SetQuorum):
            self.quorum = action.quorum
        elif isinstance(action, SetCheckpointInterval):
            self.interval_s = action.seconds

    def _seed(self, now_s: int) -> None:
        """Past proposals in every closed state, then two open ones (newest last)."""
        ed, address = _key("gi.health")
        health = AddAgency(agency_id="gi.health", ed25519=ed, secp256k1_address=address)
        new_ed, new_address = _key("gi.health", 1)
        history: list[_Seed] = [
            ("gi.transport", health, 110, ("gi.transport", "gi.civil"), "adopted", 12, None),
            ("gi.civil", RemoveAgency(agency_id="gi.port"), 402, ("gi.civil", "gi.transport"),
             "adopted", 30, None),
            ("gi.health", SetQuorum(quorum=3), 688, ("gi.health",), "expired", None, None),
            ("gi.port", SetQuorum(quorum=1), 301, ("gi.port",), "failed", None,
             "the proposer was removed before adoption"),
            ("gi.transport", RotateKeys(agency_id="gi.health", ed25519=new_ed,
             secp256k1_address=new_address), 940, ("gi.transport",), "open", None, None),
            ("gi.civil", SetCheckpointInterval(seconds=300), 951, ("gi.civil",), "open", None,
             None),
        ]  # fmt: skip
        for n, (proposer, action, height, approvals, state, epoch, reason) in enumerate(history):
            expires = now_s + (n - 3) * 86_400 + 3_600
            self.proposals.append(
                Proposal(
                    proposal_id=proposal_id(proposer, action, expires),
                    proposer=proposer,
                    height=height,
                    expires_s=expires,
                    action=action,
                    approvals=approvals,
                    state=state,  # type: ignore[arg-type]
                    effective_epoch=epoch,
                    reason=reason,
                )
            )


def _bad(message: str) -> ApiError:
    return ApiError("bad_request", message, 400)


def _format_errors(action: KnownAction) -> list[str]:
    """What the node's ``parse_action`` refuses, as it words it (the field named first)."""
    if isinstance(action, SetQuorum) and not 1 <= action.quorum <= MAX_QUORUM:
        return [f"action.quorum must be between 1 and {MAX_QUORUM}"]
    if isinstance(action, SetCheckpointInterval) and not (
        validate.MIN_INTERVAL_S <= action.seconds <= validate.MAX_INTERVAL_S
    ):
        low, high = validate.MIN_INTERVAL_S, validate.MAX_INTERVAL_S
        return [f"action.seconds must be between {low} and {high}"]
    fields = typed_fields(action)
    checks: dict[str, Callable[[str], str | None]] = {
        "agency_id": validate.agency_id,
        "ed25519": validate.ed25519_key,
        "secp256k1_address": validate.evm_address,
        "addresses": _addresses_error,
    }
    return [
        f"action.{name}: {error}"
        for name, check in checks.items()
        if name in fields and (error := check(fields[name]))
    ]


def _addresses_error(value: str) -> str | None:
    return validate.multiaddrs(value)[1]
