from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.core import errors, ledger, smt
from node.core.block import Block, decode_block
from node.core.checkpoint import Cut, CutLeaf
from node.core.events import (
    AgencyKeyRotated,
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    Event,
)
from node.core.keys import AgencyKeys
from node.core.ledger import AgencyHead, apply_block, author_block, check_events
from node.core.status import schema_state_key
from tests.core.memory_state import MemoryState
from tests.factories import (
    NOW_MS,
    TestNetwork,
    credential_id,
    issue_events,
    make_network,
    schema_event,
    schema_id,
)


def _state(net: TestNetwork, agency_id: str) -> MemoryState:
    agency = net.genesis.agency(agency_id)
    assert agency is not None
    return MemoryState(AgencyHead.initial(agency))


def _author(net: TestNetwork, state: MemoryState, events: list[Event], t: int = NOW_MS) -> Block:
    applied = author_block(
        state.head,
        events,
        net.keys[state.head.agency_id],
        state,
        network_id=net.network_id,
        timestamp_ms=t,
    )
    state.commit(applied)
    return applied.block


def _apply(net: TestNetwork, replica: MemoryState, block: Block, now: int = NOW_MS) -> None:
    replica.commit(apply_block(replica.head, block, replica, network_id=net.network_id, now_ms=now))


@pytest.fixture
def net() -> TestNetwork:
    return make_network(3)


def test_a_replica_reaches_the_authors_state(net: TestNetwork) -> None:
    aid = net.agency_ids[0]
    author, replica = _state(net, aid), _state(net, aid)
    issued = issue_events(20)
    blocks = [
        _author(net, author, [schema_event(), *issued]),
        _author(net, author, [CredentialRevoked(issued[0].credential_id)]),  # type: ignore[union-attr]
    ]
    for block in blocks:
        _apply(net, replica, decode_block(block.encode()))
    assert replica.head == author.head
    assert replica.head.state_root == smt.compute_root(
        {cid: rec.value_hash() for cid, rec in author.credentials.items()}
        | {k: v for k, v in _schema_leaves(author).items()}
    )


def _schema_leaves(state: MemoryState) -> dict[bytes, bytes]:
    from node.core.status import schema_state_key

    return {schema_state_key(s): rec.value_hash() for s, rec in state.schemas.items()}


def _issued_state(net: TestNetwork) -> tuple[MemoryState, MemoryState, list[bytes]]:
    aid = net.agency_ids[0]
    author, replica = _state(net, aid), _state(net, aid)
    issued = issue_events(3)
    block = _author(net, author, [schema_event(), *issued])
    _apply(net, replica, block)
    return author, replica, [e.credential_id for e in issued]  # type: ignore[union-attr]


def _resign(net: TestNetwork, block: Block, **header_changes: object) -> Block:
    header = dataclasses.replace(block.header, **header_changes)  # type: ignore[arg-type]
    return Block(header, block.events, net.keys[header.agency_id].sign_block_hash(header.hash()))


def _next_block(net: TestNetwork, author: MemoryState, events: list[Event]) -> Block:
    """Author a block without committing it on the author's side."""
    return author_block(
        author.head,
        events,
        net.keys[author.head.agency_id],
        author,
        network_id=net.network_id,
        timestamp_ms=NOW_MS,
    ).block


def test_bad_signature_is_rejected(net: TestNetwork) -> None:
    author, replica, _ = _issued_state(net)
    block = _next_block(net, author, issue_events(1))
    forged = Block(block.header, block.events, AgencyKeys.generate().sign_block_hash(block.hash))
    with pytest.raises(errors.SignatureError):
        _apply(net, replica, forged)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"height": 3}, errors.HeightError),
        ({"height": 1}, errors.HeightError),
        ({"prev_hash": bytes(32)}, errors.PrevHashError),
        ({"timestamp_ms": NOW_MS + 60_000}, errors.TimestampError),
        ({"timestamp_ms": 1}, errors.TimestampError),
        ({"network_id": bytes(32)}, errors.NetworkMismatchError),
        ({"state_root": bytes(32)}, errors.RootMismatchError),
        ({"events_root": bytes(32)}, errors.RootMismatchError),
        ({"event_count": 2}, errors.SizeLimitError),
    ],
)
def test_header_rule_violations(
    net: TestNetwork, change: dict[str, object], error: type[Exception]
) -> None:
    author, replica, _ = _issued_state(net)
    block = _resign(net, _next_block(net, author, issue_events(1)), **change)
    before = replica.head
    with pytest.raises(error):
        _apply(net, replica, block)
    assert replica.head == before


def test_status_rules(net: TestNetwork) -> None:
    author, _replica, ids = _issued_state(net)
    cases: list[tuple[list[Event], type[Exception]]] = [
        ([CredentialRevoked(b"\x07" * 32)], errors.UnknownCredentialError),
        ([CredentialReinstated(ids[0])], errors.TransitionError),
        ([CredentialSuspended(ids[0]), CredentialSuspended(ids[0])], errors.TransitionError),
        ([CredentialRevoked(ids[0]), CredentialReinstated(ids[0])], errors.RevokedFinalError),
        ([CredentialRevoked(ids[0]), CredentialRevoked(ids[0])], errors.RevokedFinalError),
        (issue_events(1, schema="unpublished"), errors.SchemaViolationError),
        ([schema_event()], errors.SchemaViolationError),
    ]
    for events, error in cases:
        with pytest.raises(error):
            _next_block(net, author, events)


def test_duplicate_issue_is_rejected(net: TestNetwork) -> None:
    author, _, _ = _issued_state(net)
    again = issue_events(1)
    with pytest.raises(errors.DuplicateCredentialError):
        _next_block(net, author, [*again, *again])


def test_changing_another_agencys_credential_is_rejected(net: TestNetwork) -> None:
    owner, _, ids = _issued_state(net)
    other = _state(net, net.agency_ids[1])
    _author(net, other, [schema_event()])
    with pytest.raises(errors.ForeignCredentialError, match=net.agency_ids[0]):
        author_block(
            other.head,
            [CredentialRevoked(ids[0])],
            net.keys[net.agency_ids[1]],
            other,
            network_id=net.network_id,
            timestamp_ms=NOW_MS,
            issuer_of=lambda cid: net.agency_ids[0] if cid in owner.credentials else None,
        )


def test_suspend_reinstate_revoke_lifecycle(net: TestNetwork) -> None:
    author, replica, ids = _issued_state(net)
    for event in [
        CredentialSuspended(ids[1]),
        CredentialReinstated(ids[1]),
        CredentialRevoked(ids[1]),
    ]:
        _apply(net, replica, _author(net, author, [event]))
    record = replica.credential(ids[1])
    assert record is not None and record.status.name == "REVOKED"
    assert replica.head == author.head


def test_key_rotation_switches_the_block_signing_key(net: TestNetwork) -> None:
    author, replica, _ = _issued_state(net)
    aid = author.head.agency_id
    new_keys = AgencyKeys.generate()
    rotation = AgencyKeyRotated(new_keys.ed25519_public, new_keys.secp256k1_address)
    _apply(net, replica, _author(net, author, [rotation]))
    assert replica.head.ed25519_public == new_keys.ed25519_public
    with pytest.raises(errors.NotMemberError):
        _next_block(net, author, issue_events(1))  # old keys no longer accepted for authoring
    net.keys[aid] = new_keys
    _apply(net, replica, _author(net, author, issue_events(1)))
    old_signed = _resign(net, _next_block(net, author, issue_events(1)))
    forged = Block(
        old_signed.header, old_signed.events, AgencyKeys.generate().sign_block_hash(old_signed.hash)
    )
    with pytest.raises(errors.SignatureError):
        _apply(net, replica, forged)


def test_a_block_rotating_to_a_key_off_the_curve_is_refused(net: TestNetwork) -> None:
    author, _replica, _ = _issued_state(net)
    rotation = AgencyKeyRotated(b"\x02" + bytes(31), bytes(20))  # 32 bytes, not a curve point
    block = _author(net, author, [rotation])
    with pytest.raises(errors.SchemaViolationError, match="not a point on the curve"):
        decode_block(block.encode())


def test_frozen_agency_accepts_nothing(net: TestNetwork) -> None:
    author, replica, _ = _issued_state(net)
    replica.head = dataclasses.replace(replica.head, frozen=True)
    with pytest.raises(errors.AgencyFrozenError):
        _apply(net, replica, _next_block(net, author, issue_events(1)))


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_cut_root_is_independent_of_arrival_order(rng: random.Random) -> None:
    net = make_network(3)
    per_agency: list[list[Block]] = []
    for aid in net.agency_ids:
        author = _state(net, aid)
        blocks = [_author(net, author, [schema_event(), *issue_events(3)])]
        blocks += [_author(net, author, issue_events(2)) for _ in range(3)]
        per_agency.append(blocks)

    def replay(order_seed: int) -> bytes:
        order = random.Random(order_seed)
        queues = [list(blocks) for blocks in per_agency]
        replicas = {aid: _state(net, aid) for aid in net.agency_ids}
        while any(queues):
            queue = order.choice([q for q in queues if q])
            block = queue.pop(0)
            _apply(net, replicas[block.agency_id], block)
        return Cut.of(
            CutLeaf(aid, r.head.height, r.head.block_hash, r.head.log_root, r.head.state_root)
            for aid, r in replicas.items()
        ).root()

    assert replay(rng.randrange(2**32)) == replay(rng.randrange(2**32))


def test_a_state_key_is_created_once_whether_credential_or_schema(net: TestNetwork) -> None:
    # Credential ids are the issuer's choice, so one can equal a schema's state key: the two would
    # share a leaf of the state tree (and a snapshot of the agency could not be rebuilt).
    author, _, _ = _issued_state(net)
    schema_key = schema_state_key(schema_id())
    cases: list[tuple[list[Event], type[errors.CalpeError], str]] = [
        (
            [CredentialIssued(schema_key, schema_id(), 1_700_000_000)],
            errors.DuplicateCredentialError,
            "state key of one of this agency's schemas",
        ),
        (
            [
                schema_event("permit"),
                CredentialIssued(schema_state_key(schema_id("permit")), schema_id(), 1_700_000_000),
            ],
            errors.DuplicateCredentialError,
            "published with it",
        ),
    ]
    for events, error, match in cases:
        with pytest.raises(error, match=match):
            _next_block(net, author, events)
        with pytest.raises(error, match=match):
            check_events(author.head, events, author)
    # the other way round: a schema published after a credential took its state key
    permit_key = schema_state_key(schema_id("permit"))
    _author(net, author, [CredentialIssued(permit_key, schema_id(), 1_700_000_000)])
    for attempt in (
        lambda: _next_block(net, author, [schema_event("permit")]),
        lambda: check_events(author.head, [schema_event("permit")], author),
    ):
        with pytest.raises(errors.SchemaViolationError, match="already a credential id"):
            attempt()


def test_a_replica_refuses_a_credential_issued_again(net: TestNetwork) -> None:
    author, replica, ids = _issued_state(net)
    # A block its author signed over a state that forgot the credential: only the replica's own
    # state shows the id is taken (the status lookup this replaced, now the state tree's leaf).
    forgetful = _state(net, net.agency_ids[0])
    _author(net, forgetful, [schema_event()])
    forgetful.head = dataclasses.replace(
        forgetful.head,
        height=author.head.height,
        block_hash=author.head.block_hash,
        timestamp_ms=author.head.timestamp_ms,
    )
    again = _next_block(net, forgetful, [CredentialIssued(ids[1], schema_id(), 1_700_000_000)])
    with pytest.raises(errors.DuplicateCredentialError, match="already issued"):
        apply_block(replica.head, again, replica, network_id=net.network_id, now_ms=NOW_MS)


# --- which submissions of a failed batch to refuse ---------------------------------------------


def _one_by_one(
    head: AgencyHead, submissions: list[list[Event]], reader: MemoryState
) -> list[str | None]:
    """The reference: each submission checked after the ones kept before it."""
    kept: list[Event] = []
    verdicts: list[str | None] = []
    for submission in submissions:
        try:
            check_events(head, [*kept, *submission], reader)
        except errors.ValidationError as exc:
            verdicts.append(f"{type(exc).__name__}: {exc}")
            continue
        kept.extend(submission)
        verdicts.append(None)
    return verdicts


def _named(verdicts: list[errors.ValidationError | None]) -> list[str | None]:
    return [None if v is None else f"{type(v).__name__}: {v}" for v in verdicts]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["issue", "again", "revoke", "unknown", "pair"]), max_size=24))
def test_refusals_match_checking_one_by_one(kinds: list[str]) -> None:
    net = make_network(1)
    author, _, ids = _issued_state(net)
    fresh = issue_events(len(kinds))
    submissions: list[list[Event]] = []
    for kind, new in zip(kinds, fresh, strict=True):
        if kind == "issue":
            submissions.append([new])
        elif kind == "again":  # an id issued before, in the state
            submissions.append([CredentialIssued(ids[0], schema_id(), 1_700_000_000)])
        elif kind == "revoke":  # the first revocation passes, a second one is final
            submissions.append([CredentialRevoked(ids[1])])
        elif kind == "unknown":
            submissions.append([CredentialRevoked(credential_id())])
        else:  # a valid event and an invalid one: the submission is refused whole
            submissions.append([new, CredentialRevoked(credential_id())])
    verdicts = ledger.refusals(author.head, submissions, author)
    assert _named(verdicts) == _one_by_one(author.head, submissions, author)


def test_refusals_search_rather_than_scan(
    net: TestNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    author, _, _ = _issued_state(net)
    submissions: list[list[Event]] = [[e] for e in issue_events(512)]
    submissions[300] = [CredentialRevoked(credential_id())]
    calls = 0
    check = ledger.check_events

    def counted(*args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        check(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger, "check_events", counted)
    verdicts = ledger.refusals(author.head, submissions, author)
    assert [i for i, v in enumerate(verdicts) if v is not None] == [300]
    assert isinstance(verdicts[300], errors.UnknownCredentialError)
    assert calls <= 2 + 2 * 9  # two whole-batch checks and a binary search, not 512 checks
