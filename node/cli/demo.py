"""``calpe demo``: the smallest real run of the ledger, end to end, on this machine.

Creates a three-agency devnet (if the directory is new), lets each agency publish a schema and issue
and revoke demo credentials into its own LevelDB, replicates every block to the other agencies'
databases through full validation, and prints the heads, the checkpoint root of the cut and a
verified credential proof. Until the node daemon lands, replication is done in-process.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import click

from node.config import NodeConfig, load_config
from node.core import smt
from node.core.checkpoint import Cut, CutLeaf
from node.core.errors import CalpeError
from node.core.events import (
    CredentialClass,
    CredentialIssued,
    CredentialRevoked,
    Event,
    SchemaPublished,
)
from node.devnet import create_local_network
from node.keyfiles import load_keystore
from node.storage.store import LedgerStore


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".devnet"),
    show_default=True,
)
@click.option("--credentials", type=int, default=5000, show_default=True, help="Per agency.")
def demo(directory: Path, credentials: int) -> None:
    """Create a devnet, ingest a demo batch on every agency, and print the roots."""
    if not (directory / "genesis.json").exists():
        click.echo(f"creating a three-agency devnet in {directory}")
        create_local_network(directory)
    configs = [load_config(p) for p in sorted(directory.glob("*/node.toml"))]
    stores = {
        c.node.agency_id: LedgerStore.open(c.node.data_dir, c.load_genesis()) for c in configs
    }
    try:
        started = time.perf_counter()
        results = [_issue_batch(c, stores, credentials) for c in configs]
        total = sum(count for count, _ in results)
        elapsed = time.perf_counter() - started
        click.echo(f"{total} events authored and replicated to 3 nodes in {elapsed:.1f} s")
        _print_roots(stores)
        _print_proof(configs[0].node.agency_id, results[0][1], stores)
        _print_proof(configs[0].node.agency_id, _absent(), stores)
    finally:
        for store in stores.values():
            store.close()


def _issue_batch(
    config: NodeConfig, stores: dict[str, LedgerStore], count: int
) -> tuple[int, bytes]:
    agency_id = config.node.agency_id
    _, keys = load_keystore(config.node.keystore, config.passphrase())
    store = stores[agency_id]
    run = store.head(agency_id).height
    schema = hashlib.sha256(f"{agency_id}/demo-schema/{run}".encode()).digest()
    events: list[Event] = [SchemaPublished(schema, CredentialClass.PERMIT, 1)]
    ids = [hashlib.sha256(f"{agency_id}/{run}/{i}".encode()).digest() for i in range(count)]
    now = int(time.time())
    events += [CredentialIssued(cid, schema, now, now + 365 * 86400) for cid in ids]
    events += [CredentialRevoked(cid) for cid in ids[: count // 10]]
    with click.progressbar(length=len(events), label=f"{agency_id:<14}") as bar:
        for start in range(0, len(events), 500):
            batch = events[start : start + 500]
            applied = store.author(agency_id, batch, keys, now_ms=int(time.time() * 1000))
            for other, replica in stores.items():
                if other != agency_id:
                    replica.ingest(applied.block.encode(), now_ms=int(time.time() * 1000))
            bar.update(len(batch))
    return len(events), ids[0]


def _print_roots(stores: dict[str, LedgerStore]) -> None:
    cuts = {}
    for node_id, store in stores.items():
        heads = store.heads()
        cuts[node_id] = Cut.of(
            CutLeaf(a, h.height, h.block_hash, h.log_root, h.state_root) for a, h in heads.items()
        )
    first = next(iter(cuts.values()))
    click.echo("\nagency           height  state root")
    for leaf in first.leaves:
        click.echo(f"{leaf.agency_id:<16} {leaf.height:>6}  {leaf.state_root.hex()}")
    agree = len({cut.root() for cut in cuts.values()}) == 1
    click.echo(
        f"checkpoint root  {first.root().hex()}  "
        f"({'all 3 nodes agree' if agree else 'NODES DIFFER'})"
    )


def _absent() -> bytes:
    return hashlib.sha256(b"a credential nobody issued").digest()


def _print_proof(agency_id: str, cid: bytes, stores: dict[str, LedgerStore]) -> None:
    """Prove a credential's status (or absence) on one node; check it against another's root."""
    prover, checker = list(stores.values())[:2]
    record, proof = prover.credential_proof(agency_id, cid)
    value = smt.verify(checker.head(agency_id).state_root, cid, proof)
    if (value is None) != (record is None):
        raise CalpeError("the proof does not match the record: the nodes disagree")
    status = "never issued" if record is None else record.status.name
    click.echo(
        f"credential {cid.hex()[:16]}… of {agency_id}: {status}; "
        f"proof of {len(proof.to_bytes())} bytes verifies against another node's state root"
    )
