"""Governance actions: what a proposal asks the member agencies to change.

An action is closed data like every event: agency ids follow the genesis pattern, keys are fixed
size, network addresses are bounded multiaddr strings (no personal data: they name servers).
A proposal's id hashes its proposer and content, so the same agency proposing the same change
with the same expiry names the same proposal, and anyone can recompute it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, TypeAlias

from node.core.encoding import as_bytes, as_list, as_text, as_uint, encode
from node.core.errors import ConfigError, SchemaViolationError
from node.core.genesis import check_agency_id
from node.core.hashing import sha256
from node.core.keys import is_ed25519_public

PROPOSAL_DOMAIN = b"calpe/proposal/v1\x00"
MAX_ADDRESSES = 4
MAX_ADDRESS_LEN = 96
MIN_INTERVAL_S = 5
MAX_INTERVAL_S = 7 * 86400
MAX_MEMBERS = 255  # the checkpoint contract's uint8 signer count
_MULTIADDR_RE = re.compile(
    r"^/(ip4|ip6|dns|dns4|dns6)/[A-Za-z0-9.:-]{1,64}/tcp/[0-9]{1,5}(/p2p/\w+)?$"
)


class ActionType(IntEnum):
    ADD_AGENCY = 1
    REMOVE_AGENCY = 2
    ROTATE_KEYS = 3
    SET_QUORUM = 4
    SET_CHECKPOINT_INTERVAL = 5

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class AddAgency:
    TYPE: ClassVar[ActionType] = ActionType.ADD_AGENCY
    agency_id: str
    ed25519_public: bytes
    secp256k1_address: bytes
    addresses: tuple[str, ...] = ()

    def fields(self) -> list[Any]:
        return [self.agency_id, self.ed25519_public, self.secp256k1_address, list(self.addresses)]

    def summary(self) -> str:
        return f"add {self.agency_id}"


@dataclass(frozen=True, slots=True)
class RemoveAgency:
    TYPE: ClassVar[ActionType] = ActionType.REMOVE_AGENCY
    agency_id: str

    def fields(self) -> list[Any]:
        return [self.agency_id]

    def summary(self) -> str:
        return f"remove {self.agency_id}"


@dataclass(frozen=True, slots=True)
class RotateKeys:
    """A forced rotation, for an agency that lost its keys (a rotation it signs itself is the
    ``agency.key_rotated`` event in its own log and needs no vote)."""

    TYPE: ClassVar[ActionType] = ActionType.ROTATE_KEYS
    agency_id: str
    ed25519_public: bytes
    secp256k1_address: bytes

    def fields(self) -> list[Any]:
        return [self.agency_id, self.ed25519_public, self.secp256k1_address]

    def summary(self) -> str:
        return f"rotate the keys of {self.agency_id}"


@dataclass(frozen=True, slots=True)
class SetQuorum:
    TYPE: ClassVar[ActionType] = ActionType.SET_QUORUM
    quorum: int

    def fields(self) -> list[Any]:
        return [self.quorum]

    def summary(self) -> str:
        return f"quorum {self.quorum}"


@dataclass(frozen=True, slots=True)
class SetCheckpointInterval:
    TYPE: ClassVar[ActionType] = ActionType.SET_CHECKPOINT_INTERVAL
    seconds: int

    def fields(self) -> list[Any]:
        return [self.seconds]

    def summary(self) -> str:
        return f"checkpoint every {self.seconds} s"


Action: TypeAlias = AddAgency | RemoveAgency | RotateKeys | SetQuorum | SetCheckpointInterval


def action_to_wire(action: Action) -> list[Any]:
    return [int(action.TYPE), *action.fields()]


def proposal_id(proposer: str, action: Action, expires_s: int) -> bytes:
    """The id of ``proposer``'s proposal of ``action`` lapsing at ``expires_s``."""
    return sha256(PROPOSAL_DOMAIN + encode([proposer, action_to_wire(action), expires_s]))


def action_from_wire(value: Any) -> Action:
    items = as_list(value, "governance action")
    if not items:
        raise SchemaViolationError("governance action: empty")
    code = as_uint(items[0], "action type", maximum=255)
    try:
        kind = ActionType(code)
    except ValueError:
        raise SchemaViolationError(f"governance action: unknown type {code}") from None
    action = _PARSERS[kind](items[1:])
    check_action(action)
    return action


def _arity(items: list[Any], n: int, what: str) -> list[Any]:
    if len(items) != n:
        raise SchemaViolationError(f"{what}: expected {n} fields, got {len(items)}")
    return items


def _agency(value: Any) -> str:
    return as_text(value, "agency_id", 32)


def _add(items: list[Any]) -> Action:
    agency, ed, addr, addresses = _arity(items, 4, "add_agency")
    listed = as_list(addresses, "addresses")
    if len(listed) > MAX_ADDRESSES:
        raise SchemaViolationError(f"add_agency: at most {MAX_ADDRESSES} addresses")
    return AddAgency(
        _agency(agency),
        as_bytes(ed, "ed25519_public", 32),
        as_bytes(addr, "secp256k1_address", 20),
        tuple(as_text(a, "address", MAX_ADDRESS_LEN) for a in listed),
    )


def _remove(items: list[Any]) -> Action:
    (agency,) = _arity(items, 1, "remove_agency")
    return RemoveAgency(_agency(agency))


def _rotate(items: list[Any]) -> Action:
    agency, ed, addr = _arity(items, 3, "rotate_keys")
    return RotateKeys(
        _agency(agency), as_bytes(ed, "ed25519_public", 32), as_bytes(addr, "secp256k1_address", 20)
    )


def _quorum(items: list[Any]) -> Action:
    (quorum,) = _arity(items, 1, "set_quorum")
    return SetQuorum(as_uint(quorum, "quorum", maximum=MAX_MEMBERS))


def _interval(items: list[Any]) -> Action:
    (seconds,) = _arity(items, 1, "set_checkpoint_interval")
    return SetCheckpointInterval(as_uint(seconds, "seconds", maximum=MAX_INTERVAL_S))


_PARSERS = {
    ActionType.ADD_AGENCY: _add,
    ActionType.REMOVE_AGENCY: _remove,
    ActionType.ROTATE_KEYS: _rotate,
    ActionType.SET_QUORUM: _quorum,
    ActionType.SET_CHECKPOINT_INTERVAL: _interval,
}


def check_action(action: Action) -> None:
    """Field checks the types alone do not express (authoring and decoding)."""
    what = action.TYPE.label
    if isinstance(action, AddAgency | RemoveAgency | RotateKeys):
        try:
            check_agency_id(action.agency_id)
        except ConfigError as exc:
            raise SchemaViolationError(f"{what}: {exc}") from None
    if isinstance(action, AddAgency | RotateKeys) and (
        len(action.ed25519_public) != 32 or len(action.secp256k1_address) != 20
    ):
        raise SchemaViolationError(f"{what}: keys must be a 32-byte key and a 20-byte address")
    if isinstance(action, AddAgency | RotateKeys) and not is_ed25519_public(action.ed25519_public):
        raise SchemaViolationError(f"{what}: the Ed25519 key is not a point on the curve")
    if isinstance(action, AddAgency):
        if len(action.addresses) > MAX_ADDRESSES:
            raise SchemaViolationError(f"{what}: at most {MAX_ADDRESSES} addresses")
        for address in action.addresses:
            if len(address) > MAX_ADDRESS_LEN or not _MULTIADDR_RE.match(address):
                raise SchemaViolationError(
                    f"{what}: {address!r} is not a multiaddr like /ip4/10.0.0.5/tcp/7400"
                )
    if isinstance(action, SetQuorum) and not 1 <= action.quorum <= MAX_MEMBERS:
        raise SchemaViolationError(f"{what}: quorum must be between 1 and {MAX_MEMBERS}")
    if isinstance(action, SetCheckpointInterval) and not (
        MIN_INTERVAL_S <= action.seconds <= MAX_INTERVAL_S
    ):
        raise SchemaViolationError(
            f"{what}: the interval must be between {MIN_INTERVAL_S} s and 7 days"
        )


def action_to_json(action: Action) -> dict[str, Any]:
    """The admin API's ``action`` object."""
    doc: dict[str, Any] = {"type": action.TYPE.label}
    if isinstance(action, AddAgency | RemoveAgency | RotateKeys):
        doc["agency_id"] = action.agency_id
    if isinstance(action, AddAgency | RotateKeys):
        doc["ed25519"] = action.ed25519_public.hex()
        doc["secp256k1_address"] = "0x" + action.secp256k1_address.hex()
    if isinstance(action, AddAgency):
        doc["addresses"] = list(action.addresses)
    if isinstance(action, SetQuorum):
        doc["quorum"] = action.quorum
    if isinstance(action, SetCheckpointInterval):
        doc["seconds"] = action.seconds
    return doc


def action_from_json(doc: Any) -> Action:
    """Parse the admin API's ``action`` object; raises SchemaViolationError naming the field."""
    if not isinstance(doc, dict):
        raise SchemaViolationError("action: expected an object")
    try:
        kind = ActionType[str(doc["type"]).upper()]
        action: Action
        if kind is ActionType.ADD_AGENCY:
            action = AddAgency(
                str(doc["agency_id"]),
                _hex(doc["ed25519"], 32, "ed25519"),
                _hex(doc["secp256k1_address"], 20, "secp256k1_address"),
                tuple(str(a) for a in doc.get("addresses", [])),
            )
        elif kind is ActionType.REMOVE_AGENCY:
            action = RemoveAgency(str(doc["agency_id"]))
        elif kind is ActionType.ROTATE_KEYS:
            action = RotateKeys(
                str(doc["agency_id"]),
                _hex(doc["ed25519"], 32, "ed25519"),
                _hex(doc["secp256k1_address"], 20, "secp256k1_address"),
            )
        elif kind is ActionType.SET_QUORUM:
            action = SetQuorum(_int(doc["quorum"], "quorum"))
        else:
            action = SetCheckpointInterval(_int(doc["seconds"], "seconds"))
    except KeyError as exc:
        raise SchemaViolationError(f"action: field {exc.args[0]!r} is missing or unknown") from None
    check_action(action)
    return action


def _hex(value: Any, size: int, what: str) -> bytes:
    try:
        raw = bytes.fromhex(str(value).removeprefix("0x"))
    except ValueError:
        raise SchemaViolationError(f"action: {what} is not hex") from None
    if len(raw) != size:
        raise SchemaViolationError(f"action: {what} must be {size} bytes")
    return raw


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SchemaViolationError(f"action: {what} must be a non-negative integer")
    return value
