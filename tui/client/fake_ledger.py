"""The fake node's ledger: synthetic history plus the blocks its writes and stream append."""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.client import fake_data as data
from tui.client.errors import ApiError
from tui.client.models import (
    BlockDetail,
    BlockSummary,
    Credential,
    CredentialRecord,
    Event,
    EventPage,
    WriteResult,
)

# A filter that matches nothing must not scan a million events for one page.
SCAN_BUDGET = 200_000
_STATUS_AFTER = {"revoke": "revoked", "suspend": "suspended", "reinstate": "active"}
_KIND_OF = {
    "revoke": "credential.revoked",
    "suspend": "credential.suspended",
    "reinstate": "credential.reinstated",
}


@dataclass
class _Filter:
    agency: str | None
    kind: str | None
    credential: str | None
    since_ms: int | None
    until_ms: int | None

    def matches(self, event: Event) -> bool:
        return (
            (self.agency is None or event.agency_id == self.agency)
            and (self.kind is None or event.kind == self.kind)
            and (self.credential is None or event.credential_id == self.credential)
            and (self.since_ms is None or event.timestamp_ms >= self.since_ms)
            and (self.until_ms is None or event.timestamp_ms <= self.until_ms)
        )


@dataclass
class FakeLedger:
    """Event positions: ``0..history-1`` synthetic, then appended ones; pages go newest first."""

    history_count: int
    end_ms: int
    own: str = data.AGENCY_IDS[0]
    history: data.SyntheticHistory = field(init=False)
    tail: list[Event] = field(default_factory=list)
    blocks_by_key: dict[tuple[str, int], BlockDetail] = field(default_factory=dict)
    credentials: dict[tuple[str, str], CredentialRecord] = field(default_factory=dict)
    schemas: set[tuple[str, str]] = field(default_factory=set)
    events_per_s: float = 12.5

    def __post_init__(self) -> None:
        self.history = data.SyntheticHistory(self.history_count, self.end_ms)

    # -- reading ---------------------------------------------------------------------------------

    def size(self) -> int:
        return self.history.count + len(self.tail)

    def event_at(self, position: int) -> Event:
        if position < self.history.count:
            return self.history.event(position)
        return self.tail[position - self.history.count]

    def page(self, *, start: int | None, limit: int, **filters: str | int | None) -> EventPage:
        wanted = _Filter(**filters)  # type: ignore[arg-type]
        position = self.size() - 1 if start is None else min(start, self.size() - 1)
        found: list[Event] = []
        scanned = 0
        while position >= 0 and len(found) < limit and scanned < SCAN_BUDGET:
            event = self.event_at(position)
            if wanted.since_ms is not None and event.timestamp_ms < wanted.since_ms:
                position = -1  # positions are in time order: nothing older can match
                break
            if wanted.matches(event):
                found.append(event)
            position -= 1
            scanned += 1
        next_cursor = str(position) if position >= 0 else None
        return EventPage.model_construct(events=tuple(found), next_cursor=next_cursor)

    def height(self, agency: str) -> int:
        appended = [h for (a, h) in self.blocks_by_key if a == agency]
        return max(appended, default=self.history.height_of(agency))

    def block(self, agency: str, height: int) -> BlockDetail | None:
        if (agency, height) in self.blocks_by_key:
            return self.blocks_by_key[(agency, height)]
        return self.history.block(agency, height)

    def head(self, agency: str) -> BlockSummary:
        detail = self.block(agency, self.height(agency))
        if detail is None:
            return data.summarise(agency, 0, self.end_ms, 0)
        return detail.block

    def blocks(
        self, agency: str | None, before_height: int | None, limit: int
    ) -> tuple[BlockSummary, ...]:
        out: list[BlockSummary] = []
        for a in [agency] if agency else data.AGENCY_IDS:
            top = self.height(a) if before_height is None else before_height - 1
            for h in range(top, max(top - limit, 0), -1):
                detail = self.block(a, h)
                if detail is not None:
                    out.append(detail.block)
        out.sort(key=lambda b: (b.timestamp_ms, b.height), reverse=True)
        return tuple(out[:limit])

    def credential(self, issuer: str, credential_id: str) -> CredentialRecord | None:
        return self.credentials.get((issuer, credential_id))

    # -- writing ---------------------------------------------------------------------------------

    def append_block(
        self, agency: str, now_ms: int, events: list[dict[str, object]]
    ) -> BlockDetail:
        height = self.height(agency) + 1
        built = tuple(
            Event.model_validate(
                {
                    "agency_id": agency,
                    "height": height,
                    "index": i,
                    "timestamp_ms": now_ms,
                    "block_hash": data.block_hash(agency, height),
                    **fields,
                }
            )
            for i, fields in enumerate(events)
        )
        detail = BlockDetail(block=data.summarise(agency, height, now_ms, len(built)), events=built)
        self.blocks_by_key[(agency, height)] = detail
        self.tail.extend(built)
        return detail

    def committed(self, rid: str, detail: BlockDetail, **extra: object) -> WriteResult:
        return WriteResult.model_validate(
            {
                "request_id": rid,
                "status": "committed",
                "agency_id": detail.block.agency_id,
                "height": detail.block.height,
                "block_hash": detail.block.block_hash,
                "event_index": 0,
                **extra,
            }
        )

    def publish_schema(self, rid: str, schema_id: str, agency: str | None = None) -> WriteResult:
        agency = agency or self.own
        if (agency, schema_id) in self.schemas:
            raise ApiError("schema_violation", f"schema {schema_id} already published", 409)
        self.schemas.add((agency, schema_id))
        event: dict[str, object] = {"kind": "schema.published", "schema_id": schema_id}
        detail = self.append_block(agency, self.end_ms, [event])
        return self.committed(rid, detail, schema_id=schema_id)

    def issue(
        self,
        rid: str,
        credential_id: str,
        schema_id: str,
        valid_from_s: int,
        valid_until_s: int | None,
        *,
        agency: str | None = None,
    ) -> WriteResult:
        agency = agency or self.own
        if (agency, credential_id) in self.credentials:
            raise ApiError(
                "duplicate_credential", f"credential {credential_id} is already issued", 409
            )
        if (agency, schema_id) not in self.schemas:
            raise ApiError(
                "schema_violation", f"schema {schema_id} is not published by {agency}", 409
            )
        event = {
            "kind": "credential.issued",
            "credential_id": credential_id,
            "schema_id": schema_id,
            "valid_from_s": valid_from_s,
            "valid_until_s": valid_until_s,
        }
        detail = self.append_block(agency, self.end_ms, [event])
        credential = Credential(
            issuer=agency,
            credential_id=credential_id,
            schema_id=schema_id,
            status="active",
            valid_from_s=valid_from_s,
            valid_until_s=valid_until_s,
            issued_height=detail.block.height,
            updated_height=detail.block.height,
        )
        self.credentials[(agency, credential_id)] = CredentialRecord(
            credential=credential, history=detail.events
        )
        return self.committed(rid, detail, credential=credential)

    def change(
        self,
        rid: str,
        action: str,
        credential_id: str,
        reason: str | None,
        agency: str | None = None,
    ) -> WriteResult:
        agency = agency or self.own
        record = self.credentials.get((agency, credential_id))
        if record is None:
            raise ApiError(
                "unknown_credential", f"credential {credential_id} was never issued here", 409
            )
        _check_transition(record.credential, action)
        event: dict[str, object] = {"kind": _KIND_OF[action], "credential_id": credential_id}
        if reason is not None:
            event["reason"] = reason
        detail = self.append_block(agency, self.end_ms, [event])
        credential = record.credential.model_copy(
            update={
                "status": _STATUS_AFTER[action],
                "updated_height": detail.block.height,
                "reason": reason,
            }
        )
        self.credentials[(agency, credential_id)] = CredentialRecord(
            credential=credential, history=(*record.history, *detail.events)
        )
        return self.committed(rid, detail, credential=credential)

    def live_block(self, tick: int, now_ms: int) -> BlockSummary:
        """A block as the stream would announce it: issued credentials from a rotating agency."""
        agency = data.AGENCY_IDS[tick % len(data.AGENCY_IDS)]
        events: list[dict[str, object]] = [
            {
                "kind": "credential.issued",
                "credential_id": data.hexhash("live", agency, tick, i),
                "schema_id": data.schema_id(agency, 0),
                "valid_from_s": now_ms // 1000,
            }
            for i in range(1 + tick % 3)
        ]
        self.events_per_s = 8.0 + (tick * 7) % 11
        return self.append_block(agency, now_ms, events).block

    def seed(self, now_ms: int) -> None:
        """Schemas and a few credentials in every state, through the same rules as writes."""
        self.end_ms = now_ms
        for agency in data.AGENCY_IDS:
            for n in range(2):
                self.publish_schema(f"seed-schema-{agency}-{n}", data.schema_id(agency, n), agency)
            for n in range(4):
                cid = seeded_credential(agency, n)
                start = now_ms // 1000 - 86_400 * (30 + n)
                self.issue(
                    f"seed-{agency}-{n}",
                    cid,
                    data.schema_id(agency, n % 2),
                    start,
                    None,
                    agency=agency,
                )
            self.change(
                f"seed-s-{agency}", "suspend", seeded_credential(agency, 1), "court_order", agency
            )
            self.change(
                f"seed-r-{agency}", "revoke", seeded_credential(agency, 2), "superseded", agency
            )


def seeded_credential(agency: str, n: int) -> str:
    """Seeded credential ``n`` of ``agency``: 0 and 3 active, 1 suspended, 2 revoked."""
    return data.hexhash("seeded", agency, n)


def _check_transition(credential: Credential, action: str) -> None:
    cid = credential.credential_id
    if credential.status == "revoked":
        raise ApiError("revoked_final", f"credential {cid} is revoked; revocation is final", 409)
    if action == "suspend" and credential.status == "suspended":
        raise ApiError("bad_transition", f"credential {cid} is already suspended", 409)
    if action == "reinstate" and credential.status != "suspended":
        raise ApiError(
            "bad_transition", f"credential {cid} is not suspended, so cannot be reinstated", 409
        )
