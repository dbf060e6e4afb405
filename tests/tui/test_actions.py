"""Governance actions from typed fields: formats, membership rules, every error at once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui import validate
from tui.actions import FIELDS, build_action, typed_fields
from tui.client.fake_data import FAKE_NOW_MS
from tui.client.fake_governance import FakeGovernance
from tui.client.governance import AddAgency, RemoveAgency, SetCheckpointInterval, SetQuorum

GOV = FakeGovernance(FAKE_NOW_MS // 1000).document()  # gi.civil, gi.health, gi.transport; quorum 2
ED = "c3" * 32  # a point on Ed25519: the node refuses other keys
ADDRESS = "0x" + "AB" * 20


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("gi.transport", True),
        ("gi", True),
        ("gi.a.b.c", True),
        ("gi.a-b", True),
        ("gi.a.b.c.d", False),  # at most 4 words
        ("Gi.transport", False),
        ("1gi", False),
        ("gi.", False),
        ("gi.-x", False),
        ("gi." + "x" * 30, False),  # longer than 32
        ("", False),
    ],
)
def test_agency_id_pattern(value: str, ok: bool) -> None:
    assert (validate.agency_id(value) is None) is ok


def test_keys_and_addresses() -> None:
    assert validate.ed25519_key(ED) is None and validate.ed25519_key(ED.upper()) is None
    assert validate.ed25519_key("0x" + ED[2:]) is not None
    assert validate.ed25519_key(ED[:-1]) is not None
    assert validate.evm_address(ADDRESS) is None
    assert validate.evm_address(ADDRESS[2:]) is not None
    assert validate.evm_address(ADDRESS + "0") is not None
    assert validate.multiaddrs("") == ((), None)
    found, error = validate.multiaddrs("/ip4/10.0.0.5/tcp/7400,/dns4/a.gov.gi/tcp/1 ")
    assert error is None and found == ("/ip4/10.0.0.5/tcp/7400", "/dns4/a.gov.gi/tcp/1")
    assert validate.multiaddrs("/ip4/1.2.3.4/udp/1")[1] is not None
    assert validate.multiaddrs(" ".join(["/ip4/1.2.3.4/tcp/1"] * 5))[1] == "at most 4 addresses"


@given(st.integers(min_value=-10, max_value=700_000))
def test_interval_bounds(seconds: int) -> None:
    action, errors = build_action("set_checkpoint_interval", {"seconds": str(seconds)}, GOV)
    if 5 <= seconds <= 604_800:
        assert action == SetCheckpointInterval(seconds=seconds) and errors == []
    else:
        assert action is None and "5..604800" in errors[0]


@pytest.mark.parametrize(("quorum", "ok"), [("1", True), ("3", True), ("0", False), ("4", False)])
def test_quorum_is_one_to_active_members(quorum: str, ok: bool) -> None:
    action, errors = build_action("set_quorum", {"quorum": quorum}, GOV)
    assert (action == SetQuorum(quorum=int(quorum))) is ok
    assert bool(errors) is not ok


def test_every_error_at_once_and_membership() -> None:
    typed = {"agency_id": "gi.port", "ed25519": "x", "secp256k1_address": "y", "addresses": "z"}
    action, errors = build_action("add_agency", typed, GOV)
    assert action is None and len(errors) == 4
    assert build_action("remove_agency", {"agency_id": "gi.port"}, GOV)[1] == [
        "gi.port is not an active member"
    ]
    assert build_action("remove_agency", {"agency_id": "gi.civil"}, GOV)[0] == RemoveAgency(
        agency_id="gi.civil"
    )
    assert "choose what to propose" in build_action("freeze", {}, GOV)[1][0]


def test_keys_are_sent_lowercase_and_fields_round_trip() -> None:
    typed = {"agency_id": "gi.justice", "ed25519": ED.upper(), "secp256k1_address": ADDRESS}
    action, errors = build_action("add_agency", {**typed, "addresses": ""}, GOV)
    assert errors == [] and isinstance(action, AddAgency)
    assert (action.ed25519, action.secp256k1_address) == (ED, ADDRESS.lower())
    assert build_action("add_agency", typed_fields(action), GOV) == (action, [])
    assert set(typed_fields(action)) == set(FIELDS["add_agency"])
