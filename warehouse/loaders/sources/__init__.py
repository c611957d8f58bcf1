"""Source formats. Every module in this package registers its sources on import."""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    """Import every source module so that ``base.SOURCES`` is complete."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
