"""Status and peer views of a running node (the ``Status`` and ``Peer`` shapes)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from node.admin.shapes import Json, head_json
from node.services.alerts import Alert

if TYPE_CHECKING:
    from node.services.node import LedgerNode


def alert_json(alert: Alert) -> Json:
    return {**alert.to_json(), "id": str(alert.id)}


def peers_json(node: LedgerNode) -> list[Json]:
    """Every other member agency: connected ones with live addresses and scores, the others
    with their configured addresses."""
    connected = {p.peer_id: p for p in node.peers()}
    configured: dict[str, list[str]] = {}
    for entry in node.config.network.peers:
        configured.setdefault(entry.agency_id, []).append(entry.address)
    out: list[Json] = []
    for peer_id, agency_id in sorted(node.peer_agency.items(), key=lambda item: item[1]):
        if agency_id == node.agency_id:
            continue
        info = connected.get(peer_id)
        out.append(
            {
                "peer_id": peer_id,
                "agency_id": agency_id,
                "addrs": list(info.addrs) if info else configured.get(agency_id, []),
                "connected": info is not None,
                "score": float(info.score) if info else 0.0,
                "latency_ms": info.latency_ms if info else None,
                "last_seen_ms": (
                    int(info.last_seen * 1000) if info and info.last_seen is not None else None
                ),
            }
        )
    return out


async def status_json(node: LedgerNode) -> Json:
    heads = await node.store.call(node.store.store.heads)
    best = node.replicator.best_seen
    head_list = []
    for agency_id in sorted(heads):
        genesis_agency = node.genesis.agency(agency_id)
        name = genesis_agency.name if genesis_agency else agency_id
        seen = None if agency_id == node.agency_id else best.get(agency_id)
        head_list.append(head_json(heads[agency_id], name, seen))
    own = node.genesis.agency(node.agency_id)
    now_ms = int(time.time() * 1000)
    return {
        "agency_id": node.agency_id,
        "agency_name": own.name if own else node.agency_id,
        "network": node.genesis.network,
        "network_id": node.genesis.network_id.hex(),
        "version": _version(),
        "started_ms": node.started_ms,
        "uptime_s": max(0.0, (now_ms - node.started_ms) / 1000),
        "events_per_s": float(node.events_per_second()),
        "heads": head_list,
        "peers": peers_json(node),
        "checkpoint": await node.checkpoint_status(),
        "rsk": node.rsk_status(),
        "alerts": [alert_json(a) for a in node.alerts.recent()],
    }


def _version() -> str:
    from node.services.node import VERSION  # deferred: node imports this module

    return VERSION
