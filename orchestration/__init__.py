"""The Dagster code location of the warehouse (``orchestration.definitions.defs``).

``run_nightly(partition_date)`` materialises the nightly job in-process and returns a
``NightlySummary`` (imported lazily: importing the package does not build the definitions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestration.nightly import NightlySummary, run_nightly

__all__ = ["NightlySummary", "run_nightly"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from orchestration import nightly

        return getattr(nightly, name)
    raise AttributeError(name)
