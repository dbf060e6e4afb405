"""Sided Merkle paths agree with RFC 9162; the compact form round-trips; the bundle is small."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from node.core import merkle_log
from node.verify import from_compact, load_bundle, parse_bundle, to_compact
from node.verify.checks import check_evidence
from node.verify.paths import fold, inclusion_path, rfc9162_sides
from tests.verify.world import World


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_sided_paths_fold_to_the_rfc9162_root(size_index: tuple[int, int]) -> None:
    size, index = size_index
    leaves = [merkle_log.leaf_hash(b"%d" % i) for i in range(size)]
    path, sides = inclusion_path(leaves, index)
    root = merkle_log.root(leaves)
    merkle_log.verify_inclusion(leaves[index], index, size, path, root)
    assert fold(leaves[index], path, sides) == root
    assert len(sides) == len(path) == len(rfc9162_sides(index, size))


def test_the_compact_form_round_trips(world: World) -> None:
    for label in ("valid", "revoked", "never"):
        doc = world.bundle(label, history=True)
        parsed = parse_bundle(doc)
        compact = to_compact(parsed)
        back = from_compact(compact)
        assert to_compact(back) == compact
        assert (back.status, back.credential) == (parsed.status, parsed.credential)
        assert len(compact) < len(json.dumps(doc, separators=(",", ":"))) / 1.5


def test_the_committed_examples_hold_their_own_evidence() -> None:
    examples = Path(__file__).resolve().parents[2] / "docs" / "examples"
    found = sorted(examples.glob("bundle-*"))
    assert len(found) >= 4
    for path in found:
        bundle = load_bundle(path.read_bytes())
        evidence = check_evidence(bundle)  # every check that needs no chain
        assert evidence.checkpoint.epoch == 1 and len(evidence.signers) == 3
