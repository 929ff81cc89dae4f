"""Modules imported when they are first used, by commands and stages that may never need them."""

from __future__ import annotations

import importlib


class OnFirstUse:
    """Stands for a module, and imports it when one of its attributes is first read.

    The renderer's imports (Jinja, markdown-it, pikepdf, ...) take a tenth of a second or more:
    `build` with nothing changed, `--help` and `--version` need not pay for them, and a build
    starts its render workers before it pays (builder.build).
    """

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)


def modules(*names: str) -> tuple[OnFirstUse, ...]:
    """Stand-ins for clearleaf's modules of these names."""
    return tuple(OnFirstUse(f"clearleaf.{name}") for name in names)
