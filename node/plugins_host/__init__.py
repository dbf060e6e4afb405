"""Calpe's plugin host: pluggy hookspecs (:mod:`.hookspecs`) and the supervisor (:mod:`.host`)."""

from node.plugins_host.hookspecs import Service, hookimpl
from node.plugins_host.host import PluginHost, UnknownPluginError, cli_commands

__all__ = ["PluginHost", "Service", "UnknownPluginError", "cli_commands", "hookimpl"]
