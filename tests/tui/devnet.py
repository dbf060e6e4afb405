"""A real devnet of three ``calpe node run`` processes for the console's end-to-end tests.

One devnet serves the whole ``tests/tui`` session (see the ``devnet`` fixture in ``conftest``): the
nodes start once, with blocks authored offline beforehand so the ledger has pages to browse.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.integration.cluster import Cluster, NodeProcess, wait_until

log = logging.getLogger(__name__)

OWN = "gi.agency0"
"""The agency whose node the console is attached to."""
PEER = "gi.agency1"
OWN_PREFILL = 30  # events authored offline into OWN's ledger, 3 per block
PEER_PREFILL = 4


def prefill_schema(agency: str) -> str:
    """The schema ``Cluster.prefill`` publishes for ``agency``."""
    return hashlib.sha256(f"{agency}/prefill".encode()).hexdigest()


def prefill_credential(agency: str, i: int) -> str:
    """The ``i``-th credential ``Cluster.prefill`` issued for ``agency``."""
    return hashlib.sha256(f"{agency}/prefill/{i}".encode()).hexdigest()


@dataclass
class Devnet:
    cluster: Cluster
    root: Path

    @property
    def own(self) -> NodeProcess:
        return self.cluster[0]

    @property
    def peer(self) -> NodeProcess:
        """The node of ``PEER``: another agency's operator reaches it on its own admin socket."""
        return self.cluster[1]


def stop_node(node: NodeProcess, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if the node does not stop in time: the console's tests are about the
    console, so a slow node shutdown (a node issue, reported there) must not fail or hang them."""
    process, node.process = node.process, None
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop within %s s of SIGTERM; killing it", node.agency_id, timeout)
        process.kill()
        process.wait()


def start_devnet(root: Path) -> Devnet:
    cluster = Cluster(root, 3)
    cluster.prefill(0, OWN_PREFILL, block_size=3)
    cluster.prefill(1, PEER_PREFILL, block_size=2)
    try:
        cluster.start()
        own = cluster[0]
        wait_until(
            lambda: (
                {h["agency_id"]: h["height"] for h in own.get("/v1/status")["heads"]}
                == {"gi.agency0": 11, "gi.agency1": 3, "gi.agency2": 0}
            ),
            60,
            "the console's node to sync the other agency's prefilled blocks",
        )
        wait_until(
            lambda: sum(p["connected"] for p in own.get("/v1/peers")["peers"]) == 2,
            60,
            "the console's node to connect to both peers",
        )
    except BaseException:
        stop_devnet(Devnet(cluster, root))
        raise
    return Devnet(cluster, root)


def stop_devnet(devnet: Devnet) -> None:
    for node in devnet.cluster.nodes:
        stop_node(node)
