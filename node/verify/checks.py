"""The verifier's checks: pure functions of a parsed bundle, the chain's facts, and the time.

In order (the first failure decides, with its own reason code):

1. the display fields (``status``, ``credential``) say what the record says, and the record is
   the bundle's issuer's and credential's;
2. the state proof shows the record (or the id's absence) under the head's ``state_root``;
3. the history proof, if present, shows the block that last changed the record in the
   issuer's log under the head's ``log_root``;
4. the head is the issuer's cut leaf, and its path leads to the checkpoint root;
5. every signature recovers, from the EIP-712 digest bound to the bundle's chain id and
   contract, to the address it is listed under;
6. the bundle is for the contract and chain the caller trusts, and the contract is of the
   bundle's network;
7. the contract anchored exactly this root for this epoch;
8. every signer is in the contract's current signer set, and at least ``threshold`` signed;
9. the anchoring block has enough confirmations and is recent enough.

Only then does the record decide: revoked, suspended, expired, not yet valid, valid or unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from node.core import eip712, merkle_log, smt
from node.core.errors import CalpeError, ProofError, SignatureError
from node.core.hashing import ZERO_HASH, sha256
from node.core.status import Status, StatusRecord, decode_status_record
from node.verify.bundle import CheckpointProof, ProofBundle
from node.verify.chain import ChainFacts
from node.verify.paths import verify_path
from node.verify.render import credential_of, status_of
from node.verify.verdict import Anchor, Outcome, Reason, Verdict

DEFAULT_MIN_CONFIRMATIONS = 12


@dataclass(frozen=True, slots=True)
class Policy:
    """What the verifier demands beyond the proofs."""

    min_confirmations: int = DEFAULT_MIN_CONFIRMATIONS
    """Blocks on top of (and including) the anchoring block."""
    max_age_s: int | None = None
    """Refuse a checkpoint anchored longer ago than this."""


class CheckFailedError(Exception):
    """One failed check: its stable reason code and a message for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the bundle proves by itself, before the chain is asked."""

    record: StatusRecord | None
    checkpoint: CheckpointProof
    signers: tuple[str, ...]


def check_evidence(bundle: ProofBundle) -> Evidence:
    """Checks 1 to 5; :class:`CheckFailedError` on the first that fails."""
    record = _record(bundle)
    _state(bundle, record)
    _history(bundle, record)
    checkpoint = bundle.checkpoint
    if checkpoint is None:
        raise CheckFailedError(
            Reason.NO_CHECKPOINT,
            "the bundle carries no checkpoint, so nothing ties it to the chain: fetch a fresh "
            "one from a node once its checkpoints are anchored",
        )
    if bundle.head.agency_id != bundle.issuer:
        raise CheckFailedError(Reason.WRONG_ISSUER_LEAF, "the head is not the issuer's cut leaf")
    try:
        verify_path(bundle.head.leaf_hash(), checkpoint.path, checkpoint.sides, checkpoint.root)
    except ProofError as exc:
        raise CheckFailedError(Reason.BAD_CUT_PROOF, str(exc)) from exc
    return Evidence(record, checkpoint, _signers(bundle, checkpoint))


def _record(bundle: ProofBundle) -> StatusRecord | None:
    try:
        record = None if bundle.record is None else decode_status_record(bundle.record)
        status, credential = status_of(bundle.record), credential_of(bundle.record)
    except CalpeError as exc:
        raise CheckFailedError(Reason.MALFORMED, f"record: {exc}") from exc
    if bundle.status != status or bundle.credential != credential:
        raise CheckFailedError(
            Reason.DISPLAY_MISMATCH, "the bundle's status or credential disagree with its record"
        )
    if record is not None and (
        record.issuer != bundle.issuer or record.credential_id != bundle.credential_id
    ):
        raise CheckFailedError(
            Reason.RECORD_MISMATCH, "the record is of another issuer or credential"
        )
    return record


def _state(bundle: ProofBundle, record: StatusRecord | None) -> None:
    root, key = bundle.head.state_root, bundle.credential_id
    try:
        proof = smt.SmtProof.from_bytes(bundle.state_proof)
        if record is None:
            smt.verify_non_membership(root, key, proof)
        else:
            smt.verify_membership(root, key, sha256(record.encode()), proof)
    except ProofError as exc:
        raise CheckFailedError(Reason.BAD_STATE_PROOF, str(exc)) from exc


def _history(bundle: ProofBundle, record: StatusRecord | None) -> None:
    history = bundle.history
    if history is None:
        return
    if record is None or history.height != record.updated_height:
        raise CheckFailedError(
            Reason.BAD_HISTORY_PROOF, "the history proof is not of the block that set the record"
        )
    try:
        merkle_log.verify_inclusion(
            merkle_log.leaf_hash(history.block_hash),
            history.height - 1,
            bundle.head.height,
            history.path,
            bundle.head.log_root,
        )
    except ProofError as exc:
        raise CheckFailedError(Reason.BAD_HISTORY_PROOF, str(exc)) from exc


def _signers(bundle: ProofBundle, cp: CheckpointProof) -> tuple[str, ...]:
    try:
        digest = eip712.checkpoint_digest(
            cp.chain_id, cp.contract, bundle.network_id, cp.epoch, cp.root
        )
    except ValueError as exc:
        raise CheckFailedError(Reason.MALFORMED, f"checkpoint: {exc}") from exc
    signers: list[str] = []
    for listed, signature in cp.signatures:
        try:
            signer = eip712.recover_signer(digest, signature)
        except SignatureError as exc:
            raise CheckFailedError(Reason.BAD_SIGNATURE, f"signature of {listed}: {exc}") from exc
        if signer != listed or signer in signers:
            raise CheckFailedError(
                Reason.BAD_SIGNATURE,
                f"the signature listed under {listed} is not {listed}'s on this checkpoint "
                "(or is listed twice)",
            )
        signers.append(signer)
    return tuple(signers)


def check_target(cp: CheckpointProof, contract: str, chain_id: int) -> None:
    """Check 6 (first part): the bundle names the contract and chain the caller trusts."""
    if cp.contract.lower() != contract.lower():
        raise CheckFailedError(
            Reason.WRONG_CONTRACT,
            f"the bundle's checkpoint was signed for contract {cp.contract}, not {contract}: "
            "check --contract, or get a bundle of the network you trust",
        )
    if cp.chain_id != chain_id:
        raise CheckFailedError(
            Reason.WRONG_CHAIN,
            f"the bundle's checkpoint is for chain id {cp.chain_id}, but the endpoint serves "
            f"chain id {chain_id}: use an endpoint of chain {cp.chain_id}",
        )


def check_chain(
    bundle: ProofBundle, evidence: Evidence, facts: ChainFacts, now_s: int, policy: Policy
) -> Anchor:
    """Checks 6 to 9 against the chain; :class:`CheckFailedError` on the first that fails."""
    cp = evidence.checkpoint
    check_target(cp, facts.contract, facts.chain_id)
    if facts.network_id != bundle.network_id:
        raise CheckFailedError(
            Reason.WRONG_NETWORK,
            f"contract {facts.contract} anchors network {facts.network_id.hex()[:16]}…, not the "
            f"bundle's {bundle.network_id.hex()[:16]}…",
        )
    if facts.root == ZERO_HASH or facts.anchored_block == 0 or facts.epoch != cp.epoch:
        raise CheckFailedError(
            Reason.NOT_ANCHORED,
            f"epoch {cp.epoch} is not anchored on chain (latest anchored epoch: "
            f"{facts.latest_epoch}): the checkpoint may still be on its way; retry later or "
            "fetch a fresh bundle",
        )
    if facts.root != cp.root:
        raise CheckFailedError(
            Reason.ROOT_MISMATCH,
            f"the chain anchored another root for epoch {cp.epoch}: this bundle's checkpoint "
            "is not the network's",
        )
    strangers = [s for s in evidence.signers if s not in facts.signers]
    if strangers:
        raise CheckFailedError(
            Reason.NOT_A_SIGNER,
            f"{', '.join(strangers)} not in the contract's current signer set: fetch a fresh "
            "bundle (the signer set may have changed)",
        )
    if len(evidence.signers) < facts.threshold:
        raise CheckFailedError(
            Reason.NO_QUORUM,
            f"{len(evidence.signers)} member signature(s), the contract requires {facts.threshold}",
        )
    anchor = _anchor(facts, evidence.signers, now_s)
    if anchor.confirmations < policy.min_confirmations:
        raise CheckFailedError(
            Reason.UNCONFIRMED,
            f"the anchoring block has {anchor.confirmations} confirmation(s), fewer than "
            f"{policy.min_confirmations}: wait and retry",
        )
    if policy.max_age_s is not None and anchor.age_s > policy.max_age_s:
        raise CheckFailedError(
            Reason.TOO_OLD,
            f"the checkpoint was anchored {format_age(anchor.age_s)} ago, longer than the "
            f"{format_age(policy.max_age_s)} allowed: fetch a fresh bundle (--node)",
        )
    return anchor


def _anchor(facts: ChainFacts, signers: tuple[str, ...], now_s: int) -> Anchor:
    return Anchor(
        chain_id=facts.chain_id,
        contract=facts.contract,
        epoch=facts.epoch,
        latest_epoch=facts.latest_epoch,
        block_number=facts.anchored_block,
        confirmations=max(0, facts.head_block - facts.anchored_block + 1),
        anchored_at_s=facts.anchored_at_s,
        age_s=max(0, now_s - facts.anchored_at_s),
        signers=tuple(sorted(signers, key=str.lower)),
        threshold=facts.threshold,
    )


def outcome_of(record: StatusRecord | None, now_s: int) -> Outcome:
    """What a proven record means at ``now_s``."""
    if record is None:
        return Outcome.UNKNOWN
    if record.status is Status.REVOKED:
        return Outcome.REVOKED
    if record.status is Status.SUSPENDED:
        return Outcome.SUSPENDED
    if now_s < record.valid_from:
        return Outcome.NOT_YET_VALID
    if record.valid_until is not None and now_s >= record.valid_until:
        return Outcome.EXPIRED
    return Outcome.VALID


def evaluate(
    bundle: ProofBundle, facts: ChainFacts, *, now_s: int, policy: Policy = Policy()
) -> Verdict:
    """Every check, without I/O: the verdict on ``bundle`` given what the chain said."""
    try:
        evidence = check_evidence(bundle)
        anchor = check_chain(bundle, evidence, facts, now_s, policy)
    except CheckFailedError as failure:
        return invalid(bundle, failure)
    outcome = outcome_of(evidence.record, now_s)
    return Verdict(
        outcome,
        Reason.OK,
        describe(outcome, evidence.record, anchor),
        bundle.issuer,
        bundle.credential_id,
        evidence.record,
        anchor,
    )


def invalid(bundle: ProofBundle | None, failure: CheckFailedError) -> Verdict:
    return Verdict(
        Outcome.INVALID,
        failure.reason,
        failure.message,
        None if bundle is None else bundle.issuer,
        None if bundle is None else bundle.credential_id,
    )


def describe(outcome: Outcome, record: StatusRecord | None, anchor: Anchor) -> str:
    """One line for people: what was proven, under which checkpoint, how fresh."""
    what = {
        Outcome.VALID: "is active",
        Outcome.REVOKED: "is revoked",
        Outcome.SUSPENDED: "is suspended",
        Outcome.EXPIRED: "has expired",
        Outcome.NOT_YET_VALID: "is not valid yet",
        Outcome.UNKNOWN: "was never issued by this issuer",
    }[outcome]
    if record is not None and outcome in (Outcome.VALID, Outcome.EXPIRED):
        until = record.valid_until
        what += " (no end date)" if until is None else f" (valid until {_date(until)})"
    if outcome is Outcome.NOT_YET_VALID and record is not None:
        what += f" (from {_date(record.valid_from)})"
    behind = anchor.epochs_behind
    newer = f"; {behind} newer checkpoint(s) on chain" if behind else "; the latest checkpoint"
    return (
        f"{what}, as of checkpoint epoch {anchor.epoch} anchored in block "
        f"{anchor.block_number} ({anchor.confirmations} confirmations) "
        f"{format_age(anchor.age_s)} ago{newer}"
    )


def _date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_age(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds} s"
