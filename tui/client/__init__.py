"""The admin API client: importable without Textual (the ``calpe`` CLI uses it too)."""

from tui.client.errors import ApiError, ClientError, NodeUnreachable
from tui.client.http import AdminClient
from tui.client.protocol import ClientProtocol, request_id

__all__ = [
    "AdminClient",
    "ApiError",
    "ClientError",
    "ClientProtocol",
    "NodeUnreachable",
    "request_id",
]
