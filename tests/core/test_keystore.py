from __future__ import annotations

import json

import pytest

from node.core.errors import KeystoreError
from node.core.keys import AgencyKeys, secp256k1_address
from node.core.keystore import MIN_SCRYPT_N, seal, unseal


def test_seal_and_unseal_round_trip() -> None:
    keys = AgencyKeys.generate()
    text = seal(keys, "gi.transport", "correct horse", n=MIN_SCRYPT_N)
    agency_id, again = unseal(text, "correct horse")
    assert agency_id == "gi.transport"
    assert again.ed25519_seed == keys.ed25519_seed
    assert again.secp256k1_private == keys.secp256k1_private


def test_no_secret_in_keystore_text_or_repr() -> None:
    keys = AgencyKeys.generate()
    text = seal(keys, "gi.transport", "pw", n=MIN_SCRYPT_N)
    assert keys.ed25519_seed.hex() not in text
    assert keys.secp256k1_private.hex() not in text
    assert keys.ed25519_seed.hex() not in repr(keys)
    assert "secp256k1_private" not in repr(keys)


def test_wrong_passphrase_is_a_clear_error() -> None:
    text = seal(AgencyKeys.generate(), "gi.transport", "pw", n=MIN_SCRYPT_N)
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        unseal(text, "not pw")


@pytest.mark.parametrize("field", ["agency_id", "public"])
def test_editing_authenticated_fields_breaks_decryption(field: str) -> None:
    doc = json.loads(seal(AgencyKeys.generate(), "gi.transport", "pw", n=MIN_SCRYPT_N))
    if field == "agency_id":
        doc["agency_id"] = "gi.health"
    else:
        doc["public"]["ed25519"] = "00" * 32
    with pytest.raises(KeystoreError):
        unseal(json.dumps(doc), "pw")


def test_corrupt_and_weak_keystores_are_refused() -> None:
    doc = json.loads(seal(AgencyKeys.generate(), "gi.transport", "pw", n=MIN_SCRYPT_N))
    with pytest.raises(KeystoreError, match="corrupt"):
        unseal(json.dumps({**doc, "ciphertext": "zz"}), "pw")
    weak = {**doc, "kdf": {**doc["kdf"], "n": 2}}
    with pytest.raises(KeystoreError, match="too low"):
        unseal(json.dumps(weak), "pw")
    with pytest.raises(KeystoreError, match="not a Calpe keystore"):
        unseal(json.dumps({**doc, "kind": "other"}), "pw")
    with pytest.raises(KeystoreError, match="empty passphrase"):
        seal(AgencyKeys.generate(), "gi.transport", "")


def test_secp256k1_address_matches_a_known_vector() -> None:
    # Private key 1 is the generator point: its address is well known.
    one = (1).to_bytes(32, "big")
    assert secp256k1_address(one).hex() == "7e5f4552091a69125d5dfcb7b8c2659029395bdf"
