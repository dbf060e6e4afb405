"""Bundles of every status, made by the node's own code from a ledger anchored on anvil,
verified against the chain through the RSK-strict proxy."""

from __future__ import annotations

import pytest

from node.verify import Outcome, Reason, RpcChainReader, verify_bundle
from tests.verify.world import NOW_S, World

EXPECTED = {
    "valid": Outcome.VALID,
    "revoked": Outcome.REVOKED,
    "suspended": Outcome.SUSPENDED,
    "expired": Outcome.EXPIRED,
    "future": Outcome.NOT_YET_VALID,
    "never": Outcome.UNKNOWN,
}


@pytest.mark.parametrize("label", sorted(EXPECTED))
@pytest.mark.parametrize("history", [False, True])
def test_each_status_verifies(world: World, label: str, history: bool) -> None:
    bundle = world.bundle(label, history=history)
    assert bundle["checkpoint"]["epoch"] == world.epoch
    verdict = verify_bundle(
        bundle, RpcChainReader(world.rpc_url), contract=world.contract, now_s=NOW_S
    )
    assert verdict.outcome is EXPECTED[label], verdict.message
    assert verdict.reason == Reason.OK
    assert verdict.anchor is not None and verdict.anchor.epoch == world.epoch
    assert verdict.anchor.confirmations >= 12 and len(verdict.anchor.signers) == 3
