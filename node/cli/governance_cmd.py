"""``calpe governance``: see the membership, quorum and checkpoint interval in force, propose
changes, vote, and rotate this node's own keys, through the node's admin API.

A proposal counts as the proposing agency's vote; it takes effect at the first signed checkpoint
whose cut holds a quorum of approvals. Connection options, ``--json`` and exit codes are those of
the other operations commands (``node/cli/ops.py``): 0 ok, 1 the node refused (e.g. 404
``unknown_proposal``, 409 ``duplicate_vote``), 2 usage or declined confirmation, 3 an unreadable
keystore, 5 no node.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from node.admin.client import AdminHttp
from node.cli.common import EXIT_PROBLEM, print_json
from node.cli.ops import connection, table, when
from node.core.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])
HEX_DIGITS = frozenset("0123456789abcdef")


@click.group("governance")
def governance() -> None:
    """See and change, by vote of the member agencies, who is a member, the quorum and the
    checkpoint interval."""


# --- show ----------------------------------------------------------------------------------------


@governance.command("show")
@connection
def show(api: AdminHttp, as_json: bool) -> None:
    """Show the members, quorum, checkpoint interval and proposals in force."""
    doc = api.governance()
    if as_json:
        print_json(doc)
        return
    active = sum(1 for m in doc["members"] if m["state"] == "active")
    click.echo(
        f"epoch {doc['epoch']}: quorum {doc['quorum']} of {active} active members, "
        f"a checkpoint every {doc['checkpoint_interval_s']} s, signer set #{doc['signer_nonce']}\n"
    )
    table(
        [
            [
                m["agency_id"],
                m["state"] if m["removed_height"] is None else f"removed@{m['removed_height']}",
                str(m["since_epoch"]),
                m["ed25519"][:16],
                m["secp256k1_address"],
                ",".join(m["addresses"]) or "-",
            ]
            for m in doc["members"]
        ],
        ["AGENCY", "STATE", "SINCE", "ED25519", "SECP256K1", "ADDRESSES"],
    )
    click.echo("")
    if not doc["proposals"]:
        click.echo("no proposals")
        return
    table([_proposal_row(p, doc["quorum"]) for p in doc["proposals"]], _PROPOSAL_HEADER)


_PROPOSAL_HEADER = ["PROPOSAL", "STATE", "PROPOSER", "APPROVALS", "EXPIRES", "ACTION"]


def _proposal_row(p: dict[str, Any], quorum: int) -> list[str]:
    state = p["state"] if p["effective_epoch"] is None else f"{p['state']}@{p['effective_epoch']}"
    summary = p["summary"] + (f" ({p['reason']})" if p["reason"] else "")
    return [
        p["proposal_id"][:16],
        state,
        p["proposer"],
        f"{len(p['approvals'])}/{quorum} {','.join(p['approvals'])}",
        when(p["expires_s"] * 1000),
        summary,
    ]


# --- propose -------------------------------------------------------------------------------------


@governance.group("propose")
def propose() -> None:
    """Propose a change (it counts as this agency's approval)."""


def _proposal_options(fn: F) -> F:
    fn = click.option(
        "--request-id",
        default=None,
        help="Idempotency key (default: a fresh one); repeat it to retry safely.",
    )(fn)
    fn = click.option(
        "--expires-in-days",
        type=click.IntRange(1, 3650),
        default=None,
        help="Days before an unadopted proposal lapses (default: the node's, 7).",
    )(fn)
    return connection(fn)


def _submit(
    api: AdminHttp,
    as_json: bool,
    action: dict[str, Any],
    expires_in_days: int | None,
    request_id: str | None,
) -> None:
    expires = None if expires_in_days is None else int(time.time()) + expires_in_days * 86400
    doc = api.propose(action, expires_s=expires, request_id=request_id or str(uuid.uuid4()))
    if as_json:
        print_json(doc)
        return
    receipt = doc["receipt"]
    click.echo(f"proposal {doc['proposal_id']}")
    click.echo(
        f"committed in {receipt['agency_id']} block {receipt['height']} "
        f"({receipt['block_hash'][:16]}…) as this agency's approval; the other members approve "
        f"with: calpe governance vote {doc['proposal_id']}"
    )


def _public_keys(path: Path) -> tuple[str, str, str]:
    """``(agency_id, ed25519, secp256k1_address)`` from a keystore (its public part, no
    passphrase needed) or from the member entry ``calpe keys new`` prints."""
    try:
        doc = json.loads(path.read_text())
        public = doc.get("public", doc)
        return str(doc["agency_id"]), str(public["ed25519"]), str(public["secp256k1_address"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: not a keystore or member entry with agency_id, ed25519 and "
            f"secp256k1_address ({exc})"
        ) from None


def _keys(
    agency_id: str | None,
    ed25519: str | None,
    address: str | None,
    keystore: Path | None,
    agency_label: str = "--agency-id",
) -> tuple[str, str, str]:
    """The agency and public keys, from the options or from ``--from-keystore``."""
    if keystore is not None:
        if ed25519 is not None or address is not None:
            raise click.UsageError(
                "give either --from-keystore or --ed25519 and --secp256k1-address"
            )
        owner, ed25519, address = _public_keys(keystore)
        if agency_id is not None and agency_id != owner:
            raise click.UsageError(f"{keystore} holds the keys of {owner}, not of {agency_id}")
        return owner, ed25519, address
    missing = [
        name
        for name, value in (
            (agency_label, agency_id),
            ("--ed25519", ed25519),
            ("--secp256k1-address", address),
        )
        if value is None
    ]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)} (or give --from-keystore FILE)")
    assert agency_id is not None and ed25519 is not None and address is not None
    return agency_id, ed25519, address


_ed25519 = click.option("--ed25519", default=None, help="The Ed25519 public key (64 hex).")
_address = click.option(
    "--secp256k1-address", "address", default=None, help="The secp256k1 address (0x + 40 hex)."
)
_keystore = click.option(
    "--from-keystore",
    "keystore",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Take the agency id and public keys from this keystore (or 'calpe keys new' output).",
)


@propose.command("add-agency")
@click.option("--agency-id", default=None, help="The new agency's id, e.g. gi.tax.")
@_ed25519
@_address
@click.option(
    "--address",
    "addresses",
    multiple=True,
    help="A multiaddr of its node, e.g. /ip4/10.0.0.9/tcp/7400 (repeat, up to 4).",
)
@_keystore
@_proposal_options
def add_agency(
    *,
    api: AdminHttp,
    as_json: bool,
    agency_id: str | None,
    ed25519: str | None,
    address: str | None,
    addresses: tuple[str, ...],
    keystore: Path | None,
    expires_in_days: int | None,
    request_id: str | None,
) -> None:
    """Admit a new member agency with its public keys."""
    agency, ed, secp = _keys(agency_id, ed25519, address, keystore)
    action = {
        "type": "add_agency",
        "agency_id": agency,
        "ed25519": ed,
        "secp256k1_address": secp,
        "addresses": list(addresses),
    }
    _submit(api, as_json, action, expires_in_days, request_id)


@propose.command("remove-agency")
@click.argument("agency_id")
@_proposal_options
def remove_agency(
    *,
    api: AdminHttp,
    as_json: bool,
    agency_id: str,
    expires_in_days: int | None,
    request_id: str | None,
) -> None:
    """Remove AGENCY_ID (its log ends at its height in the adopting checkpoint)."""
    action = {"type": "remove_agency", "agency_id": agency_id}
    _submit(api, as_json, action, expires_in_days, request_id)


@propose.command("rotate-keys")
@click.argument("agency_id", required=False)
@_ed25519
@_address
@_keystore
@_proposal_options
def rotate_keys_proposal(
    *,
    api: AdminHttp,
    as_json: bool,
    agency_id: str | None,
    ed25519: str | None,
    address: str | None,
    keystore: Path | None,
    expires_in_days: int | None,
    request_id: str | None,
) -> None:
    """Replace the keys of AGENCY_ID, e.g. one that lost its keys (an agency that still has them
    rotates itself with 'calpe governance rotate-keys')."""
    agency, ed, secp = _keys(agency_id, ed25519, address, keystore, "AGENCY_ID")
    action = {"type": "rotate_keys", "agency_id": agency, "ed25519": ed, "secp256k1_address": secp}
    _submit(api, as_json, action, expires_in_days, request_id)


@propose.command("quorum")
@click.argument("quorum", type=int)
@_proposal_options
def quorum(
    *,
    api: AdminHttp,
    as_json: bool,
    quorum: int,
    expires_in_days: int | None,
    request_id: str | None,
) -> None:
    """Require QUORUM signatures per checkpoint (a majority of the members)."""
    _submit(api, as_json, {"type": "set_quorum", "quorum": quorum}, expires_in_days, request_id)


@propose.command("interval")
@click.argument("seconds", type=int)
@_proposal_options
def interval(
    *,
    api: AdminHttp,
    as_json: bool,
    seconds: int,
    expires_in_days: int | None,
    request_id: str | None,
) -> None:
    """Make a checkpoint every SECONDS seconds (5 s to 7 days)."""
    action = {"type": "set_checkpoint_interval", "seconds": seconds}
    _submit(api, as_json, action, expires_in_days, request_id)


# --- vote and rotate -----------------------------------------------------------------------------

_yes = click.option("--yes", "-y", "assume_yes", is_flag=True, help="Do not ask for confirmation.")
_rid = click.option(
    "--request-id",
    default=None,
    help="Idempotency key (default: a fresh one); repeat it to retry safely.",
)


def _find(doc: dict[str, Any], given: str) -> dict[str, Any] | None:
    """The proposal ``given`` names (its id or a unique prefix shown by ``show``)."""
    wanted = given.lower()
    if not wanted or not set(wanted) <= HEX_DIGITS or len(wanted) > 64:
        raise click.BadParameter("a proposal id is hex", param_hint="PROPOSAL_ID")
    found = [p for p in doc["proposals"] if p["proposal_id"].startswith(wanted)]
    if len(found) > 1:
        raise click.BadParameter(f"{given} names {len(found)} proposals; give more digits")
    if not found and len(wanted) < 64:
        raise click.BadParameter(
            f"no proposal in the governance document starts with {given}; give the full 64-hex id",
            param_hint="PROPOSAL_ID",
        )
    return found[0] if found else None


@governance.command("vote")
@click.argument("proposal_id")
@_yes
@_rid
@connection
def vote(
    api: AdminHttp, as_json: bool, proposal_id: str, assume_yes: bool, request_id: str | None
) -> None:
    """Approve PROPOSAL_ID as this node's agency (votes cannot be withdrawn)."""
    doc = api.governance()
    proposal = _find(doc, proposal_id)
    pid = proposal_id.lower() if proposal is None else proposal["proposal_id"]
    if proposal is not None and proposal["state"] != "open":
        epoch = proposal["effective_epoch"]
        at = "" if epoch is None else f" at epoch {epoch}"
        click.echo(
            f"error: proposal {pid[:16]}… is {proposal['state']}{at}; there is nothing to vote on",
            err=True,
        )
        raise SystemExit(EXIT_PROBLEM)
    if not assume_yes:
        if proposal is None:
            what = f"proposal {pid} (not counted at a checkpoint yet)"
        else:
            approvals = ", ".join(proposal["approvals"])
            what = (
                f"proposal {pid[:16]}… to {proposal['summary']} by {proposal['proposer']} "
                f"({proposal['state']}; approved by {approvals}; quorum {doc['quorum']})"
            )
        click.confirm(f"Approve {what}?", abort=True, err=True)
    answer = api.vote(pid, request_id=request_id or str(uuid.uuid4()))
    if as_json:
        print_json({"proposal_id": pid, **answer})
        return
    receipt = answer["receipt"]
    click.echo(
        f"approved {pid[:16]}…: committed in {receipt['agency_id']} block {receipt['height']} "
        f"({receipt['block_hash'][:16]}…)"
    )


@governance.command("rotate-keys")
@_yes
@_rid
@connection
def rotate_keys(api: AdminHttp, as_json: bool, assume_yes: bool, request_id: str | None) -> None:
    """Replace this node's agency keys with new ones the node generates and stores.

    The rotation is announced in the agency's own log, signed with the current keys; no vote is
    needed. Back up the keystore afterwards: it holds the new keys.
    """
    if not assume_yes:
        agency = api.get("/v1/status")["agency_id"]
        click.confirm(
            f"Rotate the keys of {agency}? The node generates new keys, seals them into its "
            "keystore (keeping the old one as <keystore>.previous) and announces them in its log",
            abort=True,
            err=True,
        )
    doc = api.rotate_keys(request_id=request_id or str(uuid.uuid4()))
    if as_json:
        print_json(doc)
        return
    receipt = doc["receipt"]
    click.echo(f"new keys of {receipt['agency_id']}, announced in block {receipt['height']}:")
    click.echo(f"  ed25519            {doc['ed25519']}")
    click.echo(f"  secp256k1 address  {doc['secp256k1_address']}")
    click.echo("back up the node's keystore now: it holds the new keys")
