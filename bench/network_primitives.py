"""Gossip through one relay hop and 1 MiB request/response throughput, on 127.0.0.1.

Prints one JSON object. Run: ``python -m bench.network_primitives``.
"""

from __future__ import annotations

import json
import time

import trio

from tests.network.netutil import TOPIC, Member, Recorder, config_for, publish_until, running

MESSAGES = 2000
PAYLOAD = 1024
RESPONSES = 50
MIB = 1024 * 1024


async def _big(_peer: str, _data: bytes) -> bytes:
    return b"r" * MIB


async def main() -> dict[str, float]:
    a, b, c = Member(), Member(), Member()
    members = [a, b, c]
    rec_a, rec_b, rec_c = Recorder(), Recorder(), Recorder()
    rec_b.requests["/bench/big/1"] = _big
    async with trio.open_nursery() as nursery:
        async with (
            running(nursery, config_for(b, members), rec_b) as net_b,
            running(nursery, config_for(a, members, [(b, net_b)]), rec_a) as net_a,
            running(nursery, config_for(c, members, [(b, net_b)]), rec_c),
        ):
            await rec_b.wait_for(lambda: rec_b.connected == {a.peer_id, c.peer_id})
            await publish_until(net_a, rec_c, b"warm-up")
            base = len(rec_c.delivered)
            start = time.perf_counter()
            for i in range(MESSAGES):
                await net_a.publish(TOPIC, i.to_bytes(4, "big") * (PAYLOAD // 4))
            with trio.move_on_after(60):
                await rec_c.wait_for(lambda: len(rec_c.delivered) - base >= MESSAGES, 60)
            gossip_s = time.perf_counter() - start
            delivered = len(rec_c.delivered) - base

            start = time.perf_counter()
            for _ in range(RESPONSES):
                await net_a.request(b.peer_id, "/bench/big/1", b"", timeout=30)
            rr_s = time.perf_counter() - start
        nursery.cancel_scope.cancel()
    return {
        "gossip_messages": MESSAGES,
        "gossip_payload_bytes": PAYLOAD,
        "gossip_delivered_after_one_relay": delivered,
        "gossip_msgs_per_s": round(delivered / gossip_s, 1),
        "rr_responses_1mib": RESPONSES,
        "rr_mib_per_s": round(RESPONSES / rr_s, 1),
        "rr_ms_per_response": round(1000 * rr_s / RESPONSES, 2),
    }


if __name__ == "__main__":
    print(json.dumps(trio.run(main)))
