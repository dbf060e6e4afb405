"""An RSK-regtest-like EVM chain run in-process from PyPI packages (py-evm), served over JSON-RPC.

Calpe's devnet anchors checkpoints here when neither an RSK node nor anvil (Node.js) is at hand.
Start it with :class:`EmbeddedChain` or ``python -m plugins.rsk_bridge.embedded_chain``.
"""

from plugins.rsk_bridge.embedded.accounts import DEV_HD_PATH, DEV_MNEMONIC, DevAccount
from plugins.rsk_bridge.embedded.engine import (
    MAX_LOG_BLOCK_RANGE,
    RSK_BLOCK_GAS_LIMIT,
    RSK_REGTEST_CHAIN_ID,
)
from plugins.rsk_bridge.embedded.server import DEFAULT_BLOCK_TIME, EmbeddedChain

__all__ = [
    "DEFAULT_BLOCK_TIME",
    "DEV_HD_PATH",
    "DEV_MNEMONIC",
    "MAX_LOG_BLOCK_RANGE",
    "RSK_BLOCK_GAS_LIMIT",
    "RSK_REGTEST_CHAIN_ID",
    "DevAccount",
    "EmbeddedChain",
]
