"""The admin API's routes (``docs/admin-api.md``); the OpenAPI schema is in :mod:`.openapi`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from node.admin import backup, inputs, openapi, paging, proofs
from node.admin.governance import GovernanceApi, receipt_json
from node.admin.idempotency import PerRequestId
from node.admin.inputs import ApiError, bad, not_found
from node.admin.logs import LEVELS, LogRing
from node.admin.metrics import CONTENT_TYPE, NodeMetrics
from node.admin.shapes import Json, credential_json, error_body
from node.admin.status import peers_json, status_json
from node.admin.stream import stream_response
from node.core.errors import CalpeError, ValidationError
from node.core.events import (
    KIND_BY_LABEL,
    CredentialClass,
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    Event,
    RevocationReason,
    SchemaPublished,
    SuspensionReason,
)
from node.plugins_host.host import UnknownPluginError
from node.services.producer import ProducerBusyError, Receipt

if TYPE_CHECKING:
    from node.services.node import LedgerNode

log = logging.getLogger(__name__)


class AdminApi:
    """Request handlers over one running node."""

    def __init__(self, node: LedgerNode, logs: LogRing, metrics: NodeMetrics, backups: Path):
        self.node = node
        self.logs = logs
        self.metrics = metrics
        self.backups = backups
        self._openapi: tuple[tuple[str, ...], bytes] | None = None
        """The served schema and the agencies it was built for."""
        self._requests = PerRequestId()
        self.governance = GovernanceApi(node, self._requests)

    @property
    def _agencies(self) -> tuple[str, ...]:
        return tuple(sorted(self.node.store.store.heads()))

    def _agency(self, value: str | None, *, where: str = "agency") -> str:
        if value is None or value not in self._agencies:
            raise bad(f"{where} must be a member agency: {', '.join(self._agencies)}")
        return value

    async def _read(self, fn: Any, *args: Any) -> Any:
        return await self.node.store.call(fn, *args)

    # --- reads ---------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def metrics_text(self, request: Request) -> Response:
        return Response(await self.metrics.render(), media_type=CONTENT_TYPE)

    async def status(self, request: Request) -> Response:
        return JSONResponse(await status_json(self.node))

    async def peers(self, request: Request) -> Response:
        return JSONResponse({"peers": peers_json(self.node)})

    async def events(self, request: Request) -> Response:
        q = request.query_params
        agency = q.get("agency")
        kind = q.get("kind")
        if kind is not None and kind not in KIND_BY_LABEL:
            raise bad(f"kind must be one of {', '.join(KIND_BY_LABEL)}")
        flt = paging.EventFilter(
            agencies=self._agencies if agency is None else (self._agency(agency),),
            kind=None if kind is None else KIND_BY_LABEL[kind],
            credential=None
            if q.get("credential") is None
            else inputs.hex32(q["credential"], "credential"),
            since_ms=inputs.query_int(q, "since_ms", 0, 2**63 - 1),
            until_ms=inputs.query_int(q, "until_ms", 0, 2**63 - 1),
        )
        limit = inputs.query_int(q, "limit", 1, paging.MAX_EVENTS_LIMIT) or 100
        try:
            events, cursor = await self._read(
                paging.events_page, self.node.store.store, flt, q.get("cursor"), limit
            )
        except paging.CursorError as exc:
            raise bad(str(exc), "bad_cursor") from None
        return JSONResponse({"events": events, "next_cursor": cursor})

    async def blocks(self, request: Request) -> Response:
        q = request.query_params
        agency = q.get("agency")
        agencies = self._agencies if agency is None else (self._agency(agency),)
        before = inputs.query_int(q, "before_height", 1, 2**63 - 1)
        limit = inputs.query_int(q, "limit", 1, paging.MAX_BLOCKS_LIMIT) or 50
        blocks = await self._read(
            paging.blocks_page, self.node.store.store, agencies, before, limit
        )
        return JSONResponse({"blocks": blocks})

    async def block(self, request: Request) -> Response:
        agency = request.path_params["agency"]
        if agency not in self._agencies:
            raise not_found(f"no member agency {agency!r}", "unknown_agency")
        height = inputs.query_int({"height": request.path_params["height"]}, "height", 1, 2**63 - 1)
        detail = await self._read(paging.block_detail, self.node.store.store, agency, height)
        if detail is None:
            raise not_found(f"{agency} has no block at height {height}", "unknown_block")
        return JSONResponse(detail)

    def _credential_path(self, request: Request) -> tuple[str, bytes]:
        issuer = request.path_params["issuer"]
        credential_id = inputs.hex32(request.path_params["credential_id"], "credential_id")
        if issuer not in self._agencies:
            raise not_found(f"no member agency {issuer!r}", "unknown_agency")
        return issuer, credential_id

    async def credential(self, request: Request) -> Response:
        issuer, cid = self._credential_path(request)
        found = await self._read(proofs.credential_with_history, self.node.store.store, issuer, cid)
        if found is None:
            raise not_found(f"{issuer} never issued credential {cid.hex()}", "unknown_credential")
        return JSONResponse(found)

    async def proof(self, request: Request) -> Response:
        issuer, cid = self._credential_path(request)
        store, contract = self.node.store.store, self.node.checkpointer.contract
        return JSONResponse(
            await self.node.store.call(proofs.proof_bundle, store, issuer, cid, contract=contract)
        )

    async def checkpoints(self, request: Request) -> Response:
        limit = inputs.query_int(request.query_params, "limit", 1, 500) or 50
        return JSONResponse({"checkpoints": await self.node.checkpoints(limit)})

    async def plugins(self, request: Request) -> Response:
        return JSONResponse({"plugins": self.node.plugin_states()})

    async def plugin_action(self, request: Request) -> Response:
        name, action = request.path_params["name"], request.path_params["action"]
        if action not in ("enable", "disable"):
            raise not_found(f"no action {action!r}: use enable or disable", "not_found")
        enabled = action == "enable"
        try:
            plugin = await self.node.set_plugin_enabled(name, enabled)
        except UnknownPluginError:
            raise not_found(f"no plugin named {name!r} is installed", "unknown_plugin") from None
        return JSONResponse({"plugin": plugin})

    async def logs_list(self, request: Request) -> Response:
        q = request.query_params
        level = q.get("level", "debug")
        if level not in LEVELS:
            raise bad(f"level must be one of {', '.join(LEVELS)}")
        limit = inputs.query_int(q, "limit", 1, 2000) or 200
        return JSONResponse({"logs": self.logs.recent(LEVELS[level], limit)})

    async def stream(self, request: Request) -> Response:
        return stream_response(self.node, self.logs)

    async def openapi_doc(self, request: Request) -> Response:
        # Rebuilt only when governance admits or removes an agency: the schema lists their ids.
        agencies = self._agencies
        if self._openapi is None or self._openapi[0] != agencies:
            body = JSONResponse(openapi.admin_spec(list(agencies))).body
            self._openapi = (agencies, bytes(body))
        return Response(self._openapi[1], media_type="application/json")

    # --- writes --------------------------------------------------------------------------------

    async def _submit(self, events: Sequence[Event], rid: str) -> Receipt:
        try:
            async with self._requests.hold(rid):
                return await self.node.submit(events, request_id=rid)
        except ProducerBusyError as exc:
            raise ApiError(503, "busy", str(exc), {"Retry-After": "1"}) from None
        except ValidationError as exc:
            raise ApiError(409, exc.reason, str(exc)) from None
        except CalpeError as exc:  # shutting down
            raise ApiError(503, "not_ready", str(exc)) from None

    def _answer(self, rid: str, receipt: Receipt) -> Json:
        return receipt_json(rid, receipt)

    async def _credential_write(self, rid: str, cid: bytes, event: Event) -> Response:
        receipt = await self._submit([event], rid)
        record = await self._read(
            proofs.record_at, self.node.store.store, receipt.agency_id, cid, receipt.height
        )
        answer = self._answer(rid, receipt)
        answer["credential"] = None if record is None else credential_json(record)
        return JSONResponse(answer)

    async def issue(self, request: Request) -> Response:
        body = inputs.parse_body(await request.body(), _ISSUE_FIELDS)
        rid = inputs.request_id(body)
        event = _issued(body)
        return await self._credential_write(rid, event.credential_id, event)

    async def batch(self, request: Request) -> Response:
        """Up to 500 credential operations committed together in one block, or none of them."""
        raw = await request.body()
        body = inputs.parse_body(raw, _BATCH_FIELDS, max_bytes=MAX_BATCH_BODY_BYTES)
        rid = inputs.request_id(body)
        operations = body["operations"]
        if not isinstance(operations, list) or not 1 <= len(operations) <= MAX_BATCH:
            raise bad(f"operations must be a list of 1 to {MAX_BATCH} operations")
        events = [_operation(op, f"operations[{i}]") for i, op in enumerate(operations)]
        receipt = await self._submit(events, rid)
        return JSONResponse({**self._answer(rid, receipt), "count": len(events)})

    async def change(self, request: Request) -> Response:
        action = request.path_params["action"]
        if action not in ("revoke", "suspend", "reinstate"):
            raise not_found(f"no credential action {action!r}")
        cid = inputs.hex32(request.path_params["credential_id"], "credential_id")
        event: Event
        if action == "reinstate":
            body = inputs.parse_body(await request.body(), {"request_id": True})
            event = CredentialReinstated(cid)
        else:
            body = inputs.parse_body(await request.body(), {"request_id": True, "reason": True})
            if action == "revoke":
                event = CredentialRevoked(
                    cid, inputs.enum_value(RevocationReason, body["reason"], "reason")
                )
            else:
                event = CredentialSuspended(
                    cid, inputs.enum_value(SuspensionReason, body["reason"], "reason")
                )
        return await self._credential_write(inputs.request_id(body), cid, event)

    async def publish_schema(self, request: Request) -> Response:
        body = inputs.parse_body(await request.body(), _SCHEMA_FIELDS)
        rid = inputs.request_id(body)
        sid = inputs.hex32(body["schema_id"], "schema_id")
        cls = inputs.enum_value(CredentialClass, body["credential_class"], "credential_class")
        version = inputs.integer(body["version"], "version", 1, 65535)
        receipt = await self._submit([SchemaPublished(sid, cls, version)], rid)
        return JSONResponse({**self._answer(rid, receipt), "schema_id": sid.hex()})

    async def backup(self, request: Request) -> Response:
        body = inputs.parse_body(await request.body(), {"path": False})
        name = body.get("path")
        if name is not None and not isinstance(name, str):
            raise bad("path must be a string")
        target = backup.target_path(self.backups, name, self.node.genesis.network)
        manifest = await backup.backup_running(self.node, target)
        return JSONResponse({"path": str(target), "manifest": manifest})


MAX_BATCH = 500
MAX_BATCH_BODY_BYTES = 256 * 1024
_BATCH_FIELDS = {"request_id": True, "operations": True}
_OPERATION_FIELDS = {
    "issue": {
        "op": True,
        "credential_id": True,
        "schema_id": True,
        "valid_from_s": True,
        "valid_until_s": False,
    },
    "revoke": {"op": True, "credential_id": True, "reason": True},
    "suspend": {"op": True, "credential_id": True, "reason": True},
    "reinstate": {"op": True, "credential_id": True},
}


def _issued(body: dict[str, Any]) -> CredentialIssued:
    cid = inputs.hex32(body["credential_id"], "credential_id")
    sid = inputs.hex32(body["schema_id"], "schema_id")
    start = inputs.timestamp_s(body["valid_from_s"], "valid_from_s")
    until = body.get("valid_until_s")
    if until is not None:
        until = inputs.timestamp_s(until, "valid_until_s")
        if until <= start:
            raise bad("valid_until_s must be after valid_from_s")
    return CredentialIssued(cid, sid, start, until)


def _operation(value: Any, where: str) -> Event:
    kind = value.get("op") if isinstance(value, dict) else None
    if kind not in _OPERATION_FIELDS:
        raise bad(f"{where}: op must be one of {', '.join(_OPERATION_FIELDS)}")
    op = inputs.check_fields(value, _OPERATION_FIELDS[kind], where)
    if kind == "issue":
        return _issued(op)
    cid = inputs.hex32(op["credential_id"], f"{where}.credential_id")
    if kind == "reinstate":
        return CredentialReinstated(cid)
    if kind == "revoke":
        return CredentialRevoked(cid, inputs.enum_value(RevocationReason, op["reason"], "reason"))
    return CredentialSuspended(cid, inputs.enum_value(SuspensionReason, op["reason"], "reason"))


_ISSUE_FIELDS = {
    "request_id": True,
    "credential_id": True,
    "schema_id": True,
    "valid_from_s": True,
    "valid_until_s": False,
}
_SCHEMA_FIELDS = {"request_id": True, "schema_id": True, "credential_class": True, "version": True}


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.code, exc.message), exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("admin API request failed path=%s", request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal", f"internal error: {type(exc).__name__}"), 500)


EXCEPTION_HANDLERS = {ApiError: _api_error, HTTPException: _http_error, Exception: _internal_error}


def build_admin_app(api: AdminApi) -> Starlette:
    routes = [
        Route("/health", api.health),
        Route("/metrics", api.metrics_text),
        Route("/openapi.json", api.openapi_doc),
        Route("/v1/status", api.status),
        Route("/v1/peers", api.peers),
        Route("/v1/events", api.events),
        Route("/v1/blocks", api.blocks),
        Route("/v1/blocks/{agency}/{height}", api.block),
        Route("/v1/credentials/issue", api.issue, methods=["POST"]),
        Route("/v1/credentials/batch", api.batch, methods=["POST"]),
        Route("/v1/credentials/{issuer}/{credential_id}", api.credential),
        Route("/v1/credentials/{issuer}/{credential_id}/proof", api.proof),
        Route(
            "/v1/credentials/{credential_id}/{action}",
            api.change,
            methods=["POST"],
        ),
        Route("/v1/schemas", api.publish_schema, methods=["POST"]),
        Route("/v1/checkpoints", api.checkpoints),
        Route("/v1/plugins", api.plugins),
        Route("/v1/plugins/{name}/{action}", api.plugin_action, methods=["POST"]),
        Route("/v1/logs", api.logs_list),
        Route("/v1/stream", api.stream),
        Route("/v1/backup", api.backup, methods=["POST"]),
        Route("/v1/governance", api.governance.document),
        Route("/v1/governance/proposals", api.governance.propose, methods=["POST"]),
        Route(
            "/v1/governance/proposals/{proposal_id}/votes",
            api.governance.vote,
            methods=["POST"],
        ),
        Route("/v1/governance/rotate-keys", api.governance.rotate_keys, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)
