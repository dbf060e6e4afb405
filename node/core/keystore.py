"""Encrypted keystore: an agency's two private keys sealed under a passphrase.

Format (JSON object, version 1)::

    {"kind": "calpe-keystore", "version": 1, "agency_id": "gi.transport",
     "public": {"ed25519": hex, "secp256k1_address": "0x…"},
     "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": hex},
     "cipher": {"name": "aes-256-gcm", "nonce": hex, "tag": hex}, "ciphertext": hex}

The plaintext is the canonical encoding of ``[ed25519_seed, secp256k1_private]``. The agency id and
public keys are authenticated as associated data, so editing them breaks decryption.
"""

from __future__ import annotations

import json
import os
from typing import Any

from Crypto.Cipher import AES
from Crypto.Protocol.KDF import scrypt

from node.core.encoding import as_bytes, as_list, decode, encode
from node.core.errors import EncodingError, KeystoreError
from node.core.keys import AgencyKeys

KEYSTORE_KIND = "calpe-keystore"
KEYSTORE_VERSION = 1
DEFAULT_SCRYPT_N = 2**15  # ~100 ms and 32 MiB per unlock: costly to brute-force, quick to start
MIN_SCRYPT_N = 2**10


def seal(keys: AgencyKeys, agency_id: str, passphrase: str, *, n: int = DEFAULT_SCRYPT_N) -> str:
    """Encrypt ``keys`` for ``agency_id``; returns the keystore JSON text."""
    if not passphrase:
        raise KeystoreError("refusing to create a keystore with an empty passphrase")
    salt = os.urandom(16)
    public = _public_part(keys)
    cipher = AES.new(_derive(passphrase, salt, n, 8, 1), AES.MODE_GCM)
    cipher.update(_associated(agency_id, public))
    ciphertext, tag = cipher.encrypt_and_digest(encode([keys.ed25519_seed, keys.secp256k1_private]))
    document = {
        "kind": KEYSTORE_KIND,
        "version": KEYSTORE_VERSION,
        "agency_id": agency_id,
        "public": public,
        "kdf": {"name": "scrypt", "n": n, "r": 8, "p": 1, "salt": salt.hex()},
        "cipher": {"name": "aes-256-gcm", "nonce": cipher.nonce.hex(), "tag": tag.hex()},
        "ciphertext": ciphertext.hex(),
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def unseal(text: str, passphrase: str) -> tuple[str, AgencyKeys]:
    """Decrypt a keystore; returns ``(agency_id, keys)``."""
    try:
        doc = json.loads(text)
        if doc.get("kind") != KEYSTORE_KIND:
            raise KeystoreError("not a Calpe keystore (field 'kind')")
        if doc.get("version") != KEYSTORE_VERSION:
            raise KeystoreError(f"unsupported keystore version {doc.get('version')!r}")
        kdf, cip = doc["kdf"], doc["cipher"]
        if kdf["name"] != "scrypt" or cip["name"] != "aes-256-gcm":
            raise KeystoreError("unsupported keystore algorithms")
        if int(kdf["n"]) < MIN_SCRYPT_N:
            raise KeystoreError("keystore scrypt cost is too low to be safe")
        agency_id = str(doc["agency_id"])
        key = _derive(passphrase, bytes.fromhex(kdf["salt"]), int(kdf["n"]), kdf["r"], kdf["p"])
        cipher = AES.new(key, AES.MODE_GCM, nonce=bytes.fromhex(cip["nonce"]))
        cipher.update(_associated(agency_id, doc["public"]))
        plain = cipher.decrypt_and_verify(
            bytes.fromhex(doc["ciphertext"]), bytes.fromhex(cip["tag"])
        )
    except KeystoreError:
        raise
    except ValueError as exc:
        if "MAC check failed" in str(exc):
            raise KeystoreError("wrong passphrase, or the keystore was altered") from None
        raise KeystoreError(f"corrupt keystore: {exc}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise KeystoreError(f"corrupt keystore: missing or bad field {exc}") from None
    try:
        seed, secp = as_list(decode(plain), "keystore secrets", 2)
        keys = AgencyKeys(as_bytes(seed, "ed25519 seed", 32), as_bytes(secp, "secp256k1 key", 32))
    except EncodingError as exc:
        raise KeystoreError(f"corrupt keystore secrets: {exc}") from None
    if _public_part(keys) != doc["public"]:
        raise KeystoreError("keystore public keys do not match its secrets")
    return agency_id, keys


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    derived = scrypt(passphrase.encode(), salt, key_len=32, N=n, r=r, p=p)  # type: ignore[arg-type]
    assert isinstance(derived, bytes)
    return derived


def _public_part(keys: AgencyKeys) -> dict[str, Any]:
    return {
        "ed25519": keys.ed25519_public.hex(),
        "secp256k1_address": "0x" + keys.secp256k1_address.hex(),
    }


def _associated(agency_id: str, public: dict[str, Any]) -> bytes:
    return json.dumps([agency_id, public], sort_keys=True).encode()
