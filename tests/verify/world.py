"""A three-agency ledger anchored on anvil, built in-process from real parts.

Real LevelDB store, blocks authored and signed with each agency's real keys, the checkpoint's
EIP-712 digest co-signed with each agency's secp256k1 key, submitted with ``ChainClient`` to a
real checkpoint contract on anvil behind the RSK-strict proxy, and bundles made by the node's own
``proof_bundle``. (``test_network_e2e.py`` does the same with three ``calpe node run`` processes.)
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.admin.proofs import proof_bundle
from node.core import eip712
from node.core.checkpoint import Checkpoint
from node.core.checkpoint_protocol import CheckpointRecord
from node.core.events import (
    CredentialIssued,
    CredentialRevoked,
    CredentialSuspended,
    Event,
    RevocationReason,
    SuspensionReason,
)
from node.core.hashing import ZERO_HASH
from node.storage import checkpoint_table
from node.storage.store import LedgerStore
from plugins.rsk_bridge.chain import ChainClient
from tests.factories import NOW_MS, TestNetwork, make_network, schema_event, schema_id

ISSUER = "gi.agency1"
CHAIN_ID = 33
NOW_S = 1_800_000_000
"""The verifier's clock in these tests (2027-01-15)."""


def cid(label: str) -> bytes:
    return hashlib.sha256(b"verify-test/" + label.encode()).digest()


CREDENTIALS = {
    "valid": cid("valid"),
    "revoked": cid("revoked"),
    "suspended": cid("suspended"),
    "expired": cid("expired"),
    "future": cid("future"),
    "never": cid("never-issued"),
}


@dataclass
class World:
    net: TestNetwork
    store: LedgerStore
    client: ChainClient
    contract: str
    rpc_url: str
    """The RSK-strict proxy in front of anvil: what the verifier reads through."""
    anvil_url: str
    epoch: int = 0
    bundles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def bundle(self, label: str, *, history: bool = False) -> dict[str, Any]:
        return proof_bundle(
            self.store, ISSUER, CREDENTIALS[label], contract=self.contract, history=history
        )


_clock = itertools.count(NOW_MS, 1_000)


def _author(store: LedgerStore, net: TestNetwork, agency: str, events: list[Event]) -> None:
    store.author(agency, events, net.keys[agency], now_ms=next(_clock))


def populate(store: LedgerStore, net: TestNetwork) -> None:
    """Schemas and credentials at every agency; the issuer's in every status."""
    schema = schema_id()
    for agency in net.agency_ids:
        _author(store, net, agency, [schema_event()])
        _author(
            store,
            net,
            agency,
            [
                CredentialIssued(cid(f"{agency}/{i}"), schema, 1_700_000_000, 1_900_000_000)
                for i in range(5)
            ],
        )
    c = CREDENTIALS
    _author(
        store,
        net,
        ISSUER,
        [
            CredentialIssued(c["valid"], schema, 1_700_000_000, 1_900_000_000),
            CredentialIssued(c["revoked"], schema, 1_700_000_000, 1_900_000_000),
            CredentialIssued(c["suspended"], schema, 1_700_000_000, None),
            CredentialIssued(c["expired"], schema, 1_600_000_000, 1_700_000_000),
            CredentialIssued(c["future"], schema, 1_850_000_000, 1_900_000_000),
        ],
    )
    _author(
        store,
        net,
        ISSUER,
        [
            CredentialRevoked(c["revoked"], RevocationReason.KEY_COMPROMISE),
            CredentialSuspended(c["suspended"], SuspensionReason.UNDER_INVESTIGATION),
        ],
    )


def checkpoint_now(world: World, *, anchor: bool = True, mine: int = 12) -> CheckpointRecord:
    """Cut the store's heads into the next epoch's checkpoint, co-sign it with every agency's
    secp256k1 key, persist the record, and (if ``anchor``) submit it and mine ``mine`` blocks."""
    store, net = world.store, world.net
    world.epoch += 1
    cut = checkpoint_table.current_cut(store)
    checkpoint = Checkpoint(net.network_id, world.epoch, cut.root(), cut, NOW_MS, ZERO_HASH)
    digest = eip712.checkpoint_digest(
        CHAIN_ID, world.contract, net.network_id, world.epoch, cut.root()
    )
    signatures = {
        a: eip712.sign_digest(net.keys[a].secp256k1_private, digest) for a in net.agency_ids
    }
    record = CheckpointRecord(checkpoint, net.agency_ids[0], signatures, "signed", signed_ms=1)
    if anchor:
        packed = eip712.pack_signatures(digest, list(signatures.values())[:2])
        tx = world.client.submit_checkpoint(world.epoch, cut.root(), packed)
        world.client.wait_for_success(tx, timeout=30)
        if mine:
            ChainClient(world.anvil_url, CHAIN_ID).rpc("anvil_mine", [hex(mine)])
        record = record.anchored("confirmed", tx, mine)
    checkpoint_table.put_record(store, record)
    return record


def make_world(tmp: Path, client: ChainClient, rpc_url: str, anvil_url: str) -> World:
    net = make_network(3, 2)
    store = LedgerStore.open(tmp / "ledger", net.genesis)
    populate(store, net)
    signers = [eip712.to_checksum_address(a.secp256k1_address) for a in net.genesis.agencies]
    contract = client.deploy(net.network_id, sorted(signers, key=str.lower), 2)
    return World(net, store, client, contract, rpc_url, anvil_url)
