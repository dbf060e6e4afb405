"""``calpe node run``: the node process — logging, keystore unlock, store lock, signals."""

from __future__ import annotations

import ctypes
import logging
import logging.handlers
import os
import signal
import sys
import threading
from pathlib import Path

import trio

from node.config import NodeConfig
from node.core.errors import ConfigError, StorageError
from node.core.keys import AgencyKeys
from node.keyfiles import load_keystore
from node.services.node import LedgerNode, NodeParams
from node.storage.database import LevelDBMemory
from node.storage.store import LedgerStore

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def setup_logging(log_file: Path | None, level: int = logging.INFO) -> None:
    """Our logs, py-libp2p's included, to stderr and the log file."""
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
    # py-libp2p's own records reach these handlers through node.network, which forwards them
    # (with routine churn demoted to debug) under ``node.network.libp2p``.


MALLOC_SETTINGS = {
    -8: 2,  # M_ARENA_MAX
    -3: 256 * 1024,  # M_MMAP_THRESHOLD
    -1: 1024 * 1024,  # M_TRIM_THRESHOLD
}
"""glibc's malloc settings for the node (mallopt parameters, glibc's malloc.h), measured with
bench.resources at 1M events, at no measured cost in events/s:

- two arenas: glibc gives threads that allocate (LevelDB's compaction, trio's worker threads)
  arenas of their own, each holding on to freed memory; two cut the RSS by ~100 MiB;
- a fixed 256 KiB mmap threshold and 1 MiB trim threshold: by default glibc raises the threshold
  to the largest block freed (LevelDB's write batches and table reads, a few MiB), after which
  such blocks come from the heap and leave it fragmented; fixed, they go back to the system when
  freed (-21 MiB at the peak)."""


def tune_malloc() -> None:
    """Apply :data:`MALLOC_SETTINGS` before any thread starts; not glibc (musl, …): nothing."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    for parameter, value in MALLOC_SETTINGS.items():
        if not libc.mallopt(parameter, value):
            log.warning("glibc refused mallopt(%d, %d)", parameter, value)


def run_node(
    config: NodeConfig, params: NodeParams | None = None, *, snapshot_join: bool = False
) -> None:
    """Run until SIGINT/SIGTERM; then stop every part and close the store.

    ``snapshot_join``: an empty database is first joined from a peer's snapshot.
    """
    tune_malloc()
    genesis = config.load_genesis()
    agency_id, keys = load_keystore(config.node.keystore, config.passphrase())
    if agency_id != config.node.agency_id:
        raise ConfigError(
            f"{config.node.keystore}: keystore of {agency_id}, but the config is for "
            f"{config.node.agency_id}"
        )
    memory = LevelDBMemory(**config.storage.model_dump())
    with LedgerStore.open(config.node.data_dir, genesis, memory=memory) as store:
        _snapshot_join(config, keys, store, wanted=snapshot_join)
        node = LedgerNode(config, genesis, keys, store, params or NodeParams())
        trio.run(_main, node)
        if store.write_failure is not None:  # the CLI prints it and exits with EXIT_STORAGE
            raise StorageError(f"the node stopped: {store.write_failure}")
    log.info("node stopped agency=%s", agency_id)


def _snapshot_join(
    config: NodeConfig, keys: AgencyKeys, store: LedgerStore, *, wanted: bool
) -> None:
    """Join by snapshot if asked and the database is empty (or holds an unfinished join)."""
    from node.services import snapshot
    from node.storage import snapshot_install

    state = snapshot_install.join_state(store)
    if not wanted:
        if state == "installing":
            raise StorageError(
                f"{store.path} holds an unfinished snapshot join; run the node with "
                "--snapshot-join to finish it, or move the data directory aside"
            )
        return
    if state != "installing" and not snapshot_install.is_empty(store):
        log.info("the database is not empty: starting normally, without a snapshot join")
        return
    onchain_root = snapshot.chain_root_reader(config, store.genesis)
    result = trio.run(snapshot.join_network, config, keys, store, onchain_root)
    log.info(
        "joined by snapshot epoch=%s peer=%s entries=%s",
        result.epoch,
        result.peer_id,
        result.entries,
    )


SHUTDOWN_GRACE_S = 15.0


async def _main(node: LedgerNode) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(node.run)
            nursery.start_soon(_stop_on_storage_failure, node, nursery.cancel_scope)
            async for signum in signals:
                log.info("stopping on %s", signal.Signals(signum).name)
                _arm_watchdog()
                nursery.cancel_scope.cancel()
                break


async def _stop_on_storage_failure(node: LedgerNode, scope: trio.CancelScope) -> None:
    """A failed write leaves the store refusing writes: stop rather than serve half a node."""
    await node.store.failed.wait()
    log.critical("stopping: %s", node.store.store.write_failure)
    _arm_watchdog(exit_code=4)  # EXIT_STORAGE
    scope.cancel()


def _arm_watchdog(exit_code: int = 0) -> None:
    """Exit anyway if stopping stalls (py-libp2p shields some dials from cancellation).

    Every acknowledged block is already synced to disk, and LevelDB recovers its log on the next
    open, so leaving without closing the store loses nothing; the kernel closes the sockets.
    """

    def expire() -> None:
        log.error("shutdown did not finish in %s s; exiting without waiting", SHUTDOWN_GRACE_S)
        logging.shutdown()
        os._exit(exit_code)

    timer = threading.Timer(SHUTDOWN_GRACE_S, expire)
    timer.daemon = True
    timer.start()
