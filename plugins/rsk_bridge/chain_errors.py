"""Typed errors of the chain client, and the mapping from JSON-RPC error objects to them.

::

    CalpeError
    └── ChainError                  a chain endpoint or transaction problem
        ├── EndpointUnavailableError    unreachable, timing out, rate-limited (HTTP 429) or 5xx
        ├── WrongChainError             the endpoint serves another chain id than configured
        ├── ContractRevertedError       the contract rejected the call (custom error decoded)
        ├── InsufficientFundsError      the sending account cannot pay gas x gas price
        ├── NonceConflictError          nonce too low/high, or a replacement underpriced
        ├── TransactionTimeoutError     a sent transaction was not mined in time
        └── RpcRejectedError            any other JSON-RPC error (code and message kept)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node.core.errors import CalpeError

EXECUTION_REVERTED = 3


class ChainError(CalpeError):
    """A chain endpoint or transaction problem; the message says what to do."""


class EndpointUnavailableError(ChainError):
    """The endpoint is down, times out, is rate-limited or fails (after retries)."""


class WrongChainError(ChainError):
    """The endpoint serves another chain than the configured one; nothing was sent."""


class ContractRevertedError(ChainError):
    """The checkpoint contract rejected the call. ``error_name`` is the Solidity custom error
    (``EpochNotIncreasing``, ``NotASigner``, ...), ``error_args`` its decoded arguments."""

    def __init__(self, error_name: str, error_args: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.error_name = error_name
        self.error_args = error_args


class InsufficientFundsError(ChainError):
    """The sending account lacks RBTC for gas."""


class NonceConflictError(ChainError):
    """The nonce is already used or a replacement's gas price is too low."""


class TransactionTimeoutError(ChainError):
    """A transaction was not mined within the wait."""


class RpcRejectedError(ChainError):
    """Another JSON-RPC error; ``code`` is the JSON-RPC error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


_NONCE_HINTS = ("nonce too low", "nonce too high", "underpriced", "nonce is too", "invalid nonce")


def _revert_data(error: dict[str, Any]) -> bytes | None:
    data = error.get("data")
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    return None


def error_from_rpc(
    method: str,
    error: dict[str, Any],
    decode_revert: Callable[[bytes], tuple[str, tuple[Any, ...]]],
) -> ChainError:
    """The :class:`ChainError` for a JSON-RPC ``error`` object returned to ``method``."""
    code = int(error.get("code", 0))
    message = str(error.get("message", ""))
    lowered = message.lower()
    data = _revert_data(error)
    if data is not None or code == EXECUTION_REVERTED or "revert" in lowered:
        name, args = decode_revert(data) if data is not None else ("unknown", ())
        shown = ", ".join(repr(a) for a in args)
        return ContractRevertedError(
            name, args, f"the checkpoint contract rejected {method}: {name}({shown})"
        )
    if "insufficient funds" in lowered or ("not enough" in lowered and "balance" in lowered):
        return InsufficientFundsError(
            f"the sending account cannot pay for gas ({message}): fund it with RBTC"
        )
    if any(hint in lowered for hint in _NONCE_HINTS):
        return NonceConflictError(
            f"{method} refused: {message}; another transaction used this nonce, retry to pick "
            "a fresh one (or raise the gas price of the replacement)"
        )
    return RpcRejectedError(code, f"{method} refused by the node: {message} (code {code})")
