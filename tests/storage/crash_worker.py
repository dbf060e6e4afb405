"""Crash-test worker: authors blocks forever, printing each height once ``author`` returned.

Run as ``python -m tests.storage.crash_worker DIR``; the test SIGKILLs it at random moments.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from node.core.events import CredentialIssued, Event
from node.core.genesis import Agency, Genesis
from node.core.keys import AgencyKeys
from node.storage import LedgerStore
from tests.factories import DEVNET_CREATED_MS, NOW_MS, schema_event, schema_id

AGENCY = "gi.crash"
EVENTS_PER_BLOCK = 50


def crash_keys() -> AgencyKeys:
    """Deterministic keys, so the worker and the test build the same network."""
    return AgencyKeys(
        hashlib.sha256(b"crash-ed25519").digest(), hashlib.sha256(b"crash-secp256k1").digest()
    )


def crash_genesis() -> Genesis:
    keys = crash_keys()
    agency = Agency(AGENCY, "Crash test", keys.ed25519_public, keys.secp256k1_address)
    return Genesis("calpe-crash", (agency,), 1, 60, 33, DEVNET_CREATED_MS)


def _events(height: int) -> list[Event]:
    return [
        CredentialIssued(
            hashlib.sha256(b"crash-%d-%d" % (height, i)).digest(), schema_id(), 1_700_000_000
        )
        for i in range(EVENTS_PER_BLOCK)
    ]


def main(path: str) -> None:
    keys = crash_keys()
    with LedgerStore.open(Path(path), crash_genesis(), retention=5) as store:
        if store.head(AGENCY).height == 0:
            store.author(AGENCY, [schema_event()], keys, now_ms=NOW_MS)
        print(store.head(AGENCY).height, flush=True)
        while True:
            height = store.head(AGENCY).height + 1
            store.author(AGENCY, _events(height), keys, now_ms=NOW_MS)
            print(height, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
