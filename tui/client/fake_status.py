"""The fake node's status: heads of its ledger, two peers, an alert, the RSK account."""

from __future__ import annotations

from tui.client import fake_data as data
from tui.client.fake_ledger import FakeLedger
from tui.client.models import Alert, Checkpoint, Head, Peer, RskAccount, Status

UPTIME_S = 3 * 86_400 + 4 * 3600 + 12 * 60


def build_status(ledger: FakeLedger, checkpoint: Checkpoint, now: int) -> Status:
    """``GET /v1/status`` of the fake devnet's ``gi.transport`` at ``now`` (ms)."""
    return Status(
        agency_id=ledger.own,
        agency_name=data.AGENCIES[0][1],
        network="gibraltar-devnet",
        network_id=data.hexhash("network", "gibraltar-devnet"),
        version="0.1.0",
        started_ms=now - UPTIME_S * 1000,
        uptime_s=UPTIME_S,
        events_per_s=ledger.events_per_s,
        heads=heads(ledger),
        peers=peers(now),
        checkpoint=checkpoint,
        rsk=RskAccount(
            account="0x" + data.hexhash("account")[:40],
            balance_wei=str(42_100_000_000_000_000),
            chain_id=33,
            endpoint="http://127.0.0.1:4444",
        ),
        alerts=alerts(now),
    )


def heads(ledger: FakeLedger) -> tuple[Head, ...]:
    heads = []
    for agency, name in data.AGENCIES:
        summary = ledger.head(agency)
        heads.append(
            Head(
                agency_id=agency,
                name=name,
                height=summary.height,
                block_hash=summary.block_hash,
                timestamp_ms=summary.timestamp_ms,
                state_root=summary.state_root,
                log_root=data.hexhash("log", agency, summary.height),
                lag_blocks=3 if agency == "gi.health" else 0,
            )
        )
    return tuple(heads)


def peers(now: int) -> tuple[Peer, ...]:
    return (
        Peer(
            peer_id="12D3KooW" + data.hexhash("peer", "gi.civil")[:44],
            agency_id="gi.civil",
            addrs=("/ip4/10.0.0.2/tcp/7400",),
            connected=True,
            score=12.5,
            latency_ms=3.1,
            last_seen_ms=now - 1_000,
        ),
        Peer(
            peer_id="12D3KooW" + data.hexhash("peer", "gi.health")[:44],
            agency_id="gi.health",
            addrs=("/ip4/10.0.0.3/tcp/7400",),
            connected=True,
            score=-2.0,
            latency_ms=48.0,
            last_seen_ms=now - 9_000,
        ),
    )


def alerts(now: int) -> tuple[Alert, ...]:
    alert = Alert(
        id="a-lag-gi.health",
        level="warning",
        kind="lagging_peer",
        message="gi.health is 3 blocks behind its peers",
        at_ms=now - 120_000,
    )
    return (alert,)
