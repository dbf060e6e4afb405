"""An agency's Ed25519 key as its libp2p identity.

The interchange with the ledger is raw bytes: a 32-byte Ed25519 private seed (RFC 8032) and a
32-byte public key, exactly what pycryptodome's ``Crypto.PublicKey.ECC`` Ed25519 keys export with
``export_key(format="raw")`` / ``seed``. A peer ID is a pure function of the public key (identity
multihash of the protobuf-encoded key), so it is stable across restarts and can be derived from
the genesis file alone.
"""

from __future__ import annotations

from libp2p.crypto.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID

from node.core.errors import ConfigError

ED25519_KEY_BYTES = 32


def _check_len(name: str, value: bytes) -> None:
    if len(value) != ED25519_KEY_BYTES:
        raise ConfigError(f"{name} must be {ED25519_KEY_BYTES} bytes, got {len(value)}")


def key_pair_from_seed(seed: bytes) -> KeyPair:
    """The libp2p key pair of a 32-byte Ed25519 private seed."""
    _check_len("Ed25519 private seed", seed)
    private = Ed25519PrivateKey.from_bytes(seed)
    return KeyPair(private, private.get_public_key())


def peer_id_from_ed25519_public(pub: bytes) -> str:
    """The base58 peer ID of a raw 32-byte Ed25519 public key."""
    _check_len("Ed25519 public key", pub)
    try:
        key = Ed25519PublicKey.from_bytes(pub)
    except Exception as error:  # nacl raises its own ValueError subclasses
        raise ConfigError(f"not an Ed25519 public key: {error}") from error
    return ID.from_pubkey(key).to_base58()


def peer_id_from_seed(seed: bytes) -> str:
    """The base58 peer ID of the agency whose private seed is ``seed``."""
    return ID.from_pubkey(key_pair_from_seed(seed).public_key).to_base58()


def parse_peer_id(peer_id: str) -> ID:
    """A libp2p ID from its base58 string; ConfigError if it is not one."""
    try:
        parsed = ID.from_base58(peer_id)
    except Exception as error:
        raise ConfigError(f"not a base58 peer ID: {peer_id!r}") from error
    if parsed.to_base58() != peer_id:
        raise ConfigError(f"not a canonical base58 peer ID: {peer_id!r}")
    return parsed
