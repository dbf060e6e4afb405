"""``verify_bundle``: a bundle in, a :class:`~node.verify.verdict.Verdict` out, the chain read
through any :class:`~node.verify.chain.ChainReader`."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from node.core.eip712 import normalise_address
from node.core.errors import CalpeError, EncodingError
from node.verify.bundle import ProofBundle, from_compact, parse_bundle
from node.verify.chain import ChainReader, read_facts
from node.verify.checks import (
    DEFAULT_MIN_CONFIRMATIONS,
    CheckFailedError,
    Policy,
    check_evidence,
    check_target,
    evaluate,
    invalid,
)
from node.verify.verdict import Reason, Verdict

BundleInput = ProofBundle | Mapping[str, Any] | bytes | str


def load_bundle(value: BundleInput) -> ProofBundle:
    """A bundle from a parsed JSON document, JSON text, or the compact (CBOR) bytes."""
    if isinstance(value, ProofBundle):
        return value
    if isinstance(value, bytes) and value[:1] != b"{":
        return from_compact(value)
    if isinstance(value, bytes | str):
        try:
            value = json.loads(value)
        except (ValueError, UnicodeDecodeError) as exc:
            raise EncodingError(f"the bundle is neither JSON nor a compact bundle: {exc}") from exc
    return parse_bundle(dict(value) if isinstance(value, Mapping) else value)


def verify_bundle(
    bundle: BundleInput,
    chain_reader: ChainReader,
    *,
    contract: str,
    min_confirmations: int = DEFAULT_MIN_CONFIRMATIONS,
    max_age_s: int | None = None,
    now_s: int | None = None,
) -> Verdict:
    """Verify ``bundle`` against the checkpoint contract ``contract`` (the address the caller
    trusts; EIP-55, lowercase, or the EIP-1191 checksum of the endpoint's chain).

    A bundle that fails a check gives an INVALID verdict naming the reason. Raises
    :class:`~node.verify.chain.ChainReadError` when the chain cannot be read, and
    :class:`~node.core.errors.ConfigError` when ``contract`` is not an address.
    """
    try:
        parsed = load_bundle(bundle)
    except CalpeError as exc:
        return invalid(None, CheckFailedError(Reason.MALFORMED, f"unreadable bundle: {exc}"))
    try:
        evidence = check_evidence(parsed)
    except CheckFailedError as failure:
        return invalid(parsed, failure)
    chain_id = chain_reader.chain_id()
    trusted = normalise_address(contract, chain_id)
    try:
        check_target(evidence.checkpoint, trusted, chain_id)
    except CheckFailedError as failure:
        return invalid(parsed, failure)
    facts = read_facts(chain_reader, trusted, evidence.checkpoint.epoch)
    policy = Policy(min_confirmations, max_age_s)
    return evaluate(
        parsed, facts, now_s=int(time.time()) if now_s is None else now_s, policy=policy
    )
