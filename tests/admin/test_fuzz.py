"""Property-based fuzzing of the admin API against its own OpenAPI schema (schemathesis).

The node runs in a background thread (its own trio loop) and is reached over TCP with the token.
Every operation gets schema-valid and schema-invalid requests; no answer may be a 5xx, use an
undocumented status, or break the response schema. Bounded to a few dozen examples per operation.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.admin.conftest import BASE_BLOCKS, TOKEN, make_network, start_node

pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    # schemathesis' strategies draw from `random`, which this hypothesis version deprecates
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

SKIPPED = {"/v1/stream", "/v1/backup"}  # an endless stream; backups are tested on their own
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live() -> Iterator[str]:
    net = make_network('\n[admin]\ntcp = "127.0.0.1:0"\ntoken_file = "token"\n')
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        stop = trio.Event()
        state["stop"], state["token"] = stop, trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery, start_node(nursery, net, BASE_BLOCKS) as node:
            state["url"] = f"http://{node.endpoints.tcp}"
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    assert ready.wait(60), "the node did not start"
    yield state["url"]
    state["token"].run_sync_soon(state["stop"].set)
    thread.join(60)
    shutil.rmtree(net.root.parent, ignore_errors=True)


def test_api_conforms_to_its_schema(live: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    spec = httpx.get(f"{live}/openapi.json", headers=headers).json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    tested = 0
    for operation in operations:
        if operation.path in SKIPPED:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=50,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                response = case.call(base_url=live, headers=headers, timeout=20)
                case.validate_response(response, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:  # nothing invalid to send (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE, operation.path
        tested += 1
    assert tested >= 19
