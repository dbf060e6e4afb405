"""The governance fold: quorum, duplicates, conflicts, expiry, order independence, encoding."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.core.errors import SchemaViolationError
from node.core.events import (
    AgencyKeyRotated,
    GovernanceProposed,
    GovernanceVoted,
    decode_event,
    encode_event,
)
from node.core.genesis import Agency, Genesis
from node.core.governance import (
    CutEvent,
    Governance,
    advance,
    decode_governance,
    genesis_governance,
)
from node.core.hashing import sha256
from node.core.keys import ed25519_public_from_seed
from node.core.proposals import (
    AddAgency,
    RemoveAgency,
    RotateKeys,
    SetCheckpointInterval,
    SetQuorum,
    action_from_json,
    action_to_json,
)

EXPIRES = 2_000_000_000
NOW_MS = 1_800_000_000_000


def _agency(agency_id: str, n: int) -> Agency:
    return Agency(agency_id, agency_id, sha256(b"ed" + bytes([n])), sha256(b"a" + bytes([n]))[:20])


GENESIS = Genesis(
    "gov-test",
    tuple(_agency(a, i) for i, a in enumerate(["gi.health", "gi.registry", "gi.transport"])),
    2,
    60,
    33,
    1_700_000_000_000,
)
A, B, C = (a.agency_id for a in GENESIS.agencies)
NEW = AddAgency(
    "gi.tax",
    ed25519_public_from_seed(sha256(b"new-ed")),
    sha256(b"new-addr")[:20],
    ("/ip4/10.0.0.9/tcp/7400",),
)


def _propose(agency: str, height: int, action: object, expires: int = EXPIRES) -> CutEvent:
    return CutEvent(agency, height, GovernanceProposed(action, expires))  # type: ignore[arg-type]


def _vote(agency: str, height: int, pid: bytes) -> CutEvent:
    return CutEvent(agency, height, GovernanceVoted(pid))


def _pid(agency: str, action: object, expires: int = EXPIRES) -> bytes:
    return GovernanceProposed(action, expires).proposal_id(agency)  # type: ignore[arg-type]


def _step(
    gov: Governance, events: list[CutEvent], heights: int = 10, ts: int = NOW_MS
) -> Governance:
    cut = {m.agency_id: heights for m in gov.members}
    return advance(
        gov,
        epoch=gov.epoch + 1,
        checkpoint_hash=sha256(bytes([gov.epoch + 1])),
        timestamp_ms=ts,
        cut_heights=cut,
        events=events,
    )


def test_a_proposal_with_quorum_adds_an_agency_at_that_checkpoint() -> None:
    gov = genesis_governance(GENESIS)
    pid = _pid(A, NEW)
    after = _step(gov, [_propose(A, 3, NEW), _vote(B, 5, pid)])
    assert after.is_active("gi.tax")
    assert after.member("gi.tax").since_epoch == 2  # type: ignore[union-attr]
    assert after.proposal(pid).state == "adopted"  # type: ignore[union-attr]
    assert after.proposal(pid).effective_epoch == 1  # type: ignore[union-attr]
    assert after.signer_nonce == gov.signer_nonce + 1
    assert len(after.signers()) == 4


def test_short_of_quorum_never_takes_effect_and_lapses() -> None:
    gov = genesis_governance(GENESIS)
    pid = _pid(A, NEW, expires=1_800_000_100)
    gov = _step(gov, [_propose(A, 3, NEW, expires=1_800_000_100)])
    for _ in range(3):
        gov = _step(gov, [])
        assert not gov.is_active("gi.tax")
    assert gov.proposal(pid).state == "open"  # type: ignore[union-attr]
    late = _step(gov, [_vote(B, 11, pid)], heights=20, ts=1_800_000_100_000)
    assert late.proposal(pid).state == "expired"  # type: ignore[union-attr]
    assert late.member("gi.tax") is None


def test_a_second_vote_by_the_same_agency_counts_once() -> None:
    gov = genesis_governance(GENESIS)
    pid = _pid(A, NEW)
    after = _step(gov, [_propose(A, 3, NEW), _vote(A, 4, pid), _vote(A, 6, pid)])
    assert after.proposal(pid).approvals == {A}  # type: ignore[union-attr]
    assert not after.is_active("gi.tax")


def test_votes_outside_the_cut_or_by_non_members_do_not_count() -> None:
    gov = genesis_governance(GENESIS)
    pid = _pid(A, NEW)
    outsider = _vote("gi.outsider", 1, pid)
    beyond = _vote(B, 11, pid)  # above B's cut height of 10
    after = _step(gov, [_propose(A, 3, NEW), outsider, beyond])
    assert not after.is_active("gi.tax")


def test_a_vote_may_precede_its_proposal_in_the_cut() -> None:
    gov = genesis_governance(GENESIS)
    pid = _pid(A, NEW)
    gov = _step(gov, [_vote(B, 2, pid)])
    assert pid in gov.early_votes
    gov = _step(gov, [_propose(A, 12, NEW)], heights=20)
    assert gov.is_active("gi.tax") and not gov.early_votes


def test_conflicting_proposals_resolve_by_proposal_id() -> None:
    other = AddAgency("gi.tax", sha256(b"other-ed"), sha256(b"other-addr")[:20])
    first, second = sorted([(_pid(A, NEW), NEW), (_pid(B, other), other)])
    events = [_propose(A, 3, NEW), _propose(B, 3, other), _vote(C, 4, first[0])]
    events.append(_vote(C, 5, second[0]))
    after = _step(genesis_governance(GENESIS), events)
    assert after.proposal(first[0]).state == "adopted"  # type: ignore[union-attr]
    assert after.proposal(second[0]).state == "failed"  # type: ignore[union-attr]
    assert "already" in (after.proposal(second[0]).reason or "")  # type: ignore[union-attr]
    assert after.member("gi.tax").ed25519_public == first[1].ed25519_public  # type: ignore[union-attr]


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_outcome_does_not_depend_on_event_order(rnd: random.Random) -> None:
    remove = RemoveAgency(C)
    quorum = SetQuorum(3)
    events = [
        _propose(A, 1, NEW),
        _propose(B, 2, remove),
        _propose(C, 3, quorum),
        _vote(B, 4, _pid(A, NEW)),
        _vote(C, 4, _pid(A, NEW)),
        _vote(A, 5, _pid(B, remove)),
        _vote(A, 6, _pid(C, quorum)),
        _vote(B, 7, _pid(C, quorum)),
    ]
    baseline = _step(genesis_governance(GENESIS), events)
    shuffled = events[:]
    rnd.shuffle(shuffled)
    assert _step(genesis_governance(GENESIS), shuffled) == baseline
    split = rnd.randrange(len(shuffled) + 1)
    assert (
        baseline.encode()
        == _step(genesis_governance(GENESIS), shuffled[:split] + shuffled[split:]).encode()
    )


def test_removal_pins_the_agency_and_respects_the_quorum() -> None:
    gov = genesis_governance(GENESIS)
    remove_c = RemoveAgency(C)
    gov = _step(gov, [_propose(A, 3, remove_c), _vote(B, 4, _pid(A, remove_c))], heights=7)
    member = gov.member(C)
    assert member is not None and not member.active and member.removed_height == 7
    assert gov.active_ids == (A, B)
    # two members, quorum 2: removing another would leave fewer members than the quorum
    remove_b = RemoveAgency(B)
    gov = _step(gov, [_propose(A, 8, remove_b), _vote(B, 9, _pid(A, remove_b))], heights=12)
    assert gov.proposal(_pid(A, remove_b)).state == "failed"  # type: ignore[union-attr]
    # a removed agency's later proposals and votes count for nothing
    gov2 = _step(gov, [_propose(C, 8, NEW), _vote(A, 13, _pid(C, NEW))], heights=20)
    assert not gov2.is_active("gi.tax")


def test_quorum_must_stay_a_majority() -> None:
    gov = genesis_governance(GENESIS)
    one = SetQuorum(1)
    three = SetQuorum(3)
    gov = _step(
        gov,
        [
            _propose(A, 1, one),
            _vote(B, 2, _pid(A, one)),
            _propose(A, 3, three),
            _vote(C, 4, _pid(A, three)),
        ],
    )
    assert gov.proposal(_pid(A, one)).state == "failed"  # type: ignore[union-attr]
    assert gov.quorum == 3


def test_forced_and_self_rotation_change_the_signer_set() -> None:
    gov = genesis_governance(GENESIS)
    new_c = RotateKeys(C, sha256(b"c2"), sha256(b"c2a")[:20])
    rotated = AgencyKeyRotated(sha256(b"b2"), sha256(b"b2a")[:20])
    after = _step(
        gov,
        [_propose(A, 1, new_c), _vote(B, 2, _pid(A, new_c)), CutEvent(B, 3, rotated)],
    )
    assert after.member(C).secp256k1_address == new_c.secp256k1_address  # type: ignore[union-attr]
    assert after.member(B).ed25519_public == rotated.ed25519_public  # type: ignore[union-attr]
    assert after.signer_nonce == gov.signer_nonce + 1
    clash = RotateKeys(A, new_c.ed25519_public, sha256(b"x")[:20])
    later = _step(after, [_propose(B, 11, clash), _vote(C, 11, _pid(B, clash))], heights=20)
    assert later.proposal(_pid(B, clash)).state == "failed"  # type: ignore[union-attr]


def test_interval_change_rebases_the_schedule_at_the_next_epoch() -> None:
    gov = genesis_governance(GENESIS)
    interval = SetCheckpointInterval(120)
    after = _step(gov, [_propose(A, 1, interval), _vote(B, 2, _pid(A, interval))])
    assert after.checkpoint_interval_s == 120
    assert after.schedule_base_epoch == 2
    assert after.schedule_base_ms == GENESIS.created_ms + 2 * 60_000
    assert after.signer_nonce == gov.signer_nonce  # the signer set did not change


def test_governance_round_trips_through_its_encoding() -> None:
    gov = genesis_governance(GENESIS)
    gov = _step(gov, [_propose(A, 3, NEW), _vote(C, 1, sha256(b"unknown"))])
    assert decode_governance(gov.encode()) == gov
    remove = RemoveAgency(C)
    gov = _step(gov, [_propose(A, 12, remove), _vote(B, 12, _pid(A, remove))], heights=20)
    assert decode_governance(gov.encode()) == gov


def test_governance_events_round_trip_and_reject_bad_fields() -> None:
    for event in (GovernanceProposed(NEW, EXPIRES), GovernanceVoted(sha256(b"p"))):
        assert decode_event(encode_event(event)) == event
    with pytest.raises(SchemaViolationError):
        encode_event(GovernanceProposed(AddAgency("Bad Id", b"\0" * 32, b"\0" * 20), EXPIRES))
    with pytest.raises(SchemaViolationError):
        encode_event(
            GovernanceProposed(AddAgency("gi.x", b"\0" * 32, b"\0" * 20, ("http://x",)), 5)
        )
    with pytest.raises(SchemaViolationError):
        encode_event(GovernanceProposed(SetCheckpointInterval(1), EXPIRES))
    not_a_point = b"\x02" + bytes(31)  # 32 bytes, but no point of Ed25519 has this encoding
    off_curve = (AddAgency("gi.x", not_a_point, bytes(20)), RotateKeys(C, not_a_point, bytes(20)))
    for action in off_curve:
        with pytest.raises(SchemaViolationError, match="not a point on the curve"):
            encode_event(GovernanceProposed(action, EXPIRES))


def test_actions_round_trip_through_json() -> None:
    for action in (NEW, RemoveAgency(C), RotateKeys(C, b"\1" * 32, b"\2" * 20), SetQuorum(2)):
        assert action_from_json(action_to_json(action)) == action
    with pytest.raises(SchemaViolationError, match="ed25519"):
        action_from_json(
            {
                "type": "add_agency",
                "agency_id": "gi.x",
                "ed25519": "zz",
                "secp256k1_address": "0x00",
            }
        )
    with pytest.raises(SchemaViolationError, match="missing"):
        action_from_json({"type": "remove_agency"})
