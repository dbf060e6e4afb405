"""Decoders under fuzzing: mutated valid encodings raise only the documented exceptions.

Each decoder gets hypothesis-driven mutations of its real seeds (``tests/faults/mutate.py``): bit
flips, truncations, insertions, CBOR/JSON tree edits with type swaps. Bounded for CI (a few
seconds per decoder); ``bench/fuzz_decoders.py`` is the million-input run.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.core.errors import EncodingError
from node.core.status import Status, StatusRecord, decode_status_record
from tests.faults.decoders import Target, run_one, targets
from tests.faults.mutate import mutate_bytes, mutate_input

TARGETS = targets()
EXAMPLES = 1200


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_seeds_decode(target: Target) -> None:
    for seed in target.seeds:
        assert run_one(target, seed), f"{target.name} refused its own valid seed"


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(data=st.data(), rng=st.randoms(use_true_random=False))
def test_mutations_raise_only_documented_errors(
    target: Target, data: st.DataObject, rng: random.Random
) -> None:
    seed = data.draw(st.sampled_from(target.seeds), label="seed")
    value = seed
    for _ in range(data.draw(st.integers(1, 3), label="rounds")):
        value = mutate_input(value, rng, json_doc=target.json)
    run_one(target, value)


@pytest.mark.parametrize("target", [t for t in TARGETS if not t.json], ids=lambda t: t.name)
@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(data=st.binary(max_size=512))
def test_arbitrary_bytes_raise_only_documented_errors(target: Target, data: bytes) -> None:
    run_one(target, data)


@pytest.mark.parametrize("target", [t for t in TARGETS if not t.json], ids=lambda t: t.name)
def test_every_truncation_is_refused_or_decoded(target: Target) -> None:
    for seed in target.seeds:
        for end in range(len(seed)):
            run_one(target, seed[:end])


def test_a_status_record_with_a_reason_outside_its_enum_is_an_encoding_error() -> None:
    """Found by this fuzzing: the verifier rendered such a record and raised ValueError."""
    record = StatusRecord("gi.a", b"\x01" * 32, b"\x02" * 32, Status.SUSPENDED, 0, None, 1, 2, 9)
    with pytest.raises(EncodingError, match="not a suspended reason"):
        decode_status_record(record.encode())


def test_mutation_is_deterministic_for_a_seeded_random() -> None:
    """The long run's seed reproduces its inputs (so a reported failure can be replayed)."""
    data = bytes(range(64))
    first = [mutate_bytes(data, random.Random(5)) for _ in range(3)]
    assert first == [mutate_bytes(data, random.Random(5)) for _ in range(3)]
