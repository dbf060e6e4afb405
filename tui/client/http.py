"""``AdminClient``: the admin API over httpx, on a Unix socket or on TCP with a bearer token."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from httpx_sse import SSEError, aconnect_sse

from tui.client.errors import ApiError, NodeUnreachable
from tui.client.governance import (
    Governance,
    KnownAction,
    ProposalReceipt,
    VoteReceipt,
)
from tui.client.models import (
    BlockDetail,
    BlockSummary,
    Checkpoint,
    CredentialRecord,
    EventPage,
    LogLine,
    Peer,
    Plugin,
    ProofBundle,
    Status,
    WriteResult,
)
from tui.client.protocol import MAX_EVENTS_LIMIT, request_id
from tui.client.stream import StreamEvent, stream_event

log = logging.getLogger(__name__)

# The stream carries a `status` event every 2 s: silence for longer than this means a dead node.
STREAM_READ_TIMEOUT_S = 15.0
_UDS_BASE_URL = "http://calpe-node"


def _seg(value: str) -> str:
    return quote(value, safe="")


class AdminClient:
    """Async client of the admin API (``docs/admin-api.md``); one method per endpoint.

    Build it with :meth:`for_socket` or :meth:`for_url`; close it with :meth:`aclose` (or use it
    as an async context manager).
    """

    def __init__(self, http: httpx.AsyncClient, where: str) -> None:
        self._http = http
        self._where = where

    @classmethod
    def for_socket(cls, path: str | Path, *, timeout_s: float = 10.0) -> AdminClient:
        transport = httpx.AsyncHTTPTransport(uds=str(path))
        http = httpx.AsyncClient(transport=transport, base_url=_UDS_BASE_URL, timeout=timeout_s)
        return cls(http, f"unix socket {path}")

    @classmethod
    def for_url(cls, base_url: str, token: str, *, timeout_s: float = 10.0) -> AdminClient:
        headers = {"Authorization": f"Bearer {token}"}
        http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout_s)
        return cls(http, base_url)

    @property
    def where(self) -> str:
        return self._where

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ------------------------------------------------------------------------------

    async def _request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self._http.request(method, path, params=query, json=body)
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise NodeUnreachable(self._where, str(exc) or type(exc).__name__) from exc
        except httpx.TimeoutException as exc:
            raise NodeUnreachable(self._where, "timed out") from exc
        if response.status_code >= 400:
            raise _api_error(response)
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise ApiError(
                "bad_response", f"{path} did not return JSON", response.status_code
            ) from exc

    async def _get(self, path: str, **params: Any) -> Any:
        return await self._request("GET", path, params=params)

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        return await self._request("POST", path, body=body)

    # -- reads ----------------------------------------------------------------------------------

    async def health(self) -> bool:
        return bool((await self._get("/health")).get("ok"))

    async def status(self) -> Status:
        return Status.model_validate(await self._get("/v1/status"))

    async def peers(self) -> tuple[Peer, ...]:
        data = await self._get("/v1/peers")
        return tuple(Peer.model_validate(p) for p in data["peers"])

    async def events(
        self,
        *,
        agency: str | None = None,
        kind: str | None = None,
        credential: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> EventPage:
        data = await self._get(
            "/v1/events",
            agency=agency,
            kind=kind,
            credential=credential,
            since_ms=since_ms,
            until_ms=until_ms,
            cursor=cursor,
            limit=min(limit, MAX_EVENTS_LIMIT),
        )
        return EventPage.model_validate(data)

    async def blocks(
        self, *, agency: str | None = None, before_height: int | None = None, limit: int = 50
    ) -> tuple[BlockSummary, ...]:
        data = await self._get(
            "/v1/blocks", agency=agency, before_height=before_height, limit=limit
        )
        return tuple(BlockSummary.model_validate(b) for b in data["blocks"])

    async def block(self, agency: str, height: int) -> BlockDetail:
        return BlockDetail.model_validate(await self._get(f"/v1/blocks/{_seg(agency)}/{height}"))

    async def credential(self, issuer: str, credential_id: str) -> CredentialRecord:
        path = f"/v1/credentials/{_seg(issuer)}/{_seg(credential_id)}"
        return CredentialRecord.model_validate(await self._get(path))

    async def proof(self, issuer: str, credential_id: str) -> ProofBundle:
        path = f"/v1/credentials/{_seg(issuer)}/{_seg(credential_id)}/proof"
        return ProofBundle(raw=await self._get(path))

    async def checkpoints(self, limit: int = 20) -> tuple[Checkpoint, ...]:
        data = await self._get("/v1/checkpoints", limit=limit)
        return tuple(Checkpoint.model_validate(c) for c in data["checkpoints"])

    async def plugins(self) -> tuple[Plugin, ...]:
        data = await self._get("/v1/plugins")
        return tuple(Plugin.model_validate(p) for p in data["plugins"])

    async def logs(self, level: str | None = None, limit: int = 200) -> tuple[LogLine, ...]:
        data = await self._get("/v1/logs", level=level, limit=limit)
        return tuple(LogLine.model_validate(line) for line in data["logs"])

    # -- writes ---------------------------------------------------------------------------------

    async def issue(
        self,
        credential_id: str,
        schema_id: str,
        valid_from_s: int,
        valid_until_s: int | None = None,
        *,
        request_id: str | None = None,
    ) -> WriteResult:
        body: dict[str, Any] = {
            "request_id": _rid(request_id),
            "credential_id": credential_id,
            "schema_id": schema_id,
            "valid_from_s": valid_from_s,
        }
        if valid_until_s is not None:
            body["valid_until_s"] = valid_until_s
        return WriteResult.model_validate(await self._post("/v1/credentials/issue", body))

    async def revoke(
        self, credential_id: str, reason: str, *, request_id: str | None = None
    ) -> WriteResult:
        return await self._change(credential_id, "revoke", request_id, reason)

    async def suspend(
        self, credential_id: str, reason: str, *, request_id: str | None = None
    ) -> WriteResult:
        return await self._change(credential_id, "suspend", request_id, reason)

    async def reinstate(self, credential_id: str, *, request_id: str | None = None) -> WriteResult:
        return await self._change(credential_id, "reinstate", request_id, None)

    async def _change(
        self, credential_id: str, action: str, rid: str | None, reason: str | None
    ) -> WriteResult:
        body: dict[str, Any] = {"request_id": _rid(rid)}
        if reason is not None:
            body["reason"] = reason
        data = await self._post(f"/v1/credentials/{_seg(credential_id)}/{action}", body)
        return WriteResult.model_validate(data)

    async def publish_schema(
        self, schema_id: str, credential_class: str, version: int, *, request_id: str | None = None
    ) -> WriteResult:
        body = {
            "request_id": _rid(request_id),
            "schema_id": schema_id,
            "credential_class": credential_class,
            "version": version,
        }
        return WriteResult.model_validate(await self._post("/v1/schemas", body))

    async def set_plugin(self, name: str, enabled: bool) -> Plugin:
        action = "enable" if enabled else "disable"
        data = await self._post(f"/v1/plugins/{_seg(name)}/{action}", {})
        return Plugin.model_validate(data["plugin"])

    # -- governance -----------------------------------------------------------------------------

    async def governance(self) -> Governance:
        return Governance.model_validate(await self._get("/v1/governance"))

    async def propose(
        self,
        action: KnownAction,
        *,
        expires_s: int | None = None,
        request_id: str | None = None,
    ) -> ProposalReceipt:
        body: dict[str, Any] = {"request_id": _rid(request_id), "action": action.model_dump()}
        if expires_s is not None:
            body["expires_s"] = expires_s
        data = await self._post("/v1/governance/proposals", body)
        return ProposalReceipt.model_validate(data)

    async def vote(self, proposal_id: str, *, request_id: str | None = None) -> WriteResult:
        path = f"/v1/governance/proposals/{_seg(proposal_id)}/votes"
        data = await self._post(path, {"request_id": _rid(request_id)})
        return VoteReceipt.model_validate(data).receipt

    # -- live -----------------------------------------------------------------------------------

    async def stream(self) -> AsyncIterator[StreamEvent]:
        """Yield ``/v1/stream`` events until the server ends it; drops raise ``NodeUnreachable``."""
        timeout = httpx.Timeout(10.0, read=STREAM_READ_TIMEOUT_S)
        try:
            async with aconnect_sse(self._http, "GET", "/v1/stream", timeout=timeout) as source:
                if source.response.status_code >= 400:
                    await source.response.aread()
                    raise _api_error(source.response)
                async for sse in source.aiter_sse():
                    event = _parse_sse(sse.event, sse.data)
                    if event is not None:
                        yield event
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise NodeUnreachable(self._where, str(exc) or type(exc).__name__) from exc
        except httpx.TimeoutException as exc:
            raise NodeUnreachable(self._where, "stream went silent") from exc
        except SSEError as exc:
            raise ApiError("bad_stream", str(exc), 200) from exc


def _rid(given: str | None) -> str:
    return request_id(given)


def _parse_sse(name: str, data: str) -> StreamEvent | None:
    if not data:
        return None
    try:
        return stream_event(name, json.loads(data))
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        log.warning("skipping malformed stream event=%s: %s", name, exc)
        return None


def _api_error(response: httpx.Response) -> ApiError:
    status = response.status_code
    try:
        error = response.json()["error"]
        return ApiError(str(error["code"]), str(error["message"]), status)
    except (json.JSONDecodeError, KeyError, TypeError):
        text = response.text[:200].strip() or response.reason_phrase
        return ApiError(f"http_{status}", text, status)
