"""Deterministic synthetic data for :class:`tui.client.fake.FakeClient`.

The history is a pure function of an event's position, so a fake holding a million events costs
nothing until a page of them is asked for.
"""

from __future__ import annotations

import hashlib

from tui.client.models import (
    REVOCATION_REASONS,
    SUSPENSION_REASONS,
    BlockDetail,
    BlockSummary,
    Checkpoint,
    Event,
    LogLine,
    Plugin,
)

AGENCIES: tuple[tuple[str, str], ...] = (
    ("gi.transport", "Transport Licensing Office"),
    ("gi.civil", "Civil Status and Registration"),
    ("gi.health", "Public Health Authority"),
)
AGENCY_IDS = tuple(agency for agency, _ in AGENCIES)
FAKE_NOW_MS = 1_748_779_200_000  # 2025-06-01T12:00:00Z: the frozen clock of tests and snapshots
EVENTS_PER_BLOCK = 4
STEP_MS = 250


def hexhash(*parts: object) -> str:
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def credential_id(agency: str, ordinal: int) -> str:
    return hexhash("cred", agency, ordinal)


def schema_id(agency: str, number: int) -> str:
    return hexhash("schema", agency, number)


def block_hash(agency: str, height: int) -> str:
    return hexhash("block", agency, height)


class SyntheticHistory:
    """``count`` events spread round-robin over the agencies, the newest before ``end_ms``.

    Event ``i`` belongs to agency ``i % 3`` and is that agency's ``i // 3``-th event; each agency
    packs ``EVENTS_PER_BLOCK`` events per block, heights starting at 1.
    """

    def __init__(self, count: int, end_ms: int) -> None:
        self.count = count
        self.end_ms = end_ms

    def _block_ts(self, height: int) -> int:
        # Every agency cuts its block of height h at once, so time follows position.
        per_round = EVENTS_PER_BLOCK * len(AGENCIES)
        rounds = (self.count + per_round - 1) // per_round
        return self.end_ms - (rounds - height + 1) * per_round * STEP_MS

    def height_of(self, agency: str) -> int:
        a = AGENCY_IDS.index(agency)
        per_agency = (self.count - a + len(AGENCIES) - 1) // len(AGENCIES)
        return (per_agency + EVENTS_PER_BLOCK - 1) // EVENTS_PER_BLOCK

    def event(self, i: int) -> Event:
        n = len(AGENCIES)
        agency, ordinal = AGENCY_IDS[i % n], i // n
        height, index = ordinal // EVENTS_PER_BLOCK + 1, ordinal % EVENTS_PER_BLOCK
        roll = int(hexhash("kind", i)[:2], 16)
        fields: dict[str, object] = {}
        if roll < 190 or ordinal < 8:
            kind = "credential.issued"
            start_s = self._block_ts(height) // 1000
            fields = {
                "credential_id": credential_id(agency, ordinal),
                "schema_id": schema_id(agency, ordinal % 2),
                "valid_from_s": start_s,
                "valid_until_s": start_s + 5 * 365 * 86_400,
            }
        elif roll < 215:
            kind = "credential.suspended"
            fields = {"credential_id": credential_id(agency, ordinal - 5)}
            fields["reason"] = SUSPENSION_REASONS[roll % len(SUSPENSION_REASONS)]
        elif roll < 235:
            kind = "credential.reinstated"
            fields = {"credential_id": credential_id(agency, ordinal - 7)}
        else:
            kind = "credential.revoked"
            fields = {"credential_id": credential_id(agency, ordinal - 3)}
            fields["reason"] = REVOCATION_REASONS[roll % len(REVOCATION_REASONS)]
        return Event.model_construct(
            agency_id=agency,
            height=height,
            index=index,
            kind=kind,
            timestamp_ms=self._block_ts(height),
            block_hash=block_hash(agency, height),
            credential_id=fields.get("credential_id"),
            schema_id=fields.get("schema_id"),
            reason=fields.get("reason"),
            valid_from_s=fields.get("valid_from_s"),
            valid_until_s=fields.get("valid_until_s"),
        )

    def block(self, agency: str, height: int) -> BlockDetail | None:
        if not 1 <= height <= self.height_of(agency):
            return None
        n, a = len(AGENCIES), AGENCY_IDS.index(agency)
        ordinals = range((height - 1) * EVENTS_PER_BLOCK, height * EVENTS_PER_BLOCK)
        events = tuple(self.event(j * n + a) for j in ordinals if j * n + a < self.count)
        summary = summarise(agency, height, events[0].timestamp_ms, len(events))
        return BlockDetail.model_construct(block=summary, events=events)


def summarise(agency: str, height: int, timestamp_ms: int, event_count: int) -> BlockSummary:
    return BlockSummary.model_construct(
        agency_id=agency,
        height=height,
        block_hash=block_hash(agency, height),
        prev_hash=block_hash(agency, height - 1) if height > 1 else "0" * 64,
        timestamp_ms=timestamp_ms,
        event_count=event_count,
        events_root=hexhash("events", agency, height),
        state_root=hexhash("state", agency, height),
    )


def checkpoints(now_ms: int, latest_epoch: int = 42, count: int = 12) -> list[Checkpoint]:
    """Newest first: the latest still collecting confirmations, the one before reorged once."""
    out: list[Checkpoint] = []
    for n in range(count):
        epoch = latest_epoch - n
        state, sigs, confs = "confirmed", 3, 12 + n * 40
        signers = AGENCY_IDS
        if n == 0:
            state, sigs, confs, signers = "submitted", 2, 5, AGENCY_IDS[:2]
        out.append(
            Checkpoint(
                epoch=epoch,
                checkpoint_root=hexhash("checkpoint", epoch),
                timestamp_ms=now_ms - n * 600_000 - 90_000,
                signers=signers,
                signatures=sigs,
                quorum=2,
                state=state,  # type: ignore[arg-type]
                tx_hash=hexhash("tx", epoch),
                confirmations=confs,
            )
        )
    return out


def plugins() -> dict[str, Plugin]:
    return {
        "rsk_bridge": Plugin(name="rsk_bridge", enabled=True, state="running"),
        "prometheus_push": Plugin(name="prometheus_push", enabled=False, state="stopped"),
        "case_webhook": Plugin(
            name="case_webhook",
            enabled=True,
            state="failed",
            errors=(
                "POST https://cases.transport.gov.gi/hook: connection refused",
                "gave up after 5 retries; plugin stopped",
            ),
        ),
    }


_LOG_SCRIPT = (
    ("info", "node.service", "node started agency=gi.transport network=gibraltar-devnet"),
    ("info", "node.network", "connected peer=gi.civil latency_ms=3.1"),
    ("info", "node.network", "connected peer=gi.health latency_ms=48.0"),
    ("debug", "node.storage", "compaction finished level=1 files=4"),
    ("info", "node.ledger", "block committed agency=gi.transport height=812 events=4"),
    ("warning", "node.sync", "peer lagging peer=gi.health lag_blocks=3"),
    ("info", "plugins.rsk_bridge", "checkpoint submitted epoch=42 tx=5c0ffee1"),
    ("error", "plugins.case_webhook", "POST failed: connection refused (attempt 5/5)"),
    ("info", "node.checkpoint", "signature collected epoch=42 signer=gi.civil 2/3"),
    ("debug", "node.network", "gossip batch sent peers=2 blocks=1"),
)


def logs(now_ms: int) -> list[LogLine]:
    """Oldest first, one second apart, ending at ``now_ms``."""
    n = len(_LOG_SCRIPT)
    return [
        LogLine(at_ms=now_ms - (n - i) * 1000, level=level, logger=logger, message=message)
        for i, (level, logger, message) in enumerate(_LOG_SCRIPT)
    ]
