"""Every read endpoint of the admin API, against a real node running in-process."""

from __future__ import annotations

import logging

import pytest

from node.core import smt
from node.core.hashing import sha256
from tests.admin.conftest import AGENCY, SCHEMA, Running, cid

pytestmark = [pytest.mark.trio, pytest.mark.integration]


async def test_health_and_unknown_paths(running: Running) -> None:
    assert (await running.get("/health")).json() == {"ok": True}
    missing = await running.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


async def test_status(running: Running) -> None:
    doc = (await running.get("/v1/status")).json()
    assert doc["agency_id"] == AGENCY
    assert doc["agency_name"] == "Health Authority"
    assert doc["network_id"] == running.net.genesis.network_id.hex()
    assert doc["checkpoint"] is None and doc["rsk"] is None
    heads = {h["agency_id"]: h for h in doc["heads"]}
    assert set(heads) == {"gi.health", "gi.registry", "gi.transport"}
    assert heads[AGENCY]["height"] == 3
    assert heads[AGENCY]["lag_blocks"] == 0
    assert heads["gi.registry"]["height"] == 0
    assert len(doc["peers"]) == 2
    assert doc["uptime_s"] >= 0


async def test_peers_lists_every_other_member(running: Running) -> None:
    peers = (await running.get("/v1/peers")).json()["peers"]
    assert sorted(p["agency_id"] for p in peers) == ["gi.registry", "gi.transport"]
    for peer in peers:  # the other nodes are not running
        assert peer["connected"] is False
        assert peer["addrs"] and peer["addrs"][0].startswith("/ip4/127.0.0.1/tcp/")


async def test_events_newest_first_and_paged(running: Running) -> None:
    first = (await running.get("/v1/events", limit=3)).json()
    assert [(e["height"], e["index"]) for e in first["events"]] == [(3, 2), (3, 1), (3, 0)]
    assert first["next_cursor"]
    second = (await running.get("/v1/events", limit=4, cursor=first["next_cursor"])).json()
    assert [(e["height"], e["index"]) for e in second["events"]] == [(2, 4), (2, 3), (2, 2), (2, 1)]
    rest = (await running.get("/v1/events", limit=50, cursor=second["next_cursor"])).json()
    assert [(e["height"], e["index"]) for e in rest["events"]] == [(2, 0), (1, 0)]
    assert rest["next_cursor"] is None
    schema_event = rest["events"][-1]
    assert schema_event["kind"] == "schema.published" and schema_event["schema_id"] == SCHEMA.hex()
    issued = second["events"][0]
    assert issued["kind"] == "credential.issued"
    assert issued["credential_id"] == cid(5).hex() and issued["valid_from_s"] == 1_700_000_000


async def test_events_filters(running: Running) -> None:
    by_kind = (await running.get("/v1/events", kind="schema.published")).json()
    assert [e["height"] for e in by_kind["events"]] == [1]
    by_credential = (await running.get("/v1/events", credential=cid(7).hex())).json()
    assert [(e["height"], e["index"]) for e in by_credential["events"]] == [(3, 1)]
    assert by_credential["events"][0]["valid_until_s"] == 1_900_000_000
    other_agency = (await running.get("/v1/events", agency="gi.registry")).json()
    assert other_agency == {"events": [], "next_cursor": None}
    block2 = (await running.get("/v1/blocks/gi.health/2")).json()["block"]["timestamp_ms"]
    window = await running.get("/v1/events", since_ms=block2, until_ms=block2)
    assert {e["height"] for e in window.json()["events"]} == {2}
    for bad in (
        {"kind": "nope"},
        {"agency": "gi.nowhere"},
        {"limit": 501},
        {"limit": 0},
        {"credential": "zz"},
        {"cursor": "garbage!"},
        {"since_ms": "x"},
    ):
        response = await running.get("/v1/events", **bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] in ("bad_request", "bad_cursor")


async def test_blocks_and_block_detail(running: Running) -> None:
    blocks = (await running.get("/v1/blocks", agency=AGENCY)).json()["blocks"]
    assert [b["height"] for b in blocks] == [3, 2, 1]
    assert blocks[0]["prev_hash"] == blocks[1]["block_hash"]
    older = (await running.get("/v1/blocks", agency=AGENCY, before_height=3, limit=1)).json()
    assert [b["height"] for b in older["blocks"]] == [2]
    detail = (await running.get("/v1/blocks/gi.health/2")).json()
    assert detail["block"]["event_count"] == 5 and len(detail["events"]) == 5
    assert (await running.get("/v1/blocks/gi.health/9")).status_code == 404
    assert (await running.get("/v1/blocks/gi.nowhere/1")).status_code == 404
    assert (await running.get("/v1/blocks/gi.health/abc")).status_code == 400


async def test_credential_and_history(running: Running) -> None:
    doc = (await running.get(f"/v1/credentials/{AGENCY}/{cid(2).hex()}")).json()
    assert doc["credential"] == {
        "issuer": AGENCY,
        "credential_id": cid(2).hex(),
        "schema_id": SCHEMA.hex(),
        "status": "active",
        "valid_from_s": 1_700_000_000,
        "valid_until_s": None,
        "issued_height": 2,
        "updated_height": 2,
        "reason": None,
    }
    assert [e["kind"] for e in doc["history"]] == ["credential.issued"]
    missing = await running.get(f"/v1/credentials/{AGENCY}/{cid(99).hex()}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_credential"
    assert (await running.get(f"/v1/credentials/{AGENCY}/xyz")).status_code == 400


async def test_proof_bundle_verifies(running: Running) -> None:
    bundle = (await running.get(f"/v1/credentials/{AGENCY}/{cid(3).hex()}/proof")).json()
    assert bundle["format"] == "calpe-proof-bundle" and bundle["version"] == 1
    assert bundle["network_id"] == running.net.genesis.network_id.hex()
    assert bundle["status"] == "active" and bundle["head"]["height"] == 3
    proof = smt.SmtProof.from_bytes(bytes.fromhex(bundle["state_proof"]))
    root = bytes.fromhex(bundle["head"]["state_root"])
    value = sha256(bytes.fromhex(bundle["record"]))
    smt.verify_membership(root, cid(3), value, proof)
    absent = (await running.get(f"/v1/credentials/{AGENCY}/{cid(77).hex()}/proof")).json()
    assert absent["status"] == "unknown" and absent["record"] is None
    absent_proof = smt.SmtProof.from_bytes(bytes.fromhex(absent["state_proof"]))
    smt.verify_non_membership(root, cid(77), absent_proof)


async def test_checkpoints_plugins_logs_metrics(running: Running) -> None:
    assert (await running.get("/v1/checkpoints")).json() == {"checkpoints": []}  # no [anchor]
    plugins = {p["name"]: p for p in (await running.get("/v1/plugins")).json()["plugins"]}
    assert "rsk_bridge" in plugins  # registered through its entry point like any plugin
    disabled = await running.post("/v1/plugins/rsk_bridge/disable", {})
    assert disabled.status_code == 200 and disabled.json()["plugin"]["enabled"] is False
    enabled = await running.post("/v1/plugins/rsk_bridge/enable", {})
    assert enabled.status_code == 200 and enabled.json()["plugin"]["enabled"] is True
    unknown = await running.post("/v1/plugins/no_such_plugin/enable", {})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_plugin"
    wrong = await running.post("/v1/plugins/rsk_bridge/explode", {})
    assert wrong.status_code == 404
    logging.getLogger("tests.admin").warning("a line for the ring agency=%s", AGENCY)
    logs = (await running.get("/v1/logs", level="warning")).json()["logs"]
    assert logs[-1]["message"] == f"a line for the ring agency={AGENCY}"
    assert logs[-1]["level"] == "warning" and logs[-1]["logger"] == "tests.admin"
    assert (await running.get("/v1/logs", level="loud")).status_code == 400
    metrics = await running.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for name in (
        "calpe_events_committed_total",
        "calpe_blocks_committed_total",
        "calpe_peers_connected",
        'calpe_sync_lag_blocks{agency="gi.registry"}',
        'calpe_head_height{agency="gi.health"} 3.0',
    ):
        assert name in text


async def test_openapi_lists_every_route(running: Running) -> None:
    spec = (await running.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    expected = {
        "/health",
        "/metrics",
        "/v1/status",
        "/v1/peers",
        "/v1/events",
        "/v1/blocks",
        "/v1/blocks/{agency}/{height}",
        "/v1/credentials/{issuer}/{credential_id}",
        "/v1/credentials/{issuer}/{credential_id}/proof",
        "/v1/credentials/issue",
        "/v1/credentials/batch",
        "/v1/credentials/{credential_id}/revoke",
        "/v1/credentials/{credential_id}/suspend",
        "/v1/credentials/{credential_id}/reinstate",
        "/v1/schemas",
        "/v1/checkpoints",
        "/v1/plugins",
        "/v1/plugins/{name}/enable",
        "/v1/plugins/{name}/disable",
        "/v1/logs",
        "/v1/stream",
        "/v1/backup",
        "/v1/governance",
        "/v1/governance/proposals",
        "/v1/governance/proposals/{proposal_id}/votes",
        "/v1/governance/rotate-keys",
    }
    assert set(spec["paths"]) == expected


async def test_openapi_names_the_member_agencies_and_is_built_once(running: Running) -> None:
    first = await running.get("/openapi.json")
    issuer = first.json()["paths"]["/v1/credentials/{issuer}/{credential_id}"]["get"]["parameters"][
        0
    ]
    assert issuer["name"] == "issuer"
    assert issuer["schema"]["enum"] == sorted(running.node.store.store.heads())
    again = await running.get("/openapi.json")
    assert again.headers["content-type"] == "application/json"
    assert again.content == first.content
