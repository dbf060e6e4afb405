"""Pure formatting helpers for the console (no Textual)."""

from __future__ import annotations

from datetime import UTC, datetime

# Which theme colour each state is shown in (theme variable names, so light and dark both read).
TONE_OF = {
    "active": "success",
    "suspended": "warning",
    "revoked": "error",
    "confirmed": "success",
    "submitted": "accent",
    "signed": "primary",
    "proposed": "secondary",
    "reorged": "error",
    "running": "success",
    "stopped": "secondary",
    "failed": "error",
    "info": "primary",
    "warning": "warning",
    "critical": "error",
    "error": "error",
    "debug": "secondary",
    "credential.issued": "success",
    "credential.revoked": "error",
    "credential.suspended": "warning",
    "credential.reinstated": "primary",
    "schema.published": "accent",
    "agency.key_rotated": "accent",
    "governance.proposed": "accent",
    "governance.voted": "accent",
    "removed": "secondary",
    "open": "accent",
    "adopted": "success",
    "expired": "secondary",
}
LOW_BALANCE_RBTC = 0.01


def tone(state: str) -> str:
    return TONE_OF.get(state, "foreground")


def short(value: str | None, keep: int = 10) -> str:
    """A hash cut to its head: enough to tell values apart on screen."""
    if not value:
        return "-"
    return value if len(value) <= keep + 1 else value[:keep] + "…"


def anchor_tx(tx_hash: str | None, state: str, keep: int = 0) -> str:
    """A checkpoint's RSK transaction (cut to ``keep`` characters if given). One found on chain
    without a transaction of this node's was sent by another agency's bridge."""
    if tx_hash:
        return short(tx_hash, keep) if keep else tx_hash
    return "sent by another agency" if state in ("submitted", "confirmed") else "not sent yet"


def duration(seconds: float) -> str:
    """``3d 4h``, ``4h 12m``, ``12m 5s``, ``5s``: two units at most."""
    s = int(max(seconds, 0))
    days, s = divmod(s, 86_400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {s}s"
    return f"{s}s"


def ago(at_ms: int | None, now_ms: int) -> str:
    if at_ms is None:
        return "never"
    delta = (now_ms - at_ms) / 1000
    if delta < 1:
        return "now"
    return f"{duration(delta)} ago"


def utc(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def utc_date(at_s: int | None) -> str:
    if at_s is None:
        return "no expiry"
    return datetime.fromtimestamp(at_s, UTC).strftime("%Y-%m-%d")


def rbtc(balance_wei: str) -> str:
    return f"{int(balance_wei) / 10**18:.4f} RBTC"


def lag_tone(lag_blocks: int) -> str:
    if lag_blocks <= 0:
        return "success"
    return "warning" if lag_blocks < 10 else "error"


def parse_when(text: str, now_s: float) -> int | None:
    """A typed time in ms: ``2025-06-01``, ``2025-06-01 12:30`` (UTC), ``-2h``, ``-30m``, ``-1d``.

    Empty text is ``None`` (no bound). Raises ``ValueError`` with what is accepted otherwise.
    """
    text = text.strip()
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    if text.startswith("-") and text[-1:] in units and text[1:-1].isdigit():
        return int((now_s - int(text[1:-1]) * units[text[-1]]) * 1000)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(parsed.timestamp() * 1000)
    raise ValueError("use YYYY-MM-DD[ HH:MM] (UTC) or -30m, -2h, -1d")
