"""The governance part of the admin API's OpenAPI schema (routes in :mod:`.governance`).

Agency ids here are patterns, not the genesis enum the rest of the schema uses: governance admits
agencies the genesis never named.
"""

from __future__ import annotations

from node.admin.spec_kit import (
    HEX32,
    REQUEST_ID,
    TIME_S,
    UINT,
    Schema,
    array,
    nullable,
    obj,
    operation,
    path_param,
    ref,
    request_body,
)
from node.core.genesis import AGENCY_ID_RE, MAX_AGENCY_ID_LEN
from node.core.governance import PROPOSAL_STATES
from node.core.proposals import (
    MAX_ADDRESS_LEN,
    MAX_ADDRESSES,
    MAX_INTERVAL_S,
    MAX_MEMBERS,
    MIN_INTERVAL_S,
    ActionType,
)

ACTION_TYPES = [t.label for t in ActionType]
AGENCY_ID: Schema = {
    "type": "string",
    "pattern": AGENCY_ID_RE.pattern,
    "maxLength": MAX_AGENCY_ID_LEN,
}
ED25519: Schema = {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{64}$"}
ADDRESS: Schema = {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{40}$"}
ADDRESS_OUT: Schema = {"type": "string", "pattern": "^0x[0-9a-f]{40}$"}
MULTIADDR: Schema = {"type": "string", "maxLength": MAX_ADDRESS_LEN}
STRING: Schema = {"type": "string"}


def governance_components() -> dict[str, Schema]:
    return {
        "GovernanceAction": {
            **obj(
                {
                    "type": {"type": "string", "enum": ACTION_TYPES},
                    "agency_id": AGENCY_ID,
                    "ed25519": ED25519,
                    "secp256k1_address": ADDRESS,
                    "addresses": {**array(MULTIADDR), "maxItems": MAX_ADDRESSES},
                    "quorum": {"type": "integer", "minimum": 1, "maximum": MAX_MEMBERS},
                    "seconds": {
                        "type": "integer",
                        "minimum": MIN_INTERVAL_S,
                        "maximum": MAX_INTERVAL_S,
                    },
                },
                optional=(
                    "agency_id",
                    "ed25519",
                    "secp256k1_address",
                    "addresses",
                    "quorum",
                    "seconds",
                ),
            ),
            "additionalProperties": False,
        },
        "Member": obj(
            {
                "agency_id": AGENCY_ID,
                "ed25519": HEX32,
                "secp256k1_address": ADDRESS_OUT,
                "addresses": array(STRING),
                "state": {"type": "string", "enum": ["active", "removed"]},
                "since_epoch": UINT,
                "removed_height": nullable(UINT),
            }
        ),
        "Proposal": obj(
            {
                "proposal_id": HEX32,
                "proposer": AGENCY_ID,
                "height": UINT,
                "action": ref("GovernanceAction"),
                "summary": STRING,
                "expires_s": TIME_S,
                "approvals": array(AGENCY_ID),
                "state": {"type": "string", "enum": list(PROPOSAL_STATES)},
                "effective_epoch": nullable(UINT),
                "reason": nullable(STRING),
            }
        ),
        "Governance": obj(
            {
                "epoch": UINT,
                "quorum": UINT,
                "checkpoint_interval_s": UINT,
                "signer_nonce": UINT,
                "members": array(ref("Member")),
                "proposals": array(ref("Proposal")),
            }
        ),
        "Receipt": obj(
            {
                "request_id": nullable(REQUEST_ID),
                "status": {"type": "string", "enum": ["committed"]},
                "agency_id": AGENCY_ID,
                "height": UINT,
                "block_hash": HEX32,
                "event_index": UINT,
            }
        ),
    }


_RID_BODY = request_body({"request_id": REQUEST_ID}, optional=("request_id",))


def governance_paths() -> dict[str, Schema]:
    receipt = ref("Receipt")
    return {
        "/v1/governance": {
            "get": operation("members, quorum, interval and proposals in force", ref("Governance"))
        },
        "/v1/governance/proposals": {
            "post": operation(
                "propose a governance action (it counts as this agency's vote)",
                obj({"proposal_id": HEX32, "receipt": receipt}),
                400,
                409,
                413,
                503,
                body=request_body(
                    {
                        "action": ref("GovernanceAction"),
                        "expires_s": TIME_S,
                        "request_id": REQUEST_ID,
                    },
                    optional=("expires_s", "request_id"),
                ),
            )
        },
        "/v1/governance/proposals/{proposal_id}/votes": {
            "post": operation(
                "approve a proposal as this agency",
                obj({"receipt": receipt}),
                400,
                404,
                409,
                413,
                503,
                params=[path_param("proposal_id", HEX32)],
                body=_RID_BODY,
            )
        },
        "/v1/governance/rotate-keys": {
            "post": operation(
                "rotate this node's agency keys (self-signed, no vote)",
                obj({"ed25519": HEX32, "secp256k1_address": ADDRESS_OUT, "receipt": receipt}),
                400,
                409,
                413,
                503,
                body=_RID_BODY,
            )
        },
    }
