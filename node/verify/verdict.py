"""What verifying a bundle concludes: an outcome, a stable reason code, and the facts behind it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from node.core.status import StatusRecord


class Outcome(Enum):
    """The verdict; its value is the process exit code of ``calpe verify``."""

    VALID = 0
    """Active, within its validity window, proven under an anchored, quorum-signed checkpoint."""
    REVOKED = 10
    SUSPENDED = 11
    EXPIRED = 12
    """Active, but ``valid_until`` has passed."""
    NOT_YET_VALID = 13
    """Active, but ``valid_from`` is still to come."""
    UNKNOWN = 14
    """Proven never issued by this issuer (as of the checkpoint)."""
    INVALID = 20
    """The bundle proves nothing: a check failed (see the reason)."""


EXIT_ERROR = 3
"""``calpe verify`` could not check (endpoint unreachable, node unreachable)."""
EXIT_USAGE = 2


class Reason:
    """Stable reason codes (``--json``'s ``reason``); one per failed check."""

    OK = "ok"
    MALFORMED = "malformed_bundle"
    DISPLAY_MISMATCH = "display_mismatch"
    RECORD_MISMATCH = "record_mismatch"
    BAD_STATE_PROOF = "bad_state_proof"
    BAD_HISTORY_PROOF = "bad_history_proof"
    NO_CHECKPOINT = "no_checkpoint"
    WRONG_ISSUER_LEAF = "wrong_issuer_leaf"
    BAD_CUT_PROOF = "bad_cut_proof"
    WRONG_CONTRACT = "wrong_contract"
    WRONG_CHAIN = "wrong_chain"
    WRONG_NETWORK = "wrong_network"
    NOT_ANCHORED = "not_anchored"
    ROOT_MISMATCH = "root_mismatch"
    BAD_SIGNATURE = "bad_signature"
    NOT_A_SIGNER = "not_a_signer"
    NO_QUORUM = "no_quorum"
    UNCONFIRMED = "too_few_confirmations"
    TOO_OLD = "checkpoint_too_old"


@dataclass(frozen=True)
class Anchor:
    """What the chain says about the bundle's checkpoint."""

    chain_id: int
    contract: str
    epoch: int
    latest_epoch: int
    block_number: int
    confirmations: int
    anchored_at_s: int
    age_s: int
    signers: tuple[str, ...]
    """Distinct members of the on-chain signer set whose signatures the bundle carries."""
    threshold: int

    @property
    def epochs_behind(self) -> int:
        return max(0, self.latest_epoch - self.epoch)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str
    message: str
    issuer: str | None = None
    credential_id: bytes | None = None
    record: StatusRecord | None = None
    anchor: Anchor | None = None

    @property
    def exit_code(self) -> int:
        return self.outcome.value

    def to_json(self) -> dict[str, Any]:
        record = self.record
        anchor = self.anchor
        return {
            "outcome": self.outcome.name,
            "reason": self.reason,
            "message": self.message,
            "issuer": self.issuer,
            "credential_id": None if self.credential_id is None else self.credential_id.hex(),
            "record": None if record is None else _record_json(record),
            "checkpoint": None if anchor is None else _anchor_json(anchor),
        }


def _record_json(record: StatusRecord) -> dict[str, Any]:
    return {
        "status": record.status.name.lower(),
        "schema_id": record.schema_id.hex(),
        "valid_from_s": record.valid_from,
        "valid_until_s": record.valid_until,
        "issued_height": record.issued_height,
        "updated_height": record.updated_height,
        "reason": record.reason,
    }


def _anchor_json(anchor: Anchor) -> dict[str, Any]:
    return {
        "chain_id": anchor.chain_id,
        "contract": anchor.contract,
        "epoch": anchor.epoch,
        "latest_epoch": anchor.latest_epoch,
        "epochs_behind": anchor.epochs_behind,
        "block_number": anchor.block_number,
        "confirmations": anchor.confirmations,
        "anchored_at_s": anchor.anchored_at_s,
        "age_s": anchor.age_s,
        "signers": list(anchor.signers),
        "threshold": anchor.threshold,
    }
