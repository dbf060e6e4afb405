"""Gas of ``submitCheckpoint`` on anvil (Cancun gas schedule), printed as JSON.

Measures, for a 3-of-5 contract, the first epoch, the steady state, and the one epoch in eight
that opens a fresh slot of anchoring block numbers; then k-of-7 for k in 1, 3, 5, 7; and the
RBTC cost per year of hourly checkpoints at RSK's minimum gas price.

    python -m bench.checkpoint_gas

RSK's gas price: "The default price of gas on RSK [is] 0.06 Gwei"
(https://wiki.sovryn.com/en/sovryn-dapp/gwei-and-gas-explained); the Rootstock developer
portal's Blocknative example shows mainnet estimates of 0.066 gwei
(https://dev.rootstock.io/dev-tools/gas/blocknative). The bridge pays eth_gasPrice + 10 %.
Caveat: RSK's own gas schedule is not Cancun's (anvil's); the figures are Cancun's.
"""

from __future__ import annotations

import argparse
import json
import statistics
from typing import Any

from node.core import eip712
from plugins.rsk_bridge.anvil import start_anvil
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.rsk_strict import RskStrictProxy

RSK_MIN_GAS_PRICE_WEI = 60_000_000  # 0.06 gwei
BRIDGE_MARKUP = 1.1
CHECKPOINTS_PER_YEAR = 24 * 365
NETWORK_ID = eip712.keccak256(b"bench network")
EPOCHS = 24


def _keys(count: int) -> list[bytes]:
    keys = [eip712.keccak256(b"bench-signer-%d" % i) for i in range(count)]
    return sorted(keys, key=lambda k: eip712.address_bytes(eip712.address_of(k)))


def _gas_per_epoch(client: ChainClient, keys: list[bytes], threshold: int) -> dict[int, int]:
    client.deploy(NETWORK_ID, [eip712.address_of(k) for k in keys], threshold)
    assert client.contract is not None
    gas: dict[int, int] = {}
    for epoch in range(1, EPOCHS + 1):
        root = eip712.keccak256(b"root-%d" % epoch)
        digest = eip712.checkpoint_digest(client.chain_id, client.contract, NETWORK_ID, epoch, root)
        signatures = eip712.pack_signatures(
            digest, [eip712.sign_digest(k, digest) for k in keys[:threshold]]
        )
        tx_hash = client.submit_checkpoint(epoch, root, signatures)
        gas[epoch] = client.wait_for_success(tx_hash, timeout=60).gas_used
    return gas


def _summary(gas: dict[int, int]) -> dict[str, Any]:
    # Block numbers are packed eight epochs per slot: epochs 8, 16, ... open a fresh slot.
    steady = [g for e, g in gas.items() if e > 1 and e % 8 != 0]
    opening = [g for e, g in gas.items() if e > 1 and e % 8 == 0]
    later = [g for e, g in gas.items() if e > 1]
    return {
        "first_epoch": gas[1],
        "steady_median": int(statistics.median(steady)),
        "steady_max": max(steady),
        "slot_opening_epoch": max(opening),
        "mean_after_first_epoch": round(statistics.mean(later)),
    }


def _rbtc_per_year(gas: float, price_wei: float) -> float:
    return gas * price_wei * CHECKPOINTS_PER_YEAR / 1e18


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="(the full run takes ~20 s)")
    parser.add_argument("--json", action="store_true", help="(output is always JSON)")
    parser.parse_args(argv)
    with start_anvil() as anvil, RskStrictProxy(anvil.url) as proxy:
        client = ChainClient(proxy.url, anvil.chain_id, anvil.dev_keys[0], poll_interval=0.01)
        three_of_five = _summary(_gas_per_epoch(client, _keys(5), 3))
        assert client.deployment is not None
        deploy_gas = client.deployment.gas_used
        by_k = {f"{k}_of_7": _summary(_gas_per_epoch(client, _keys(7), k)) for k in (1, 3, 5, 7)}
    mean_gas = three_of_five["mean_after_first_epoch"]
    report = {
        "gas_schedule": "anvil --hardfork cancun (EIP-2929 cold/warm, EIP-2028 calldata)",
        "deploy_3_of_5": deploy_gas,
        "submit_3_of_5": three_of_five,
        "submit_k_of_7": by_k,
        "cost_per_year_hourly_3_of_5": {
            "checkpoints": CHECKPOINTS_PER_YEAR,
            "gas_each_mean": mean_gas,
            "rbtc_at_0_06_gwei": round(_rbtc_per_year(mean_gas, RSK_MIN_GAS_PRICE_WEI), 6),
            "rbtc_at_0_066_gwei_bridge_markup": round(
                _rbtc_per_year(mean_gas, RSK_MIN_GAS_PRICE_WEI * BRIDGE_MARKUP), 6
            ),
            "gas_price_source": "https://wiki.sovryn.com/en/sovryn-dapp/gwei-and-gas-explained "
            "(0.06 gwei); https://dev.rootstock.io/dev-tools/gas/blocknative (0.066 gwei)",
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
