"""Prometheus metrics of one node, in a registry of its own (several nodes may share a process).

Values are read from the node when scraped (a custom collector), so nothing on the hot path
counts anything twice. Checkpoint age appears once the node has a checkpoint, the RSK balance
while the bridge runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from node.core.ledger import AgencyHead

if TYPE_CHECKING:
    from node.services.node import LedgerNode

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class _Snapshot:
    heads: dict[str, AgencyHead] = field(default_factory=dict)
    checkpoint: dict[str, Any] | None = None


class NodeMetrics(Collector):
    def __init__(self, node: LedgerNode, start_heights: dict[str, int]) -> None:
        self._node = node
        self._start = start_heights
        self._snapshot = _Snapshot()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    async def render(self) -> bytes:
        heads = await self._node.store.call(self._node.store.store.heads)
        self._snapshot = _Snapshot(heads, await self._node.checkpoint_status())
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        node, heads = self._node, self._snapshot.heads
        yield _counter(
            "calpe_events_committed", "Events committed since start.", node.events_committed
        )
        blocks = sum(h.height - self._start.get(a, 0) for a, h in heads.items())
        yield _counter(
            "calpe_blocks_committed", "Blocks committed since start (all agencies).", blocks
        )
        yield _gauge("calpe_peers_connected", "Peers with an open connection.", len(node.peers()))
        yield _gauge(
            "calpe_events_per_second",
            "Events committed per second (10 s window).",
            node.events_per_second(),
        )
        yield _gauge(
            "calpe_uptime_seconds",
            "Seconds since the node started.",
            time.time() - node.started_ms / 1000,
        )
        rejections = CounterMetricFamily(
            "calpe_gossip_rejections", "Blocks from peers refused, by reason.", labels=["reason"]
        )
        for reason, count in sorted(node.rejections.items()):
            rejections.add_metric([reason], count)
        yield rejections
        height = GaugeMetricFamily(
            "calpe_head_height", "Height of each agency's head.", labels=["agency"]
        )
        lag = GaugeMetricFamily(
            "calpe_sync_lag_blocks",
            "Best height seen at peers minus ours, per agency.",
            labels=["agency"],
        )
        best = node.replicator.best_seen
        for agency_id, head in sorted(heads.items()):
            height.add_metric([agency_id], head.height)
            lag.add_metric([agency_id], max(0, best.get(agency_id, 0) - head.height))
        yield height
        yield lag
        yield from self._anchoring()

    def _anchoring(self) -> Iterator[Metric]:
        checkpoint = self._snapshot.checkpoint
        if checkpoint is not None:
            yield _gauge(
                "calpe_checkpoint_age_seconds",
                "Seconds since the last checkpoint this node knows (any state).",
                max(0.0, time.time() - checkpoint["timestamp_ms"] / 1000),
            )
            yield _gauge("calpe_checkpoint_epoch", "Epoch of that checkpoint.", checkpoint["epoch"])
            yield _gauge(
                "calpe_checkpoint_confirmations",
                "RSK confirmations of that checkpoint's transaction.",
                checkpoint["confirmations"],
            )
        rsk = self._node.rsk_status()
        if rsk is not None and rsk.get("balance_wei") is not None:
            yield _gauge(
                "calpe_rsk_balance_rbtc",
                "Balance of the bridge's fee account on RSK, in RBTC.",
                int(rsk["balance_wei"]) / 10**18,
            )


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)
