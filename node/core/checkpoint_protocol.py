"""The checkpoint protocol's pure rules: schedule, proposer rotation, votes, records, refusals.

Epochs are fixed slots of ``checkpoint_interval_s`` counted from the genesis time: epoch ``e``
starts at ``genesis_ms + e * interval``; epoch 0 is never checkpointed (the contract starts at 1).
When governance changes the interval, the schedule is rebased: epoch ``base_epoch`` starts at
``base_ms`` and later ones follow the new interval.
The proposer of epoch ``e`` at attempt ``a`` is ``members[(e - 1 + a) % n]`` over the member ids in
sorted order; attempt ``a`` begins ``a * takeover`` after the epoch's start, so when a proposer is
offline the next member takes over.

A **vote** is one agency's EIP-712 signature over ``(network_id, epoch, checkpoint_root)``,
carried with the whole checkpoint and the name of its proposer, so that any node receiving any
vote can verify the cut and co-sign it. A node co-signs at most one checkpoint per epoch.

A **record** is what a node keeps per epoch: the checkpoint, the valid signatures it collected,
and where anchoring stands (``proposed`` → ``signed`` at quorum → ``submitted`` → ``confirmed``,
or ``reorged`` when its transaction left the canonical chain).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from node.core.checkpoint import Checkpoint, Cut, CutLeaf, decode_checkpoint
from node.core.encoding import as_bytes, as_list, as_text, as_uint, decode, encode, expect_version
from node.core.errors import CheckpointRefusedError, EncodingError

STATES = ("proposed", "signed", "submitted", "confirmed", "reorged")
ANCHOR_STATES = ("submitted", "confirmed", "reorged")
SIGNATURE_LEN = 65


# ------------------------------------------------------------------------------- schedule


@dataclass(frozen=True, slots=True)
class Schedule:
    """When each epoch starts and who proposes it."""

    base_ms: int
    interval_ms: int
    takeover_ms: int
    members: tuple[str, ...]
    """Member agency ids, sorted."""
    base_epoch: int = 0

    @classmethod
    def of(
        cls,
        base_ms: int,
        interval_s: int,
        members: list[str] | tuple[str, ...],
        takeover_ms: int | None = None,
        base_epoch: int = 0,
    ) -> Schedule:
        interval_ms = interval_s * 1000
        if interval_ms <= 0 or not members:
            raise ValueError("a schedule needs a positive interval and at least one member")
        takeover = takeover_ms if takeover_ms is not None else max(interval_ms // 2, 1000)
        return cls(base_ms, interval_ms, takeover, tuple(sorted(members)), base_epoch)

    def epoch_at(self, now_ms: int) -> int:
        """The epoch whose slot holds ``now_ms`` (0 before the first interval has passed)."""
        return self.base_epoch + max(0, (now_ms - self.base_ms) // self.interval_ms)

    def epoch_start_ms(self, epoch: int) -> int:
        return self.base_ms + (epoch - self.base_epoch) * self.interval_ms

    def proposer(self, epoch: int, attempt: int = 0) -> str:
        return self.members[(epoch - 1 + attempt) % len(self.members)]

    def attempt_at(self, epoch: int, now_ms: int) -> int:
        """How many takeovers have happened in ``epoch`` by ``now_ms`` (capped at n - 1)."""
        elapsed = now_ms - self.epoch_start_ms(epoch)
        return min(max(0, elapsed // self.takeover_ms), len(self.members) - 1)

    def eligible_proposers(self, epoch: int, now_ms: int) -> set[str]:
        """Who may have proposed ``epoch`` by ``now_ms``, with one attempt of clock slack."""
        last = min(self.attempt_at(epoch, now_ms) + 1, len(self.members) - 1)
        return {self.proposer(epoch, a) for a in range(last + 1)}


# ----------------------------------------------------------------------------------- votes


def _blob(value: Any, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise EncodingError(f"{what}: expected a byte string")
    return value


@dataclass(frozen=True, slots=True)
class CheckpointVote:
    """One agency's signature on a checkpoint; travels on the ``checkpoints`` gossip topic."""

    checkpoint: Checkpoint
    proposer: str
    signer: str
    signature: bytes

    def encode(self) -> bytes:
        return encode([1, self.checkpoint.encode(), self.proposer, self.signer, self.signature])


def decode_vote(data: bytes) -> CheckpointVote:
    items = as_list(decode(data), "checkpoint vote", 5)
    expect_version(items[0], "checkpoint vote")
    checkpoint = decode_checkpoint(_blob(items[1], "checkpoint"))
    return CheckpointVote(
        checkpoint,
        as_text(items[2], "proposer", 32),
        as_text(items[3], "signer", 32),
        as_bytes(items[4], "signature", SIGNATURE_LEN),
    )


# --------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class CheckpointRecord:
    """A node's view of one epoch's checkpoint."""

    checkpoint: Checkpoint
    proposer: str
    signatures: Mapping[str, bytes] = field(default_factory=dict)
    """Valid signatures by agency id."""
    state: str = "proposed"
    tx_hash: str | None = None
    confirmations: int = 0
    signed_ms: int = 0
    """Local time the quorum was reached (0 while proposed)."""

    @property
    def epoch(self) -> int:
        return self.checkpoint.epoch

    @property
    def is_signed(self) -> bool:
        return self.state != "proposed"

    def with_signature(self, signer: str, signature: bytes) -> CheckpointRecord:
        return replace(self, signatures={**self.signatures, signer: signature})

    def reached(self, quorum: int, now_ms: int) -> CheckpointRecord:
        """This record once it has ``quorum`` signatures (unchanged otherwise)."""
        if self.state == "proposed" and len(self.signatures) >= quorum:
            return replace(self, state="signed", signed_ms=now_ms)
        return self

    def anchored(self, state: str, tx_hash: str | None, confirmations: int) -> CheckpointRecord:
        if state not in ANCHOR_STATES:
            raise ValueError(f"not an anchoring state: {state}")
        if confirmations < 0:  # the record's encoding holds an unsigned count
            raise ValueError(f"confirmations cannot be negative: {confirmations}")
        return replace(self, state=state, tx_hash=tx_hash, confirmations=confirmations)

    def encode(self) -> bytes:
        return encode(
            [
                1,
                self.checkpoint.encode(),
                self.proposer,
                [[a, s] for a, s in sorted(self.signatures.items())],
                STATES.index(self.state),
                self.tx_hash or "",
                self.confirmations,
                self.signed_ms,
            ]
        )

    def to_json(self, quorum: int) -> dict[str, Any]:
        """The admin API's ``Checkpoint`` shape."""
        return {
            "epoch": self.epoch,
            "checkpoint_root": self.checkpoint.checkpoint_root.hex(),
            "timestamp_ms": self.checkpoint.timestamp_ms,
            "signers": sorted(self.signatures),
            "signatures": len(self.signatures),
            "quorum": quorum,
            "state": self.state,
            "tx_hash": self.tx_hash,
            "confirmations": self.confirmations,
        }


def decode_record(data: bytes) -> CheckpointRecord:
    items = as_list(decode(data), "checkpoint record", 8)
    expect_version(items[0], "checkpoint record")
    signatures = {}
    for pair in as_list(items[3], "signatures"):
        agency, signature = as_list(pair, "signature", 2)
        signatures[as_text(agency, "signer", 32)] = as_bytes(signature, "signature", SIGNATURE_LEN)
    state = as_uint(items[4], "state")
    if state >= len(STATES):
        raise EncodingError(f"unknown checkpoint state {state}")
    return CheckpointRecord(
        decode_checkpoint(_blob(items[1], "checkpoint")),
        as_text(items[2], "proposer", 32),
        signatures,
        STATES[state],
        as_text(items[5], "tx_hash", 66) or None,
        as_uint(items[6], "confirmations"),
        as_uint(items[7], "signed_ms"),
    )


# -------------------------------------------------------------------------------- refusals


def check_cut(
    proposed: Cut,
    local: Mapping[str, CutLeaf],
    members: set[str],
    previous: Cut | None,
    pinned: Mapping[str, int] | None = None,
) -> None:
    """Raise :class:`CheckpointRefusedError` unless this node can vouch for ``proposed``.

    ``local`` holds this node's own recomputation of each leaf at the proposed height;
    ``previous`` is the cut of the newest signed checkpoint of an earlier epoch, if any.
    ``members`` are every agency the cut must hold; ``pinned`` the heights at which removed
    agencies' logs end (their leaves stay there).
    """
    agencies = {leaf.agency_id for leaf in proposed.leaves}
    if agencies != members:
        raise CheckpointRefusedError(
            f"the cut covers {sorted(agencies)}, not the members {sorted(members)}"
        )
    for leaf in proposed.leaves:
        end = (pinned or {}).get(leaf.agency_id)
        if end is not None and leaf.height != end:
            raise CheckpointRefusedError(
                f"{leaf.agency_id} was removed at height {end}; the cut holds {leaf.height}"
            )
        mine = local.get(leaf.agency_id)
        if mine != leaf:
            raise CheckpointRefusedError(
                f"cut leaf of {leaf.agency_id} at height {leaf.height} differs from this "
                "node's recomputation"
            )
    if previous is not None:
        check_not_backwards(proposed, previous)


def check_not_backwards(proposed: Cut, previous: Cut) -> None:
    """Every agency's height must not fall, nor fork at an equal height, against ``previous``."""
    now = {leaf.agency_id: leaf for leaf in proposed.leaves}
    for before in previous.leaves:
        after = now.get(before.agency_id)
        if after is None:
            continue  # an agency that left the network
        if after.height < before.height:
            raise CheckpointRefusedError(
                f"the cut goes backwards: {before.agency_id} at height {after.height} < "
                f"{before.height} in the previous checkpoint"
            )
        if after.height == before.height and after.block_hash != before.block_hash:
            raise CheckpointRefusedError(
                f"the cut forks {before.agency_id} at height {after.height} against the "
                "previous checkpoint"
            )


def check_timing(schedule: Schedule, vote: CheckpointVote, now_ms: int, skew_ms: int) -> None:
    """A fresh proposal: its epoch is current (or just ended) and its proposer was due."""
    epoch = vote.checkpoint.epoch
    current = schedule.epoch_at(now_ms + skew_ms)
    if epoch < 1 or epoch > current:
        raise CheckpointRefusedError(f"epoch {epoch} has not started (current {current})")
    if epoch < current - 1:
        raise CheckpointRefusedError(f"epoch {epoch} is over (current {current})")
    if vote.proposer not in schedule.eligible_proposers(epoch, now_ms + skew_ms):
        raise CheckpointRefusedError(f"{vote.proposer} is not a proposer of epoch {epoch} yet")
