"""The checkpoint contract on anvil (cancun), driven through the chain client and the
RSK-strict proxy: deployment, a 3-of-5 checkpoint, every rejection path, signer-set changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from node.core import eip712
from node.core.errors import SignatureError
from plugins.rsk_bridge.chain import ChainClient
from plugins.rsk_bridge.chain_errors import ContractRevertedError
from tests.rsk_bridge.conftest import (
    CHAIN_ID,
    NETWORK_ID,
    SIGNER_KEYS,
    Chain,
    packed_checkpoint,
    root_of,
    sign_checkpoint,
    signer_addresses,
)

pytestmark = pytest.mark.integration

MEMBERS = SIGNER_KEYS[:5]
OUTSIDERS = SIGNER_KEYS[5:]


def rejected(call: Callable[[], object]) -> ContractRevertedError:
    with pytest.raises(ContractRevertedError) as info:
        call()
    return info.value


def land(client: ChainClient, epoch: int, keys: list[bytes] = MEMBERS[:3]) -> int:
    """Anchor ``root_of(epoch)`` signed by ``keys``; the block number it landed in."""
    assert client.contract is not None
    signatures = packed_checkpoint(keys, client.contract, epoch, root_of(epoch))
    tx_hash = client.submit_checkpoint(epoch, root_of(epoch), signatures)
    return client.wait_for_success(tx_hash, timeout=30).block_number


def test_deploy_stores_network_signers_and_threshold(deployed: ChainClient) -> None:
    assert deployed.contract is not None
    assert deployed.network_id() == NETWORK_ID
    assert deployed.signers() == signer_addresses(MEMBERS)
    assert deployed.threshold() == 3
    assert deployed.latest_epoch() == 0
    assert deployed.signer_set_nonce() == 1
    assert deployed.domain_separator() == eip712.domain_separator(CHAIN_ID, deployed.contract)
    assert deployed.checkpoint_of(1) == (b"\x00" * 32, 0)


def test_a_3_of_5_checkpoint_lands_and_is_readable(deployed: ChainClient) -> None:
    block = land(deployed, 1)
    assert deployed.checkpoint_of(1) == (root_of(1), block)
    assert deployed.latest_epoch() == 1
    [log] = deployed.anchored_logs(block)
    assert (log.epoch, log.root, log.submitter, log.block_number) == (
        1,
        root_of(1),
        deployed.account,
        block,
    )


def test_more_signatures_than_the_threshold_and_epoch_gaps_are_accepted(
    deployed: ChainClient,
) -> None:
    land(deployed, 1, MEMBERS)
    block = land(deployed, 9, [MEMBERS[0], MEMBERS[2], MEMBERS[4]])
    assert deployed.checkpoint_of(9) == (root_of(9), block)
    assert deployed.checkpoint_of(5) == (b"\x00" * 32, 0)
    assert deployed.latest_epoch() == 9


def test_block_numbers_of_many_epochs_are_kept_apart(deployed: ChainClient) -> None:
    blocks = {epoch: land(deployed, epoch) for epoch in range(6, 19)}
    for epoch, block in blocks.items():
        assert deployed.checkpoint_of(epoch) == (root_of(epoch), block)


def _high_s(signature: bytes) -> bytes:
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    return signature[:32] + (eip712.SECP256K1_ORDER - s).to_bytes(32, "big") + bytes([55 - v])


def _bad_signatures(contract: str) -> dict[str, tuple[bytes, str]]:
    epoch, root = 1, root_of(1)
    a, b, c = sign_checkpoint(MEMBERS[:3], contract, epoch, root)  # ascending signers
    outsider = packed_checkpoint([MEMBERS[0], MEMBERS[1], OUTSIDERS[0]], contract, epoch, root)
    return {
        "too few": (a + b, "NotEnoughSignatures"),
        "unsorted": (b + a + c, "SignersNotAscending"),
        "duplicate": (a + a + b, "DuplicateSigner"),
        "outsider": (outsider, "NotASigner"),
        "high s": (a + _high_s(b) + c, "HighS"),
        "bad v": (a + b + c[:64] + b"\x1d", "InvalidSignatureV"),
        "truncated": (a + b + c[:64], "MalformedSignatures"),
        "empty": (b"", "NotEnoughSignatures"),
    }


@pytest.mark.parametrize(
    "case",
    ["too few", "unsorted", "duplicate", "outsider", "high s", "bad v", "truncated", "empty"],
)
def test_bad_quorums_are_rejected_with_named_errors(deployed: ChainClient, case: str) -> None:
    assert deployed.contract is not None
    signatures, expected = _bad_signatures(deployed.contract)[case]
    error = rejected(lambda: deployed.submit_checkpoint(1, root_of(1), signatures))
    assert error.error_name == expected
    assert expected in str(error)
    assert deployed.latest_epoch() == 0


def test_the_high_s_twin_recovers_the_same_signer_offchain_but_is_refused() -> None:
    digest = eip712.keccak256(b"digest")
    signature = eip712.sign_digest(MEMBERS[0], digest)
    with pytest.raises(SignatureError):
        eip712.recover_signer(digest, _high_s(signature))


def test_stale_and_equal_epochs_are_rejected(deployed: ChainClient) -> None:
    assert deployed.contract is not None
    land(deployed, 2)
    for epoch in (0, 1, 2):
        signatures = packed_checkpoint(MEMBERS[:3], deployed.contract, epoch, root_of(epoch))
        with pytest.raises(ContractRevertedError) as info:
            deployed.submit_checkpoint(epoch, root_of(epoch), signatures)
        error = info.value
        assert (error.error_name, error.error_args) == ("EpochNotIncreasing", (epoch, 2))


def test_signatures_bind_epoch_root_and_network(deployed: ChainClient) -> None:
    assert deployed.contract is not None
    signatures = packed_checkpoint(MEMBERS[:3], deployed.contract, 1, root_of(1))
    for call in (
        lambda: deployed.submit_checkpoint(2, root_of(1), signatures),
        lambda: deployed.submit_checkpoint(1, root_of(2), signatures),
    ):
        # Other digests recover to unrelated addresses: outsiders, in no particular order.
        assert rejected(call).error_name in {"NotASigner", "SignersNotAscending"}


def test_an_empty_root_is_rejected(deployed: ChainClient) -> None:
    assert deployed.contract is not None
    zero = b"\x00" * 32
    digest = eip712.checkpoint_digest(CHAIN_ID, deployed.contract, NETWORK_ID, 1, zero)
    signatures = eip712.pack_signatures(digest, [eip712.sign_digest(k, digest) for k in MEMBERS])
    assert rejected(lambda: deployed.submit_checkpoint(1, zero, signatures)).error_name == (
        "EmptyRoot"
    )


def _signed_change(
    client: ChainClient, keys: list[bytes], new: list[str], threshold: int, nonce: int
) -> bytes:
    assert client.contract is not None
    digest = eip712.signer_change_digest(CHAIN_ID, client.contract, new, threshold, nonce)
    return eip712.pack_signatures(digest, [eip712.sign_digest(k, digest) for k in keys])


def test_a_signer_change_needs_a_quorum_of_the_current_set(deployed: ChainClient) -> None:
    new_keys = [MEMBERS[0], MEMBERS[1], *OUTSIDERS]
    new_keys.sort(key=lambda k: eip712.address_bytes(eip712.address_of(k)))
    new = signer_addresses(new_keys)
    too_few = _signed_change(deployed, MEMBERS[:2], new, 2, nonce=1)
    assert rejected(lambda: deployed.change_signers(new, 2, too_few)).error_name == (
        "NotEnoughSignatures"
    )
    by_outsiders = _signed_change(deployed, [MEMBERS[0], *OUTSIDERS], new, 2, nonce=1)
    assert rejected(lambda: deployed.change_signers(new, 2, by_outsiders)).error_name == (
        "NotASigner"
    )
    assert deployed.signers() == signer_addresses(MEMBERS)


def test_a_signer_change_with_quorum_replaces_the_set(deployed: ChainClient) -> None:
    assert deployed.contract is not None
    new_keys = sorted(
        [MEMBERS[3], *OUTSIDERS], key=lambda k: eip712.address_bytes(eip712.address_of(k))
    )
    new = signer_addresses(new_keys)
    signatures = _signed_change(deployed, MEMBERS[1:4], new, 2, nonce=1)
    deployed.wait_for_success(deployed.change_signers(new, 2, signatures), timeout=30)
    assert (deployed.signers(), deployed.threshold(), deployed.signer_set_nonce()) == (new, 2, 2)

    # The same change cannot be replayed: the nonce moved on.
    replay = rejected(lambda: deployed.change_signers(new, 2, signatures))
    assert replay.error_name in {"NotASigner", "SignersNotAscending"}
    # The old set no longer anchors; the new one does, at its own threshold.
    old = packed_checkpoint(MEMBERS[:3], deployed.contract, 1, root_of(1))
    assert rejected(lambda: deployed.submit_checkpoint(1, root_of(1), old)).error_name == (
        "NotASigner"
    )
    land(deployed, 1, new_keys[:2])
    assert deployed.checkpoint_of(1).root == root_of(1)


@pytest.mark.parametrize(
    ("signers", "threshold", "expected"),
    [
        (signer_addresses(MEMBERS[:3]), 0, "InvalidThreshold"),
        (signer_addresses(MEMBERS[:3]), 4, "InvalidThreshold"),
        ([], 1, "InvalidSignerSet"),
        (signer_addresses([MEMBERS[0], MEMBERS[0], MEMBERS[1]]), 2, "InvalidSignerSet"),
        (["0x" + "00" * 20, *signer_addresses(MEMBERS[:2])], 2, "InvalidSignerSet"),
    ],
)
def test_invalid_signer_sets_are_refused_at_deployment(
    anvil_chain: Chain, signers: list[str], threshold: int, expected: str
) -> None:
    client = anvil_chain.client()
    error = rejected(lambda: client.deploy(NETWORK_ID, signers, threshold))
    assert error.error_name == expected
    assert client.contract is None
