"""Any alteration of a bundle's evidence gives INVALID; the wrong contract, chain or epoch too.

The property test reads the chain once through :class:`Recorded` (the real endpoint's answers,
kept), so hundreds of altered bundles are judged without hundreds of RPC round trips.
"""

from __future__ import annotations

import copy
import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.core.errors import ConfigError
from node.verify import Outcome, Reason, RpcChainReader, Verdict, verify_bundle
from node.verify.chain import ChainReader
from tests.verify.world import NOW_S, World, checkpoint_now

INFORMATIONAL = {("network",), ("generated_ms",), ("head", "timestamp_ms")}
"""Fields no check covers (``docs/proof-bundle.md``): altering them changes nothing."""

Path = tuple[Any, ...]


class Recorded:
    """A :class:`ChainReader` that asks the real endpoint once per distinct question."""

    def __init__(self, inner: ChainReader) -> None:
        self._inner = inner
        self._answers: dict[tuple[Any, ...], Any] = {}

    def _ask(self, key: tuple[Any, ...], fn: Any, *args: Any) -> Any:
        if key not in self._answers:
            self._answers[key] = fn(*args)
        return self._answers[key]

    def chain_id(self) -> int:
        return int(self._ask(("chain_id",), self._inner.chain_id))

    def block_number(self) -> int:
        return int(self._ask(("block_number",), self._inner.block_number))

    def block_timestamp(self, number: int) -> int:
        return int(self._ask(("ts", number), self._inner.block_timestamp, number))

    def call(self, contract: str, data: bytes) -> bytes:
        return bytes(self._ask(("call", contract, data), self._inner.call, contract, data))


def judge(world: World, doc: Any, reader: ChainReader, **kwargs: Any) -> Verdict:
    options: dict[str, Any] = {"contract": world.contract, "now_s": NOW_S, **kwargs}
    return verify_bundle(doc, reader, **options)


def leaf_paths(value: Any, prefix: Path = ()) -> list[Path]:
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in leaf_paths(v, (*prefix, k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in leaf_paths(v, (*prefix, i))]
    return [prefix]


def get(doc: Any, path: Path) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def put(doc: Any, path: Path, value: Any) -> Any:
    out = copy.deepcopy(doc)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


def rename(doc: Any, path: Path, new_key: str) -> Any:
    out = copy.deepcopy(doc)
    target = get(out, path[:-1])
    target[new_key] = target.pop(path[-1])
    return out


HEX = "0123456789abcdef"


@st.composite
def altered(draw: st.DrawFn, old: Any) -> Any:
    """A different value of roughly the same kind as ``old``."""
    new: Any
    if isinstance(old, bool) or old is None:
        new = draw(st.one_of(st.integers(0, 5), st.text(max_size=4), st.just({})))
    elif isinstance(old, int):
        new = draw(st.one_of(st.integers(0, 2**64 - 1), st.integers(old - 3, old + 3)))
    elif isinstance(old, str) and old and all(c in HEX for c in old.removeprefix("0x")):
        i = draw(st.integers(len(old) - len(old.removeprefix("0x")), len(old) - 1))
        flip = draw(st.sampled_from(HEX + "ABCDEF").filter(lambda c: c != old[i]))
        new = draw(st.sampled_from([old[:i] + flip + old[i + 1 :], old[:-2], old + "00"]))
    elif isinstance(old, str):
        new = draw(st.one_of(st.text(string.ascii_letters + ".", max_size=12), st.just(old[::-1])))
    else:
        new = draw(st.one_of(st.just([]), st.just({}), st.integers(0, 9)))
    return new if new != old else draw(st.just(None if old is not None else 0))


@pytest.fixture(scope="module")
def recorded(world: World) -> Recorded:
    return Recorded(RpcChainReader(world.rpc_url))


@pytest.fixture(scope="module")
def originals(world: World) -> dict[str, dict[str, Any]]:
    return {
        "valid": world.bundle("valid", history=True),
        "revoked": world.bundle("revoked", history=True),
        "never": world.bundle("never"),
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_altering_any_field_gives_invalid(
    world: World, recorded: Recorded, originals: dict[str, dict[str, Any]], data: st.DataObject
) -> None:
    label = data.draw(st.sampled_from(sorted(originals)))
    doc = originals[label]
    before = judge(world, doc, recorded)
    assert before.outcome is not Outcome.INVALID, before.message
    path = data.draw(st.sampled_from(leaf_paths(doc)))
    old = get(doc, path)
    mutated = put(doc, path, data.draw(altered(old)))
    if mutated == doc:
        return
    verdict = judge(world, mutated, recorded)
    if path in INFORMATIONAL:
        assert verdict.outcome is before.outcome
    elif path == ("credential_id",) and label == "never" and verdict.outcome is Outcome.UNKNOWN:
        # An absence proof covers every id on its path (an empty subtree, or another id's
        # leaf): the verdict is then true of the id it names, the altered one.
        assert verdict.credential_id is not None
        assert verdict.credential_id.hex() == mutated["credential_id"]
    else:
        assert verdict.outcome is Outcome.INVALID, (path, verdict.message)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_signature_under_another_signers_name_gives_invalid(
    world: World, recorded: Recorded, originals: dict[str, dict[str, Any]], data: st.DataObject
) -> None:
    doc = originals["valid"]
    signers = sorted(doc["checkpoint"]["signatures"])
    listed = data.draw(st.sampled_from(signers))
    other = data.draw(
        st.sampled_from([s for s in signers if s != listed] + [listed.lower(), "0x" + "11" * 20])
    )
    swapped = copy.deepcopy(doc)
    sigs = swapped["checkpoint"]["signatures"]
    sigs[listed], sigs[other] = sigs.get(other, sigs[listed]), sigs[listed]
    if other.lower() == other and other != listed.lower():
        del sigs[listed]
    if swapped == doc:
        return
    assert judge(world, swapped, recorded).outcome is Outcome.INVALID


def test_paths_longer_or_shorter_give_invalid(
    world: World, recorded: Recorded, originals: dict[str, dict[str, Any]]
) -> None:
    doc = originals["valid"]
    for path in (("checkpoint", "path"), ("history", "path")):
        items = get(doc, path)
        for changed in (items[:-1], [*items, items[0]], [items[0], *items]):
            verdict = judge(world, put(doc, path, changed), recorded)
            assert verdict.outcome is Outcome.INVALID, path


def test_too_few_signatures_give_no_quorum(
    world: World, recorded: Recorded, originals: dict[str, dict[str, Any]]
) -> None:
    doc = copy.deepcopy(originals["valid"])
    sigs = doc["checkpoint"]["signatures"]
    del sigs[sorted(sigs)[0]]
    assert judge(world, doc, recorded).outcome is Outcome.VALID  # 2 of 3 is the quorum
    del sigs[sorted(sigs)[0]]
    verdict = judge(world, doc, recorded)
    assert (verdict.outcome, verdict.reason) == (Outcome.INVALID, Reason.NO_QUORUM)


def test_the_wrong_contract_gives_invalid(world: World, fresh_world: World) -> None:
    reader = RpcChainReader(world.rpc_url)
    verdict = judge(world, world.bundle("valid"), reader, contract=fresh_world.contract)
    assert (verdict.outcome, verdict.reason) == (Outcome.INVALID, Reason.WRONG_CONTRACT)
    assert fresh_world.contract in verdict.message and world.contract in verdict.message


def test_a_bundle_claiming_the_trusted_contract_fails_its_signatures(
    world: World, fresh_world: World
) -> None:
    doc = world.bundle("valid")
    doc["checkpoint"]["contract"] = fresh_world.contract
    verdict = judge(world, doc, RpcChainReader(world.rpc_url), contract=fresh_world.contract)
    assert (verdict.outcome, verdict.reason) == (Outcome.INVALID, Reason.BAD_SIGNATURE)


def test_the_wrong_chain_id_gives_invalid(world: World) -> None:
    class OtherChain(Recorded):
        def chain_id(self) -> int:
            return 31

    verdict = judge(world, world.bundle("valid"), OtherChain(RpcChainReader(world.rpc_url)))
    assert (verdict.outcome, verdict.reason) == (Outcome.INVALID, Reason.WRONG_CHAIN)
    assert "31" in verdict.message and "33" in verdict.message


def test_an_epoch_not_on_chain_gives_invalid(fresh_world: World) -> None:
    checkpoint_now(fresh_world, anchor=False)  # signed by all three, never submitted
    doc = fresh_world.bundle("valid")
    assert doc["checkpoint"]["epoch"] == 1
    verdict = judge(fresh_world, doc, RpcChainReader(fresh_world.rpc_url))
    assert (verdict.outcome, verdict.reason) == (Outcome.INVALID, Reason.NOT_ANCHORED)
    assert "epoch 1 is not anchored" in verdict.message


def test_another_root_for_the_epoch_gives_invalid(fresh_world: World) -> None:
    checkpoint_now(fresh_world)
    doc = fresh_world.bundle("valid")
    # a second ledger of the same network, checkpointed in the same epoch with other contents
    doc_other = json.loads(json.dumps(doc))
    doc_other["checkpoint"]["root"] = "ab" * 32
    verdict = judge(fresh_world, doc_other, RpcChainReader(fresh_world.rpc_url))
    assert verdict.outcome is Outcome.INVALID


def test_too_few_confirmations_and_too_old(fresh_world: World) -> None:
    checkpoint_now(fresh_world, mine=0)
    doc = fresh_world.bundle("valid")
    reader = RpcChainReader(fresh_world.rpc_url)
    verdict = judge(fresh_world, doc, reader)
    assert (verdict.outcome, verdict.reason) == (Outcome.INVALID, Reason.UNCONFIRMED)
    assert judge(fresh_world, doc, reader, min_confirmations=1).outcome is Outcome.VALID
    at = judge(fresh_world, doc, reader, min_confirmations=1).anchor
    assert at is not None
    late = judge(
        fresh_world, doc, reader, min_confirmations=1, max_age_s=60, now_s=at.anchored_at_s + 61
    )
    assert (late.outcome, late.reason) == (Outcome.INVALID, Reason.TOO_OLD)


def test_a_bundle_without_checkpoint_gives_invalid(world: World) -> None:
    doc = world.bundle("valid")
    doc["checkpoint"] = None
    verdict = judge(world, doc, RpcChainReader(world.rpc_url))
    assert (verdict.outcome, verdict.reason) == (Outcome.INVALID, Reason.NO_CHECKPOINT)


def test_a_contract_with_a_bad_checksum_is_a_usage_error(world: World) -> None:
    body = world.contract[2:]
    flipped = "0x" + (body.swapcase() if body.lower() != body else body)
    with pytest.raises(ConfigError):
        judge(world, world.bundle("valid"), RpcChainReader(world.rpc_url), contract=flipped)
