"""Demo traffic for the devnet: each agency publishes a schema, then issues, suspends, reinstates
and revokes synthetic credentials through its node's admin API, at a gentle steady rate.

Run as ``python -m node.devnet_traffic SOCKET [SOCKET …]``; stops on SIGTERM/SIGINT. The
credential ids are hashes of counters: no personal data, as on a real network.
"""

from __future__ import annotations

import hashlib
import random
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

SCHEMA_CLASSES = ("driving_licence", "permit", "certificate")


class Agency:
    def __init__(self, socket: Path) -> None:
        self.client = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(socket)), base_url="http://calpe", timeout=30
        )
        self.agency_id: str = self.client.get("/v1/status").json()["agency_id"]
        self.schema = hashlib.sha256(f"{self.agency_id}/devnet-schema".encode()).hexdigest()
        self.active: list[str] = []
        self.suspended: list[str] = []
        self.counter = 0

    def post(self, path: str, body: dict[str, Any]) -> None:
        self.client.post(path, json={"request_id": str(uuid.uuid4()), **body})

    def publish_schema(self) -> None:
        klass = SCHEMA_CLASSES[sum(self.agency_id.encode()) % len(SCHEMA_CLASSES)]
        self.post(
            "/v1/schemas", {"schema_id": self.schema, "credential_class": klass, "version": 1}
        )

    def step(self, rng: random.Random) -> None:
        roll = rng.random()
        if roll < 0.8 or len(self.active) < 5:
            self.counter += 1
            cid = hashlib.sha256(f"{self.agency_id}/demo/{self.counter}".encode()).hexdigest()
            now = int(time.time())
            self.post(
                "/v1/credentials/issue",
                {
                    "credential_id": cid,
                    "schema_id": self.schema,
                    "valid_from_s": now,
                    "valid_until_s": now + rng.choice([30, 365, 3650]) * 86400,
                },
            )
            self.active.append(cid)
        elif roll < 0.88:
            cid = self.active.pop(rng.randrange(len(self.active)))
            self.post(f"/v1/credentials/{cid}/suspend", {"reason": "under_investigation"})
            self.suspended.append(cid)
        elif roll < 0.94 and self.suspended:
            cid = self.suspended.pop(0)
            self.post(f"/v1/credentials/{cid}/reinstate", {})
            self.active.append(cid)
        else:
            cid = self.active.pop(rng.randrange(len(self.active)))
            self.post(f"/v1/credentials/{cid}/revoke", {"reason": "superseded"})


def main(argv: list[str]) -> int:
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    agencies = [Agency(Path(p)) for p in argv]
    for agency in agencies:
        agency.publish_schema()
    rng = random.Random(7)
    while not stop:
        for agency in agencies:
            try:
                agency.step(rng)
            except httpx.HTTPError:
                time.sleep(1)  # a node restarting; keep going
        time.sleep(rng.uniform(0.2, 0.6))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
