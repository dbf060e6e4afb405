"""The plugin host: discovery, per-plugin configuration, enable/disable, supervised services.

Plugins are found through the ``calpe.plugins`` entry-point group (see :mod:`.hookspecs`). The
host keeps every failure inside the plugin that caused it: a plugin that cannot be imported, whose
table does not validate, whose hook raises or whose service crashes is marked ``failed``, logged
and reported as a ``plugin_failure`` alert; services are restarted with backoff; the node runs on.
Whether a plugin is enabled is persisted in the store (cursor ``plugins_host.enabled.<name>``),
so a ``disable`` survives a restart; plugins are enabled by default.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy
import trio

from node.core.errors import CalpeError, ConfigError
from node.plugins_host import hookspecs
from node.plugins_host.hookspecs import ENTRY_POINT_GROUP, PROJECT, Service
from node.services.alerts import AlertBook
from node.services.store_access import StoreAccess

log = logging.getLogger(__name__)

_MAX_ERRORS = 10


class UnknownPluginError(CalpeError):
    """No plugin of that name is installed."""


@dataclass
class PluginState:
    name: str
    module: object | None
    enabled: bool = True
    state: str = "stopped"
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=_MAX_ERRORS))
    settings: Any = None
    scope: trio.CancelScope | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "state": self.state,
            "errors": list(self.errors),
        }


def discover() -> tuple[dict[str, object], dict[str, str]]:
    """Installed plugins by name, and the ones that failed to load with the reason."""
    found: dict[str, object] = {}
    broken: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken plugin must not stop the node or the CLI
            log.exception("plugin %s (%s) failed to load", ep.name, ep.value)
            broken[ep.name] = f"cannot load {ep.value}: {type(exc).__name__}: {exc}"
    return found, broken


def plugin_manager(plugins: Mapping[str, object]) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    for name, module in plugins.items():
        manager.register(module, name=name)
    return manager


def cli_commands(plugins: Mapping[str, object] | None = None) -> list[Any]:
    """Every installed plugin's CLI commands; a plugin whose hook raises adds none."""
    if plugins is None:
        plugins, _ = discover()
    manager = plugin_manager(plugins)
    commands: list[Any] = []
    for name, module in plugins.items():
        try:
            for result in _only(manager, module).calpe_cli_commands():
                commands.extend(result)
        except Exception:
            log.exception("plugin %s failed to add its CLI commands", name)
    return commands


def _only(manager: pluggy.PluginManager, module: object) -> Any:
    """A hook relay that calls ``module``'s implementations only."""
    others = [p for p in manager.get_plugins() if p is not module]

    class _Relay:
        def __getattr__(self, hook: str) -> Any:
            return manager.subset_hook_caller(hook, remove_plugins=others)

    return _Relay()


class PluginHost:
    """Runs the plugins of one node. ``plugins`` overrides discovery (tests)."""

    def __init__(
        self,
        plugin_tables: Mapping[str, Mapping[str, Any]],
        source: str,
        alerts: AlertBook,
        store: StoreAccess,
        *,
        plugins: Mapping[str, object] | None = None,
    ) -> None:
        self._alerts = alerts
        self._store = store
        broken: dict[str, str] = {}
        if plugins is None:
            plugins, broken = discover()
        self._manager = plugin_manager(plugins)
        self._states = {name: PluginState(name, module) for name, module in plugins.items()}
        for name, reason in broken.items():
            self._states[name] = PluginState(name, None)
            self._fail(self._states[name], reason)
        for name in plugin_tables:
            if name not in self._states:
                self._alerts.raise_alert(
                    "warning",
                    "plugin_failure",
                    f"{source}: [plugins.{name}] names no installed plugin (installed: "
                    f"{', '.join(sorted(self._states)) or 'none'})",
                )
        for state in self._states.values():
            if state.module is not None:
                self._configure(state, dict(plugin_tables.get(state.name, {})), source)
        self._node: Any = None
        self._nursery: trio.Nursery | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def run(self, node: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Start the enabled plugins' services; run until cancelled."""
        self._node = node
        for state in self._states.values():
            flag = await self._store.call(self._store.store.cursor, _enabled_cursor(state.name))
            if flag is not None:
                state.enabled = flag == b"1"
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for state in self._states.values():
                if state.enabled:
                    self._start(state)
            task_status.started()
            await trio.sleep_forever()

    async def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        state = self._states.get(name)
        if state is None:
            raise UnknownPluginError(
                f"no plugin named {name!r} is installed (installed: "
                f"{', '.join(sorted(self._states)) or 'none'})"
            )
        await self._store.call(
            self._store.store.set_cursor, _enabled_cursor(name), b"1" if enabled else b"0"
        )
        state.enabled = enabled
        if enabled and state.scope is None:
            self._start(state)
        elif not enabled and state.scope is not None:
            state.scope.cancel()
            state.scope = None
            state.state = "stopped"
        log.info("plugin %s %s", name, "enabled" if enabled else "disabled")
        return state.to_json()

    def states(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in sorted(self._states.values(), key=lambda s: s.name)]

    def state(self, name: str) -> PluginState | None:
        return self._states.get(name)

    # --- hooks the node forwards -------------------------------------------------------------

    def checkpoint_signed(self, epoch: int, root: bytes) -> None:
        for state in self._running():
            self._call(
                state, "calpe_checkpoint_signed", node=self._node, epoch=epoch, checkpoint_root=root
            )

    def status_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for state in self._running():
            for result in self._call(state, "calpe_status", node=self._node) or []:
                if result:
                    fields.update(result)
        return fields

    # --- internals ---------------------------------------------------------------------------

    def _running(self) -> Iterable[PluginState]:
        return [s for s in self._states.values() if s.enabled and s.module is not None]

    def _call(self, state: PluginState, hook: str, **kwargs: Any) -> Any:
        try:
            return getattr(_only(self._manager, state.module), hook)(**kwargs)
        except Exception as exc:
            log.exception("plugin %s hook %s failed", state.name, hook)
            self._fail(state, f"{hook}: {type(exc).__name__}: {exc}")
            return None

    def _configure(self, state: PluginState, table: dict[str, Any], source: str) -> None:
        try:
            state.settings = _only(self._manager, state.module).calpe_configure(
                table=table, source=source
            )
        except ConfigError as exc:
            self._fail(state, str(exc))
            state.module = None  # misconfigured: never started
        except Exception as exc:
            log.exception("plugin %s failed to validate its config", state.name)
            self._fail(state, f"calpe_configure: {type(exc).__name__}: {exc}")
            state.module = None

    def _start(self, state: PluginState) -> None:
        if state.module is None or state.settings is None or self._nursery is None:
            return
        services = self._call(state, "calpe_services", node=self._node, settings=state.settings)
        if services is None:
            return
        scope = trio.CancelScope()
        state.scope = scope
        state.state = "running"
        for batch in services:
            for service in batch:
                self._nursery.start_soon(self._supervise, state, service, scope)

    async def _supervise(
        self, state: PluginState, service: Service, scope: trio.CancelScope
    ) -> None:
        backoff = 1.0
        with scope:
            while True:
                started = trio.current_time()
                try:
                    await service.run(self._node)
                    problem = f"service {service.name} stopped by itself"
                except Exception as exc:
                    log.exception("plugin %s service %s crashed", state.name, service.name)
                    problem = f"service {service.name}: {type(exc).__name__}: {exc}"
                if trio.current_time() - started > 4 * backoff:
                    backoff = 1.0
                self._fail(state, f"{problem}; restarting in {backoff:.0f} s")
                await trio.sleep(backoff)
                backoff = min(backoff * 2, service.max_backoff_s)
                state.state = "running"

    def _fail(self, state: PluginState, message: str) -> None:
        state.state = "failed"
        state.errors.append(message)
        self._alerts.raise_alert("warning", "plugin_failure", f"plugin {state.name}: {message}")


def _enabled_cursor(name: str) -> str:
    return f"plugins_host.enabled.{name}"
