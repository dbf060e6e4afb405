"""Building blocks of the admin API's OpenAPI 3.0 schema (:mod:`.openapi`,
:mod:`.governance_spec`): common field schemas, and helpers for objects, operations and
parameters."""

from __future__ import annotations

from typing import Any

from node.core.events import MAX_TIMESTAMP_S

Schema = dict[str, Any]

HEX32: Schema = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
HEX: Schema = {"type": "string", "pattern": "^[0-9a-f]*$"}
UINT: Schema = {"type": "integer", "minimum": 0}
MS: Schema = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
TIME_S: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_TIMESTAMP_S}
REQUEST_ID: Schema = {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(props: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    required = [k for k in props if k not in optional]
    return {"type": "object", "properties": props, "required": required}


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def array(item: Schema) -> Schema:
    return {"type": "array", "items": item}


def json_content(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = json_content(ref("Error"), "an error: {error: {code, message}}")


def operation(
    summary: str,
    ok: Schema,
    *codes: int,
    params: list[Schema] | None = None,
    body: Schema | None = None,
    ok_response: Schema | None = None,
) -> Schema:
    responses: dict[str, Schema] = {"200": ok_response or json_content(ok)}
    for code in codes:
        responses[str(code)] = ERROR
    responses["default"] = ERROR
    op: Schema = {"summary": summary, "responses": responses}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def query_param(name: str, schema: Schema, description: str = "") -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def path_param(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def request_body(props: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    return {**obj(props, optional), "additionalProperties": False}
