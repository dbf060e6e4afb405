"""Latency from a checkpoint's quorum to its confirmation on anvil, printed as JSON.

anvil mines a block every 2 s (``--smoke``: 0.2 s); the clock starts when the k-th signature
exists and stops when the submission has 12 confirmations (``--smoke``: 2), polling as the bridge
does (legacy tx through the RSK-strict proxy, receipt and block number every ``poll`` seconds).
On RSK mainnet, with ~30 s blocks, expect about 15 times the 2-second figure.

    python -m bench.checkpoint_latency [--smoke] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from node.core import eip712
from plugins.rsk_bridge.anvil import start_anvil
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.rsk_strict import RskStrictProxy

NETWORK_ID = eip712.keccak256(b"bench latency network")


def _keys(count: int) -> list[bytes]:
    keys = [eip712.keccak256(b"latency-signer-%d" % i) for i in range(count)]
    return sorted(keys, key=lambda k: eip712.address_bytes(eip712.address_of(k)))


def _one(
    client: ChainClient, keys: list[bytes], epoch: int, confirmations: int, poll: float
) -> dict[str, float]:
    assert client.contract is not None
    root = eip712.keccak256(b"root %d" % epoch)
    started = time.perf_counter()
    digest = eip712.checkpoint_digest(client.chain_id, client.contract, NETWORK_ID, epoch, root)
    packed = eip712.pack_signatures(digest, [eip712.sign_digest(k, digest) for k in keys[:2]])
    tx_hash = client.submit_checkpoint(epoch, root, packed)
    sent = time.perf_counter()
    mined = None
    while True:
        receipt = client.receipt(tx_hash)
        if receipt is not None:
            mined = mined or time.perf_counter()
            if client.block_number() - receipt.block_number + 1 >= confirmations:
                break
        time.sleep(poll)
    done = time.perf_counter()
    return {
        "to_send_s": sent - started,
        "to_first_block_s": mined - started,
        "total_s": done - started,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.checkpoint_latency")
    parser.add_argument("--smoke", action="store_true", help="0.2 s blocks, 2 confirmations")
    parser.add_argument("--json", action="store_true", help="print only JSON")
    args = parser.parse_args(argv)
    block_time, confirmations, rounds = (0.2, 2, 1) if args.smoke else (2.0, 12, 3)
    keys = _keys(3)
    with start_anvil(block_time=block_time) as anvil, RskStrictProxy(anvil.url) as proxy:
        client = ChainClient(proxy.url, anvil.chain_id, anvil.dev_keys[0], poll_interval=0.05)
        client.deploy(NETWORK_ID, [eip712.address_of(k) for k in keys], 2)
        samples = [_one(client, keys, e, confirmations, 0.2) for e in range(1, rounds + 1)]
    totals = [s["total_s"] for s in samples]
    report = {
        "block_time_s": block_time,
        "confirmations": confirmations,
        "quorum": "2 of 3",
        "rounds": rounds,
        "quorum_to_confirmed_s": {
            "mean": round(statistics.mean(totals), 2),
            "max": round(max(totals), 2),
            "expected_about": round(block_time * confirmations, 2),
        },
        "quorum_to_send_s_mean": round(statistics.mean(s["to_send_s"] for s in samples), 3),
        "quorum_to_first_block_s_mean": round(
            statistics.mean(s["to_first_block_s"] for s in samples), 2
        ),
    }
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
