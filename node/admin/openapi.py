"""The admin API's OpenAPI 3.0 schema, written as data next to the routes in :mod:`.api`.

``admin_spec(agencies)`` names the network's agencies as enums, so clients and fuzzers see the
values a path or filter accepts. Keep this in step with :mod:`.api` and ``docs/admin-api.md``;
the API tests fuzz the server against it.
"""

from __future__ import annotations

from node.admin.governance_spec import governance_components, governance_paths
from node.admin.paging import MAX_BLOCKS_LIMIT, MAX_EVENTS_LIMIT
from node.admin.shapes import (
    CREDENTIAL_CLASSES,
    EVENT_KINDS,
    REVOCATION_REASONS,
    STATUSES,
    SUSPENSION_REASONS,
)
from node.admin.spec_kit import (
    HEX,
    HEX32,
    MS,
    REQUEST_ID,
    TIME_S,
    UINT,
    Schema,
    array,
    nullable,
    obj,
    operation,
    path_param,
    query_param,
    ref,
    request_body,
)

REVOCATION_REASONS_ENUM = list(REVOCATION_REASONS)
SUSPENSION_REASONS_ENUM = list(SUSPENSION_REASONS)


def _components(agency: Schema) -> dict[str, Schema]:
    string = {"type": "string"}
    return {
        "Error": obj({"error": obj({"code": string, "message": string})}),
        "Peer": obj(
            {
                "peer_id": string,
                "agency_id": agency,
                "addrs": array(string),
                "connected": {"type": "boolean"},
                "score": {"type": "number"},
                "latency_ms": nullable({"type": "number"}),
                "last_seen_ms": nullable(MS),
            }
        ),
        "Head": obj(
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
        "Alert": obj(
            {
                "id": string,
                "level": {"type": "string", "enum": ["info", "warning", "critical"]},
                "kind": string,
                "message": string,
                "at_ms": MS,
            }
        ),
        "Status": obj(
            {
                "agency_id": agency,
                "agency_name": string,
                "network": string,
                "network_id": HEX32,
                "version": string,
                "started_ms": MS,
                "uptime_s": {"type": "number", "minimum": 0},
                "events_per_s": {"type": "number"},
                "heads": array(ref("Head")),
                "peers": array(ref("Peer")),
                "checkpoint": nullable(ref("Checkpoint")),
                "rsk": nullable(
                    obj(
                        {
                            "account": string,
                            "balance_wei": string,
                            "chain_id": UINT,
                            "endpoint": string,
                        }
                    )
                ),
                "alerts": array(ref("Alert")),
            }
        ),
        "Event": obj(
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
                "proposal_id": HEX32,
            },
            optional=(
                "credential_id",
                "schema_id",
                "reason",
                "valid_from_s",
                "valid_until_s",
                "proposal_id",
            ),
        ),
        "EventPage": obj({"events": array(ref("Event")), "next_cursor": nullable(string)}),
        "BlockSummary": obj(
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
        "BlockDetail": obj({"block": ref("BlockSummary"), "events": array(ref("Event"))}),
        "Credential": obj(
            {
                "issuer": agency,
                "credential_id": HEX32,
                "schema_id": HEX32,
                "status": {"type": "string", "enum": list(STATUSES)},
                "valid_from_s": TIME_S,
                "valid_until_s": nullable(TIME_S),
                "issued_height": UINT,
                "updated_height": UINT,
                "reason": nullable(
                    {"type": "string", "enum": sorted({*REVOCATION_REASONS, *SUSPENSION_REASONS})}
                ),
            }
        ),
        "CredentialRecord": obj({"credential": ref("Credential"), "history": array(ref("Event"))}),
        "WriteResult": obj(
            {
                "request_id": REQUEST_ID,
                "status": {"type": "string", "enum": ["committed"]},
                "agency_id": agency,
                "height": UINT,
                "block_hash": HEX32,
                "event_index": UINT,
                "credential": nullable(ref("Credential")),
                "schema_id": HEX32,
                "count": UINT,
            },
            optional=("credential", "schema_id", "count"),
        ),
        "ProofBundle": obj(
            {
                "format": {"type": "string", "enum": ["calpe-proof-bundle"]},
                "version": {"type": "integer", "enum": [1]},
                "network": string,
                "network_id": HEX32,
                "issuer": agency,
                "credential_id": HEX32,
                "status": {"type": "string", "enum": [*STATUSES, "unknown"]},
                "credential": nullable(ref("Credential")),
                "record": nullable(HEX),
                "state_proof": HEX,
                "head": obj(
                    {
                        "agency_id": agency,
                        "height": UINT,
                        "block_hash": HEX32,
                        "timestamp_ms": MS,
                        "state_root": HEX32,
                        "log_root": HEX32,
                    }
                ),
                "checkpoint": nullable({"type": "object"}),
                "generated_ms": MS,
            }
        ),
        "Checkpoint": obj(
            {
                "epoch": UINT,
                "checkpoint_root": HEX32,
                "timestamp_ms": MS,
                "signers": array(agency),
                "signatures": UINT,
                "quorum": UINT,
                "state": {
                    "type": "string",
                    "enum": ["proposed", "signed", "submitted", "confirmed", "reorged"],
                },
                "tx_hash": nullable(string),
                "confirmations": UINT,
            }
        ),
        "Plugin": obj(
            {
                "name": string,
                "enabled": {"type": "boolean"},
                "state": {"type": "string", "enum": ["running", "stopped", "failed"]},
                "errors": array(string),
            }
        ),
        "LogLine": obj({"at_ms": MS, "level": string, "logger": string, "message": string}),
        "Backup": obj({"path": string, "manifest": {"type": "object"}}),
    }


def admin_spec(agencies: list[str]) -> Schema:
    agency: Schema = {"type": "string", "enum": agencies}
    cred = [path_param("issuer", agency), path_param("credential_id", HEX32)]
    reason_body = {
        "revoke": request_body(
            {
                "request_id": REQUEST_ID,
                "reason": {"type": "string", "enum": REVOCATION_REASONS_ENUM},
            }
        ),
        "suspend": request_body(
            {
                "request_id": REQUEST_ID,
                "reason": {"type": "string", "enum": SUSPENSION_REASONS_ENUM},
            }
        ),
        "reinstate": request_body({"request_id": REQUEST_ID}),
    }
    paths: dict[str, Schema] = {
        "/health": {"get": operation("liveness", obj({"ok": {"type": "boolean"}}))},
        "/metrics": {
            "get": operation(
                "Prometheus metrics",
                {},
                ok_response={
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
            )
        },
        "/v1/status": {"get": operation("node status", ref("Status"))},
        "/v1/peers": {"get": operation("peers", obj({"peers": array(ref("Peer"))}))},
        "/v1/events": {
            "get": operation(
                "events, newest first",
                ref("EventPage"),
                400,
                params=[
                    query_param("agency", agency),
                    query_param("kind", {"type": "string", "enum": list(EVENT_KINDS)}),
                    query_param("credential", HEX32),
                    query_param("since_ms", MS),
                    query_param("until_ms", MS),
                    query_param("cursor", {"type": "string"}, "next_cursor of the previous page"),
                    query_param(
                        "limit", {"type": "integer", "minimum": 1, "maximum": MAX_EVENTS_LIMIT}
                    ),
                ],
            )
        },
        "/v1/blocks": {
            "get": operation(
                "blocks, newest first",
                obj({"blocks": array(ref("BlockSummary"))}),
                400,
                params=[
                    query_param("agency", agency),
                    query_param("before_height", {"type": "integer", "minimum": 1}),
                    query_param(
                        "limit", {"type": "integer", "minimum": 1, "maximum": MAX_BLOCKS_LIMIT}
                    ),
                ],
            )
        },
        "/v1/blocks/{agency}/{height}": {
            "get": operation(
                "one block and its events",
                ref("BlockDetail"),
                400,
                404,
                params=[
                    path_param("agency", agency),
                    path_param("height", {"type": "integer", "minimum": 1}),
                ],
            )
        },
        "/v1/credentials/{issuer}/{credential_id}": {
            "get": operation(
                "a credential and its history", ref("CredentialRecord"), 400, 404, params=cred
            )
        },
        "/v1/credentials/{issuer}/{credential_id}/proof": {
            "get": operation(
                "a proof bundle (docs/proof-bundle.md)", ref("ProofBundle"), 400, 404, params=cred
            )
        },
        "/v1/credentials/issue": {
            "post": operation(
                "issue a credential",
                ref("WriteResult"),
                400,
                409,
                413,
                503,
                body=request_body(
                    {
                        "request_id": REQUEST_ID,
                        "credential_id": HEX32,
                        "schema_id": HEX32,
                        "valid_from_s": TIME_S,
                        "valid_until_s": nullable(TIME_S),
                    },
                    optional=("valid_until_s",),
                ),
            )
        },
        "/v1/credentials/batch": {
            "post": operation(
                "issue, revoke, suspend or reinstate up to 500 credentials in one block",
                ref("WriteResult"),
                400,
                409,
                413,
                503,
                body=request_body(
                    {
                        "request_id": REQUEST_ID,
                        "operations": {
                            **array(
                                request_body(
                                    {
                                        "op": {
                                            "type": "string",
                                            "enum": ["issue", "revoke", "suspend", "reinstate"],
                                        },
                                        "credential_id": HEX32,
                                        "schema_id": HEX32,
                                        "valid_from_s": TIME_S,
                                        "valid_until_s": nullable(TIME_S),
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
            "post": operation(
                "publish a credential schema",
                ref("WriteResult"),
                400,
                409,
                413,
                503,
                body=request_body(
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
            "get": operation(
                "checkpoints, newest first",
                obj({"checkpoints": array(ref("Checkpoint"))}),
                400,
                params=[query_param("limit", {"type": "integer", "minimum": 1, "maximum": 500})],
            )
        },
        "/v1/plugins": {"get": operation("plugins", obj({"plugins": array(ref("Plugin"))}))},
        "/v1/logs": {
            "get": operation(
                "recent log lines, newest last",
                obj({"logs": array(ref("LogLine"))}),
                400,
                params=[
                    query_param(
                        "level",
                        {
                            "type": "string",
                            "enum": ["debug", "info", "warning", "error", "critical"],
                        },
                    ),
                    query_param("limit", {"type": "integer", "minimum": 1, "maximum": 2000}),
                ],
            )
        },
        "/v1/stream": {
            "get": operation(
                "server-sent events: block, alert, status, log, checkpoint, governance",
                {},
                ok_response={
                    "description": "an event stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
            )
        },
        "/v1/backup": {
            "post": operation(
                "back up the database into the backup directory",
                ref("Backup"),
                400,
                409,
                413,
                body=request_body({"path": {"type": "string"}}, optional=("path",)),
            )
        },
    }
    for action, body in reason_body.items():
        paths[f"/v1/credentials/{{credential_id}}/{action}"] = {
            "post": operation(
                f"{action} a credential",
                ref("WriteResult"),
                400,
                409,
                413,
                503,
                params=[path_param("credential_id", HEX32)],
                body=body,
            )
        }
    for action in ("enable", "disable"):
        paths[f"/v1/plugins/{{name}}/{action}"] = {
            "post": operation(
                f"{action} a plugin",
                obj({"plugin": ref("Plugin")}),
                404,
                params=[path_param("name", {"type": "string"})],
            )
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Calpe node admin API", "version": "1"},
        "paths": {**paths, **governance_paths()},
        "components": {
            "schemas": {**_components(agency), **governance_components()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
