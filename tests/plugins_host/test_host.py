"""The plugin host: discovery, containment of failures, enable/disable, config errors."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from node.core.errors import ConfigError
from node.plugins_host import PluginHost, Service, UnknownPluginError, hookimpl
from node.plugins_host.host import cli_commands, discover
from node.services.alerts import AlertBook
from node.services.bus import UpdateBus
from node.services.store_access import StoreAccess
from node.storage.store import LedgerStore
from tests.factories import make_network


class Crashing:
    """A plugin whose service fails at once, every time."""

    def __init__(self) -> None:
        self.runs = 0

    @hookimpl
    def calpe_configure(self, table: Mapping[str, Any], source: str) -> Any:
        return dict(table)

    @hookimpl
    def calpe_services(self, node: Any, settings: Any) -> list[Service]:
        async def run(_node: Any) -> None:
            self.runs += 1
            raise RuntimeError("boom")

        return [Service("crash", run, max_backoff_s=0.01)]


class Sleeper:
    """A well-behaved plugin that counts its starts and validates one field."""

    def __init__(self) -> None:
        self.started = 0

    @hookimpl
    def calpe_configure(self, table: Mapping[str, Any], source: str) -> Any:
        if "speed" in table and not isinstance(table["speed"], int):
            raise ConfigError(f"{source}: field 'plugins.sleeper.speed': expected an integer")
        return dict(table)

    @hookimpl
    def calpe_services(self, node: Any, settings: Any) -> list[Service]:
        async def run(_node: Any) -> None:
            self.started += 1
            await trio.sleep_forever()

        return [Service("sleep", run)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StoreAccess]:
    with LedgerStore.open(tmp_path / "db", make_network().genesis) as opened:
        yield StoreAccess(opened)


def _host(
    store: StoreAccess, plugins: dict[str, object], tables: Any = None
) -> tuple[PluginHost, AlertBook]:
    alerts = AlertBook(UpdateBus())
    return PluginHost(tables or {}, "node.toml", alerts, store, plugins=plugins), alerts


def test_the_rsk_bridge_is_discovered_through_its_entry_point() -> None:
    found, broken = discover()
    assert "rsk_bridge" in found and not broken
    assert "rsk" in [c.name for c in cli_commands(found)]


def test_a_config_error_names_the_file_and_field_and_is_contained(store: StoreAccess) -> None:
    host, alerts = _host(store, {"sleeper": Sleeper()}, {"sleeper": {"speed": "fast"}})
    (state,) = host.states()
    assert state["state"] == "failed"
    assert "node.toml: field 'plugins.sleeper.speed'" in state["errors"][0]
    assert [a.kind for a in alerts.recent()] == ["plugin_failure"]


def test_the_rsk_bridge_rejects_a_bad_table(store: StoreAccess) -> None:
    found, _ = discover()
    host, _ = _host(store, {"rsk_bridge": found["rsk_bridge"]}, {"rsk_bridge": {"rpc_url": 5}})
    (state,) = host.states()
    assert state["state"] == "failed"
    assert "node.toml: field 'plugins.rsk_bridge.rpc_url'" in state["errors"][0]


def test_a_table_for_no_installed_plugin_is_reported(store: StoreAccess) -> None:
    _, alerts = _host(store, {}, {"nothere": {}})
    assert "[plugins.nothere]" in alerts.recent()[0].message


@pytest.mark.trio
async def test_a_crashing_service_is_restarted_and_never_stops_the_node(
    store: StoreAccess,
) -> None:
    crashing, sleeper = Crashing(), Sleeper()
    host, alerts = _host(
        store, {"crashing": crashing, "sleeper": sleeper}, {"crashing": {"a": 1}, "sleeper": {}}
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(host.run, object())
        with trio.fail_after(10):
            while crashing.runs < 2:
                await trio.sleep(0.01)
        states = {s["name"]: s for s in host.states()}
        assert states["crashing"]["errors"] and "boom" in states["crashing"]["errors"][0]
        assert states["sleeper"]["state"] == "running"
        assert any(a.kind == "plugin_failure" for a in alerts.recent())
        nursery.cancel_scope.cancel()


@pytest.mark.trio
async def test_disable_stops_a_plugin_and_is_persisted(store: StoreAccess) -> None:
    sleeper = Sleeper()
    host, _ = _host(store, {"sleeper": sleeper}, {"sleeper": {}})
    async with trio.open_nursery() as nursery:
        await nursery.start(host.run, object())
        await trio.sleep(0)
        assert (await host.set_enabled("sleeper", False))["state"] == "stopped"
        with pytest.raises(UnknownPluginError):
            await host.set_enabled("nope", True)
        nursery.cancel_scope.cancel()
    again, _ = _host(store, {"sleeper": sleeper}, {"sleeper": {}})
    async with trio.open_nursery() as nursery:
        await nursery.start(again.run, object())
        assert again.states()[0]["enabled"] is False
        assert (await again.set_enabled("sleeper", True))["state"] == "running"
        await trio.sleep(0.05)
        assert sleeper.started == 2
        nursery.cancel_scope.cancel()
