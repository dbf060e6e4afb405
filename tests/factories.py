"""Builders for test networks, keys and events (real keys, real signatures, no shortcuts)."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field

from node.core.events import CredentialClass, CredentialIssued, Event, SchemaPublished
from node.core.genesis import Agency, Genesis
from node.core.keys import AgencyKeys

DEVNET_CREATED_MS = 1_780_000_000_000
NOW_MS = DEVNET_CREATED_MS + 3_600_000

_counter = itertools.count(1)


def credential_id(n: int | None = None) -> bytes:
    return hashlib.sha256(b"test-credential-%d" % (next(_counter) if n is None else n)).digest()


def schema_id(name: str = "driving-licence") -> bytes:
    return hashlib.sha256(b"test-schema-" + name.encode()).digest()


@dataclass
class TestNetwork:
    __test__ = False  # a builder, not a pytest class

    genesis: Genesis
    keys: dict[str, AgencyKeys] = field(default_factory=dict)

    @property
    def network_id(self) -> bytes:
        return self.genesis.network_id

    @property
    def agency_ids(self) -> list[str]:
        return [a.agency_id for a in self.genesis.agencies]


def make_network(n: int = 3, quorum: int = 2, name: str = "calpe-test") -> TestNetwork:
    ids = sorted(f"gi.agency{i}" for i in range(n))
    keys = {agency_id: AgencyKeys.generate() for agency_id in ids}
    agencies = tuple(
        Agency(aid, f"Agency {aid}", keys[aid].ed25519_public, keys[aid].secp256k1_address)
        for aid in ids
    )
    genesis = Genesis(name, agencies, quorum, 60, 33, DEVNET_CREATED_MS)
    return TestNetwork(genesis, keys)


def schema_event(name: str = "driving-licence") -> SchemaPublished:
    return SchemaPublished(schema_id(name), CredentialClass.DRIVING_LICENCE, 1)


def issue_events(count: int, schema: str = "driving-licence") -> list[Event]:
    return [
        CredentialIssued(credential_id(), schema_id(schema), 1_700_000_000, 1_900_000_000)
        for _ in range(count)
    ]
