"""The yamux tuning the host applies: ours by default, an operator's if exported."""

from __future__ import annotations

import os

import pytest

from node.network.gating import MemberGate
from node.network.host import build_host
from node.network.identity import key_pair_from_seed
from tests.network.netutil import Member, config_for

SETTING = "PY_YAMUX_RELEASE_ON_READ"


def _build() -> None:
    member = Member()
    build_host(
        config_for(member, [member]), key_pair_from_seed(member.seed), MemberGate([member.peer_id])
    )


def test_yamux_returns_credit_as_go_yamux_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTING, raising=False)
    _build()
    assert os.environ[SETTING] == "0"


def test_an_exported_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SETTING, "1")
    _build()
    assert os.environ[SETTING] == "1"
