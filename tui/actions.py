"""Governance actions from what the user typed: every error at once, before anything is sent.

Pure (no Textual): the propose form and the fake node both use it; the node checks again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tui import validate
from tui.client.governance import (
    AddAgency,
    Governance,
    KnownAction,
    RemoveAgency,
    RotateKeys,
    SetCheckpointInterval,
    SetQuorum,
)

FIELDS: dict[str, tuple[str, ...]] = {
    "add_agency": ("agency_id", "ed25519", "secp256k1_address", "addresses"),
    "remove_agency": ("agency_id",),
    "rotate_keys": ("agency_id", "ed25519", "secp256k1_address"),
    "set_quorum": ("quorum",),
    "set_checkpoint_interval": ("seconds",),
}
"""The fields each action type asks for, in form order."""

LABELS = {
    "add_agency": "Add an agency",
    "remove_agency": "Remove an agency",
    "rotate_keys": "Rotate an agency's keys",
    "set_quorum": "Change the quorum",
    "set_checkpoint_interval": "Change the checkpoint interval",
}

Built = tuple[KnownAction | None, list[str]]


def build_action(kind: str, typed: Mapping[str, str], gov: Governance) -> Built:
    """The action of type ``kind`` from ``typed`` field values, or ``None`` and the errors.

    Besides the formats, it checks against ``gov``: a new agency must never have been a member,
    a removed or rotated one must be an active member, and a quorum must be 1..active members.
    """
    builder = _BUILDERS.get(kind)
    if builder is None:
        return None, [f"choose what to propose ({', '.join(FIELDS)})"]
    return builder({k: typed.get(k, "").strip() for k in FIELDS[kind]}, gov)


def _member_errors(agency: str, gov: Governance, *, must_be_active: bool) -> list[str]:
    if validate.agency_id(agency):
        return []  # the format error is reported already
    active = {m.agency_id for m in gov.active_members}
    if must_be_active and agency not in active:
        return [f"{agency} is not an active member"]
    if not must_be_active and agency in {m.agency_id for m in gov.members}:
        return [f"{agency} is already a member (or was one: ids are never reused)"]
    return []


def _keys_errors(f: Mapping[str, str]) -> list[str]:
    checks = (
        validate.agency_id(f["agency_id"]),
        validate.ed25519_key(f["ed25519"]),
        validate.evm_address(f["secp256k1_address"]),
    )
    return [e for e in checks if e]


def _add(f: Mapping[str, str], gov: Governance) -> Built:
    addresses, bad_address = validate.multiaddrs(f["addresses"])
    errors = _keys_errors(f) + _member_errors(f["agency_id"], gov, must_be_active=False)
    errors += [bad_address] if bad_address else []
    if errors:
        return None, errors
    action = AddAgency(
        agency_id=f["agency_id"],
        ed25519=f["ed25519"].lower(),
        secp256k1_address=f["secp256k1_address"].lower(),
        addresses=addresses,
    )
    return action, []


def _remove(f: Mapping[str, str], gov: Governance) -> Built:
    error = validate.agency_id(f["agency_id"])
    errors = ([error] if error else []) + _member_errors(f["agency_id"], gov, must_be_active=True)
    return (None, errors) if errors else (RemoveAgency(agency_id=f["agency_id"]), [])


def _rotate(f: Mapping[str, str], gov: Governance) -> Built:
    errors = _keys_errors(f) + _member_errors(f["agency_id"], gov, must_be_active=True)
    if errors:
        return None, errors
    action = RotateKeys(
        agency_id=f["agency_id"],
        ed25519=f["ed25519"].lower(),
        secp256k1_address=f["secp256k1_address"].lower(),
    )
    return action, []


def _quorum(f: Mapping[str, str], gov: Governance) -> Built:
    members = len(gov.active_members)
    quorum, error = validate.whole_number(f["quorum"], "quorum", 1, max(members, 1))
    if error or quorum is None:
        return None, [f"{error} (there are {members} active members)"]
    return SetQuorum(quorum=quorum), []


def _interval(f: Mapping[str, str], gov: Governance) -> Built:
    seconds, error = validate.whole_number(
        f["seconds"], "interval (seconds)", validate.MIN_INTERVAL_S, validate.MAX_INTERVAL_S
    )
    if error or seconds is None:
        return None, [str(error)]
    return SetCheckpointInterval(seconds=seconds), []


_BUILDERS: dict[str, Callable[[Mapping[str, str], Governance], Built]] = {
    "add_agency": _add,
    "remove_agency": _remove,
    "rotate_keys": _rotate,
    "set_quorum": _quorum,
    "set_checkpoint_interval": _interval,
}


def typed_fields(action: KnownAction) -> dict[str, str]:
    """The form fields of ``action``, as a user would type them (the inverse of building)."""
    raw = action.model_dump(exclude={"type"})
    return {k: ", ".join(v) if isinstance(v, tuple | list) else str(v) for k, v in raw.items()}
