"""Governance through the admin API (``docs/admin-api.md``, "Governance"): the document in force,
proposals, votes, and the rotation of this node's own keys. The schema is in
:mod:`.governance_spec`.

Every input error is a 400 naming the field (``action.quorum``, ``expires_s``, …); the node's
ledger rules are 409 with their code (``duplicate_vote``, ``not_member``, …); a vote for a
proposal the node has never seen is 404 ``unknown_proposal``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from node.admin import inputs
from node.admin.idempotency import PerRequestId
from node.admin.inputs import ApiError, bad
from node.admin.shapes import Json
from node.core.errors import (
    CalpeError,
    ConfigError,
    SchemaViolationError,
    UnknownProposalError,
    ValidationError,
)
from node.core.events import MAX_TIMESTAMP_S, AgencyKeyRotated
from node.core.genesis import check_agency_id
from node.core.proposals import (
    MAX_ADDRESS_LEN,
    MAX_ADDRESSES,
    MAX_INTERVAL_S,
    MAX_MEMBERS,
    MIN_INTERVAL_S,
    Action,
    ActionType,
    action_from_json,
)
from node.services.producer import ProducerBusyError, Receipt
from node.storage.store import LedgerStore

if TYPE_CHECKING:
    from node.services.node import LedgerNode

T = TypeVar("T")

ACTION_FIELDS: dict[str, dict[str, bool]] = {
    ActionType.ADD_AGENCY.label: {
        "type": True,
        "agency_id": True,
        "ed25519": True,
        "secp256k1_address": True,
        "addresses": False,
    },
    ActionType.REMOVE_AGENCY.label: {"type": True, "agency_id": True},
    ActionType.ROTATE_KEYS.label: {
        "type": True,
        "agency_id": True,
        "ed25519": True,
        "secp256k1_address": True,
    },
    ActionType.SET_QUORUM.label: {"type": True, "quorum": True},
    ActionType.SET_CHECKPOINT_INTERVAL.label: {"type": True, "seconds": True},
}
"""Per action type: field -> required (the API's ``action`` object, closed like every body)."""
_KEY_SIZES = {"ed25519": 32, "secp256k1_address": 20}
_PROPOSE_FIELDS = {"action": True, "expires_s": False, "request_id": False}
_RID_FIELDS = {"request_id": False}


def receipt_json(request_id: str | None, receipt: Receipt) -> Json:
    """Where a write was committed (the shape every write endpoint answers with)."""
    return {
        "request_id": request_id,
        "status": "committed",
        "agency_id": receipt.agency_id,
        "height": receipt.height,
        "block_hash": receipt.block_hash.hex(),
        "event_index": receipt.first_index,
    }


def parse_action(value: Any) -> Action:
    """The ``action`` object of a proposal; every problem is a 400 naming ``action.<field>``."""
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in ACTION_FIELDS:
        raise bad(f"action.type must be one of {', '.join(ACTION_FIELDS)}")
    doc = inputs.check_fields(value, ACTION_FIELDS[kind], "action")
    if "agency_id" in doc:
        _agency_id(doc["agency_id"])
    for name, size in _KEY_SIZES.items():
        if name in doc:
            _key_hex(doc[name], name, size)
    if "addresses" in doc:
        _addresses(doc["addresses"])
    if "quorum" in doc:
        inputs.integer(doc["quorum"], "action.quorum", 1, MAX_MEMBERS)
    if "seconds" in doc:
        inputs.integer(doc["seconds"], "action.seconds", MIN_INTERVAL_S, MAX_INTERVAL_S)
    try:
        return action_from_json(doc)
    except SchemaViolationError as exc:  # what only the core checks: the multiaddr syntax
        raise bad(f"action: {str(exc).removeprefix('action: ')}") from None


def _agency_id(value: Any) -> None:
    if not isinstance(value, str):
        raise bad("action.agency_id must be a string, e.g. gi.transport")
    try:
        check_agency_id(value)
    except ConfigError as exc:
        raise bad(f"action.agency_id: {exc}") from None


def _key_hex(value: Any, name: str, size: int) -> None:
    text = value.removeprefix("0x") if isinstance(value, str) else ""
    if len(text) != 2 * size or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise bad(f"action.{name} must be {2 * size} hex digits ({size} bytes), 0x optional")


def _addresses(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise bad("action.addresses must be a list of multiaddr strings")
    if len(value) > MAX_ADDRESSES:
        raise bad(f"action.addresses: at most {MAX_ADDRESSES} addresses")
    # the core's check_action does not bound the length, but decoding a block does
    if any(len(a) > MAX_ADDRESS_LEN for a in value):
        raise bad(f"action.addresses: each at most {MAX_ADDRESS_LEN} characters")


def expiry(value: Any) -> int:
    """``expires_s``: a Unix time in the future."""
    expires = inputs.integer(value, "expires_s", 0, MAX_TIMESTAMP_S)
    if expires <= int(time.time()):
        raise bad("expires_s must be in the future (Unix seconds)")
    return expires


def optional_request_id(body: dict[str, Any]) -> str | None:
    return None if body.get("request_id") is None else inputs.request_id(body)


class GovernanceApi:
    """The governance request handlers over one running node."""

    def __init__(self, node: LedgerNode, requests: PerRequestId) -> None:
        self.node = node
        self._requests = requests
        self._rotation = trio.Lock()

    async def _write(self, rid: str | None, call: Callable[[], Awaitable[T]]) -> T:
        try:
            if rid is None:
                return await call()
            async with self._requests.hold(rid):
                return await call()
        except ProducerBusyError as exc:
            raise ApiError(503, "busy", str(exc), {"Retry-After": "1"}) from None
        except UnknownProposalError as exc:
            raise ApiError(404, exc.reason, str(exc)) from None
        except SchemaViolationError as exc:
            raise bad(str(exc)) from None
        except ValidationError as exc:
            raise ApiError(409, exc.reason, str(exc)) from None
        except CalpeError as exc:  # shutting down
            raise ApiError(503, "not_ready", str(exc)) from None

    async def document(self, request: Request) -> Response:
        return JSONResponse(self.node.governance_document())

    async def propose(self, request: Request) -> Response:
        body = inputs.parse_body(await request.body(), _PROPOSE_FIELDS)
        rid = optional_request_id(body)
        action = parse_action(body["action"])
        expires = None if body.get("expires_s") is None else expiry(body["expires_s"])
        pid, receipt = await self._write(rid, lambda: self.node.propose(action, expires, rid))
        return JSONResponse({"proposal_id": pid.hex(), "receipt": receipt_json(rid, receipt)})

    async def vote(self, request: Request) -> Response:
        pid = inputs.hex32(request.path_params["proposal_id"], "proposal_id")
        rid = optional_request_id(inputs.parse_body(await request.body() or b"{}", _RID_FIELDS))
        receipt = await self._write(rid, lambda: self.node.vote(pid, rid))
        return JSONResponse({"receipt": receipt_json(rid, receipt)})

    async def rotate_keys(self, request: Request) -> Response:
        rid = optional_request_id(inputs.parse_body(await request.body() or b"{}", _RID_FIELDS))
        async with self._rotation:  # two rotations at once would race for the keystore
            done = await self._write(rid, lambda: self._rotate(rid))
        receipt = done["receipt"]
        if isinstance(receipt, Receipt):
            done = {**done, "receipt": receipt_json(rid, receipt)}
        return JSONResponse(done)

    async def _rotate(self, rid: str | None) -> dict[str, Any]:
        """Rotate, unless ``rid`` already did: a retry answers with the keys it announced
        instead of generating others that no block announces."""
        if rid is not None:
            store = self.node.store
            earlier = await store.call(_rotation_of, store.store, rid)
            if earlier is not None:
                receipt, rotated = earlier
                if rotated is None:
                    raise ApiError(409, "request_id_reused", f"request_id {rid} was another write")
                return {
                    "ed25519": rotated.ed25519_public.hex(),
                    "secp256k1_address": "0x" + rotated.secp256k1_address.hex(),
                    "receipt": receipt,
                }
        return await self.node.rotate_own_keys(rid)


def _rotation_of(store: LedgerStore, rid: str) -> tuple[Receipt, AgencyKeyRotated | None] | None:
    """The committed write of ``rid`` and the key rotation it made (None: it made another)."""
    found = store.request_receipt(rid)
    if found is None:
        return None
    agency_id, height, block_hash, index = found
    rotated = [
        item.event
        for item in store.governance_events(agency_id, height - 1, height)
        if isinstance(item.event, AgencyKeyRotated)
    ]
    return Receipt(agency_id, height, block_hash, index), rotated[0] if rotated else None
