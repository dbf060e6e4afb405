"""Three members in a line, A - B - C (A and C never dialled to each other)."""

from __future__ import annotations

import pytest
import trio

from node.core.errors import MessageTooLargeError, RequestFailedError
from node.network import GossipMessage, RequestLimits, Verdict
from node.network.config import MIB
from tests.network.netutil import TOPIC, Member, Recorder, config_for, publish_until, running

ECHO = "/calpe/test/echo/1"
BIG = "/calpe/test/big/1"
BOOM = "/calpe/test/boom/1"


async def _echo(_peer: str, data: bytes) -> bytes:
    return data


async def _big(_peer: str, data: bytes) -> bytes:
    return bytes(range(256)) * (4 * MIB // 256)


async def _boom(_peer: str, _data: bytes) -> bytes:
    raise RuntimeError("handler bug")


def _reject_bad(message: GossipMessage) -> Verdict:
    return Verdict.REJECT if message.data.startswith(b"bad") else Verdict.ACCEPT


@pytest.mark.trio
async def test_gossip_relays_through_the_middle_and_requests_round_trip() -> None:
    a, b, c = Member(), Member(), Member()
    members = [a, b, c]
    rec_a, rec_b, rec_c = Recorder(), Recorder(), Recorder()
    rec_b.requests.update({ECHO: _echo, BIG: _big, BOOM: _boom})
    async with trio.open_nursery() as nursery:
        async with (
            running(nursery, config_for(b, members), rec_b) as net_b,
            running(nursery, config_for(a, members, [(b, net_b)]), rec_a) as net_a,
            running(nursery, config_for(c, members, [(b, net_b)]), rec_c) as net_c,
        ):
            await rec_b.wait_for(lambda: rec_b.connected == {a.peer_id, c.peer_id})
            await rec_a.wait_for(lambda: b.peer_id in rec_a.connected)

            await publish_until(net_a, rec_c, b"block-1")
            delivered = rec_c.delivered[-1]
            assert (delivered.topic, delivered.origin, delivered.forwarder) == (
                TOPIC,
                a.peer_id,
                b.peer_id,
            )
            assert not net_c.is_connected(a.peer_id)
            assert all(m.origin != a.peer_id or m.forwarder == a.peer_id for m in rec_b.delivered)
            assert rec_a.delivered == []  # our own messages are not delivered back to us

            assert await net_a.request(b.peer_id, ECHO, b"ping", timeout=5) == b"ping"
            big = await net_a.request(b.peer_id, BIG, b"", timeout=20)
            assert big == bytes(range(256)) * (4 * MIB // 256)

            with pytest.raises(MessageTooLargeError):
                await net_a.request(b.peer_id, ECHO, b"x" * (64 * 1024 + 1), timeout=5)
            with pytest.raises(RequestFailedError):
                await net_a.request(b.peer_id, BOOM, b"", timeout=5)
            with pytest.raises(RequestFailedError):
                await net_a.request(b.peer_id, "/calpe/test/unknown/1", b"", timeout=5)
            # After all of that, B still serves.
            assert await net_c.request(b.peer_id, ECHO, b"still up", timeout=5) == b"still up"
            peers = {info.peer_id: info for info in net_b.connected_peers()}
            assert set(peers) == {a.peer_id, c.peer_id}
            assert all(info.addrs and info.last_seen for info in peers.values())
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_server_refuses_a_request_over_its_own_limit() -> None:
    a, b = Member(), Member()
    rec_a, rec_b = Recorder(), Recorder()
    rec_b.requests[ECHO] = _echo
    small = RequestLimits(max_request_size=1024)
    async with trio.open_nursery() as nursery:
        async with (
            running(nursery, config_for(b, [a, b], requests=small), rec_b) as net_b,
            running(nursery, config_for(a, [a, b], [(b, net_b)]), rec_a) as net_a,
        ):
            await rec_a.wait_for(lambda: b.peer_id in rec_a.connected)
            with pytest.raises(RequestFailedError):
                await net_a.request(b.peer_id, ECHO, b"x" * 2048, timeout=5)
            assert await net_a.request(b.peer_id, ECHO, b"x" * 512, timeout=5) == b"x" * 512
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_reject_stops_relay_penalises_and_finally_disconnects() -> None:
    a, b, c = Member(), Member(), Member()
    members = [a, b, c]
    rec_a, rec_b, rec_c = Recorder(), Recorder(_reject_bad), Recorder()
    async with trio.open_nursery() as nursery:
        async with (
            running(nursery, config_for(b, members, max_offences=3), rec_b) as net_b,
            running(nursery, config_for(a, members, [(b, net_b)]), rec_a) as net_a,
            running(nursery, config_for(c, members, [(b, net_b)]), rec_c),
        ):
            await rec_b.wait_for(lambda: rec_b.connected == {a.peer_id, c.peer_id})
            await publish_until(net_a, rec_c, b"good-1")

            await net_a.publish(TOPIC, b"bad-1")
            await rec_b.wait_for(lambda: any(m.data == b"bad-1" for m in rec_b.validated))
            await publish_until(net_a, rec_c, b"good-2")
            assert b"bad-1" not in rec_c.delivered_data()
            assert b"bad-1" not in rec_b.delivered_data()
            scores = {info.peer_id: info.score for info in net_b.connected_peers()}
            assert scores[a.peer_id] < 0 and scores[c.peer_id] == 0

            await net_a.publish(TOPIC, b"bad-2")
            await net_a.publish(TOPIC, b"bad-3")
            await rec_b.wait_for(lambda: a.peer_id in rec_b.disconnected)
            assert not any(m.data.startswith(b"bad") for m in rec_c.validated)
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_raising_callbacks_do_not_crash_the_host() -> None:
    a, b = Member(), Member()

    def explode(message: GossipMessage) -> Verdict:
        if message.data.startswith(b"explode"):
            raise RuntimeError("validator bug")
        return Verdict.ACCEPT

    rec_a, rec_b = Recorder(), Recorder(explode)
    rec_b.requests[ECHO] = _echo
    failing_deliveries = 0
    original_deliver = rec_b.deliver

    async def deliver(message: GossipMessage) -> None:
        nonlocal failing_deliveries
        await original_deliver(message)
        if message.data.startswith(b"crash"):
            failing_deliveries += 1
            raise RuntimeError("delivery bug")

    rec_b.deliver = deliver  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        async with (
            running(nursery, config_for(b, [a, b]), rec_b) as net_b,
            running(nursery, config_for(a, [a, b], [(b, net_b)]), rec_a) as net_a,
        ):
            await rec_a.wait_for(lambda: b.peer_id in rec_a.connected)
            await publish_until(net_a, rec_b, b"crash")
            await net_a.publish(TOPIC, b"explode")
            await rec_b.wait_for(lambda: any(m.data == b"explode" for m in rec_b.validated))
            await publish_until(net_a, rec_b, b"after")
            assert failing_deliveries >= 1
            assert b"explode" not in rec_b.delivered_data()
            assert await net_a.request(b.peer_id, ECHO, b"alive", timeout=5) == b"alive"
        nursery.cancel_scope.cancel()
