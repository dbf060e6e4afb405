"""Identity and configuration validation (no network)."""

from __future__ import annotations

import pytest
from Crypto.PublicKey import ECC

from node.core.errors import ConfigError
from node.network import NetworkConfig, StaticPeer, peer_id_from_ed25519_public, peer_id_from_seed
from node.network.config import GossipParams
from node.network.identity import key_pair_from_seed


def test_peer_id_is_a_pure_function_of_the_pycryptodome_public_key() -> None:
    key = ECC.generate(curve="ed25519")
    public = key.public_key().export_key(format="raw")
    assert peer_id_from_ed25519_public(public) == peer_id_from_seed(key.seed)
    assert peer_id_from_ed25519_public(public) == peer_id_from_ed25519_public(bytes(public))
    assert key_pair_from_seed(key.seed).public_key.to_bytes() == public
    assert peer_id_from_seed(key.seed).startswith("12D3KooW")


@pytest.mark.parametrize("length", [0, 31, 33, 64])
def test_keys_of_the_wrong_length_are_config_errors(length: int) -> None:
    with pytest.raises(ConfigError):
        peer_id_from_ed25519_public(b"\x01" * length)
    with pytest.raises(ConfigError):
        key_pair_from_seed(b"\x01" * length)


def test_config_refuses_what_the_design_forbids() -> None:
    seed = bytes(32)
    me = peer_id_from_seed(seed)
    other = peer_id_from_seed(b"\x02" * 32)
    with pytest.raises(ConfigError):
        NetworkConfig(seed, (me,), ("t",), listen_addrs=("/ip4/127.0.0.1/udp/0/quic-v1",))
    with pytest.raises(ConfigError):
        NetworkConfig(
            seed, (me,), ("t",), static_peers=(StaticPeer(other, ("/ip4/1.2.3.4/tcp/1",)),)
        )
    with pytest.raises(ConfigError):
        NetworkConfig(seed, ("not-a-peer-id",), ("t",))
    with pytest.raises(ConfigError):
        GossipParams(degree=3, degree_low=4)
    with pytest.raises(ConfigError):
        GossipParams(max_message_size=64 * 1024 * 1024)
