"""Every rejection raises its specific error and leaves the database byte-for-byte unchanged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from node.core.block import MAX_BLOCK_BYTES, MAX_EVENTS_PER_BLOCK, Block
from node.core.errors import (
    AgencyFrozenError,
    CalpeError,
    DuplicateCredentialError,
    EncodingError,
    ForeignCredentialError,
    HeightError,
    NetworkMismatchError,
    NotMemberError,
    PrevHashError,
    RevokedFinalError,
    RootMismatchError,
    SchemaViolationError,
    SignatureError,
    SizeLimitError,
    TimestampError,
    TransitionError,
    UnknownCredentialError,
)
from node.core.events import (
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    Event,
)
from node.core.keys import AgencyKeys
from node.core.ledger import MAX_CLOCK_SKEW_MS
from node.core.status import schema_state_key
from node.storage import LedgerStore
from tests.factories import (
    NOW_MS,
    TestNetwork,
    credential_id,
    issue_events,
    schema_event,
    schema_id,
)
from tests.storage.builders import crafted_block, next_block, resigned, snapshot


@dataclass
class World:
    """Agency A has a schema (h1), issued credentials (h2) and revoked one of them (h3)."""

    store: LedgerStore
    net: TestNetwork
    a: str
    b: str
    issued: list[bytes]
    revoked: bytes

    def next_a(self, events: list[Event]) -> Block:
        return next_block(self.store, self.net, self.a, events)

    def crafted_a(self, events: list[Event], **fields: object) -> Block:
        head = self.store.head(self.a)
        header: dict[str, object] = {"height": head.height + 1, "prev_hash": head.block_hash}
        header.update(fields)
        return crafted_block(self.net, self.a, events, **header)  # type: ignore[arg-type]


@pytest.fixture
def world(store: LedgerStore, net: TestNetwork) -> World:
    a, b = net.agency_ids[:2]
    store.author(a, [schema_event()], net.keys[a], now_ms=NOW_MS)
    issued = issue_events(4)
    store.author(a, issued, net.keys[a], now_ms=NOW_MS)
    cids = [e.credential_id for e in issued]  # type: ignore[union-attr]
    store.author(a, [CredentialRevoked(cids[0])], net.keys[a], now_ms=NOW_MS)
    store.author(b, [schema_event()], net.keys[b], now_ms=NOW_MS)
    return World(store, net, a, b, cids, cids[0])


def _other_network_block(w: World) -> Block:
    return resigned(w.next_a(issue_events(1)), w.net.keys[w.a], network_id=b"\x42" * 32)


CASES: dict[str, tuple[type[CalpeError], Callable[[World], Block | bytes]]] = {
    "bad signature": (
        SignatureError,
        lambda w: resigned(w.next_a(issue_events(1)), AgencyKeys.generate()),
    ),
    "signature of another member": (
        SignatureError,
        lambda w: resigned(w.next_a(issue_events(1)), w.net.keys[w.b]),
    ),
    "height gap": (HeightError, lambda w: w.crafted_a(issue_events(1), height=9)),
    "height zero": (HeightError, lambda w: w.crafted_a(issue_events(1), height=0)),
    "stale block with a bad signature": (
        SignatureError,
        lambda w: resigned(w.next_a(issue_events(1)), AgencyKeys.generate(), height=2),
    ),
    "prev hash": (PrevHashError, lambda w: w.crafted_a(issue_events(1), prev_hash=b"\x01" * 32)),
    "future timestamp": (
        TimestampError,
        lambda w: resigned(
            w.next_a(issue_events(1)), w.net.keys[w.a], timestamp_ms=NOW_MS + MAX_CLOCK_SKEW_MS + 1
        ),
    ),
    "timestamp before predecessor": (
        TimestampError,
        lambda w: resigned(w.next_a(issue_events(1)), w.net.keys[w.a], timestamp_ms=1),
    ),
    "foreign credential": (
        ForeignCredentialError,
        lambda w: crafted_block(
            w.net,
            w.b,
            [CredentialSuspended(w.issued[1])],
            height=2,
            prev_hash=w.store.head(w.b).block_hash,
        ),
    ),
    "unknown credential": (
        UnknownCredentialError,
        lambda w: w.crafted_a([CredentialRevoked(credential_id())]),
    ),
    "revoked is final": (
        RevokedFinalError,
        lambda w: w.crafted_a([CredentialReinstated(w.revoked)]),
    ),
    "reinstate an active credential": (
        TransitionError,
        lambda w: w.crafted_a([CredentialReinstated(w.issued[1])]),
    ),
    "issued twice": (
        DuplicateCredentialError,
        lambda w: w.crafted_a([CredentialIssued(w.issued[1], schema_id(), 1_700_000_000)]),
    ),
    "credential id that is a schema's state key": (
        DuplicateCredentialError,
        lambda w: w.crafted_a(
            [CredentialIssued(schema_state_key(schema_id()), schema_id(), 1_700_000_000)]
        ),
    ),
    "unpublished schema": (SchemaViolationError, lambda w: w.crafted_a(issue_events(1, "nope"))),
    "wrong state root": (RootMismatchError, lambda w: w.crafted_a(issue_events(1))),
    "wrong events root": (
        RootMismatchError,
        lambda w: w.crafted_a(issue_events(1), events_root=b"\x02" * 32),
    ),
    "other network": (NetworkMismatchError, _other_network_block),
    "unknown agency": (
        NotMemberError,
        lambda w: crafted_block(
            w.net,
            "gi.stranger",
            issue_events(1),
            height=1,
            prev_hash=b"\x00" * 32,
            keys=AgencyKeys.generate(),
        ),
    ),
    "too many events": (
        SizeLimitError,
        lambda w: w.crafted_a(issue_events(MAX_EVENTS_PER_BLOCK + 1)),
    ),
    "oversized bytes": (SizeLimitError, lambda w: b"\x83" + b"\x00" * MAX_BLOCK_BYTES),
    "malformed bytes": (EncodingError, lambda w: b"\x83\x01\x02"),
    "not CBOR": (EncodingError, lambda w: b"\xff\xfe"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rejection_raises_and_writes_nothing(world: World, case: str) -> None:
    error, build = CASES[case]
    item = build(world)
    before = snapshot(world.store.raw_db)
    heads = world.store.heads()
    with pytest.raises(error):
        world.store.ingest(item, now_ms=NOW_MS)
    assert snapshot(world.store.raw_db) == before
    assert world.store.heads() == heads


def test_frozen_agency_refuses_blocks(world: World) -> None:
    w = world
    fork = resigned(w.next_a(issue_events(1)), w.net.keys[w.a], height=3, prev_hash=b"\x05" * 32)
    assert w.store.ingest(fork, now_ms=NOW_MS).outcome == "equivocation"
    before = snapshot(w.store.raw_db)
    with pytest.raises(AgencyFrozenError):
        w.store.ingest(w.next_a(issue_events(1)), now_ms=NOW_MS)
    with pytest.raises(AgencyFrozenError):
        w.store.author(w.a, issue_events(1), w.net.keys[w.a], now_ms=NOW_MS)
    assert snapshot(w.store.raw_db) == before
