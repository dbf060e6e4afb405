"""Equivocation: two valid blocks of one agency at one height with different hashes.

Such a pair is a self-contained proof of misbehaviour: anyone holding the agency's public key can
check it without trusting the node that found it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.core.block import BlockHeader, header_from_wire
from node.core.encoding import as_bytes, as_list, decode, encode
from node.core.errors import EncodingError, ValidationError
from node.core.keys import verify_block_signature


@dataclass(frozen=True, slots=True)
class EquivocationProof:
    first: BlockHeader
    first_signature: bytes
    second: BlockHeader
    second_signature: bytes

    @property
    def agency_id(self) -> str:
        return self.first.agency_id

    @property
    def height(self) -> int:
        return self.first.height

    def to_wire(self) -> list[Any]:
        return [
            1,
            self.first.to_wire(),
            self.first_signature,
            self.second.to_wire(),
            self.second_signature,
        ]

    def encode(self) -> bytes:
        return encode(self.to_wire())


def make_proof(a: BlockHeader, a_sig: bytes, b: BlockHeader, b_sig: bytes) -> EquivocationProof:
    """Order the pair canonically (by hash) so both finders produce the same proof."""
    if a.hash() > b.hash():
        a, a_sig, b, b_sig = b, b_sig, a, a_sig
    return EquivocationProof(a, a_sig, b, b_sig)


def verify_proof(proof: EquivocationProof, ed25519_public: bytes) -> None:
    """Raise unless ``proof`` shows ``ed25519_public``'s holder signing two blocks at one height."""
    a, b = proof.first, proof.second
    if (a.network_id, a.agency_id, a.height) != (b.network_id, b.agency_id, b.height):
        raise ValidationError("equivocation proof: blocks not at the same agency and height")
    if a.hash() == b.hash():
        raise ValidationError("equivocation proof: the two blocks are the same block")
    verify_block_signature(ed25519_public, a.hash(), proof.first_signature)
    verify_block_signature(ed25519_public, b.hash(), proof.second_signature)


def decode_proof(data: bytes) -> EquivocationProof:
    items = as_list(decode(data), "equivocation proof", 5)
    if items[0] != 1:
        raise EncodingError("equivocation proof: unsupported version")
    return EquivocationProof(
        header_from_wire(items[1]),
        as_bytes(items[2], "signature", 64),
        header_from_wire(items[3]),
        as_bytes(items[4], "signature", 64),
    )
