"""Membership changes and shutdown."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import trio

from node.network import PeerNetwork
from tests.network.netutil import Member, Recorder, config_for, running, tcp_addr


@pytest.mark.trio
async def test_removing_a_member_disconnects_it_and_re_adding_reconnects() -> None:
    a, b = Member(), Member()
    rec_a, rec_b = Recorder(), Recorder()
    async with trio.open_nursery() as nursery:
        async with running(nursery, config_for(b, [a, b]), rec_b) as net_b:
            config_a = config_for(a, [a, b], [(b, net_b)])
            async with running(nursery, config_a, rec_a) as net_a:
                await rec_a.wait_for(lambda: b.peer_id in rec_a.connected)
                net_a.set_members([a.peer_id])
                await rec_a.wait_for(lambda: b.peer_id in rec_a.disconnected)
                await rec_b.wait_for(lambda: a.peer_id not in rec_b.connected)
                assert net_a.connected_peers() == []
                net_a.set_members([a.peer_id, b.peer_id])
                await rec_a.wait_for(lambda: b.peer_id in rec_a.connected)
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_leaving_run_closes_the_listening_socket() -> None:
    a, b = Member(), Member()
    rec_a, rec_b = Recorder(), Recorder()
    net_a = PeerNetwork(config_for(a, [a, b]), rec_a.handlers())
    async with trio.open_nursery() as nursery:
        scope = trio.CancelScope()
        finished = trio.Event()

        async def serve(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
            with scope:
                await net_a.run(task_status=task_status)
            finished.set()

        await nursery.start(serve)
        port = int(tcp_addr(net_a).rsplit("/", 1)[1])
        async with running(nursery, config_for(b, [a, b], [(a, net_a)]), rec_b):
            await rec_b.wait_for(lambda: a.peer_id in rec_b.connected)
            scope.cancel()
            with trio.fail_after(10):
                await finished.wait()
            await rec_b.wait_for(lambda: a.peer_id in rec_b.disconnected)
        assert net_a.listen_addrs == []
        with pytest.raises(OSError):
            await trio.open_tcp_stream("127.0.0.1", port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
        nursery.cancel_scope.cancel()
