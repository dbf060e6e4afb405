"""Two validly signed blocks at one height: keep both, freeze the agency, tell the caller."""

from __future__ import annotations

from pathlib import Path

from node.core.equivocation import verify_proof
from node.core.events import AgencyKeyRotated
from node.core.keys import AgencyKeys
from node.storage import LedgerStore
from node.storage.integrity import rebuild, verify
from tests.factories import NOW_MS, TestNetwork, issue_events, schema_event
from tests.storage.builders import next_block, snapshot


def _fork_pair(tmp_path: Path, net: TestNetwork, agency: str) -> tuple[LedgerStore, bytes, bytes]:
    """Our store holds agency's block 2; ``other`` is a different signed block 2."""
    store = LedgerStore.open(tmp_path / "ours", net.genesis)
    store.author(agency, [schema_event()], net.keys[agency], now_ms=NOW_MS)
    alt = next_block(store, net, agency, issue_events(3))
    ours = store.author(agency, issue_events(3), net.keys[agency], now_ms=NOW_MS).block
    return store, ours.encode(), alt.encode()


def test_equivocation_is_stored_and_freezes(tmp_path: Path, net: TestNetwork) -> None:
    agency = net.agency_ids[0]
    store, ours, alt = _fork_pair(tmp_path, net, agency)
    with store:
        result = store.ingest(alt, now_ms=NOW_MS)
        assert result.outcome == "equivocation" and result.proof is not None
        verify_proof(result.proof, net.keys[agency].ed25519_public)
        assert store.head(agency).frozen
        assert store.head(agency).height == 2
        assert store.block_bytes(agency, 2) == ours
        (proof,) = store.equivocation_proofs(agency)
        assert proof == result.proof
        # the same conflicting block again changes nothing more
        before = snapshot(store.raw_db)
        assert store.ingest(alt, now_ms=NOW_MS).outcome == "equivocation"
        assert snapshot(store.raw_db) == before
    with LedgerStore.open(tmp_path / "ours", net.genesis) as reopened:
        assert reopened.head(agency).frozen
        assert reopened.heads()[net.agency_ids[1]].frozen is False
        assert verify(reopened).ok
        assert rebuild(reopened).ok
        assert reopened.head(agency).frozen
        assert verify(reopened).ok


def test_fork_signed_by_the_key_valid_at_that_height(tmp_path: Path, net: TestNetwork) -> None:
    """After a key rotation, a fork below the rotation must carry the old key's signature."""
    agency = net.agency_ids[1]
    old_keys, new_keys = net.keys[agency], AgencyKeys.generate()
    with LedgerStore.open(tmp_path / "db", net.genesis) as store:
        store.author(agency, [schema_event()], old_keys, now_ms=NOW_MS)
        alt = next_block(store, net, agency, issue_events(2))
        store.author(agency, issue_events(2), old_keys, now_ms=NOW_MS)
        rotation = AgencyKeyRotated(new_keys.ed25519_public, new_keys.secp256k1_address)
        store.author(agency, [rotation], old_keys, now_ms=NOW_MS)
        store.author(agency, issue_events(2), new_keys, now_ms=NOW_MS)
        assert store.key_at(agency, 3) == old_keys.ed25519_public
        assert store.key_at(agency, 4) == new_keys.ed25519_public
        result = store.ingest(alt, now_ms=NOW_MS)
        assert result.outcome == "equivocation"
        assert store.head(agency).frozen
