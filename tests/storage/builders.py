"""Block builders for storage tests: valid blocks from a source store, and crafted bad ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import plyvel

from node.core.block import Block, BlockHeader, events_root
from node.core.events import Event
from node.core.hashing import ZERO_HASH
from node.core.keys import AgencyKeys
from node.core.ledger import author_block
from node.storage import LedgerStore
from tests.factories import NOW_MS, TestNetwork


def next_block(store: LedgerStore, net: TestNetwork, agency: str, events: Sequence[Event]) -> Block:
    """A valid next block of ``agency`` on ``store``'s current state (not committed)."""
    applied = author_block(
        store.head(agency),
        events,
        net.keys[agency],
        store.reader(agency),
        network_id=net.network_id,
        timestamp_ms=NOW_MS,
    )
    return applied.block


def crafted_block(
    net: TestNetwork,
    agency: str,
    events: Sequence[Event],
    *,
    height: int,
    prev_hash: bytes,
    state_root: bytes = ZERO_HASH,
    keys: AgencyKeys | None = None,
    **header_fields: Any,
) -> Block:
    """A signed block with any header the test wants (no ledger rule applied)."""
    fields: dict[str, Any] = {
        "network_id": net.network_id,
        "agency_id": agency,
        "height": height,
        "prev_hash": prev_hash,
        "timestamp_ms": NOW_MS,
        "events_root": events_root(list(events)),
        "state_root": state_root,
        "event_count": len(events),
    }
    fields.update(header_fields)
    header = BlockHeader(**fields)
    signer = keys or net.keys[agency]
    return Block(header, tuple(events), signer.sign_block_hash(header.hash()))


def resigned(block: Block, keys: AgencyKeys, **header_changes: Any) -> Block:
    header = replace(block.header, **header_changes)
    return Block(header, block.events, keys.sign_block_hash(header.hash()))


def snapshot(db: plyvel.DB) -> list[tuple[bytes, bytes]]:
    """Every key and value, in order: compare two of these to prove nothing was written."""
    return list(db.iterator())
