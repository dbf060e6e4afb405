"""Paged, filtered reads of events and blocks, newest first, that never scan the whole ledger.

The store keeps blocks by ``(agency, height)`` and a per-credential history index, but no time or
kind index. So:

* a credential filter walks only the heights in that credential's history index;
* a time filter uses that an agency's block timestamps never decrease with height: ``until_ms``
  is found by binary search over heights, and a walk stops at the first block older than
  ``since_ms``;
* a kind filter has no index: blocks are walked newest first, and each request reads at most
  :data:`SCAN_BUDGET_EVENTS` events. A page can therefore hold fewer than ``limit`` events (even
  none) and still carry a ``next_cursor``: the client keeps paging until the cursor is null.

Several agencies are merged by block timestamp (ties by agency id, then height). A cursor records,
per agency, the position ``(height, index)`` such that every event still to come is strictly before
it in ``(height, index)`` order; it is opaque to clients (base64url JSON).

Functions here are synchronous store reads: run them in the store's worker thread.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cbor2

from node.admin.shapes import Json, block_summary_json, event_json
from node.core.block import BlockHeader, header_from_wire
from node.core.encoding import decode
from node.core.errors import EncodingError
from node.core.events import EventKind, event_from_wire
from node.storage.store import LedgerStore

_ARRAY_OF_3 = 0x83  # CBOR major type 4 (array), 3 items: [header, events, signature]
MAX_EVENTS_LIMIT = 500
MAX_BLOCKS_LIMIT = 200
SCAN_BUDGET_EVENTS = 50_000
_CREDENTIAL_KINDS = frozenset(
    {
        EventKind.CREDENTIAL_ISSUED,
        EventKind.CREDENTIAL_REVOKED,
        EventKind.CREDENTIAL_SUSPENDED,
        EventKind.CREDENTIAL_REINSTATED,
    }
)

Position = tuple[int, int]


class CursorError(ValueError):
    """A cursor that this node did not hand out."""


@dataclass(frozen=True)
class EventFilter:
    agencies: tuple[str, ...]
    kind: EventKind | None = None
    credential: bytes | None = None
    since_ms: int | None = None
    until_ms: int | None = None


@dataclass(frozen=True)
class _View:
    """A stored block, decoded only as far as filtering needs."""

    header: BlockHeader
    block_hash: bytes
    events_raw: list[Any]


def _header(store: LedgerStore, agency_id: str, height: int) -> BlockHeader | None:
    """Only the header of a stored block: its array comes first, so the events stay undecoded."""
    raw = store.block_bytes(agency_id, height)
    if raw is None:
        return None
    if raw[0] != _ARRAY_OF_3:
        raise EncodingError(f"{agency_id} block {height}: not a canonical block encoding")
    return header_from_wire(cbor2.CBORDecoder(io.BytesIO(raw[1:])).decode())


def _view(store: LedgerStore, agency_id: str, height: int) -> _View | None:
    raw = store.block_bytes(agency_id, height)
    if raw is None:
        return None
    header_raw, events_raw, _signature = decode(raw)
    header = header_from_wire(header_raw)
    return _View(header, header.hash(), events_raw)


# --- cursors ------------------------------------------------------------------------------------


def encode_cursor(positions: dict[str, Position]) -> str:
    doc = {"v": 1, "pos": {a: list(p) for a, p in sorted(positions.items())}}
    raw = json.dumps(doc, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, agencies: tuple[str, ...]) -> dict[str, Position]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        doc = json.loads(raw)
        pos = doc["pos"]
        if doc.get("v") != 1 or not isinstance(pos, dict):
            raise CursorError("unknown cursor version")
        out: dict[str, Position] = {}
        for agency, value in pos.items():
            height, index = value
            if agency not in agencies:
                continue
            if not (isinstance(height, int) and isinstance(index, int)):
                raise CursorError("cursor positions must be integers")
            if height < 0 or index < 0:
                raise CursorError("cursor positions must not be negative")
            out[agency] = (height, index)
        return out
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise CursorError(f"not a cursor from this API: {exc}") from None


# --- sources: one agency's candidate blocks, newest first ---------------------------------------


def _last_height_until(store: LedgerStore, agency_id: str, top: int, until_ms: int) -> int:
    """The highest height <= ``top`` whose block is not newer than ``until_ms`` (0 if none)."""
    lo, hi = 0, top
    while lo < hi:
        mid = (lo + hi + 1) // 2
        header = _header(store, agency_id, mid)
        if header is not None and header.timestamp_ms <= until_ms:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _heights(
    store: LedgerStore, agency_id: str, start: Position, flt: EventFilter
) -> Iterator[int]:
    height, index = start
    top = min(height if index > 0 else height - 1, store.head(agency_id).height)
    if flt.until_ms is not None:
        top = min(top, _last_height_until(store, agency_id, top, flt.until_ms))
    if flt.credential is not None:
        history = {h for h, _ in store.credential_history(agency_id, flt.credential)}
        yield from sorted((h for h in history if h <= top), reverse=True)
        return
    yield from range(top, 0, -1)


def _matches(view: _View, flt: EventFilter, below: int | None) -> list[Json]:
    """The block's matching events, newest first, with index < ``below`` (if given)."""
    out: list[Json] = []
    count = len(view.events_raw)
    for index in range(count - 1 if below is None else min(below, count) - 1, -1, -1):
        wire = view.events_raw[index]
        if flt.kind is not None and wire[0] != flt.kind:
            continue
        if flt.credential is not None and (
            wire[0] not in _CREDENTIAL_KINDS or wire[1] != flt.credential
        ):
            continue
        out.append(event_json(view.header, view.block_hash, index, event_from_wire(wire)))
    return out


class _Source:
    def __init__(self, store: LedgerStore, agency_id: str, start: Position, flt: EventFilter):
        self.agency_id = agency_id
        self.position = start
        self._store = store
        self._flt = flt
        self._heights = _heights(store, agency_id, start, flt)

    def next_view(self) -> _View | None:
        for height in self._heights:
            view = _view(self._store, self.agency_id, height)
            if view is None:
                continue
            if self._flt.since_ms is not None and view.header.timestamp_ms < self._flt.since_ms:
                self.position = (1, 0)
                return None
            return view
        self.position = (1, 0)
        return None


def events_page(
    store: LedgerStore, flt: EventFilter, cursor: str | None, limit: int
) -> tuple[list[Json], str | None]:
    """One page of events matching ``flt``, newest first, and the cursor of the next page."""
    if cursor is None:
        starts = {a: (store.head(a).height + 1, 0) for a in flt.agencies}
    else:
        starts = decode_cursor(cursor, flt.agencies)
    sources = {a: _Source(store, a, p, flt) for a, p in starts.items() if p > (1, 0)}
    heap: list[tuple[int, str, int, _View]] = []

    def push(source: _Source) -> None:
        view = source.next_view()
        if view is not None:
            heapq.heappush(
                heap, (-view.header.timestamp_ms, source.agency_id, -view.header.height, view)
            )

    for source in sources.values():
        push(source)
    out: list[Json] = []
    scanned = 0
    while heap and len(out) < limit and scanned < SCAN_BUDGET_EVENTS:
        _, agency_id, _, view = heapq.heappop(heap)
        source = sources[agency_id]
        height = view.header.height
        below = source.position[1] if source.position[0] == height else None
        scanned += len(view.events_raw)
        matched = _matches(view, flt, below)
        room = limit - len(out)
        out.extend(matched[:room])
        if len(matched) > room:
            source.position = (height, matched[room - 1]["index"])
            break
        source.position = (height, 0)
        push(source)
    remaining = {a: s.position for a, s in sources.items() if s.position > (1, 0)}
    return out, encode_cursor(remaining) if remaining else None


def blocks_page(
    store: LedgerStore, agencies: tuple[str, ...], before_height: int | None, limit: int
) -> list[Json]:
    """Up to ``limit`` block summaries, newest first (merged by timestamp over ``agencies``)."""
    candidates: list[tuple[int, str, int, Json]] = []
    for agency_id in agencies:
        top = store.head(agency_id).height
        if before_height is not None:
            top = min(top, before_height - 1)
        for height in range(top, max(top - limit, 0), -1):
            header = _header(store, agency_id, height)
            if header is None:
                continue
            summary = block_summary_json(header, header.hash())
            candidates.append((-header.timestamp_ms, agency_id, -height, summary))
    candidates.sort(key=lambda c: c[:3])
    return [c[3] for c in candidates[:limit]]


def block_detail(store: LedgerStore, agency_id: str, height: int) -> Json | None:
    view = _view(store, agency_id, height)
    if view is None:
        return None
    events = [
        event_json(view.header, view.block_hash, i, event_from_wire(w))
        for i, w in enumerate(view.events_raw)
    ]
    return {"block": block_summary_json(view.header, view.block_hash), "events": events}


def block_summary(store: LedgerStore, agency_id: str, height: int) -> Json | None:
    header = _header(store, agency_id, height)
    return None if header is None else block_summary_json(header, header.hash())
