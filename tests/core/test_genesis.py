from __future__ import annotations

import json
from typing import Any

import pytest

from node.core.errors import ConfigError
from node.core.genesis import genesis_from_json
from tests.factories import make_network


def _doc() -> dict[str, Any]:
    return json.loads(make_network(3).genesis.dumps())


def test_json_round_trip_keeps_the_network_id() -> None:
    net = make_network(3)
    again = genesis_from_json(json.loads(net.genesis.dumps()))
    assert again == net.genesis
    assert again.network_id == net.genesis.network_id


def test_network_id_ignores_formatting_but_not_content() -> None:
    doc = _doc()
    compact = genesis_from_json(json.loads(json.dumps(doc, separators=(",", ":"))))
    assert compact.network_id == genesis_from_json(doc).network_id
    doc["quorum"] = 3
    assert genesis_from_json(doc).network_id != compact.network_id


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("quorum"), "field 'quorum' is missing"),
        (lambda d: d.update(quorum=0), "field 'quorum'"),
        (lambda d: d.update(quorum=4), "field 'quorum'"),
        (lambda d: d.update(rsk_chain_id=1), "field 'rsk_chain_id'"),
        (lambda d: d.update(network="Has Spaces"), "field 'network'"),
        (lambda d: d["agencies"][0].update(ed25519="abcd"), "agencies[0].ed25519"),
        (lambda d: d["agencies"][0].update(ed25519="02" + "00" * 31), "agencies[0].ed25519"),
        (lambda d: d["agencies"][1].update(agency_id="BAD ID"), "agencies[1].agency_id"),
        (lambda d: d["agencies"][2].pop("secp256k1_address"), "secp256k1_address' is missing"),
        (lambda d: d["agencies"].reverse(), "sorted"),
        (lambda d: d["agencies"][1].update(agency_id=d["agencies"][0]["agency_id"]), "twice"),
        (lambda d: d["agencies"][0].update(name=""), "agencies[0].name"),
    ],
)
def test_bad_genesis_names_the_field(mutate: Any, message: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        genesis_from_json(doc, "genesis.json")
