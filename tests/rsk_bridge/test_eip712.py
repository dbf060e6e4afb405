"""EIP-712 digests, signatures and EIP-55/EIP-1191 checksums, against eth_account and the
published test vectors."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from node.core import eip712
from node.core.errors import ConfigError, SignatureError

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
KEY = eip712.keccak256(b"a signer")

_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def _typed(chain_id: int, primary: str, fields: list[dict[str, str]], message: Any) -> Any:
    domain = {"name": "Calpe", "version": "1", "chainId": chain_id, "verifyingContract": CONTRACT}
    return encode_typed_data(
        full_message={
            "types": {"EIP712Domain": _DOMAIN_FIELDS, primary: fields},
            "primaryType": primary,
            "domain": domain,
            "message": message,
        }
    )


@settings(max_examples=25, deadline=None)
@given(
    chain_id=st.sampled_from([30, 31, 33, 1]),
    network_id=st.binary(min_size=32, max_size=32),
    epoch=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
)
def test_checkpoint_digest_matches_eth_account(
    chain_id: int, network_id: bytes, epoch: int, root: bytes
) -> None:
    fields = [
        {"name": "networkId", "type": "bytes32"},
        {"name": "epoch", "type": "uint64"},
        {"name": "checkpointRoot", "type": "bytes32"},
    ]
    message = {"networkId": network_id, "epoch": epoch, "checkpointRoot": root}
    signed = Account.sign_message(_typed(chain_id, "Checkpoint", fields, message), KEY)
    digest = eip712.checkpoint_digest(chain_id, CONTRACT, network_id, epoch, root)
    assert digest == bytes(signed.message_hash)
    assert eip712.sign_digest(KEY, digest) == bytes(signed.signature)


@settings(max_examples=15, deadline=None)
@given(
    keys=st.lists(st.binary(min_size=32, max_size=32).map(eip712.keccak256), max_size=6),
    threshold=st.integers(0, 255),
    nonce=st.integers(0, 2**64 - 1),
)
def test_signer_change_digest_matches_eth_account(
    keys: list[bytes], threshold: int, nonce: int
) -> None:
    signers = [eip712.address_of(k) for k in keys]
    fields = [
        {"name": "signers", "type": "address[]"},
        {"name": "threshold", "type": "uint8"},
        {"name": "nonce", "type": "uint64"},
    ]
    message = {"signers": signers, "threshold": threshold, "nonce": nonce}
    signed = Account.sign_message(_typed(31, "SignerSetChange", fields, message), KEY)
    digest = eip712.signer_change_digest(31, CONTRACT, signers, threshold, nonce)
    assert digest == bytes(signed.message_hash)


def test_sign_recover_round_trip_and_address_match_eth_account() -> None:
    digest = eip712.keccak256(b"message")
    signature = eip712.sign_digest(KEY, digest)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert int.from_bytes(signature[32:64], "big") <= eip712.SECP256K1_ORDER // 2
    assert eip712.recover_signer(digest, signature) == eip712.address_of(KEY)
    assert eip712.address_of(KEY) == Account.from_key(KEY).address


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda s: s[:64], "65 bytes"),
        (lambda s: s[:64] + b"\x1d", "v must be 27 or 28"),
        (lambda s: s[:64] + b"\x01", "v must be 27 or 28"),
        (lambda s: s[:32] + b"\xff" * 32 + s[64:], "lower half"),
        (lambda s: b"\x00" * 32 + s[32:], "out of range"),
    ],
)
def test_recover_refuses_what_the_contract_refuses(mutate: Any, reason: str) -> None:
    digest = eip712.keccak256(b"message")
    with pytest.raises(SignatureError, match=reason):
        eip712.recover_signer(digest, mutate(eip712.sign_digest(KEY, digest)))


def test_pack_signatures_orders_by_signer_and_drops_repeats() -> None:
    digest = eip712.keccak256(b"message")
    keys = [eip712.keccak256(b"k%d" % i) for i in range(5)]
    signatures = [eip712.sign_digest(k, digest) for k in keys]
    packed = eip712.pack_signatures(digest, [*reversed(signatures), signatures[0]])
    chunks = [packed[i : i + 65] for i in range(0, len(packed), 65)]
    signers = [eip712.address_bytes(eip712.recover_signer(digest, c)) for c in chunks]
    assert len(chunks) == 5 and signers == sorted(signers)


EIP55 = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
# EIP-1191's published test cases (RSKIP-60): RSK mainnet (30) and testnet (31).
RSK_MAINNET = [
    "0x6549F4939460DE12611948B3F82B88C3C8975323",
    "0x27b1FdB04752BBc536007A920D24ACB045561c26",
    "0x3599689E6292B81B2D85451025146515070129Bb",
    "0x52908400098527886E0F7030069857D2E4169ee7",
    "0x5aaEB6053f3e94c9b9a09f33669435E7ef1bEAeD",
    "0x8617E340b3D01Fa5f11f306f4090fd50E238070D",
    "0xD1220A0Cf47c7B9BE7a2e6ba89F429762E7B9adB",
    "0xDBF03B407c01E7CD3cBea99509D93F8Dddc8C6FB",
    "0xDe709F2102306220921060314715629080e2FB77",
    "0xFb6916095cA1Df60bb79ce92cE3EA74c37c5d359",
]
RSK_TESTNET = [
    "0x42712D45473476B98452F434E72461577D686318",
    "0x27B1FdB04752BbC536007a920D24acB045561C26",
    "0x3599689e6292b81b2D85451025146515070129Bb",
    "0x52908400098527886E0F7030069857D2e4169EE7",
    "0x5aAeb6053F3e94c9b9A09F33669435E7EF1BEaEd",
    "0x66f9664F97F2b50f62d13eA064982F936DE76657",
    "0x8617e340b3D01fa5F11f306F4090Fd50e238070d",
    "0xDE709F2102306220921060314715629080e2Fb77",
    "0xFb6916095CA1dF60bb79CE92ce3Ea74C37c5D359",
    "0xd1220a0CF47c7B9Be7A2E6Ba89f429762E7b9adB",
    "0xdbF03B407C01E7cd3cbEa99509D93f8dDDc8C6fB",
]


@pytest.mark.parametrize(
    ("chain_id", "vectors"), [(None, EIP55), (30, RSK_MAINNET), (31, RSK_TESTNET)]
)
def test_published_checksum_vectors(chain_id: int | None, vectors: list[str]) -> None:
    for address in vectors:
        assert eip712.to_checksum_address(address.lower(), chain_id) == address
        if chain_id is not None:
            assert eip712.is_valid_eip1191(address, chain_id)
            assert eip712.normalise_address(address, chain_id) == eip712.to_checksum_address(
                address
            )


def test_normalise_address_accepts_plain_forms_and_refuses_bad_checksums() -> None:
    rsk = "0x5aaEB6053f3e94c9b9a09f33669435E7ef1bEAeD"
    eip55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert eip712.normalise_address(rsk.lower(), 30) == eip55
    assert eip712.normalise_address("0x" + rsk[2:].upper(), 30) == eip55
    assert eip712.normalise_address(eip55, 30) == eip55
    assert not eip712.is_valid_eip1191(rsk, 31)
    with pytest.raises(ConfigError, match="wrong checksum"):
        eip712.normalise_address(rsk, 31)  # mainnet checksum used on testnet
    with pytest.raises(ConfigError, match="wrong checksum"):
        eip712.normalise_address(rsk, None)
    for malformed in ("0x1234", "5aaEB6053f3e94c9b9a09f33669435E7ef1bEAeD", "0x" + "g" * 40):
        with pytest.raises(ConfigError, match="not an address"):
            eip712.normalise_address(malformed, 30)
