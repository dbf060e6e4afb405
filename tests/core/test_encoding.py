from __future__ import annotations

import json
from pathlib import Path

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.core.encoding import decode, encode, encode_checked
from node.core.errors import EncodingError
from node.core.events import (
    AgencyKeyRotated,
    CredentialClass,
    CredentialIssued,
    CredentialReinstated,
    CredentialRevoked,
    CredentialSuspended,
    GovernanceProposed,
    GovernanceVoted,
    RevocationReason,
    SchemaPublished,
    SuspensionReason,
    decode_event,
    encode_event,
)
from node.core.proposals import (
    AddAgency,
    RemoveAgency,
    RotateKeys,
    SetCheckpointInterval,
    SetQuorum,
)

VECTORS = Path(__file__).parent / "vectors" / "encoding.json"

atoms = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.integers(min_value=-(2**63), max_value=-1),
    st.binary(max_size=40),
    st.text(max_size=20),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    atoms,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=8), children, max_size=5),
    ),
    max_leaves=20,
)


@given(values)
def test_round_trip_and_uniqueness(value: object) -> None:
    data = encode(value)
    assert decode(data) == _listify(value)
    assert encode(decode(data)) == data


def _listify(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("1817"),  # 23 in a two-byte head: not the shortest form
        bytes.fromhex("a2616201616102"),  # map keys out of canonical order
        bytes.fromhex("5f42010243030405ff"),  # indefinite-length byte string
        bytes.fromhex("fb3ff0000000000000"),  # a float
        bytes.fromhex("c11a514b67b0"),  # a tag
        bytes.fromhex("a1010203"),  # integer map key
        b"",
        bytes.fromhex("83010203ff"),  # trailing garbage
    ],
)
def test_non_canonical_or_foreign_encodings_are_rejected(data: bytes) -> None:
    with pytest.raises(EncodingError):
        decode(data)


def test_floats_cannot_be_encoded() -> None:
    with pytest.raises(EncodingError):
        encode_checked([1.5])


def test_oversized_input_is_rejected_before_parsing() -> None:
    with pytest.raises(EncodingError, match="exceeds"):
        decode(cbor2.dumps(b"x" * 100), max_bytes=50)


def _sample_events() -> dict[str, object]:
    cid = bytes(range(32))
    sid = bytes(range(32, 64))
    return {
        "credential.issued": CredentialIssued(cid, sid, 1_700_000_000, 1_800_000_000),
        "credential.issued.open_ended": CredentialIssued(cid, sid, 1_700_000_000, None),
        "credential.revoked": CredentialRevoked(cid, RevocationReason.SUPERSEDED),
        "credential.suspended": CredentialSuspended(cid, SuspensionReason.COURT_ORDER),
        "credential.reinstated": CredentialReinstated(cid),
        "schema.published": SchemaPublished(sid, CredentialClass.DRIVING_LICENCE, 2),
        "agency.key_rotated": AgencyKeyRotated(cid, bytes(range(20))),  # cid: a curve point too
        "governance.proposed.add_agency": GovernanceProposed(
            AddAgency("gi.tax", cid, bytes(range(20)), ("/ip4/10.0.0.5/tcp/7400",)),
            1_800_000_000,
        ),
        "governance.proposed.remove_agency": GovernanceProposed(
            RemoveAgency("gi.tax"), 1_800_000_000
        ),
        "governance.proposed.rotate_keys": GovernanceProposed(
            RotateKeys("gi.tax", bytes(range(32)), bytes(20)), 1_800_000_000
        ),
        "governance.proposed.set_quorum": GovernanceProposed(SetQuorum(3), 1_800_000_000),
        "governance.proposed.set_checkpoint_interval": GovernanceProposed(
            SetCheckpointInterval(3600), 1_800_000_000
        ),
        "governance.voted": GovernanceVoted(sid),
    }


def test_committed_event_vectors() -> None:
    """The encoding is a protocol: these bytes must never change for version 1."""
    vectors = json.loads(VECTORS.read_text())
    events = _sample_events()
    assert set(vectors) == set(events)
    for name, event in events.items():
        assert encode_event(event).hex() == vectors[name], name  # type: ignore[arg-type]
        assert decode_event(bytes.fromhex(vectors[name])) == event


if __name__ == "__main__":  # regenerate: python -m tests.core.test_encoding
    VECTORS.write_text(
        json.dumps({k: encode_event(v).hex() for k, v in _sample_events().items()}, indent=2)  # type: ignore[arg-type]
        + "\n"
    )
