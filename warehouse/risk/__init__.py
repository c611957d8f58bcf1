"""The portfolio risk engine's runtime: the demo book, the nightly risk run (dbt risk marts,
limit check, circuit breaker), the intraday check and the nightly ranking's publication.

Data flow: ``ops.positions`` (the book) and the market marts -> ``marts.fct_portfolio_risk``
(dbt, one row per as-of, computed by ``ops.portfolio_risk_report``) -> ``ops.check_risk_limits``
(breaches kept in ``ops.limit_breaches``, ``ops.halt_trading`` on a breach) ->
``marts.fct_order_candidates`` / ``marts.fct_nightly_ranking`` (dbt) ->
``ops.run_strategy_dispatch`` (top K with the risk budget, order intents and
``ops.nightly_rankings`` in one transaction) -> ``analytics.nightly_ranking``.

Modules: ``demo_book`` (a deterministic demo book in ``ops.positions``), ``nightly`` (the
steps, callable from Python and from the orchestrator), ``commands`` (``warehouse risk``).
The orchestrator's nightly steps call ``run_nightly_risk``, ``build_nightly_ranking`` and
``publish_nightly_ranking`` with the session date.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "build_nightly_ranking",
    "publish_nightly_ranking",
    "publish_ranking",
    "run_nightly_risk",
    "seed_demo_book",
]


def __getattr__(name: str) -> Any:  # lazy: `warehouse --help` should not import numpy
    if name in (
        "build_nightly_ranking",
        "publish_nightly_ranking",
        "publish_ranking",
        "run_nightly_risk",
    ):
        from warehouse.risk import nightly

        return getattr(nightly, name)
    if name == "seed_demo_book":
        from warehouse.risk.demo_book import seed_demo_book

        return seed_demo_book
    raise AttributeError(name)
