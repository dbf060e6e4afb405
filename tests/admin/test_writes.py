"""Writes through the admin API: rules, input checks, idempotency, the live stream, backups
under load."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from node.admin.backup import restore
from node.admin.client import AdminHttp
from node.config import load_config
from node.devnet import LocalNetwork
from node.storage.store import LedgerStore
from tests.admin.conftest import AGENCY, SCHEMA, Running, cid, start_node
from tests.admin.test_backup import second_config

pytestmark = [pytest.mark.trio, pytest.mark.integration]


def issue_body(n: int, rid: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": rid or f"issue-{n}",
        "credential_id": cid(n).hex(),
        "schema_id": SCHEMA.hex(),
        "valid_from_s": 1_700_000_000,
        **extra,
    }


async def test_credential_lifecycle(running: Running) -> None:
    schema = await running.post(
        "/v1/schemas",
        {
            "request_id": "s2",
            "schema_id": "ab" * 32,
            "credential_class": "driving_licence",
            "version": 2,
        },
    )
    assert schema.status_code == 200, schema.text
    assert schema.json()["schema_id"] == "ab" * 32 and schema.json()["status"] == "committed"
    issued = await running.post(
        "/v1/credentials/issue", issue_body(20, valid_until_s=1_800_000_000)
    )
    doc = issued.json()
    assert doc["request_id"] == "issue-20" and doc["agency_id"] == AGENCY and doc["height"] >= 4
    assert doc["credential"]["status"] == "active"
    assert doc["credential"]["valid_until_s"] == 1_800_000_000
    path = f"/v1/credentials/{cid(20).hex()}"
    suspended = (
        await running.post(f"{path}/suspend", {"request_id": "s-20", "reason": "court_order"})
    ).json()
    assert suspended["credential"]["status"] == "suspended"
    assert suspended["credential"]["reason"] == "court_order"
    back = (await running.post(f"{path}/reinstate", {"request_id": "r-20"})).json()
    assert back["credential"]["status"] == "active" and back["credential"]["reason"] is None
    revoked = (
        await running.post(f"{path}/revoke", {"request_id": "x-20", "reason": "key_compromise"})
    ).json()
    assert revoked["credential"]["status"] == "revoked"
    history = (await running.get(f"/v1/credentials/{AGENCY}/{cid(20).hex()}")).json()["history"]
    assert [e["kind"] for e in history] == [
        "credential.issued",
        "credential.suspended",
        "credential.reinstated",
        "credential.revoked",
    ]
    assert history[-1]["reason"] == "key_compromise"


async def test_ledger_rules_are_409(running: Running) -> None:
    cases = [
        ("/v1/credentials/issue", issue_body(1, "dup"), "duplicate_credential"),
        (
            "/v1/credentials/issue",
            {**issue_body(30, "noschema"), "schema_id": "cd" * 32},
            "schema_violation",
        ),
        (
            f"/v1/credentials/{cid(99).hex()}/revoke",
            {"request_id": "unk", "reason": "unspecified"},
            "unknown_credential",
        ),
        (f"/v1/credentials/{cid(2).hex()}/reinstate", {"request_id": "notsusp"}, "bad_transition"),
    ]
    for path, body, code in cases:
        response = await running.post(path, body)
        assert response.status_code == 409, (path, response.text)
        assert response.json()["error"]["code"] == code
    await running.post(
        f"/v1/credentials/{cid(3).hex()}/revoke", {"request_id": "rv3", "reason": "superseded"}
    )
    final = await running.post(
        f"/v1/credentials/{cid(3).hex()}/suspend", {"request_id": "sp3", "reason": "unspecified"}
    )
    assert final.status_code == 409 and final.json()["error"]["code"] == "revoked_final"


async def test_bad_input_is_400(running: Running) -> None:
    bodies = [
        issue_body(40, "bad id with spaces"),
        issue_body(40, "x" * 65),
        {k: v for k, v in issue_body(40).items() if k != "schema_id"},
        {**issue_body(40), "holder_name": "Jane"},
        {**issue_body(40), "credential_id": "AB" * 32},
        {**issue_body(40), "valid_from_s": True},
        {**issue_body(40), "valid_from_s": -1},
        {**issue_body(40), "valid_until_s": 1_600_000_000},
        [issue_body(40)],
    ]
    for body in bodies:
        response = await running.post("/v1/credentials/issue", body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "bad_request"
    raw = await running.http.post("/v1/credentials/issue", content=b"{not json")
    assert raw.status_code == 400
    reason = await running.post(
        f"/v1/credentials/{cid(1).hex()}/revoke", {"request_id": "r", "reason": "Key_Compromise"}
    )
    assert reason.status_code == 400
    action = await running.post(f"/v1/credentials/{cid(1).hex()}/destroy", {"request_id": "r"})
    assert action.status_code == 404
    schema = await running.post(
        "/v1/schemas",
        {"request_id": "s", "schema_id": "ab" * 32, "credential_class": "spaceship", "version": 1},
    )
    assert schema.status_code == 400
    # nothing above reached the ledger
    assert (await running.get(f"/v1/credentials/{AGENCY}/{cid(40).hex()}")).status_code == 404


async def test_idempotent_sequential_and_concurrent(running: Running) -> None:
    first = (await running.post("/v1/credentials/issue", issue_body(50, "same-50"))).json()
    again = (await running.post("/v1/credentials/issue", issue_body(50, "same-50"))).json()
    assert again == first
    answers: list[dict[str, Any]] = []

    async def send() -> None:
        answers.append(
            (await running.post("/v1/credentials/issue", issue_body(51, "same-51"))).json()
        )

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(send)
    assert len(answers) == 5 and all(a == answers[0] for a in answers)
    assert answers[0]["credential"]["status"] == "active"
    for n in (50, 51):
        doc = (await running.get("/v1/events", credential=cid(n).hex())).json()
        assert len(doc["events"]) == 1
    # a retry after the credential changed still gets the first answer
    await running.post(
        f"/v1/credentials/{cid(50).hex()}/revoke", {"request_id": "rv-50", "reason": "ceased"}
    )
    late = (await running.post("/v1/credentials/issue", issue_body(50, "same-50"))).json()
    assert late == first


async def test_stream_blocks_alerts_logs_status(running: Running) -> None:
    seen: dict[str, Any] = {}
    got_status = trio.Event()

    def listen() -> None:  # the CLI's sync client, in a thread
        with AdminHttp(running.endpoints.socket, hint="-") as api:
            for event, data in api.stream():
                if event == "status":
                    trio.from_thread.run_sync(got_status.set)
                if event == "log" and "stream-test" not in data["message"]:
                    continue
                seen.setdefault(event, data)
                if {"block", "alert", "log"} <= set(seen):
                    return

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.to_thread.run_sync, listen)
            await got_status.wait()
            receipt = (await running.post("/v1/credentials/issue", issue_body(60))).json()
            running.node.alerts.raise_alert("warning", "lagging_peer", "gi.registry is behind")
            logging.getLogger("tests.admin").warning("stream-test line")
    assert seen["status"]["agency_id"] == AGENCY
    assert seen["block"]["height"] == receipt["height"]
    assert seen["block"]["block_hash"] == receipt["block_hash"]
    assert set(seen["block"]) == {
        "agency_id",
        "height",
        "block_hash",
        "prev_hash",
        "timestamp_ms",
        "event_count",
        "events_root",
        "state_root",
    }
    assert seen["alert"]["kind"] == "lagging_peer" and isinstance(seen["alert"]["id"], str)
    assert seen["log"]["message"] == "stream-test line"


@pytest.mark.slow
async def test_backup_under_write_load_restores_identically(
    nursery: trio.Nursery, net: LocalNetwork
) -> None:
    async with start_node(nursery, net) as running:
        await running.post(
            "/v1/schemas",
            {
                "request_id": "schema",
                "schema_id": SCHEMA.hex(),
                "credential_class": "permit",
                "version": 1,
            },
        )
        stop = trio.Event()
        written = 0
        goals: list[tuple[int, trio.Event]] = []

        async def reach(count: int) -> None:
            goal = (count, trio.Event())
            goals.append(goal)
            with trio.fail_after(30):
                await goal[1].wait()

        async def writer(worker: int) -> None:
            nonlocal written
            n = 1000 * (worker + 1)
            while not stop.is_set():
                response = await running.post("/v1/credentials/issue", issue_body(n))
                assert response.status_code == 200, response.text
                n += 1
                written += 1
                for count, event in goals:
                    if written >= count:
                        event.set()

        async with trio.open_nursery() as writers:
            for worker in range(4):
                writers.start_soon(writer, worker)
            await reach(40)
            backup = (await running.post("/v1/backup", {"path": "loaded.tar"})).json()
            await reach(written + 40)
            stop.set()
    manifest = backup["manifest"]
    height = manifest["heads"][AGENCY]["height"]
    config = load_config(net.configs[AGENCY])
    with LedgerStore.open(config.node.data_dir, net.genesis) as source:
        assert source.head(AGENCY).height > height  # writes went on after the snapshot
        block = source.block(AGENCY, height)
        assert block is not None
        assert block.hash.hex() == manifest["heads"][AGENCY]["block_hash"]
        assert block.header.state_root.hex() == manifest["heads"][AGENCY]["state_root"]
        assert source.log_root(AGENCY, height).hex() == manifest["heads"][AGENCY]["log_root"]
    second = second_config(net, "restored")
    restore(Path(backup["path"]), load_config(second).node.data_dir, net.genesis)
    verify = await trio.run_process(
        [
            sys.executable,
            "-c",
            "from node.cli import main; main()",
            "db",
            "verify",
            "--config",
            str(second),
        ],
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert verify.returncode == 0, (verify.stdout, verify.stderr)


async def test_a_batch_commits_in_one_block_or_not_at_all(running: Running) -> None:
    ops: list[dict[str, Any]] = [{**issue_body(300 + i), "op": "issue"} for i in range(50)]
    for op in ops:
        del op["request_id"]
    ops.append({"op": "suspend", "credential_id": cid(300).hex(), "reason": "court_order"})
    ops.append({"op": "revoke", "credential_id": cid(301).hex(), "reason": "superseded"})
    done = await running.post("/v1/credentials/batch", {"request_id": "b-1", "operations": ops})
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["count"] == 52 and answer["event_index"] == 0
    block = (await running.get(f"/v1/blocks/{AGENCY}/{answer['height']}")).json()
    assert block["block"]["event_count"] == 52
    again = await running.post("/v1/credentials/batch", {"request_id": "b-1", "operations": ops})
    assert again.json()["height"] == answer["height"]  # idempotent: nothing appended
    status = (await running.get(f"/v1/credentials/{AGENCY}/{cid(301).hex()}")).json()
    assert status["credential"]["status"] == "revoked"

    # one operation breaks a rule: the whole batch is refused and nothing is written
    heads_before = (await running.get("/v1/status")).json()["heads"]
    bad_ops = [
        {"op": "issue", **{k: v for k, v in issue_body(400).items() if k != "request_id"}},
        {"op": "reinstate", "credential_id": cid(301).hex()},
    ]
    refused = await running.post(
        "/v1/credentials/batch", {"request_id": "b-2", "operations": bad_ops}
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "revoked_final"
    assert (await running.get("/v1/status")).json()["heads"] == heads_before
    gone = await running.get(f"/v1/credentials/{AGENCY}/{cid(400).hex()}")
    assert gone.status_code == 404

    for body, reason in [
        ({"request_id": "b-3", "operations": []}, "operations"),
        ({"request_id": "b-4", "operations": [{"op": "burn"}]}, "op must be"),
        ({"request_id": "b-5", "operations": [{"op": "revoke"}]}, "missing"),
    ]:
        response = await running.post("/v1/credentials/batch", body)
        assert response.status_code == 400 and reason in response.json()["error"]["message"]


async def test_a_bad_submission_is_refused_and_its_block_neighbours_committed(
    running: Running,
) -> None:
    """Requests that arrive together share a block; one breaking a rule fails that block's first
    authoring, and the producer then answers it and commits the others."""
    answers: dict[str, Any] = {}

    async def send(name: str, path: str, body: dict[str, Any]) -> None:
        answers[name] = await running.post(path, body)

    unknown = cid(9_999).hex()
    async with trio.open_nursery() as nursery:
        for n in range(70, 82):
            nursery.start_soon(send, f"issue-{n}", "/v1/credentials/issue", issue_body(n))
        nursery.start_soon(
            send,
            "revoke-unknown",
            f"/v1/credentials/{unknown}/revoke",
            {"request_id": "rv-unknown", "reason": "ceased"},
        )
        nursery.start_soon(
            send, "issue-twice", "/v1/credentials/issue", issue_body(75, "issue-75-again")
        )
    refused = answers.pop("revoke-unknown")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "unknown_credential"
    # One of the two issuances of credential 75 is refused as a duplicate, the other committed.
    twins = [answers.pop("issue-75"), answers.pop("issue-twice")]
    assert sorted(t.status_code for t in twins) == [200, 409]
    duplicate = next(t for t in twins if t.status_code == 409)
    assert "already issued" in duplicate.json()["error"]["message"]
    assert all(a.status_code == 200 for a in answers.values()), {
        k: a.text for k, a in answers.items() if a.status_code != 200
    }
    for n in range(70, 82):
        doc = (await running.get(f"/v1/credentials/{AGENCY}/{cid(n).hex()}")).json()
        assert doc["credential"]["status"] == "active"
