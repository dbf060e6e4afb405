"""The checkpoint protocol's pure rules: rotation, takeover, refusals, wire formats."""

from __future__ import annotations

import pytest

from node.core.checkpoint import Checkpoint, Cut, CutLeaf
from node.core.checkpoint_protocol import (
    CheckpointRecord,
    CheckpointVote,
    Schedule,
    check_cut,
    check_timing,
    decode_record,
    decode_vote,
)
from node.core.errors import CheckpointRefusedError
from node.core.hashing import ZERO_HASH, sha256

MEMBERS = ["gi.c", "gi.a", "gi.b"]
SCHEDULE = Schedule.of(1_000_000, 30, MEMBERS, takeover_ms=10_000)


def leaf(agency: str, height: int, tag: bytes = b"") -> CutLeaf:
    h = sha256(f"{agency}/{height}".encode() + tag)
    return CutLeaf(agency, height, h, sha256(h + b"log"), sha256(h + b"state"))


def cut(**heights: int) -> Cut:
    return Cut.of(leaf(f"gi.{a}", h) for a, h in heights.items())


def checkpoint(epoch: int, c: Cut) -> Checkpoint:
    return Checkpoint(sha256(b"net"), epoch, c.root(), c, 1_000_000 + epoch * 30_000, ZERO_HASH)


def test_epochs_count_intervals_from_genesis() -> None:
    assert SCHEDULE.epoch_at(1_000_000) == 0
    assert SCHEDULE.epoch_at(1_029_999) == 0
    assert SCHEDULE.epoch_at(1_030_000) == 1
    assert SCHEDULE.epoch_start_ms(2) == 1_060_000


def test_proposers_rotate_round_robin_over_sorted_members() -> None:
    assert [SCHEDULE.proposer(e) for e in range(1, 5)] == ["gi.a", "gi.b", "gi.c", "gi.a"]


def test_the_next_member_takes_over_after_the_timeout() -> None:
    start = SCHEDULE.epoch_start_ms(1)
    assert SCHEDULE.attempt_at(1, start + 9_999) == 0
    assert SCHEDULE.attempt_at(1, start + 10_000) == 1
    assert SCHEDULE.proposer(1, 1) == "gi.b"
    assert SCHEDULE.attempt_at(1, start + 99_000) == 2  # capped at n - 1
    assert SCHEDULE.eligible_proposers(1, start) == {"gi.a", "gi.b"}  # one attempt of slack


def test_a_matching_cut_is_accepted() -> None:
    proposed = cut(a=3, b=1, c=0)
    local = {leaf.agency_id: leaf for leaf in proposed.leaves}
    check_cut(proposed, local, {"gi.a", "gi.b", "gi.c"}, cut(a=2, b=1, c=0))


def test_a_mismatching_leaf_is_refused() -> None:
    proposed = cut(a=3, b=1, c=0)
    local = {leaf.agency_id: leaf for leaf in proposed.leaves}
    local["gi.b"] = leaf("gi.b", 1, b"other fork")
    with pytest.raises(CheckpointRefusedError, match=r"gi\.b"):
        check_cut(proposed, local, {"gi.a", "gi.b", "gi.c"}, None)


def test_a_cut_missing_a_member_is_refused() -> None:
    proposed = cut(a=3, b=1)
    local = {leaf.agency_id: leaf for leaf in proposed.leaves}
    with pytest.raises(CheckpointRefusedError, match="members"):
        check_cut(proposed, local, {"gi.a", "gi.b", "gi.c"}, None)


def test_a_backwards_cut_is_refused() -> None:
    proposed = cut(a=2, b=1, c=0)
    local = {leaf.agency_id: leaf for leaf in proposed.leaves}
    with pytest.raises(CheckpointRefusedError, match="backwards"):
        check_cut(proposed, local, {"gi.a", "gi.b", "gi.c"}, cut(a=3, b=1, c=0))


def test_a_fork_at_an_equal_height_is_refused() -> None:
    previous = Cut.of([leaf("gi.a", 2, b"x"), leaf("gi.b", 1), leaf("gi.c", 0)])
    proposed = cut(a=2, b=1, c=0)
    local = {leaf.agency_id: leaf for leaf in proposed.leaves}
    with pytest.raises(CheckpointRefusedError, match="forks"):
        check_cut(proposed, local, {"gi.a", "gi.b", "gi.c"}, previous)


def test_a_proposal_out_of_turn_or_time_is_refused() -> None:
    c = cut(a=1, b=1, c=1)
    start = SCHEDULE.epoch_start_ms(1)
    early_takeover = CheckpointVote(checkpoint(1, c), "gi.c", "gi.c", bytes(65))
    with pytest.raises(CheckpointRefusedError, match="not a proposer"):
        check_timing(SCHEDULE, early_takeover, start, 0)
    check_timing(SCHEDULE, early_takeover, start + 10_000, 0)
    future = CheckpointVote(checkpoint(3, c), "gi.c", "gi.c", bytes(65))
    with pytest.raises(CheckpointRefusedError, match="not started"):
        check_timing(SCHEDULE, future, start, 0)


def test_votes_and_records_round_trip() -> None:
    cp = checkpoint(2, cut(a=1, b=2, c=3))
    vote = CheckpointVote(cp, "gi.b", "gi.a", bytes(range(65)))
    assert decode_vote(vote.encode()) == vote
    record = CheckpointRecord(cp, "gi.b").with_signature("gi.a", bytes(65)).reached(1, 5)
    record = record.anchored("submitted", "0x" + "ab" * 32, 3)
    assert decode_record(record.encode()) == record
    assert record.to_json(2)["state"] == "submitted"
    assert record.to_json(2)["signers"] == ["gi.a"]


def test_a_record_refuses_a_negative_confirmation_count() -> None:
    """The stored encoding holds an unsigned count: a negative one would make the record
    unreadable after it was written, so it is refused before."""
    record = CheckpointRecord(checkpoint(2, cut(a=1)), "gi.a").reached(0, 5)
    with pytest.raises(ValueError, match="negative"):
        record.anchored("submitted", "0x" + "ab" * 32, -1)
    assert record.anchored("submitted", "0x" + "ab" * 32, 0).confirmations == 0
