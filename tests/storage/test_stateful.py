"""The LevelDB store against an in-memory reference model, driven by hypothesis."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from node.core import smt
from node.core.errors import (
    ForeignCredentialError,
    RevokedFinalError,
    TransitionError,
    UnknownCredentialError,
    ValidationError,
)
from node.core.events import (
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    Event,
)
from node.core.status import SchemaRecord, Status, StatusRecord, schema_state_key
from node.storage import LedgerStore
from node.storage.integrity import verify
from tests.factories import NOW_MS, credential_id, issue_events, make_network, schema_event
from tests.storage.builders import crafted_block, next_block

NET = make_network(2, name="calpe-stateful")
CHANGES = {
    "revoke": CredentialRevoked,
    "suspend": CredentialSuspended,
    "reinstate": CredentialReinstated,
}


class Model:
    """What the ledger must hold, computed without the ledger core or LevelDB."""

    def __init__(self) -> None:
        self.height = dict.fromkeys(NET.agency_ids, 0)
        self.records: dict[str, dict[bytes, StatusRecord]] = {a: {} for a in NET.agency_ids}
        self.schemas: dict[str, dict[bytes, SchemaRecord]] = {a: {} for a in NET.agency_ids}

    def root(self, agency: str) -> bytes:
        items = {cid: r.value_hash() for cid, r in self.records[agency].items()}
        items.update({schema_state_key(s): r.value_hash() for s, r in self.schemas[agency].items()})
        return smt.compute_root(items)

    def issuer(self, cid: bytes) -> str | None:
        return next((a for a, recs in self.records.items() if cid in recs), None)

    def expected_error(self, agency: str, cid: bytes, kind: str) -> type[ValidationError] | None:
        issuer = self.issuer(cid)
        if issuer is None:
            return UnknownCredentialError
        if issuer != agency:
            return ForeignCredentialError
        status = self.records[agency][cid].status
        if status is Status.REVOKED:
            return RevokedFinalError
        if kind == "suspend" and status is Status.SUSPENDED:
            return TransitionError
        if kind == "reinstate" and status is not Status.SUSPENDED:
            return TransitionError
        return None

    def apply(self, agency: str, cid: bytes, kind: str, height: int) -> None:
        record = self.records[agency][cid]
        new = {"revoke": Status.REVOKED, "suspend": Status.SUSPENDED}.get(kind, Status.ACTIVE)
        self.records[agency][cid] = record.changed(new, height)


class StoreVersusModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="calpe-stateful-"))
        self.store = LedgerStore.open(self.dir / "db", NET.genesis, retention=5)
        self.model = Model()
        self.cids: list[bytes] = []

    def _ingest(self, agency: str, events: list[Event]) -> int:
        block = next_block(self.store, NET, agency, events)
        assert self.store.ingest(block.encode(), now_ms=NOW_MS).outcome == "applied"
        self.model.height[agency] = block.height
        return block.height

    @initialize()
    def publish_schemas(self) -> None:
        for agency in NET.agency_ids:
            event = schema_event()
            height = self._ingest(agency, [event])
            self.model.schemas[agency][event.schema_id] = SchemaRecord(
                event.schema_id, int(event.credential_class), event.version, height
            )

    @rule(agency=st.sampled_from(NET.agency_ids), count=st.integers(1, 4))
    def issue(self, agency: str, count: int) -> None:
        events = issue_events(count)
        height = self._ingest(agency, events)
        for event in events:
            assert isinstance(event, CredentialIssued)
            self.model.records[agency][event.credential_id] = StatusRecord(
                agency,
                event.credential_id,
                event.schema_id,
                Status.ACTIVE,
                event.valid_from,
                event.valid_until,
                height,
                height,
            )
            self.cids.append(event.credential_id)

    @precondition(lambda self: bool(self.cids))
    @rule(
        agency=st.sampled_from(NET.agency_ids),
        pick=st.integers(0, 10_000),
        kind=st.sampled_from(sorted(CHANGES)),
    )
    def change(self, agency: str, pick: int, kind: str) -> None:
        cid = self.cids[pick % len(self.cids)]
        self._change(agency, cid, kind)

    @rule(agency=st.sampled_from(NET.agency_ids), kind=st.sampled_from(sorted(CHANGES)))
    def change_unknown(self, agency: str, kind: str) -> None:
        self._change(agency, credential_id(), kind)

    def _change(self, agency: str, cid: bytes, kind: str) -> None:
        event = CHANGES[kind](cid)
        error = self.model.expected_error(agency, cid, kind)
        if error is None:
            height = self._ingest(agency, [event])
            self.model.apply(agency, cid, kind, height)
            return
        head = self.store.head(agency)
        block = crafted_block(
            NET, agency, [event], height=head.height + 1, prev_hash=head.block_hash
        )
        with pytest.raises(error):
            self.store.ingest(block.encode(), now_ms=NOW_MS)
        assert self.store.head(agency) == head

    @rule(agency=st.sampled_from(NET.agency_ids))
    def duplicate(self, agency: str) -> None:
        raw = self.store.block_bytes(agency, self.store.head(agency).height)
        assert raw is not None
        assert self.store.ingest(raw, now_ms=NOW_MS).outcome == "duplicate"

    @rule(agency=st.sampled_from(NET.agency_ids), back=st.integers(0, 3))
    def checkpoint_anchored(self, agency: str, back: int) -> None:
        """A checkpoint whose cut is ``back`` blocks behind the head gets anchored."""
        cut = max(0, self.store.head(agency).height - back)
        self.store.prune_history_through({agency: cut})
        assert self.store.oldest_provable_height(agency) >= cut

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = LedgerStore.open(self.dir / "db", NET.genesis, retention=5)

    @invariant()
    def agrees_with_model(self) -> None:
        for agency in NET.agency_ids:
            head = self.store.head(agency)
            assert head.height == self.model.height[agency]
            assert head.state_root == self.model.root(agency)
            assert head.log.size == head.height
            for cid, record in self.model.records[agency].items():
                assert self.store.credential(agency, cid) == record

    def teardown(self) -> None:
        report = verify(self.store)
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        assert report.ok, report.mismatches


StoreVersusModel.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestStoreVersusModel = pytest.mark.slow(StoreVersusModel.TestCase)
