"""``calpe node run``: the node process — logging, keystore unlock, store lock, signals."""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import sys
import threading
from pathlib import Path

import trio

from node.config import NodeConfig
from node.keyfiles import load_keystore
from node.services.node import LedgerNode, NodeParams
from node.storage.store import LedgerStore

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def setup_logging(log_file: Path | None, level: int = logging.INFO) -> None:
    """Our logs and py-libp2p's (whose logger does not propagate) to stderr and the log file."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(log_file, maxBytes=20 * 2**20, backupCount=5)
        )
    formatter = logging.Formatter(LOG_FORMAT)
    root = logging.getLogger()
    for old in list(root.handlers):  # replace the CLI's console default
        root.removeHandler(old)
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    libp2p_logger = logging.getLogger("libp2p")
    for handler in handlers:
        libp2p_logger.addHandler(handler)
    libp2p_logger.setLevel(max(level, logging.WARNING))


def run_node(config: NodeConfig, params: NodeParams | None = None) -> None:
    """Run until SIGINT/SIGTERM; then stop every part and close the store."""
    genesis = config.load_genesis()
    agency_id, keys = load_keystore(config.node.keystore, config.passphrase())
    if agency_id != config.node.agency_id:
        raise SystemExit(
            f"{config.node.keystore}: keystore of {agency_id}, but the config is for "
            f"{config.node.agency_id}"
        )
    with LedgerStore.open(config.node.data_dir, genesis) as store:
        node = LedgerNode(config, genesis, keys, store, params or NodeParams())
        trio.run(_main, node)
    log.info("node stopped agency=%s", agency_id)


SHUTDOWN_GRACE_S = 15.0


async def _main(node: LedgerNode) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            async for signum in signals:
                log.info("stopping on %s", signal.Signals(signum).name)
                _arm_watchdog()
                nursery.cancel_scope.cancel()
                break


def _arm_watchdog() -> None:
    """Exit anyway if stopping stalls (py-libp2p shields some dials from cancellation).

    Every acknowledged block is already synced to disk, and LevelDB recovers its log on the next
    open, so leaving without closing the store loses nothing; the kernel closes the sockets.
    """

    def expire() -> None:
        log.error("shutdown did not finish in %s s; exiting without waiting", SHUTDOWN_GRACE_S)
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(SHUTDOWN_GRACE_S, expire)
    timer.daemon = True
    timer.start()
