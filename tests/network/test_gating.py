"""Only members connect, in both directions, and only over Noise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from libp2p import new_host
from libp2p.abc import IHost
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo as Libp2pPeerInfo
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.transport.tcp.tcp import TCP
from multiaddr import Multiaddr

from node.core.errors import PeerNotAllowedError
from node.network.gating import MemberGate
from node.network.host import build_host
from node.network.identity import key_pair_from_seed
from tests.network.netutil import Member, Recorder, config_for, running, tcp_addr

LOOPBACK = Multiaddr("/ip4/127.0.0.1/tcp/0")


@asynccontextmanager
async def serving(host: IHost) -> AsyncIterator[IHost]:
    async with host.run([LOOPBACK]):
        try:
            yield host
        finally:
            await host.close()


def gated_host(member: Member, allowed: list[Member]) -> IHost:
    config = config_for(member, [member, *allowed])
    return build_host(config, key_pair_from_seed(member.seed), MemberGate(config.members))


def info(peer_id: str, addr: str) -> Libp2pPeerInfo:
    return Libp2pPeerInfo(ID.from_base58(peer_id), [Multiaddr(addr)])


async def refused(host: IHost, peer: Libp2pPeerInfo) -> bool:
    try:
        with trio.fail_after(10):
            await host.connect(peer)
    except trio.TooSlowError:
        raise
    except Exception:
        return True
    return False


@pytest.mark.trio
async def test_an_unknown_peer_is_refused_in_both_directions() -> None:
    a, outsider = Member(), Member()
    rec_a = Recorder()
    async with trio.open_nursery() as nursery:
        async with (
            running(nursery, config_for(a, [a]), rec_a) as net_a,
            serving(gated_host(outsider, [a])) as outsider_host,
        ):
            # inbound at A: the outsider has a valid key, but A's allow-list lacks it
            assert await refused(outsider_host, info(a.peer_id, tcp_addr(net_a)))
            assert net_a.connected_peers() == []
            # outbound from A: the service refuses to talk to a non-member at all
            with pytest.raises(PeerNotAllowedError):
                await net_a.request(outsider.peer_id, "/calpe/test/echo/1", b"", timeout=5)
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_the_gate_refuses_outbound_connections_too() -> None:
    x, y = Member(), Member()
    async with (
        serving(gated_host(x, [])) as host_x,  # x allows nobody
        serving(gated_host(y, [x])) as host_y,  # y would accept x
    ):
        addr_y = str(host_y.get_transport_addrs()[0])
        assert await refused(host_x, info(y.peer_id, addr_y))
        assert host_x.get_connected_peers() == []
        assert host_y.get_connected_peers() == []


@pytest.mark.trio
async def test_a_plaintext_only_peer_is_refused_even_with_a_member_key() -> None:
    a, b = Member(), Member()
    key_b = key_pair_from_seed(b.seed)
    plaintext = new_host(
        key_pair=key_b,
        sec_opt={TProtocol(PLAINTEXT_PROTOCOL_ID): InsecureTransport(key_b)},
        muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
        transports=[TCP()],
    )
    rec_a = Recorder()
    async with trio.open_nursery() as nursery:
        async with (
            running(nursery, config_for(a, [a, b]), rec_a) as net_a,
            serving(plaintext),
        ):
            assert await refused(plaintext, info(a.peer_id, tcp_addr(net_a)))
            assert net_a.connected_peers() == []
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_a_peer_claiming_a_members_id_without_its_key_is_refused() -> None:
    a, member, impostor = Member(), Member(), Member()
    async with (
        serving(gated_host(a, [member])) as host_a,
        serving(gated_host(impostor, [a])) as impostor_host,
    ):
        # The impostor listens where A expects `member`; Noise proves the impostor's own key.
        addr = str(impostor_host.get_transport_addrs()[0])
        assert await refused(host_a, info(member.peer_id, addr))
        assert host_a.get_connected_peers() == []
