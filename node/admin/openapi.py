"""The admin API's OpenAPI 3.0 schema, written as data next to the routes in :mod:`.api`.

``admin_spec(agencies)`` names the network's agencies as enums, so clients and fuzzers see the
values a path or filter accepts. Keep this in step with :mod:`.api` and ``docs/admin-api.md``;
the API tests fuzz the server against it.
"""

from __future__ import annotations

from typing import Any

from node.admin.paging import MAX_BLOCKS_LIMIT, MAX_EVENTS_LIMIT
from node.admin.shapes import (
    CREDENTIAL_CLASSES,
    EVENT_KINDS,
    REVOCATION_REASONS,
    STATUSES,
    SUSPENSION_REASONS,
)
from node.core.events import MAX_TIMESTAMP_S

Schema = dict[str, Any]

HEX32: Schema = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
HEX: Schema = {"type": "string", "pattern": "^[0-9a-f]*$"}
UINT: Schema = {"type": "integer", "minimum": 0}
MS: Schema = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
TIME_S: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_TIMESTAMP_S}
REQUEST_ID: Schema = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"}
REVOCATION_REASONS_ENUM = list(REVOCATION_REASONS)
SUSPENSION_REASONS_ENUM = list(SUSPENSION_REASONS)


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    required = [k for k in props if k not in optional]
    return {"type": "object", "properties": props, "required": required}


def _nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def _array(item: Schema) -> Schema:
    return {"type": "array", "items": item}


def _components(agency: Schema) -> dict[str, Schema]:
    string = {"type": "string"}
    return {
        "Error": _obj({"error": _obj({"code": string, "message": string})}),
        "Peer": _obj(
            {
                "peer_id": string,
                "agency_id": agency,
                "addrs": _array(string),
                "connected": {"type": "boolean"},
                "score": {"type": "number"},
                "latency_ms": _nullable({"type": "number"}),
                "last_seen_ms": _nullable(MS),
            }
        ),
        "Head": _obj(
            {
                "agency_id": agency,
                "name": string,
                "height": UINT,
                "block_hash": HEX32,
                "timestamp_ms": MS,
                "state_root": HEX32,
                "log_root": HEX32,
                "lag_blocks": UINT,
                "frozen": {"type": "boolean"},
            }
        ),
        "Alert": _obj(
            {
                "id": string,
                "level": {"type": "string", "enum": ["info", "warning", "critical"]},
                "kind": string,
                "message": string,
                "at_ms": MS,
            }
        ),
        "Status": _obj(
            {
                "agency_id": agency,
                "agency_name": string,
                "network": string,
                "network_id": HEX32,
                "version": string,
                "started_ms": MS,
                "uptime_s": {"type": "number", "minimum": 0},
                "events_per_s": {"type": "number"},
                "heads": _array(_ref("Head")),
                "peers": _array(_ref("Peer")),
                "checkpoint": _nullable(_ref("Checkpoint")),
                "rsk": _nullable(
                    _obj(
                        {
                            "account": string,
                            "balance_wei": string,
                            "chain_id": UINT,
                            "endpoint": string,
                        }
                    )
                ),
                "alerts": _array(_ref("Alert")),
            }
        ),
        "Event": _obj(
            {
                "agency_id": agency,
                "height": UINT,
                "index": UINT,
                "kind": {"type": "string", "enum": list(EVENT_KINDS)},
                "timestamp_ms": MS,
                "block_hash": HEX32,
                "credential_id": HEX32,
                "schema_id": HEX32,
                "reason": {
                    "type": "string",
                    "enum": sorted({*REVOCATION_REASONS, *SUSPENSION_REASONS}),
                },
                "valid_from_s": TIME_S,
                "valid_until_s": TIME_S,
            },
            optional=("credential_id", "schema_id", "reason", "valid_from_s", "valid_until_s"),
        ),
        "EventPage": _obj({"events": _array(_ref("Event")), "next_cursor": _nullable(string)}),
        "BlockSummary": _obj(
            {
                "agency_id": agency,
                "height": UINT,
                "block_hash": HEX32,
                "prev_hash": HEX32,
                "timestamp_ms": MS,
                "event_count": UINT,
                "events_root": HEX32,
                "state_root": HEX32,
            }
        ),
        "BlockDetail": _obj({"block": _ref("BlockSummary"), "events": _array(_ref("Event"))}),
        "Credential": _obj(
            {
                "issuer": agency,
                "credential_id": HEX32,
                "schema_id": HEX32,
                "status": {"type": "string", "enum": list(STATUSES)},
                "valid_from_s": TIME_S,
                "valid_until_s": _nullable(TIME_S),
                "issued_height": UINT,
                "updated_height": UINT,
                "reason": _nullable(
                    {"type": "string", "enum": sorted({*REVOCATION_REASONS, *SUSPENSION_REASONS})}
                ),
            }
        ),
        "CredentialRecord": _obj(
            {"credential": _ref("Credential"), "history": _array(_ref("Event"))}
        ),
        "WriteResult": _obj(
            {
                "request_id": REQUEST_ID,
                "status": {"type": "string", "enum": ["committed"]},
                "agency_id": agency,
                "height": UINT,
                "block_hash": HEX32,
                "event_index": UINT,
                "credential": _nullable(_ref("Credential")),
                "schema_id": HEX32,
                "count": UINT,
            },
            optional=("credential", "schema_id", "count"),
        ),
        "ProofBundle": _obj(
            {
                "format": {"type": "string", "enum": ["calpe-proof-bundle"]},
                "version": {"type": "integer", "enum": [1]},
                "network": string,
                "network_id": HEX32,
                "issuer": agency,
                "credential_id": HEX32,
                "status": {"type": "string", "enum": [*STATUSES, "unknown"]},
                "credential": _nullable(_ref("Credential")),
                "record": _nullable(HEX),
                "state_proof": HEX,
                "head": _obj(
                    {
                        "agency_id": agency,
                        "height": UINT,
                        "block_hash": HEX32,
                        "timestamp_ms": MS,
                        "state_root": HEX32,
                        "log_root": HEX32,
                    }
                ),
                "checkpoint": _nullable({"type": "object"}),
                "generated_ms": MS,
            }
        ),
        "Checkpoint": _obj(
            {
                "epoch": UINT,
                "checkpoint_root": HEX32,
                "timestamp_ms": MS,
                "signers": _array(agency),
                "signatures": UINT,
                "quorum": UINT,
                "state": {
                    "type": "string",
                    "enum": ["proposed", "signed", "submitted", "confirmed", "reorged"],
                },
                "tx_hash": _nullable(string),
                "confirmations": UINT,
            }
        ),
        "Plugin": _obj(
            {
                "name": string,
                "enabled": {"type": "boolean"},
                "state": {"type": "string", "enum": ["running", "stopped", "failed"]},
                "errors": _array(string),
            }
        ),
        "LogLine": _obj({"at_ms": MS, "level": string, "logger": string, "message": string}),
        "Backup": _obj({"path": string, "manifest": {"type": "object"}}),
    }


def _json(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR = _json(_ref("Error"), "an error: {error: {code, message}}")


def _op(
    summary: str,
    ok: Schema,
    *codes: int,
    params: list[Schema] | None = None,
    body: Schema | None = None,
    ok_response: Schema | None = None,
) -> Schema:
    responses: dict[str, Schema] = {"200": ok_response or _json(ok)}
    for code in codes:
        responses[str(code)] = _ERROR
    responses["default"] = _ERROR
    op: Schema = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _q(name: str, schema: Schema, description: str = "") -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _p(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _body(props: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    return {**_obj(props, optional), "additionalProperties": False}


def admin_spec(agencies: list[str]) -> Schema:
    agency: Schema = {"type": "string", "enum": agencies}
    cred = [_p("issuer", agency), _p("credential_id", HEX32)]
    reason_body = {
        "revoke": _body(
            {
                "request_id": REQUEST_ID,
                "reason": {"type": "string", "enum": REVOCATION_REASONS_ENUM},
            }
        ),
        "suspend": _body(
            {
                "request_id": REQUEST_ID,
                "reason": {"type": "string", "enum": SUSPENSION_REASONS_ENUM},
            }
        ),
        "reinstate": _body({"request_id": REQUEST_ID}),
    }
    paths: dict[str, Schema] = {
        "/health": {"get": _op("liveness", _obj({"ok": {"type": "boolean"}}))},
        "/metrics": {
            "get": _op(
                "Prometheus metrics",
                {},
                ok_response={
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
            )
        },
        "/v1/status": {"get": _op("node status", _ref("Status"))},
        "/v1/peers": {"get": _op("peers", _obj({"peers": _array(_ref("Peer"))}))},
        "/v1/events": {
            "get": _op(
                "events, newest first",
                _ref("EventPage"),
                400,
                params=[
                    _q("agency", agency),
                    _q("kind", {"type": "string", "enum": list(EVENT_KINDS)}),
                    _q("credential", HEX32),
                    _q("since_ms", MS),
                    _q("until_ms", MS),
                    _q("cursor", {"type": "string"}, "next_cursor of the previous page"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS_LIMIT}),
                ],
            )
        },
        "/v1/blocks": {
            "get": _op(
                "blocks, newest first",
                _obj({"blocks": _array(_ref("BlockSummary"))}),
                400,
                params=[
                    _q("agency", agency),
                    _q("before_height", {"type": "integer", "minimum": 1}),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": MAX_BLOCKS_LIMIT}),
                ],
            )
        },
        "/v1/blocks/{agency}/{height}": {
            "get": _op(
                "one block and its events",
                _ref("BlockDetail"),
                400,
                404,
                params=[_p("agency", agency), _p("height", {"type": "integer", "minimum": 1})],
            )
        },
        "/v1/credentials/{issuer}/{credential_id}": {
            "get": _op(
                "a credential and its history", _ref("CredentialRecord"), 400, 404, params=cred
            )
        },
        "/v1/credentials/{issuer}/{credential_id}/proof": {
            "get": _op(
                "a proof bundle (docs/proof-bundle.md)", _ref("ProofBundle"), 400, 404, params=cred
            )
        },
        "/v1/credentials/issue": {
            "post": _op(
                "issue a credential",
                _ref("WriteResult"),
                400,
                409,
                413,
                503,
                body=_body(
                    {
                        "request_id": REQUEST_ID,
                        "credential_id": HEX32,
                        "schema_id": HEX32,
                        "valid_from_s": TIME_S,
                        "valid_until_s": _nullable(TIME_S),
                    },
                    optional=("valid_until_s",),
                ),
            )
        },
        "/v1/credentials/batch": {
            "post": _op(
                "issue, revoke, suspend or reinstate up to 500 credentials in one block",
                _ref("WriteResult"),
                400,
                409,
                413,
                503,
                body=_body(
                    {
                        "request_id": REQUEST_ID,
                        "operations": {
                            **_array(
                                _body(
                                    {
                                        "op": {
                                            "type": "string",
                                            "enum": ["issue", "revoke", "suspend", "reinstate"],
                                        },
                                        "credential_id": HEX32,
                                        "schema_id": HEX32,
                                        "valid_from_s": TIME_S,
                                        "valid_until_s": _nullable(TIME_S),
                                        "reason": {"type": "string"},
                                    },
                                    optional=(
                                        "schema_id",
                                        "valid_from_s",
                                        "valid_until_s",
                                        "reason",
                                    ),
                                )
                            ),
                            "minItems": 1,
                            "maxItems": 500,
                        },
                    }
                ),
            )
        },
        "/v1/schemas": {
            "post": _op(
                "publish a credential schema",
                _ref("WriteResult"),
                400,
                409,
                413,
                503,
                body=_body(
                    {
                        "request_id": REQUEST_ID,
                        "schema_id": HEX32,
                        "credential_class": {"type": "string", "enum": list(CREDENTIAL_CLASSES)},
                        "version": {"type": "integer", "minimum": 1, "maximum": 65535},
                    }
                ),
            )
        },
        "/v1/checkpoints": {
            "get": _op(
                "checkpoints, newest first",
                _obj({"checkpoints": _array(_ref("Checkpoint"))}),
                400,
                params=[_q("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
            )
        },
        "/v1/plugins": {"get": _op("plugins", _obj({"plugins": _array(_ref("Plugin"))}))},
        "/v1/logs": {
            "get": _op(
                "recent log lines, newest last",
                _obj({"logs": _array(_ref("LogLine"))}),
                400,
                params=[
                    _q(
                        "level",
                        {
                            "type": "string",
                            "enum": ["debug", "info", "warning", "error", "critical"],
                        },
                    ),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 2000}),
                ],
            )
        },
        "/v1/stream": {
            "get": _op(
                "server-sent events: block, alert, status, log, checkpoint",
                {},
                ok_response={
                    "description": "an event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
            )
        },
        "/v1/backup": {
            "post": _op(
                "back up the database into the backup directory",
                _ref("Backup"),
                400,
                409,
                413,
                body=_body({"path": {"type": "string"}}, optional=("path",)),
            )
        },
    }
    for action, body in reason_body.items():
        paths[f"/v1/credentials/{{credential_id}}/{action}"] = {
            "post": _op(
                f"{action} a credential",
                _ref("WriteResult"),
                400,
                409,
                413,
                503,
                params=[_p("credential_id", HEX32)],
                body=body,
            )
        }
    for action in ("enable", "disable"):
        paths[f"/v1/plugins/{{name}}/{action}"] = {
            "post": _op(
                f"{action} a plugin",
                _obj({"plugin": _ref("Plugin")}),
                404,
                params=[_p("name", {"type": "string"})],
            )
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Calpe node admin API", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": _components(agency),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
