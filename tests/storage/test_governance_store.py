"""The store's side of governance: the event index, admission, removal, forced rotation,
and that all of it survives a reopen and a rebuild."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.core.errors import NotMemberError
from node.core.events import GovernanceProposed, GovernanceVoted
from node.core.governance import Governance, advance, genesis_governance
from node.core.hashing import sha256
from node.core.keys import AgencyKeys
from node.core.proposals import AddAgency, RemoveAgency, RotateKeys
from node.storage import LedgerStore
from node.storage.integrity import rebuild, verify
from tests.factories import NOW_MS, TestNetwork, issue_events, schema_event

EXPIRES = 2_000_000_000


def _fold(store: LedgerStore, gov: Governance) -> Governance:
    """What the governance service does for one signed checkpoint at the current heads."""
    heights = {a: h.height for a, h in store.heads().items()}
    events = [
        e
        for a, h in heights.items()
        for e in store.governance_events(a, gov.cut_heights.get(a, 0), h)
    ]
    new = advance(
        gov,
        epoch=gov.epoch + 1,
        checkpoint_hash=sha256(b"checkpoint %d" % (gov.epoch + 1)),
        timestamp_ms=NOW_MS,
        cut_heights=heights,
        events=events,
    )
    assert store.apply_governance(new) == []
    return new


def _author(store: LedgerStore, net: TestNetwork, agency: str, events: list, keys=None) -> None:  # type: ignore[no-untyped-def, type-arg]
    store.author(agency, events, keys or net.keys[agency], now_ms=NOW_MS)


def test_index_admission_removal_and_reopen(tmp_path: Path, net: TestNetwork) -> None:
    a0, a1, a2 = net.agency_ids
    new_keys = AgencyKeys.generate()
    add = AddAgency("gi.new", new_keys.ed25519_public, new_keys.secp256k1_address)
    proposal = GovernanceProposed(add, EXPIRES)
    pid = proposal.proposal_id(a0)
    path = tmp_path / "ledger"
    with LedgerStore.open(path, net.genesis) as store:
        _author(store, net, a0, [schema_event(), proposal])
        _author(store, net, a1, [GovernanceVoted(pid)])
        assert [e.event for e in store.governance_events(a0, 0, 1)] == [proposal]
        assert store.proposal_votes(pid) == (a0, {a0, a1})
        assert store.proposal_votes(sha256(b"nothing")) == (None, set())
        gov = _fold(store, genesis_governance(net.genesis))
        assert gov.is_active("gi.new") and "gi.new" in store.heads()
        assert store.initial_agency("gi.new").ed25519_public == new_keys.ed25519_public  # type: ignore[union-attr]
        # the admitted agency writes with its own key
        store.author("gi.new", [schema_event(), *issue_events(3)], new_keys, now_ms=NOW_MS)
        remove = GovernanceProposed(RemoveAgency(a2), EXPIRES)
        _author(store, net, a2, [schema_event()])
        _author(store, net, a0, [remove])
        _author(store, net, a1, [GovernanceVoted(remove.proposal_id(a0))])
        gov = _fold(store, gov)
        assert store.removed_height(a2) == 1
        with pytest.raises(NotMemberError, match="removed"):
            _author(store, net, a2, issue_events(1))
    with LedgerStore.open(path, net.genesis) as store:  # all of it is durable
        assert store.governance() == gov
        assert store.governance(1) is not None and store.governance(1).epoch == 1  # type: ignore[union-attr]
        assert store.governance(0) is None
        assert store.removed_height(a2) == 1
        assert store.head("gi.new").height == 1
        assert verify(store).ok
        rebuild(store)
        assert verify(store).ok
        assert store.head("gi.new").height == 1


def test_forced_rotation_applies_after_the_cut_height(tmp_path: Path, net: TestNetwork) -> None:
    a0, a1, a2 = net.agency_ids
    replacement = AgencyKeys.generate()
    rotate = GovernanceProposed(
        RotateKeys(a2, replacement.ed25519_public, replacement.secp256k1_address), EXPIRES
    )
    with LedgerStore.open(tmp_path / "ledger", net.genesis) as store:
        _author(store, net, a2, [schema_event()])
        _author(store, net, a0, [rotate])
        _author(store, net, a1, [GovernanceVoted(rotate.proposal_id(a0))])
        _fold(store, genesis_governance(net.genesis))
        assert store.head(a2).ed25519_public == replacement.ed25519_public
        assert store.key_at(a2, 1) == net.keys[a2].ed25519_public
        assert store.key_at(a2, 2) == replacement.ed25519_public
        with pytest.raises(NotMemberError):
            _author(store, net, a2, issue_events(1))  # the lost key no longer signs
        _author(store, net, a2, issue_events(1), replacement)
        rebuild(store)
        assert verify(store).ok
        assert store.head(a2).height == 2
