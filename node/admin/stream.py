"""``GET /v1/stream``: server-sent events from the node's update bus.

Events: ``block`` (a BlockSummary per committed block, ours or a peer's), ``alert``, ``status``
(the full Status every :data:`STATUS_INTERVAL_S` seconds, which doubles as a keep-alive), ``log``
(new log lines, polled from the ring about once a second), ``checkpoint`` (once checkpoints
exist), ``governance`` (the whole governance document, each time the node folds a signed
checkpoint into it), and ``dropped`` (``{"count"}`` when this client fell behind and missed
updates).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import trio
from starlette.responses import StreamingResponse

from node.admin import paging
from node.admin.logs import LogRing
from node.admin.status import status_json
from node.services.bus import Subscription, Update

if TYPE_CHECKING:
    from node.services.node import LedgerNode

STATUS_INTERVAL_S = 2.0
LOG_POLL_S = 1.0


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def stream_response(node: LedgerNode, logs: LogRing) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_events(node, logs), media_type="text/event-stream", headers=headers)


async def _next(subscription: Subscription, deadline: float) -> Update | None:
    with trio.move_on_at(deadline):
        return await subscription.next()
    return None


async def _events(node: LedgerNode, logs: LogRing) -> AsyncIterator[bytes]:
    async with node.bus.subscribe() as subscription:
        yield sse("status", await status_json(node))
        next_status = trio.current_time() + STATUS_INTERVAL_S
        log_seq = logs.last_seq
        while True:
            now = trio.current_time()
            update = await _next(subscription, min(next_status, now + LOG_POLL_S))
            if update is not None:
                chunk = await _render(node, update)
                if chunk is not None:
                    yield chunk
            log_seq, lines = logs.since(log_seq)
            for line in lines:
                yield sse("log", line)
            if trio.current_time() >= next_status:
                yield sse("status", await status_json(node))
                next_status = trio.current_time() + STATUS_INTERVAL_S


async def _render(node: LedgerNode, update: Update) -> bytes | None:
    data = update.data
    if update.kind == "block":
        summary = await node.store.call(
            paging.block_summary, node.store.store, data["agency_id"], data["height"]
        )
        return None if summary is None else sse("block", summary)
    if update.kind == "alert":
        return sse("alert", {**data, "id": str(data["id"])})
    if update.kind in ("checkpoint", "governance", "dropped"):
        return sse(update.kind, data)
    return None  # log lines come from the ring, other kinds are internal
