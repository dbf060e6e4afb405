"""The public read-only endpoint: a credential's status with its proof bundle, nothing else.

Served on its own TCP listener (``[public] listen``), without authentication, and rate-limited
per client address with a token bucket (429 with ``Retry-After`` when a client's bucket is
empty). Every other path is 404, and counts against the client's budget too.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from node.admin import inputs, proofs
from node.admin.api import EXCEPTION_HANDLERS
from node.admin.inputs import not_found
from node.admin.shapes import error_body

if TYPE_CHECKING:
    from node.services.node import LedgerNode

MAX_CLIENTS = 10_000


class TokenBuckets:
    """``per_minute`` requests per client address, with bursts up to ``per_minute``."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str, now: float | None = None) -> float:
        """0 if the request may proceed, else the seconds until it could."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > MAX_CLIENTS:  # forget the longest-idle clients
            self._buckets.popitem(last=False)
        return wait


class RateLimit:
    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self._app = app
        self._buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self._buckets.take(client[0] if client else "unknown")
        if wait > 0:
            response = JSONResponse(
                error_body("rate_limited", "too many requests from this address; slow down"),
                429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)


def build_public_app(node: LedgerNode, per_minute: int) -> ASGIApp:

    def path(request: Request) -> tuple[str, bytes]:
        issuer = request.path_params["issuer"]
        credential_id = inputs.hex32(request.path_params["credential_id"], "credential_id")
        if issuer not in node.store.store.heads():
            raise not_found(f"no member agency {issuer!r}", "unknown_agency")
        return issuer, credential_id

    async def bundle_of(issuer: str, cid: bytes) -> dict[str, Any]:
        contract = node.checkpointer.contract
        bundle: dict[str, Any] = await node.store.call(
            proofs.proof_bundle, node.store.store, issuer, cid, contract=contract
        )
        return bundle

    async def status(request: Request) -> Response:
        issuer, cid = path(request)
        bundle = await bundle_of(issuer, cid)
        return JSONResponse(
            {"status": bundle["status"], "credential": bundle["credential"], "proof": bundle}
        )

    async def proof(request: Request) -> Response:
        issuer, cid = path(request)
        return JSONResponse(await bundle_of(issuer, cid))

    app = Starlette(
        routes=[
            Route("/v1/credentials/{issuer}/{credential_id}", status),
            Route("/v1/credentials/{issuer}/{credential_id}/proof", proof),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    return RateLimit(app, TokenBuckets(per_minute))
