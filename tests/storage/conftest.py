from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.storage import LedgerStore
from tests.factories import TestNetwork, make_network


@pytest.fixture(scope="module")
def net() -> TestNetwork:
    return make_network(3)


@pytest.fixture
def store(tmp_path: Path, net: TestNetwork) -> Iterator[LedgerStore]:
    with LedgerStore.open(tmp_path / "ledger", net.genesis, retention=20) as opened:
        yield opened
