"""Agency keys: Ed25519 signs blocks (and is the libp2p identity), secp256k1 co-signs checkpoints.

Private keys exist in memory only; on disk they live in an encrypted keystore (see
:mod:`node.core.keystore`). ``repr`` never shows private material, so a key cannot leak into a log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import coincurve
import nacl.exceptions
import nacl.signing
from Crypto.Hash import keccak
from Crypto.Signature import eddsa

from node.core.errors import SignatureError

BLOCK_SIGNATURE_DOMAIN = b"calpe/block/v1\x00"


def ed25519_public_from_seed(seed: bytes) -> bytes:
    key = eddsa.import_private_key(seed)
    raw: bytes = key.public_key().export_key(format="raw")
    return raw


def is_ed25519_public(public: bytes) -> bool:
    """Whether ``public`` is the 32-byte encoding of a point on Ed25519: a key nothing could ever
    sign for is refused where it enters (genesis, governance, a rotation), not found out later."""
    if len(public) != 32:
        return False
    try:
        eddsa.import_public_key(public)
    except ValueError:
        return False
    return True


# Signing and verifying go through libsodium (PyNaCl): 0.04 ms a verification against 1.5 ms for
# pycryptodome's, which every node pays for every block (~3% of bench.ingest at 1M credentials).
# Ed25519 signatures are deterministic (RFC 8032), so the bytes are the same either way.


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    signature: bytes = nacl.signing.SigningKey(seed).sign(message).signature
    return signature


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is ``public``'s over ``message``."""
    try:
        nacl.signing.VerifyKey(public).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
        raise SignatureError(f"Ed25519 signature does not verify: {exc}") from None


def keccak256(data: bytes) -> bytes:
    return keccak.new(data=data, digest_bits=256).digest()


def secp256k1_address(private_key: bytes) -> bytes:
    """The 20-byte Ethereum/RSK address of a secp256k1 private key."""
    public = coincurve.PrivateKey(private_key).public_key.format(compressed=False)
    return keccak256(public[1:])[12:]


@dataclass(frozen=True)
class AgencyKeys:
    """An agency's private keys. Construct with :meth:`generate` or from a keystore."""

    ed25519_seed: bytes = field(repr=False)
    secp256k1_private: bytes = field(repr=False)
    ed25519_public: bytes = field(init=False)
    secp256k1_address: bytes = field(init=False)

    def __post_init__(self) -> None:
        if len(self.ed25519_seed) != 32 or len(self.secp256k1_private) != 32:
            raise ValueError("agency keys are 32-byte secrets")
        object.__setattr__(self, "ed25519_public", ed25519_public_from_seed(self.ed25519_seed))
        object.__setattr__(self, "secp256k1_address", secp256k1_address(self.secp256k1_private))

    @classmethod
    def generate(cls) -> AgencyKeys:
        return cls(os.urandom(32), coincurve.PrivateKey().secret)

    def sign_block_hash(self, block_hash: bytes) -> bytes:
        return ed25519_sign(self.ed25519_seed, BLOCK_SIGNATURE_DOMAIN + block_hash)


def verify_block_signature(public: bytes, block_hash: bytes, signature: bytes) -> None:
    if len(signature) != 64:
        raise SignatureError("block signature must be 64 bytes")
    ed25519_verify(public, BLOCK_SIGNATURE_DOMAIN + block_hash, signature)
