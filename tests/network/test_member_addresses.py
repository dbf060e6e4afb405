"""Members are dialled only at the addresses genesis and config give, not ones they announce."""

from __future__ import annotations

from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo
from libp2p.peer.peerstore import create_signed_peer_record
from multiaddr import Multiaddr

from node.network.gating import MemberGate
from node.network.host import build_host, dial_only
from node.network.identity import key_pair_from_seed
from tests.network.netutil import Member, config_for

CONFIGURED = Multiaddr("/ip4/127.0.0.1/tcp/4001")
ANNOUNCED = Multiaddr("/ip4/127.0.0.1/tcp/4999")


def test_only_the_configured_address_of_a_member_is_kept() -> None:
    us, peer = Member(), Member()
    host = build_host(
        config_for(us, [us, peer]),
        key_pair_from_seed(us.seed),
        MemberGate([us.peer_id, peer.peer_id]),
    )
    peer_keys = key_pair_from_seed(peer.seed)
    peer_id = ID.from_pubkey(peer_keys.public_key)
    store = host.get_peerstore()
    dial_only(host, PeerInfo(peer_id, [CONFIGURED]))

    store.add_addrs(peer_id, [CONFIGURED, ANNOUNCED], 120)  # what identify and connect() do
    assert store.addrs(peer_id) == [CONFIGURED]
    record = create_signed_peer_record(peer_id, [ANNOUNCED], peer_keys.private_key)
    # Accepted (py-libp2p drops a gossip RPC whose record is refused); its address is not kept.
    assert store.consume_peer_record(record, 7200)
    assert ANNOUNCED not in store.peer_info(peer_id).addrs


def test_a_peer_never_dialled_keeps_no_address() -> None:
    us, stranger = Member(), Member()
    host = build_host(config_for(us, [us]), key_pair_from_seed(us.seed), MemberGate([us.peer_id]))
    stranger_id = ID.from_pubkey(key_pair_from_seed(stranger.seed).public_key)
    host.get_peerstore().add_addrs(stranger_id, [ANNOUNCED], 120)
    assert host.get_peerstore().peer_info(stranger_id).addrs == []
