"""Errors of the admin API client.

The console must not import the node, so this is its own small tree::

    ClientError                 the admin API could not give an answer
    ├── NodeUnreachable         no node answers at the socket or URL (message says how to start one)
    └── ApiError                the node answered with an error (``code``, ``message``, ``status``)
"""

from __future__ import annotations


class ClientError(Exception):
    """Base of every error the admin API client raises."""


class NodeUnreachable(ClientError):  # noqa: N818 (the name the CLI and docs use)
    """Nothing answers at the configured socket or URL."""

    def __init__(self, where: str, detail: str = "") -> None:
        self.where = where
        self.detail = detail
        hint = (
            "start the node with `calpe node run --config NODE.toml`, or point --socket/--url at it"
        )
        text = f"no Calpe node answers at {where}"
        if detail:
            text += f" ({detail})"
        super().__init__(f"{text}: {hint}")


class ApiError(ClientError):
    """The node refused a request: ``code`` is the stable machine code from the error body."""

    def __init__(self, code: str, message: str, status: int) -> None:
        self.code = code
        self.message = message
        self.status = status
        super().__init__(f"{message} [{code}, HTTP {status}]")

    @property
    def retryable(self) -> bool:
        """Rate-limited or not ready yet: the same request may succeed later."""
        return self.status in (429, 503)
