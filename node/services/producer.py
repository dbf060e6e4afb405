"""The block producer: turns submitted events into this agency's signed blocks.

Submissions wait in a bounded queue; a block is cut every ``max_delay`` seconds or when
``max_events`` are pending, whichever comes first (one signature per block is what makes ingest
fast); submissions that fit in a block by count but not by bytes go into more blocks. A submitter
is answered only after its block is durably committed, so an acknowledged event is never lost; if
the block cannot be authored because of one bad submission, that submission alone is refused and
the others go into the next block.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import trio

from node.core.block import MAX_EVENTS_PER_BLOCK
from node.core.errors import BlockTooLargeError, CalpeError, SizeLimitError, ValidationError
from node.core.events import Event
from node.core.keys import AgencyKeys
from node.core.ledger import AppliedBlock, refusals
from node.services.store_access import StoreAccess

log = logging.getLogger(__name__)


class ProducerBusyError(CalpeError):
    """Too many events are waiting; the caller should retry later (HTTP 503)."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where a submission's events were committed."""

    agency_id: str
    height: int
    block_hash: bytes
    first_index: int


@dataclass(eq=False)
class _Submission:
    events: Sequence[Event]
    request_id: str | None = None
    done: trio.Event = field(default_factory=trio.Event)
    receipt: Receipt | None = None
    error: Exception | None = None


OnCommitted = Callable[[AppliedBlock], Awaitable[None]]


class BlockProducer:
    def __init__(
        self,
        store: StoreAccess,
        agency_id: str,
        keys: AgencyKeys,
        on_committed: OnCommitted,
        *,
        max_events: int = 1000,
        max_delay: float = 0.2,
        max_pending_events: int = 20_000,
        behind: Callable[[], bool] = lambda: False,
    ) -> None:
        if not 1 <= max_events <= MAX_EVENTS_PER_BLOCK:
            raise ValueError(f"max_events must be 1..{MAX_EVENTS_PER_BLOCK}")
        self._store = store
        self._agency_id = agency_id
        self._keys = keys
        self._on_committed = on_committed
        self._max_events = max_events
        self._max_delay = max_delay
        self._max_pending = max_pending_events
        self._queue: list[_Submission] = []
        self._pending_events = 0
        self._wakeup = trio.Event()
        self._in_flight: dict[str, _Submission] = {}
        self._behind = behind

    @property
    def pending_events(self) -> int:
        return self._pending_events

    async def submit(self, events: Sequence[Event], request_id: str | None = None) -> Receipt:
        """Queue ``events`` (kept together in one block) and wait until they are committed.

        With a ``request_id``, a repeated request (even while the first is still in flight)
        gets the first one's receipt and appends nothing.
        """
        if request_id is not None and request_id in self._in_flight:
            return await self._outcome(self._in_flight[request_id])
        if not events or len(events) > self._max_events:
            raise SizeLimitError(f"submit 1 to {self._max_events} events at a time")
        submission = _Submission(events, request_id)
        if request_id is None:
            self._enqueue(submission)
            return await self._outcome(submission)
        # Registered before the first await, so a concurrent retry waits for this one.
        self._in_flight[request_id] = submission
        try:
            stored = await self._store.call(self._store.store.request_receipt, request_id)
            if stored is not None:
                self._finish(submission, receipt=Receipt(*stored))
            else:
                self._enqueue(submission)
            return await self._outcome(submission)
        finally:
            self._in_flight.pop(request_id, None)

    def _enqueue(self, submission: _Submission) -> None:
        if self._pending_events + len(submission.events) > self._max_pending:
            raise ProducerBusyError(f"{self._pending_events} events are waiting; retry shortly")
        self._queue.append(submission)
        self._pending_events += len(submission.events)
        self._wakeup.set()

    async def _outcome(self, submission: _Submission) -> Receipt:
        await submission.done.wait()
        if submission.error is not None:
            raise submission.error
        assert submission.receipt is not None
        return submission.receipt

    @property
    def keys(self) -> AgencyKeys:
        return self._keys

    def keys_changed(self, keys: AgencyKeys) -> None:
        """Sign later blocks with ``keys`` (after this agency's key rotation)."""
        self._keys = keys

    async def run(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup = trio.Event()
                if self._pending_events < self._max_events:
                    with trio.move_on_after(self._max_delay):
                        while self._pending_events < self._max_events:
                            await self._wakeup.wait()
                            self._wakeup = trio.Event()
                while self._behind():
                    # Peers hold blocks of ours that we lack (a restore from an older backup):
                    # authoring now would sign a second block at a used height. Sync first.
                    log.warning(
                        "agency=%s: peers have newer blocks of ours; waiting", self._agency_id
                    )
                    await trio.sleep(0.5)
                while self._queue:
                    await self._cut_block()
        finally:
            self._fail_all(CalpeError("the node is shutting down; the request was not committed"))

    def _take_batch(self) -> list[_Submission]:
        batch: list[_Submission] = []
        count = 0
        while self._queue and count + len(self._queue[0].events) <= self._max_events:
            submission = self._queue.pop(0)
            batch.append(submission)
            count += len(submission.events)
        self._pending_events -= count
        return batch

    async def _cut_block(self) -> None:
        batch = self._take_batch()
        while batch:
            try:
                applied = await self._author(batch)
            except BlockTooLargeError:
                if len(batch) == 1:  # cannot happen: a submission is far smaller than a block
                    self._finish(batch[0], error=SizeLimitError("the events exceed one block"))
                    return
                half = len(batch) // 2
                self._put_back(batch[half:])
                batch = batch[:half]
                continue
            except ValidationError as exc:
                # Rare: a submission breaks a ledger rule (nothing was written). Answer the
                # offending ones and author the rest; the common path validates only once.
                kept = await self._drop_invalid(batch)
                if len(kept) == len(batch):  # not one submission's fault (e.g. a frozen log)
                    for submission in batch:
                        self._finish(submission, error=exc)
                    return
                batch = kept
                continue
            except Exception as exc:  # storage failure: nothing was acknowledged
                log.exception("authoring failed agency=%s", self._agency_id)
                for submission in batch:
                    self._finish(submission, error=exc)
                return
            index = 0
            for submission in batch:
                receipt = Receipt(self._agency_id, applied.block.height, applied.block.hash, index)
                self._finish(submission, receipt=receipt)
                index += len(submission.events)
            await self._on_committed(applied)
            return

    def _put_back(self, submissions: list[_Submission]) -> None:
        """Return submissions taken for a block to the head of the queue, in order."""
        self._queue[:0] = submissions
        self._pending_events += sum(len(submission.events) for submission in submissions)

    async def _author(self, batch: list[_Submission]) -> AppliedBlock:
        events = [e for s in batch for e in s.events]
        requests, index = {}, 0
        for submission in batch:  # receipts are committed in the block's own write batch
            if submission.request_id is not None:
                requests[submission.request_id] = index
            index += len(submission.events)
        applied: AppliedBlock = await self._store.call(
            self._store.store.author,
            self._agency_id,
            events,
            self._keys,
            now_ms=int(time.time() * 1000),
            requests=requests,
        )
        return applied

    async def _drop_invalid(self, batch: list[_Submission]) -> list[_Submission]:
        """Answer submissions that break a ledger rule; keep the rest in order."""
        store = self._store.store
        agency = self._agency_id

        def check_each() -> list[ValidationError | None]:
            submitted = [submission.events for submission in batch]
            return refusals(store.head(agency), submitted, store.reader(agency))

        verdicts = await self._store.call(check_each)
        kept = []
        for submission, error in zip(batch, verdicts, strict=True):
            if error is None:
                kept.append(submission)
            else:
                self._finish(submission, error=error)
        return kept

    def _finish(
        self,
        submission: _Submission,
        *,
        receipt: Receipt | None = None,
        error: Exception | None = None,
    ) -> None:
        submission.receipt, submission.error = receipt, error
        submission.done.set()

    def _fail_all(self, error: Exception) -> None:
        for submission in self._queue:
            self._finish(submission, error=error)
        self._queue.clear()
        self._pending_events = 0
