"""The RSK bridge as a Calpe plugin, registered through the ``calpe.plugins`` entry point
exactly like a third-party plugin (``rsk_bridge = "plugins.rsk_bridge.plugin"``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node.plugins_host.hookspecs import PluginNode, Service, hookimpl
from plugins.rsk_bridge.bridge import Bridge
from plugins.rsk_bridge.settings import BridgeSettings

# One module serves every node of the process (tests run several): bridges by node.
_BRIDGES: dict[int, Bridge] = {}


@hookimpl
def calpe_configure(table: Mapping[str, Any], source: str) -> BridgeSettings | None:
    if not table:
        return None  # no [plugins.rsk_bridge] table: nothing to anchor with
    return BridgeSettings.from_table(table, source)


@hookimpl
def calpe_services(node: PluginNode, settings: BridgeSettings) -> list[Service]:
    bridge = Bridge(settings)
    _BRIDGES[id(node)] = bridge
    return [Service("rsk_bridge", bridge.run)]


@hookimpl
def calpe_checkpoint_signed(node: PluginNode, epoch: int, checkpoint_root: bytes) -> None:
    bridge = _BRIDGES.get(id(node))
    if bridge is not None:
        bridge.wake()


@hookimpl
def calpe_status(node: PluginNode) -> Mapping[str, Any] | None:
    bridge = _BRIDGES.get(id(node))
    status = bridge.status() if bridge is not None else None
    return {"rsk": status} if status is not None else None


@hookimpl
def calpe_cli_commands() -> list[Any]:
    from plugins.rsk_bridge.cli import rsk

    return [rsk]
