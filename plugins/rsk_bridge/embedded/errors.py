"""JSON-RPC error codes and the exception that carries one to the client.

:class:`RpcError` never leaves the embedded chain: the server turns it into a JSON-RPC error
object. Codes follow JSON-RPC 2.0 and EIP-1474; a revert uses geth's code 3 with the revert data,
which web3 turns into ``ContractLogicError``.
"""

from __future__ import annotations

from eth.exceptions import Revert, VMError

from node.core.errors import CalpeError

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
TRANSACTION_REJECTED = -32003
LIMIT_EXCEEDED = -32005
EXECUTION_REVERTED = 3

_ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Solidity's Error(string)


class RpcError(CalpeError):
    """A request the chain refuses; becomes the ``error`` member of a JSON-RPC response."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def execution_error(error: VMError) -> RpcError:
    """The error of a failed ``eth_call``/``eth_estimateGas``: geth's shape, which web3 decodes."""
    if not isinstance(error, Revert):
        return RpcError(SERVER_ERROR, f"execution failed: {error!r}")
    output = error.args[0] if error.args and isinstance(error.args[0], bytes) else b""
    message = "execution reverted"
    if output[:4] == _ERROR_SELECTOR and len(output) >= 68:
        length = int.from_bytes(output[36:68], "big")
        reason = output[68 : 68 + length].decode("utf-8", "replace")
        message = f"execution reverted: {reason}"
    return RpcError(EXECUTION_REVERTED, message, "0x" + output.hex())
