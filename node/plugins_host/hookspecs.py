"""The hooks a Calpe plugin may implement (pluggy, project name ``calpe``).

A plugin is a module (or object) registered under the ``calpe.plugins`` entry-point group::

    [project.entry-points."calpe.plugins"]
    rsk_bridge = "plugins.rsk_bridge.plugin"

The entry-point name is the plugin's name: its config table is ``[plugins.<name>]`` in the node's
TOML file and its cursors in the store should start with ``<name>``. Every hook is synchronous
and MUST return quickly; long-running work belongs in a :class:`Service` returned by
:func:`calpe_services`, which the node runs and supervises. Anything a hook or service raises is
contained by the host: it is logged, raised as a ``plugin_failure`` alert and shown in the
plugin's state, and the node keeps running.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pluggy

PROJECT = "calpe"
ENTRY_POINT_GROUP = "calpe.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class PluginNode(Protocol):
    """What a plugin's services may use of the node (a :class:`~node.services.node.LedgerNode`).

    - ``agency_id``, ``genesis``, ``config`` (the validated node config, ``config.source`` is
      the file);
    - ``store``: ``await node.store.call(fn, ...)`` runs ``fn`` in the store's thread; cursors via
      ``store.store.cursor(name)`` / ``set_cursor(name, value)``;
    - ``checkpointer``: :class:`~node.services.checkpoints.CheckpointService`
      (``signed_after``, ``wait_signed``, ``set_anchor_state``, ``schedule``, ``quorum``);
    - ``alerts.raise_alert(level, kind, message)``.
    """

    agency_id: str


@dataclass(frozen=True)
class Service:
    """A long-running task of a plugin: ``run(node)`` is awaited inside the node's nursery.

    It SHOULD run until cancelled. If it returns or raises, the host restarts it with
    exponential backoff (1 s doubling up to ``max_backoff_s``) and reports the failure. It MUST
    resume from its own persisted cursor: a restart or a node crash may happen at any point.
    """

    name: str
    run: Callable[[Any], Awaitable[None]]
    max_backoff_s: float = 60.0


@hookspec(firstresult=True)
def calpe_configure(table: Mapping[str, Any], source: str) -> Any:
    """Validate this plugin's ``[plugins.<name>]`` table (``{}`` when the file has none).

    Return the plugin's settings object, or ``None`` when the plugin has nothing to run with this
    configuration. Raise :class:`~node.core.errors.ConfigError` naming ``source`` (the config
    file) and the field, e.g. ``"node.toml: field 'plugins.rsk_bridge.rpc_url': ..."``.
    Called only for the plugin whose table it is.
    """
    raise NotImplementedError


@hookspec
def calpe_services(node: PluginNode, settings: Any) -> list[Service]:
    """The long-running services of this plugin, given the ``settings`` that
    :func:`calpe_configure` returned. Called when the plugin is started or re-enabled."""
    raise NotImplementedError


@hookspec
def calpe_checkpoint_signed(node: PluginNode, epoch: int, checkpoint_root: bytes) -> None:
    """A checkpoint reached its quorum of signatures (called once per epoch and node run, in the
    node's event loop: only set flags or wake a service here)."""


@hookspec
def calpe_status(node: PluginNode) -> Mapping[str, Any] | None:
    """Fields this plugin adds to the node's status, e.g. ``{"rsk": {...}}`` (or None)."""
    raise NotImplementedError


@hookspec
def calpe_cli_commands() -> list[Any]:
    """``click`` commands or groups to add to the ``calpe`` command (e.g. ``calpe rsk``).
    Called at CLI start-up for every installed plugin, enabled or not."""
    raise NotImplementedError
