"""Genesis: who the member agencies are and the network's parameters. Its hash is the network id.

A genesis file is JSON that people write and review; its canonical encoding is what is hashed, so
whitespace and key order in the file do not change the network id.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from node.core.encoding import encode
from node.core.errors import ConfigError
from node.core.hashing import sha256
from node.core.keys import is_ed25519_public

GENESIS_DOMAIN = b"calpe/genesis/v1\x00"
AGENCY_ID_RE = re.compile(r"^[a-z][a-z0-9]*(\.[a-z0-9][a-z0-9-]*){0,3}$")
MAX_AGENCY_ID_LEN = 32
MAX_NAME_LEN = 64
RSK_CHAIN_IDS = {30: "RSK mainnet", 31: "RSK testnet", 33: "RSK regtest"}


def check_agency_id(agency_id: str) -> str:
    if len(agency_id) > MAX_AGENCY_ID_LEN or not AGENCY_ID_RE.match(agency_id):
        raise ConfigError(
            f"agency id {agency_id!r} must be short dotted lowercase words, e.g. 'gi.transport'"
        )
    return agency_id


@dataclass(frozen=True, slots=True)
class Agency:
    agency_id: str
    name: str
    ed25519_public: bytes
    secp256k1_address: bytes

    def to_wire(self) -> list[Any]:
        return [self.agency_id, self.name, self.ed25519_public, self.secp256k1_address]

    def to_json(self) -> dict[str, Any]:
        return {
            "agency_id": self.agency_id,
            "name": self.name,
            "ed25519": self.ed25519_public.hex(),
            "secp256k1_address": "0x" + self.secp256k1_address.hex(),
        }


@dataclass(frozen=True, slots=True)
class Genesis:
    network: str
    agencies: tuple[Agency, ...]
    quorum: int
    checkpoint_interval_s: int
    rsk_chain_id: int
    created_ms: int

    @property
    def network_id(self) -> bytes:
        return sha256(GENESIS_DOMAIN + encode(self.to_wire()))

    def to_wire(self) -> list[Any]:
        return [
            1,
            self.network,
            [a.to_wire() for a in self.agencies],
            self.quorum,
            self.checkpoint_interval_s,
            self.rsk_chain_id,
            self.created_ms,
        ]

    def agency(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.agency_id == agency_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "created_ms": self.created_ms,
            "quorum": self.quorum,
            "checkpoint_interval_s": self.checkpoint_interval_s,
            "rsk_chain_id": self.rsk_chain_id,
            "agencies": [a.to_json() for a in self.agencies],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def genesis_from_json(doc: Any, source: str = "genesis") -> Genesis:
    """Validate a parsed genesis document; errors name ``source`` and the field."""

    def fail(field_name: str, problem: str) -> ConfigError:
        return ConfigError(f"{source}: field '{field_name}' {problem}")

    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    try:
        agencies = tuple(_agency(a, i, fail) for i, a in enumerate(doc["agencies"]))
        genesis = Genesis(
            network=str(doc["network"]),
            agencies=agencies,
            quorum=int(doc["quorum"]),
            checkpoint_interval_s=int(doc["checkpoint_interval_s"]),
            rsk_chain_id=int(doc["rsk_chain_id"]),
            created_ms=int(doc["created_ms"]),
        )
    except KeyError as exc:
        raise fail(str(exc.args[0]), "is missing") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None
    _check(genesis, fail)
    return genesis


def _agency(raw: Any, index: int, fail: Any) -> Agency:
    where = f"agencies[{index}]"
    if not isinstance(raw, dict):
        raise fail(where, "must be an object")
    try:
        agency_id = check_agency_id(str(raw["agency_id"]))
        name = str(raw["name"])
        ed = bytes.fromhex(raw["ed25519"])
        addr = bytes.fromhex(str(raw["secp256k1_address"]).removeprefix("0x"))
    except KeyError as exc:
        raise fail(f"{where}.{exc.args[0]}", "is missing") from None
    except (ValueError, TypeError) as exc:
        raise fail(where, f"is malformed: {exc}") from None
    except ConfigError as exc:
        raise fail(f"{where}.agency_id", str(exc)) from None
    if not is_ed25519_public(ed):
        raise fail(f"{where}.ed25519", "must be a 32-byte hex Ed25519 public key (a curve point)")
    if len(addr) != 20:
        raise fail(f"{where}.secp256k1_address", "must be a 20-byte hex address")
    if not 0 < len(name) <= MAX_NAME_LEN or not name.isprintable():
        raise fail(f"{where}.name", f"must be 1 to {MAX_NAME_LEN} printable characters")
    return Agency(agency_id, name, ed, addr)


def _check(g: Genesis, fail: Any) -> None:
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,47}$", g.network):
        raise fail("network", "must be lowercase letters, digits and dashes (max 48)")
    if not g.agencies:
        raise fail("agencies", "must list at least one agency")
    ids = [a.agency_id for a in g.agencies]
    if len(set(ids)) != len(ids):
        raise fail("agencies", "lists an agency id twice")
    if ids != sorted(ids):
        raise fail("agencies", "must be sorted by agency_id")
    if len({a.ed25519_public for a in g.agencies}) != len(ids):
        raise fail("agencies", "reuses an Ed25519 key")
    if len({a.secp256k1_address for a in g.agencies}) != len(ids):
        raise fail("agencies", "reuses a secp256k1 address")
    if not 1 <= g.quorum <= len(g.agencies):
        raise fail("quorum", f"must be between 1 and the number of agencies ({len(ids)})")
    if not 5 <= g.checkpoint_interval_s <= 7 * 86400:
        raise fail("checkpoint_interval_s", "must be between 5 seconds and 7 days")
    if g.rsk_chain_id not in RSK_CHAIN_IDS:
        raise fail("rsk_chain_id", f"must be one of {sorted(RSK_CHAIN_IDS)} (RSK networks)")
    if g.created_ms < 0:
        raise fail("created_ms", "must not be negative")
