"""The notification channels, one module each, registered in one table: CHANNELS, by kind.

A module of this package that defines `CHANNEL` (a base.Channel whose kind is the module's name)
is a channel; nothing else has to name it. docs/architecture.md, Notification channels."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from app.notifications.channels.base import Channel


def _discover() -> dict[str, Channel[Any]]:
    table: dict[str, Channel[Any]] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        channel = getattr(module, "CHANNEL", None)
        if not isinstance(channel, Channel) or channel.kind != module_info.name:
            raise ImportError(f"{module.__name__} must define CHANNEL, a Channel whose kind is {module_info.name!r}")
        table[channel.kind] = channel
    return table


CHANNELS: dict[str, Channel[Any]] = _discover()
KINDS: tuple[str, ...] = tuple(CHANNELS)
