"""Request validation for the admin API: every bad input becomes an :class:`ApiError` (400)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from node.admin.shapes import parse_enum
from node.core.events import MAX_TIMESTAMP_S

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
HEX32 = re.compile(r"[0-9a-f]{64}")
MAX_BODY_BYTES = 16 * 1024


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def not_found(message: str, code: str = "not_found") -> ApiError:
    return ApiError(404, code, message)


def parse_body(
    raw: bytes, fields: Mapping[str, bool], *, max_bytes: int = MAX_BODY_BYTES
) -> dict[str, Any]:
    """The JSON object body, with only ``fields`` (name -> required) allowed."""
    if len(raw) > max_bytes:
        raise ApiError(413, "too_large", f"the body exceeds {max_bytes} bytes")
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise bad(f"the body is not JSON: {exc}") from None
    return check_fields(body, fields, "the body")


def check_fields(value: Any, fields: Mapping[str, bool], where: str) -> dict[str, Any]:
    """``value`` as a JSON object with only ``fields`` (name -> required)."""
    if not isinstance(value, dict):
        raise bad(f"{where} must be a JSON object")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise bad(f"{where}: unknown field(s): {', '.join(unknown)}")
    missing = sorted(name for name, required in fields.items() if required and name not in value)
    if missing:
        raise bad(f"{where}: missing field(s): {', '.join(missing)}")
    return value


def request_id(body: Mapping[str, Any]) -> str:
    value = body.get("request_id")
    if not isinstance(value, str) or not REQUEST_ID.fullmatch(value):
        raise bad("request_id must be 1-64 characters of [A-Za-z0-9._:-]")
    return value


def hex32(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not HEX32.fullmatch(value):
        raise bad(f"{name} must be 64 lowercase hex characters (32 bytes)")
    return bytes.fromhex(value)


def integer(value: Any, name: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(f"{name} must be an integer")
    if not minimum <= value <= maximum:
        raise bad(f"{name} must be between {minimum} and {maximum}")
    return value


def timestamp_s(value: Any, name: str) -> int:
    return integer(value, name, 0, MAX_TIMESTAMP_S)


def enum_value(enum: type[IntEnum], value: Any, name: str) -> Any:
    names = [e.name.lower() for e in enum]
    if not isinstance(value, str):
        raise bad(f"{name} must be one of {', '.join(names)}")
    try:
        return parse_enum(enum, value)
    except KeyError:
        raise bad(f"{name} must be one of {', '.join(names)}") from None


def query_int(params: Mapping[str, str], name: str, minimum: int, maximum: int) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not re.fullmatch(r"-?[0-9]{1,19}", raw):
        raise bad(f"{name} must be an integer")
    return integer(int(raw), name, minimum, maximum)
