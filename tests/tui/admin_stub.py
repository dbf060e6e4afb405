"""A tiny real admin API server (starlette under hypercorn) returning canned docs/admin-api.md
shapes, for testing the client's transport, errors and SSE parsing."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from tui.client.fake import FakeClient

TOKEN = "s3cret-token"


class Recorder:
    """What the stub saw: the client's requests, for assertions."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []


def _error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def _canned() -> dict[str, Any]:
    fake = FakeClient(history=30)
    status = await fake.status()
    page = await fake.events(limit=2)
    governance = (await fake.governance()).model_dump(mode="json")
    for proposal in governance["proposals"]:
        proposal["summary"] = "a field this console does not know"
    governance["proposals"].append(
        {**governance["proposals"][0], "action": {"type": "freeze_agency", "agency_id": "gi.x"}}
    )
    return {
        "governance": governance,
        "status": status.model_dump(),
        "event": page.events[0].model_dump(exclude_none=True),
        "cursor": page.next_cursor,
        "checkpoint": status.checkpoint.model_dump() if status.checkpoint else None,
    }


def _receipt(rid: str) -> dict[str, Any]:
    return {
        "request_id": rid,
        "status": "committed",
        "agency_id": "gi.transport",
        "height": 12,
        "block_hash": "ab" * 32,
        "event_index": 0,
    }


def build_app(recorder: Recorder, canned: dict[str, Any], *, need_token: bool) -> Starlette:
    async def record(request: Request) -> Response | None:
        body = await request.body()
        recorder.requests.append(
            (
                request.method,
                request.url.path,
                dict(request.query_params),
                json.loads(body) if body else None,
            )
        )
        if need_token and request.headers.get("authorization") != f"Bearer {TOKEN}":
            return _error("unauthorized", "missing or wrong bearer token", 401)
        return None

    async def status(request: Request) -> Response:
        return await record(request) or JSONResponse({**canned["status"], "new_field": 1})

    async def events(request: Request) -> Response:
        if denied := await record(request):
            return denied
        if request.query_params.get("limit") == "0":
            return _error("bad_request", "limit must be 1..500", 400)
        return JSONResponse({"events": [canned["event"]], "next_cursor": canned["cursor"]})

    async def revoke(request: Request) -> Response:
        if denied := await record(request):
            return denied
        return _error("revoked_final", "credential is revoked; revocation is final", 409)

    async def issue(request: Request) -> Response:
        if denied := await record(request):
            return denied
        body = json.loads(await request.body())
        credential = {
            "issuer": "gi.transport",
            "credential_id": body["credential_id"],
            "schema_id": body["schema_id"],
            "status": "active",
            "valid_from_s": body["valid_from_s"],
            "valid_until_s": None,
            "issued_height": 9,
            "updated_height": 9,
            "reason": None,
        }
        return JSONResponse(
            {
                "request_id": body["request_id"],
                "status": "committed",
                "agency_id": "gi.transport",
                "height": 9,
                "block_hash": "ab" * 32,
                "event_index": 0,
                "credential": credential,
            }
        )

    async def governance(request: Request) -> Response:
        return await record(request) or JSONResponse(canned["governance"])

    async def propose(request: Request) -> Response:
        if denied := await record(request):
            return denied
        body = json.loads(await request.body())
        if body["action"].get("type") == "set_quorum" and body["action"]["quorum"] > 255:
            return _error("bad_request", "action.quorum must be between 1 and 255", 400)
        return JSONResponse({"proposal_id": "ee" * 32, "receipt": _receipt(body["request_id"])})

    async def vote(request: Request) -> Response:
        if denied := await record(request):
            return denied
        body = json.loads(await request.body())
        known = {"11" * 32: "duplicate_vote", "22" * 32: None}
        pid = request.path_params["pid"]
        if pid not in known:
            message = f"no agency's log holds proposal {pid}; check the id"
            return _error("unknown_proposal", message, 404)
        if known[pid]:
            return _error("duplicate_vote", "gi.transport already approved this proposal", 409)
        return JSONResponse({"receipt": _receipt(body["request_id"])})

    async def broken(request: Request) -> Response:
        await record(request)
        return PlainTextResponse("upstream exploded", status_code=500)

    async def stream(request: Request) -> Response:
        if denied := await record(request):
            return denied

        async def body() -> AsyncIterator[str]:
            yield ": hello\n\n"
            yield f"event: status\ndata: {json.dumps(canned['status'])}\n\n"
            yield "event: mystery\ndata: {}\n\n"
            yield "event: log\ndata: {not json\n\n"
            line = {"at_ms": 1, "level": "info", "logger": "node", "message": "hi"}
            yield f"event: log\ndata: {json.dumps(line)}\n\n"
            yield f"event: checkpoint\ndata: {json.dumps(canned['checkpoint'])}\n\n"
            yield f"event: governance\ndata: {json.dumps(canned['governance'])}\n\n"

        return StreamingResponse(body(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/v1/status", status),
            Route("/v1/events", events),
            Route("/v1/credentials/issue", issue, methods=["POST"]),
            Route("/v1/credentials/{cid}/revoke", revoke, methods=["POST"]),
            Route("/v1/checkpoints", broken),
            Route("/v1/governance", governance),
            Route("/v1/governance/proposals", propose, methods=["POST"]),
            Route("/v1/governance/proposals/{pid}/votes", vote, methods=["POST"]),
            Route("/v1/stream", stream),
        ]
    )


@contextlib.asynccontextmanager
async def running_stub(bind: str, *, need_token: bool = False) -> AsyncIterator[Recorder]:
    """Serve the stub on ``bind`` (``unix:/path`` or ``127.0.0.1:port``) until the block ends."""
    recorder = Recorder()
    config = Config()
    config.bind = [bind]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 0.5
    stop = asyncio.Event()
    app = build_app(recorder, await _canned(), need_token=need_token)
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        await _until_listening(bind)
        yield recorder
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)


async def _until_listening(bind: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if bind.startswith("unix:"):
                _, writer = await asyncio.open_unix_connection(bind[5:])
            else:
                host, port = bind.rsplit(":", 1)
                _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.01)
            continue
        writer.close()
        await writer.wait_closed()
        return


def socket_path(tmp: Path) -> Path:
    return tmp / "admin.sock"
