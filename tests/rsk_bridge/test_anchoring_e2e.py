"""Checkpoints anchored end to end: three ``calpe node run`` processes, anvil behind the
RSK-strict proxy, events written through the admin API, the chain read with the ChainClient."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from node.config import load_config
from node.core import eip712
from node.core.checkpoint_protocol import CheckpointRecord
from node.storage import checkpoint_table
from node.storage.store import LedgerStore
from plugins.rsk_bridge.anvil import Anvil, find_anvil, start_anvil
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.devnet_anchor import AnchorSetup, anchor_devnet
from plugins.rsk_bridge.rsk_strict import RskStrictProxy
from tests.integration.cluster import Cluster, NodeProcess, cid_for, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONFIRMATIONS = 8


@dataclass
class Anchored:
    anvil: Anvil
    proxy: RskStrictProxy
    nodes: list[NodeProcess]
    setup: AnchorSetup
    root: Path

    def chain(self) -> ChainClient:
        return ChainClient(self.anvil.url, 33, contract=self.setup.contract, poll_interval=0.05)

    def latest(self) -> int:
        return self.chain().latest_epoch()

    def epoch_now(self) -> int:
        genesis = load_config(self.nodes[0].config).load_genesis()
        elapsed = int(time.time() * 1000) - genesis.created_ms
        return elapsed // (genesis.checkpoint_interval_s * 1000)

    def logs(self) -> list[tuple[int, str]]:
        return [(log.epoch, log.tx_hash) for log in self.chain().anchored_logs(0)]


@pytest.fixture
def anchored(tmp_path: Path) -> Iterator[Anchored]:
    if find_anvil() is None:
        pytest.skip("anvil is not installed: run `npm install` at the repository root")
    cluster = Cluster(tmp_path, 3, checkpoint_interval_s=5)
    nodes = cluster.nodes
    with start_anvil(block_time=0.5) as anvil:
        proxy = RskStrictProxy(anvil.url).start()
        try:
            setup = anchor_devnet(
                cluster.configs,
                cluster.genesis,
                proxy.url,
                anvil.dev_keys[0],
                scrypt_n=2**10,
                bridge={
                    "confirmations": CONFIRMATIONS,
                    "poll_interval_s": 0.3,
                    "relay_delay_s": 20.0,
                    "stuck_after_s": 20.0,
                },
            )
            for node in nodes:
                node.start()
            yield Anchored(anvil, proxy, nodes, setup, tmp_path)
        finally:
            for node in nodes:
                if node.running:
                    node.kill()  # see _shut_down
            proxy.stop()
    assert proxy.rejections == [], "the bridge did something RSK refuses"


def _issue(node: NodeProcess, label: str, count: int = 1) -> None:
    schema = node.publish_schema(label)
    for i in range(count):
        node.issue(cid_for(f"{node.agency_id}/{label}/{i}"), schema)


def _records(node: NodeProcess) -> list[CheckpointRecord]:
    config = load_config(node.config)
    with LedgerStore.open(config.node.data_dir, config.load_genesis()) as store:
        found = checkpoint_table.records(store, limit=1000)
        for record in found:
            if record.is_signed:  # every node recomputes the root of what it signed
                local = checkpoint_table.local_leaves(store, record.checkpoint.cut)
                assert len(local) == len(record.checkpoint.cut.leaves)
        return found


def test_checkpoints_are_anchored_with_a_quorum_and_survive_faults(anchored: Anchored) -> None:
    a, b, c = anchored.nodes
    _issue(a, "first", 3)
    _issue(b, "first", 2)
    first = wait_until(anchored.latest, 40, "a first checkpoint on chain")
    chain = anchored.chain()
    assert chain.threshold() == 2
    root = chain.checkpoint_of(first).root
    with a.client() as client:  # the anchoring shows in the node's metrics
        metrics = client.get("/metrics").text
    assert "calpe_checkpoint_age_seconds" in metrics
    assert "calpe_checkpoint_confirmations" in metrics
    assert "calpe_rsk_balance_rbtc" in metrics

    # --- a reorg drops the checkpoint transaction: the bridge resubmits it
    _issue(c, "reorg")
    before = anchored.latest()
    epoch = wait_until(lambda: anchored.latest() > before and anchored.latest(), 30, "next epoch")
    mined = chain.checkpoint_of(epoch).block_number
    root_before_reorg = chain.checkpoint_of(epoch).root
    depth = chain.block_number() - mined + 1
    assert depth < CONFIRMATIONS + 2
    ChainClient(anchored.anvil.url, 33).rpc("anvil_reorg", [depth + 1, []])
    wait_until(
        lambda: chain.checkpoint_of(epoch).block_number not in (0, mined),
        40,
        "the reorged checkpoint to be anchored again",
    )
    assert chain.checkpoint_of(epoch).root == root_before_reorg
    assert anchored.latest() == epoch

    # --- the endpoint is down for a while: the newest signed epoch is anchored when it returns
    port = int(anchored.proxy.url.rsplit(":", 1)[1])
    anchored.proxy.stop()
    _issue(a, "down", 2)
    issued_in = anchored.epoch_now()
    wait_until(lambda: anchored.epoch_now() >= issued_in + 3, 30, "epochs to pass while down")
    anchored.proxy = RskStrictProxy(anchored.anvil.url, port).start()
    wait_until(lambda: anchored.latest() > issued_in, 40, "the newest checkpoint to be anchored")
    assert anchored.latest() >= issued_in + 1

    # --- the bridge is killed between send and confirmation: no duplicate, no gap after restart
    _issue(b, "kill")
    before = anchored.latest()
    wait_until(lambda: anchored.latest() > before, 30, "a checkpoint tx to be mined")
    for node in anchored.nodes:
        node.stop(signal.SIGKILL)
    for node in anchored.nodes:
        node.start()
    _issue(c, "after-restart")
    after = anchored.latest()
    wait_until(lambda: anchored.latest() > after, 40, "anchoring to continue after the restart")

    epochs = [e for e, _ in anchored.logs()]
    assert epochs == sorted(set(epochs)), f"duplicate or decreasing epochs on chain: {epochs}"
    final = anchored.latest()
    final_root = chain.checkpoint_of(final).root
    _shut_down(anchored.nodes)
    for node in anchored.nodes:
        records = {r.epoch: r for r in _records(node)}
        assert records[final].checkpoint.checkpoint_root == final_root
        assert len(records[final].signatures) >= 2
        assert records[first].checkpoint.checkpoint_root == root
    digest = eip712.checkpoint_digest(
        33, anchored.setup.contract, records[final].checkpoint.network_id, final, final_root
    )
    signers = {eip712.recover_signer(digest, s) for s in records[final].signatures.values()}
    assert len(signers) >= 2


def _shut_down(nodes: list[NodeProcess]) -> None:
    """SIGKILL: every record is written with sync=True, and a node whose peer has just gone
    away may spend more than the stop timeout in libp2p's dial loop (a network-layer issue)."""
    for node in nodes:
        node.kill()
