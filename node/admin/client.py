"""A small synchronous admin API client over the node's Unix socket, for the ``calpe`` CLI.

(The TUI has its own async client in ``tui/client``; this one serves short-lived commands.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from node.core.errors import CalpeError

_BASE_URL = "http://calpe-node"


class NodeUnreachableError(CalpeError):
    """No node answers on the admin socket."""


class ApiCallError(CalpeError):
    """The node answered with an error (``{"error": {"code", "message"}}``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class AdminHttp:
    def __init__(self, socket: Path, *, hint: str, timeout_s: float = 30.0) -> None:
        self.socket = socket
        self._hint = hint
        transport = httpx.HTTPTransport(uds=str(socket))
        self._http = httpx.Client(transport=transport, base_url=_BASE_URL, timeout=timeout_s)

    def __enter__(self) -> AdminHttp:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.close()

    def _unreachable(self, exc: Exception) -> NodeUnreachableError:
        return NodeUnreachableError(
            f"no node is listening on {self.socket}; start it with {self._hint} ({exc})"
        )

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        try:
            response = self._http.request(method, path, params=query, json=body)
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise self._unreachable(exc) from None
        except httpx.TimeoutException:
            raise NodeUnreachableError(
                f"the node on {self.socket} did not answer in time"
            ) from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, **params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, body)

    # --- governance (docs/admin-api.md, "Governance") -------------------------------------------

    def governance(self) -> dict[str, Any]:
        """``GET /v1/governance``: members, quorum, checkpoint interval and proposals in force."""
        doc: dict[str, Any] = self.get("/v1/governance")
        return doc

    def propose(
        self,
        action: dict[str, Any],
        *,
        expires_s: int | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """Propose ``action`` (the API's action object); ``{"proposal_id", "receipt"}``."""
        body = _present({"action": action, "expires_s": expires_s, "request_id": request_id})
        doc: dict[str, Any] = self.post("/v1/governance/proposals", body)
        return doc

    def vote(self, proposal_id: str, *, request_id: str | None = None) -> dict[str, Any]:
        """Approve a proposal as this node's agency; ``{"receipt"}`` (404 unknown, 409 twice)."""
        path = f"/v1/governance/proposals/{proposal_id}/votes"
        doc: dict[str, Any] = self.post(path, _present({"request_id": request_id}))
        return doc

    def rotate_keys(self, *, request_id: str | None = None) -> dict[str, Any]:
        """Rotate this node's agency keys; ``{"ed25519", "secp256k1_address", "receipt"}``."""
        body = _present({"request_id": request_id})
        doc: dict[str, Any] = self.post("/v1/governance/rotate-keys", body)
        return doc

    def stream(self) -> Iterator[tuple[str, Any]]:
        """``(event, data)`` from ``/v1/stream`` until the node closes it."""
        timeout = httpx.Timeout(10.0, read=15.0)  # a status event comes every 2 s
        try:
            with self._http.stream("GET", "/v1/stream", timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                yield from _parse_sse(response.iter_lines())
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise self._unreachable(exc) from None
        except httpx.TimeoutException:
            raise NodeUnreachableError(f"the stream from {self.socket} went silent") from None


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    event, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", list[str]()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def _error(response: httpx.Response) -> ApiCallError:
    try:
        error = response.json()["error"]
        return ApiCallError(response.status_code, str(error["code"]), str(error["message"]))
    except (json.JSONDecodeError, KeyError, TypeError):
        return ApiCallError(response.status_code, f"http_{response.status_code}", response.text)
