"""Steady issuing load against real nodes through their admin API, remembering what was acked.

One :class:`Issuer` per node runs ``threads`` threads that issue credentials back to back. A
credential counts as acknowledged only once its request got HTTP 200 (the node answers after the
block is durably committed); refused, reset and unanswered requests are counted apart. Used by the
crash test and by ``bench/soak.py``.
"""

from __future__ import annotations

import hashlib
import http.client
import itertools
import json
import socket
import threading
import uuid
from dataclasses import dataclass, field

from tests.integration.cluster import NodeProcess


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the admin socket; unlike httpx it closes a socket whose connect failed."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("calpe", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def post_json(node: NodeProcess, path: str, body: dict[str, object], timeout: float = 30) -> int:
    """POST ``body`` to ``node``'s admin API; the HTTP status (OSError if unanswered)."""
    conn = _UnixHTTPConnection(str(node.socket), timeout)
    try:
        conn.request(
            "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        response.read()
        return response.status
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP exchange: {exc}") from exc
    finally:
        conn.close()


@dataclass
class IssueCounts:
    acked: list[str] = field(default_factory=list)
    """Credential ids (hex) acknowledged with HTTP 200, in order."""
    refused: int = 0
    """Answered with another status (503 while shutting down or on a storage failure)."""
    failed: int = 0
    """No answer: connection refused or reset (the node was down or got killed)."""


class Issuer:
    """Issue credentials to ``node`` from ``threads`` threads until :meth:`stop`."""

    def __init__(self, node: NodeProcess, schema_id: str, label: str, threads: int = 2) -> None:
        self.node = node
        self.schema_id = schema_id
        self.counts = IssueCounts()
        self.up = threading.Event()
        """Set while the node should be answering; cleared around kills, so threads idle."""
        self._label = label
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._acked_changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, daemon=True, name=f"issuer-{label}-{i}")
            for i in range(threads)
        ]

    def start(self) -> None:
        self.up.set()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.up.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def acked_count(self) -> int:
        with self._lock:
            return len(self.counts.acked)

    def wait_for_acks(self, total: int, timeout: float) -> bool:
        """Block until at least ``total`` credentials are acked (False on timeout)."""
        with self._acked_changed:
            return self._acked_changed.wait_for(lambda: len(self.counts.acked) >= total, timeout)

    def acked_since(self, start: int) -> list[str]:
        with self._lock:
            return self.counts.acked[start:]

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.up.wait()
            if self._stop.is_set():
                return
            cid = hashlib.sha256(f"{self._label}/{next(self._numbers)}".encode()).hexdigest()
            self._issue(cid)

    def _issue(self, cid: str) -> None:
        body = {
            "request_id": str(uuid.uuid4()),
            "credential_id": cid,
            "schema_id": self.schema_id,
            "valid_from_s": 1_700_000_000,
            "valid_until_s": 2_000_000_000,
        }
        try:
            status = post_json(self.node, "/v1/credentials/issue", body)
        except OSError:
            with self._lock:
                self.counts.failed += 1
            self._stop.wait(0.05)  # down or dying: back off briefly rather than spin
            return
        with self._acked_changed:
            if status == 200:
                self.counts.acked.append(cid)
                self._acked_changed.notify_all()
            else:
                self.counts.refused += 1
