"""Fetching a fresh bundle from a node's public read endpoint (``docs/admin-api.md``).

The node is not trusted: whatever it serves is verified like any other bundle. It is only asked
because it knows the newest checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from node.core.errors import CalpeError

logger = logging.getLogger(__name__)

MAX_BUNDLE_BYTES = 256 * 1024


class FetchError(CalpeError):
    """The node's public endpoint could not be read."""


def bundle_url(node_url: str, issuer: str, credential_id: bytes) -> str:
    if not node_url.startswith(("http://", "https://")):
        raise FetchError(f"{node_url!r} is not an http(s) URL of a node's public endpoint")
    return f"{node_url.rstrip('/')}/v1/credentials/{issuer}/{credential_id.hex()}/proof"


def fetch_bundle(
    node_url: str, issuer: str, credential_id: bytes, *, timeout: float = 15.0, retries: int = 3
) -> dict[str, Any]:
    """The node's current bundle for the credential, as a JSON document (not yet verified)."""
    url = bundle_url(node_url, issuer, credential_id)
    for attempt in range(retries + 1):
        delay = 0.5 * 2**attempt
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = response.read(MAX_BUNDLE_BYTES + 1)
            if len(body) > MAX_BUNDLE_BYTES:
                raise FetchError(f"{url} answered more than {MAX_BUNDLE_BYTES} bytes")
            doc = json.loads(body)
            if not isinstance(doc, dict):
                raise FetchError(f"{url} did not answer a JSON object")
            return doc
        except urllib.error.HTTPError as exc:
            if exc.code != 429 or attempt == retries:
                raise FetchError(f"{url} answered HTTP {exc.code}") from exc
            delay = max(delay, min(float(exc.headers.get("Retry-After") or 0), 30.0))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if attempt == retries:
                raise FetchError(f"cannot reach the node at {node_url}: {exc}") from exc
        except ValueError as exc:
            raise FetchError(f"{url} did not answer JSON: {exc}") from exc
        logger.warning("fetch retry url=%s attempt=%s delay=%.1f", url, attempt + 1, delay)
        time.sleep(delay)
    raise AssertionError("unreachable")
