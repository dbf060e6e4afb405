"""Run an RSK-regtest-like EVM chain in-process, served over JSON-RPC on 127.0.0.1.

The devnet anchors checkpoints here without Node.js, an RSK account or a network. State is kept
in memory only and is lost when the process ends. The dev accounts (public keys of the well-known
development mnemonic) are exposed through :attr:`EmbeddedChain.dev_accounts`, never printed.

Library use::

    with EmbeddedChain(block_time=2.0) as chain:
        w3 = Web3(HTTPProvider(chain.url))
        address, private_key = chain.dev_accounts[0]

Command line (prints the endpoint URL on stdout, then serves until SIGINT or SIGTERM)::

    python -m plugins.rsk_bridge.embedded_chain --port 4444 --block-time 2
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from plugins.rsk_bridge.embedded import (
    DEFAULT_BLOCK_TIME,
    RSK_REGTEST_CHAIN_ID,
    DevAccount,
    EmbeddedChain,
)

__all__ = ["DevAccount", "EmbeddedChain", "main"]


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m plugins.rsk_bridge.embedded_chain",
        description="Serve an in-memory, RSK-regtest-like EVM chain on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    parser.add_argument(
        "--block-time",
        type=float,
        default=DEFAULT_BLOCK_TIME,
        help="seconds between blocks; 0 seals one block per transaction (default: %(default)s)",
    )
    parser.add_argument("--chain-id", type=int, default=RSK_REGTEST_CHAIN_ID)
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    args = parser.parse_args(argv)
    if args.block_time < 0:
        parser.error("--block-time must be >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    with EmbeddedChain(port=args.port, block_time=args.block_time, chain_id=args.chain_id) as chain:
        print(chain.url, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
