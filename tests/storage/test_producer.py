"""The block producer over a real store: submissions batched into blocks by count and by bytes."""

from __future__ import annotations

import pytest
import trio

from node.core import ledger
from node.core.events import Event
from node.core.ledger import AppliedBlock
from node.services.producer import BlockProducer, Receipt
from node.services.store_access import StoreAccess
from node.storage import LedgerStore
from tests.factories import TestNetwork, issue_events, schema_event

pytestmark = pytest.mark.trio


async def _submit_all(
    store: LedgerStore, net: TestNetwork, batches: list[list[Event]], max_events: int
) -> tuple[list[Receipt], list[AppliedBlock]]:
    agency = net.agency_ids[0]
    committed: list[AppliedBlock] = []

    async def on_committed(applied: AppliedBlock) -> None:
        committed.append(applied)

    producer = BlockProducer(
        StoreAccess(store), agency, net.keys[agency], on_committed, max_events=max_events
    )
    receipts: list[Receipt] = []

    async def submit(events: list[Event]) -> None:
        receipts.append(await producer.submit(events))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(producer.run)
        await submit([schema_event()])
        async with trio.open_nursery() as submitters:
            for events in batches:
                submitters.start_soon(submit, events)
        nursery.cancel_scope.cancel()
    return receipts, committed


async def test_pending_submissions_share_a_block_up_to_max_events(
    store: LedgerStore, net: TestNetwork
) -> None:
    receipts, committed = await _submit_all(store, net, [issue_events(250) for _ in range(4)], 1000)
    assert len(committed) == 2  # the schema's block, then the four submissions together
    assert len(committed[1].block.events) == 1000
    assert {r.height for r in receipts[1:]} == {2}


async def test_submissions_too_large_together_are_cut_into_smaller_blocks(
    store: LedgerStore, net: TestNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A block limit that 250 issuances fit in but not 500: every submission is committed, in
    # blocks of one, none refused.
    monkeypatch.setattr(ledger, "MAX_BLOCK_BYTES", 30_000)
    batches = [issue_events(250) for _ in range(4)]
    receipts, committed = await _submit_all(store, net, batches, 1000)
    assert [len(applied.block.events) for applied in committed] == [1, 250, 250, 250, 250]
    assert sorted(r.height for r in receipts[1:]) == [2, 3, 4, 5]
    head = store.head(net.agency_ids[0])
    assert head.height == 5
    stored = [store.block(net.agency_ids[0], h) for h in range(2, 6)]
    assert {b.events for b in stored if b is not None} == set(map(tuple, batches))
