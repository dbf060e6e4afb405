"""Members are dialled only at the addresses genesis and config give, not ones they announce."""

from __future__ import annotations

from libp2p.peer.id import ID
from libp2p.peer.peerstore import create_signed_peer_record
from multiaddr import Multiaddr

from node.network.gating import MemberGate
from node.network.host import build_host
from node.network.identity import key_pair_from_seed
from tests.network.netutil import Member, config_for


def test_a_signed_peer_record_adds_no_address_to_dial() -> None:
    us, peer = Member(), Member()
    host = build_host(
        config_for(us, [us, peer]),
        key_pair_from_seed(us.seed),
        MemberGate([us.peer_id, peer.peer_id]),
    )
    peer_keys = key_pair_from_seed(peer.seed)
    peer_id = ID.from_pubkey(peer_keys.public_key)
    configured = Multiaddr("/ip4/127.0.0.1/tcp/4001")
    announced = Multiaddr("/ip4/127.0.0.1/tcp/4999")
    store = host.get_peerstore()
    store.add_addrs(peer_id, [configured], 120)
    record = create_signed_peer_record(peer_id, [announced], peer_keys.private_key)
    # Accepted (py-libp2p drops a gossip RPC whose record is refused), but not kept.
    assert store.consume_peer_record(record, 7200)
    assert store.addrs(peer_id) == [configured]
