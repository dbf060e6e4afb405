"""EIP-712 digests, secp256k1 signatures and address checksums of the checkpoint protocol.

Pure functions (keccak from pycryptodome, secp256k1 from coincurve); no web3. The same digests
are computed on chain by ``CalpeCheckpoints.sol``:

- domain ``EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)``
  with name ``"Calpe"`` and version ``"1"``;
- ``Checkpoint(bytes32 networkId,uint64 epoch,bytes32 checkpointRoot)``;
- ``SignerSetChange(address[] signers,uint8 threshold,uint64 nonce)``.

Signatures are 65 bytes ``r || s || v`` with ``v`` in {27, 28} and ``s`` in the lower half of
the curve order (EIP-2). A submission packs them ordered by recovered signer, strictly ascending
(:func:`pack_signatures`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import coincurve
from Crypto.Hash import keccak

from node.core.errors import ConfigError, SignatureError

DOMAIN_NAME = "Calpe"
DOMAIN_VERSION = "1"
SIGNATURE_LENGTH = 65

_DOMAIN_TYPE = b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_CHECKPOINT_TYPE = b"Checkpoint(bytes32 networkId,uint64 epoch,bytes32 checkpointRoot)"
_SIGNER_SET_CHANGE_TYPE = b"SignerSetChange(address[] signers,uint8 threshold,uint64 nonce)"

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_ORDER = SECP256K1_ORDER // 2
_UINT64_MAX = 2**64 - 1
_HEX_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (the Ethereum hash, not NIST SHA3-256)."""
    return keccak.new(digest_bits=256, data=data).digest()


_DOMAIN_TYPEHASH = keccak256(_DOMAIN_TYPE)
_CHECKPOINT_TYPEHASH = keccak256(_CHECKPOINT_TYPE)
_SIGNER_SET_CHANGE_TYPEHASH = keccak256(_SIGNER_SET_CHANGE_TYPE)


# ------------------------------------------------------------------------------ addresses


def _hex_body(address: str) -> str:
    if not isinstance(address, str) or not _HEX_ADDRESS.fullmatch(address):
        raise ConfigError(
            f"{address!r} is not an address: expected 0x followed by 40 hexadecimal digits"
        )
    return address[2:]


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a hex address (checksum not checked; see :func:`normalise_address`)."""
    return bytes.fromhex(_hex_body(address))


def to_checksum_address(address: str | bytes, chain_id: int | None = None) -> str:
    """Mixed-case checksum: EIP-55 when ``chain_id`` is None, else EIP-1191 (RSKIP-60)."""
    body = address.hex() if isinstance(address, bytes) else _hex_body(address).lower()
    if len(body) != 40:
        raise ConfigError(f"an address has 20 bytes, got {len(body) // 2}")
    seed = body if chain_id is None else f"{chain_id}0x{body}"
    digest = keccak256(seed.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if int(h, 16) >= 8 else c for c, h in zip(body, digest, strict=False)
    )


def is_valid_eip1191(address: str, chain_id: int) -> bool:
    """True if ``address`` carries the EIP-1191 checksum of ``chain_id`` exactly."""
    try:
        return to_checksum_address(address, chain_id) == address
    except ConfigError:
        return False


def normalise_address(address: str, chain_id: int | None = None) -> str:
    """Validate ``address`` and return its EIP-55 form (what web3 and the contract ABI take).

    Accepted: all lowercase or all uppercase hex (no checksum to check), an EIP-55 checksum, or
    the EIP-1191 checksum of ``chain_id`` (RSK wallets and explorers show those for 30 and 31).
    Raises :class:`ConfigError` naming the expected checksums otherwise.
    """
    body = _hex_body(address)
    eip55 = to_checksum_address(address)
    if body in (body.lower(), body.upper()) or address == eip55:
        return eip55
    if chain_id is not None and is_valid_eip1191(address, chain_id):
        return eip55
    chain_form = "" if chain_id is None else f" or {to_checksum_address(address, chain_id)}"
    raise ConfigError(
        f"address {address} has a wrong checksum (expected {eip55}{chain_form}): "
        "check it was copied whole and is for this chain"
    )


# -------------------------------------------------------------------------------- digests


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _bytes32(value: bytes, what: str) -> bytes:
    if len(value) != 32:
        raise ValueError(f"{what} must be 32 bytes, got {len(value)}")
    return value


def _address_word(address: str) -> bytes:
    return address_bytes(address).rjust(32, b"\x00")


def domain_separator(chain_id: int, contract: str) -> bytes:
    """``hashStruct(EIP712Domain)`` for the checkpoint contract at ``contract`` on ``chain_id``."""
    return keccak256(
        _DOMAIN_TYPEHASH
        + keccak256(DOMAIN_NAME.encode())
        + keccak256(DOMAIN_VERSION.encode())
        + _word(chain_id)
        + _address_word(contract)
    )


def _typed_digest(chain_id: int, contract: str, struct_hash: bytes) -> bytes:
    return keccak256(b"\x19\x01" + domain_separator(chain_id, contract) + struct_hash)


def checkpoint_digest(
    chain_id: int, contract: str, network_id: bytes, epoch: int, root: bytes
) -> bytes:
    """The 32-byte digest signers sign for ``Checkpoint(networkId, epoch, checkpointRoot)``."""
    if not 0 <= epoch <= _UINT64_MAX:
        raise ValueError(f"epoch {epoch} does not fit uint64")
    struct_hash = keccak256(
        _CHECKPOINT_TYPEHASH
        + _bytes32(network_id, "network_id")
        + _word(epoch)
        + _bytes32(root, "checkpoint root")
    )
    return _typed_digest(chain_id, contract, struct_hash)


def signer_change_digest(
    chain_id: int, contract: str, signers: Sequence[str], threshold: int, nonce: int
) -> bytes:
    """The digest for ``SignerSetChange(signers, threshold, nonce)``; ``nonce`` is the
    contract's ``signerSetNonce()``."""
    if not 0 <= threshold <= 255:
        raise ValueError(f"threshold {threshold} does not fit uint8")
    if not 0 <= nonce <= _UINT64_MAX:
        raise ValueError(f"nonce {nonce} does not fit uint64")
    signers_hash = keccak256(b"".join(_address_word(a) for a in signers))
    struct_hash = keccak256(
        _SIGNER_SET_CHANGE_TYPEHASH + signers_hash + _word(threshold) + _word(nonce)
    )
    return _typed_digest(chain_id, contract, struct_hash)


# ----------------------------------------------------------------------------- signatures


def address_of(private_key: bytes) -> str:
    """EIP-55 address of a raw 32-byte secp256k1 private key."""
    public = coincurve.PrivateKey(private_key).public_key.format(compressed=False)
    return to_checksum_address(keccak256(public[1:])[-20:])


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """65-byte ``r || s || v`` signature of a 32-byte digest, low-s, ``v`` in {27, 28}."""
    raw = coincurve.PrivateKey(private_key).sign_recoverable(
        _bytes32(digest, "digest"), hasher=None
    )
    # libsecp256k1 always produces low-s signatures, as EIP-2 and the contract require.
    return raw[:64] + bytes([raw[64] + 27])


def recover_signer(digest: bytes, signature: bytes) -> str:
    """EIP-55 address that signed ``digest``; :class:`SignatureError` on a signature the
    contract would reject (length, ``v``, high ``s``, or no recoverable key)."""
    if len(signature) != SIGNATURE_LENGTH:
        raise SignatureError(f"a signature has {SIGNATURE_LENGTH} bytes, got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureError(f"signature v must be 27 or 28, got {v}")
    if not (0 < r < SECP256K1_ORDER and 0 < s <= _HALF_ORDER):
        raise SignatureError("signature r or s out of range (s must be in the lower half order)")
    try:
        public = coincurve.PublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), _bytes32(digest, "digest"), hasher=None
        )
    except Exception as exc:  # coincurve raises a bare Exception on failure
        raise SignatureError(f"no public key recovers from this signature: {exc}") from exc
    return to_checksum_address(keccak256(public.format(compressed=False)[1:])[-20:])


def pack_signatures(digest: bytes, signatures: Iterable[bytes]) -> bytes:
    """Concatenate signatures ordered by recovered signer, strictly ascending, as the contract
    requires. A second signature by the same signer is dropped; an invalid one raises
    :class:`SignatureError`."""
    by_signer: dict[bytes, bytes] = {}
    for signature in signatures:
        signer = address_bytes(recover_signer(digest, signature))
        by_signer.setdefault(signer, signature)
    return b"".join(by_signer[a] for a in sorted(by_signer))
