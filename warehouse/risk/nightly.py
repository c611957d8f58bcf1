"""The nightly risk run, the intraday check and the ranking's publication.

Steps (each callable on its own; ``run_night`` chains them):

1. ``run_nightly_risk(as_of)``: ``dbt build`` of the risk marts for the as-of date
   (``fct_risk_factor_history``, ``fct_risk_option_marks``, ``fct_portfolio_risk`` and what
   unpacks it, ``analytics.portfolio_risk``), then ``ops.check_risk_limits`` on the stored
   report: every breach is kept in ``ops.limit_breaches`` and a breach of a halting limit calls
   ``ops.halt_trading`` (cleared only by the audited ``ops.resume_trading``).
2. ``build_nightly_ranking(as_of)``: ``dbt build`` of ``fct_order_candidates`` and
   ``fct_nightly_ranking`` (signals -> structures -> plans -> scores, rationale).
3. ``publish_nightly_ranking(as_of)`` / ``publish_ranking(conn, as_of)``: one transaction,
   ``ops.run_strategy_dispatch``: the top K with the risk budget -> ``ops.nightly_rankings``
   plus the order intents (``ops.enqueue_intent``: intent, legs, outbox event) or, while
   halted, ``ops.held_intents``; ``analytics.nightly_ranking`` reads the result. Idempotent per
   as-of (a published as-of is returned unchanged, with the same intent ids).

``check_intraday(conn)``: the live report (``ops.portfolio_risk_report`` on the latest marks
and the current positions) checked against the limits: the same circuit breaker between
nights (``warehouse risk check``).

The orchestrator calls the three ``*_nightly_*`` functions with the session date; each returns
a small mapping for its materialisation metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

MARKET_SELECT = ("fct_risk_factor_history", "fct_risk_option_marks")
RISK_SELECT = ("fct_portfolio_risk+",)
RANKING_SELECT = ("path:models/marts/ranking",)
NIGHTLY_WHO = "risk-run"


class RiskRunError(RuntimeError):
    """A nightly step could not run (dbt failed, no data for the as-of date)."""


@dataclass(frozen=True)
class LimitCheck:
    as_of: date
    source: str
    rows: list[dict[str, Any]]  # every enabled limit: name, metric, kind, threshold, value...
    halted: bool  # trading is halted after the check

    @property
    def breaches(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["breached"]]


def _vars(as_of: date, extra: Mapping[str, Any] | None = None) -> str:
    return json.dumps({"risk_as_of": as_of.isoformat(), **dict(extra or {})})


def dbt_build(select: tuple[str, ...], as_of: date, extra_vars: Mapping | None = None) -> None:
    """``dbt build --select ...`` with ``risk_as_of``; RiskRunError when dbt fails."""
    from warehouse.dbt import run_dbt

    code = run_dbt(["build", "--quiet", "--select", *select, "--vars", _vars(as_of, extra_vars)])
    if code != 0:
        raise RiskRunError(f"dbt build --select {' '.join(select)} failed (exit {code})")


def latest_as_of(conn: psycopg.Connection, on_or_before: date | None = None) -> date | None:
    """The latest session with option marks, on or before ``on_or_before`` when given."""
    row = conn.execute(
        "SELECT max(quote_date) FROM marts.fct_risk_option_marks "
        "WHERE %(d)s::date IS NULL OR quote_date <= %(d)s::date",
        {"d": on_or_before},
    ).fetchone()
    return row[0] if row else None


def check_limits(
    conn: psycopg.Connection,
    as_of: date,
    report: Mapping[str, Any],
    *,
    who: str = NIGHTLY_WHO,
    source: str = "nightly",
) -> LimitCheck:
    """``ops.check_risk_limits`` on a report, in its own transaction (breaches recorded, halt)."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM ops.check_risk_limits(%s, %s, %s, %s)",
            (as_of, Jsonb(dict(report)), who, source),
        ).fetchall()
        halted = conn.execute("SELECT halted FROM ops.trading_state").fetchone()[0]
    return LimitCheck(as_of, source, rows, bool(halted))


def stored_report(conn: psycopg.Connection, as_of: date) -> dict[str, Any]:
    row = conn.execute(
        "SELECT report FROM marts.fct_portfolio_risk WHERE as_of = %s", (as_of,)
    ).fetchone()
    if row is None:
        raise RiskRunError(f"no marts.fct_portfolio_risk row for {as_of}: run the risk marts")
    return row[0]


def check_nightly(conn: psycopg.Connection, as_of: date, who: str = NIGHTLY_WHO) -> LimitCheck:
    """The nightly limit check on the stored ``fct_portfolio_risk`` report of ``as_of``."""
    return check_limits(conn, as_of, stored_report(conn, as_of), who=who, source="nightly")


def check_intraday(
    conn: psycopg.Connection,
    as_of: date | None = None,
    *,
    paths: int | None = None,
    who: str = "risk-check",
) -> LimitCheck:
    """The intraday check: a live report on the current positions and the latest marks (or
    ``as_of``), checked against the limits (same breaker as the nightly run)."""
    as_of = as_of or latest_as_of(conn)
    if as_of is None:
        raise RiskRunError("no option marks: build marts.fct_risk_option_marks first")
    report = conn.execute("SELECT ops.portfolio_risk_report(%s, %s)", (as_of, paths)).fetchone()[0]
    return check_limits(conn, as_of, report, who=who, source="intraday")


def publish_ranking(
    conn: psycopg.Connection,
    as_of: date,
    *,
    top_k: int | None = None,
    account: str = "main",
    who: str = "nightly-ranking",
) -> list[dict[str, Any]]:
    """Publish the night's top K of ``marts.fct_nightly_ranking`` with their order intents in
    ONE transaction (``ops.run_strategy_dispatch``); returns the published rows (rank,
    underlying, structure, intent_id, intent_status, intent_reason). Idempotent per as-of."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM ops.run_strategy_dispatch(%s, %s, %s, %s)",
            (as_of, top_k, account, who),
        ).fetchall()


def _connect():
    from warehouse.db.connect import connect

    return connect("pipeline", autocommit=True)


def _as_of_for(conn: psycopg.Connection, session_date: date) -> date:
    as_of = latest_as_of(conn, session_date)
    if as_of is None:
        raise RiskRunError(f"no option marks on or before {session_date}")
    return as_of


def run_nightly_risk(session_date: date, *, build: bool = True) -> dict[str, Any]:
    """Step 1 of the night (see the module docstring); returns the key figures."""
    if build:
        dbt_build(MARKET_SELECT, session_date)
    with _connect() as conn:
        as_of = _as_of_for(conn, session_date)
    if build:
        dbt_build(RISK_SELECT, as_of)
    with _connect() as conn:
        check = check_nightly(conn, as_of)
        risk = conn.execute(
            "SELECT n_positions, var_95_1d, var_99_1d, es_99_1d, worst_stress_scenario "
            "FROM marts.fct_portfolio_risk WHERE as_of = %s",
            (as_of,),
        ).fetchone()
    return {
        "as_of": str(as_of),
        "n_positions": risk[0],
        "var_95_1d": round(risk[1], 2),
        "var_99_1d": round(risk[2], 2),
        "es_99_1d": round(risk[3], 2),
        "worst_stress_scenario": risk[4],
        "breaches": ", ".join(b["limit_name"] for b in check.breaches) or "none",
        "halted": check.halted,
    }


def build_nightly_ranking(session_date: date) -> dict[str, Any]:
    """Step 2: the ranking marts for the as-of date; returns candidate counts."""
    with _connect() as conn:
        as_of = _as_of_for(conn, session_date)
    dbt_build(RANKING_SELECT, as_of)
    with _connect() as conn:
        counts = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'accepted') "
            "FROM marts.fct_order_candidates WHERE as_of = %s",
            (as_of,),
        ).fetchone()
    return {"as_of": str(as_of), "candidates": counts[0], "accepted": counts[1]}


def publish_nightly_ranking(session_date: date, *, top_k: int | None = None) -> dict[str, Any]:
    """Step 3: publish the top K with their intents (one transaction)."""
    from warehouse.dbt import run_dbt

    with _connect() as conn:
        as_of = _as_of_for(conn, session_date)
        rows = publish_ranking(conn, as_of, top_k=top_k)
    # the analyst view over ops.nightly_rankings (a view: building it is instant)
    run_dbt(["run", "--quiet", "--select", "nightly_ranking", "--vars", _vars(as_of)])
    status: dict[str, int] = {}
    for r in rows:
        status[r["intent_status"]] = status.get(r["intent_status"], 0) + 1
    return {"as_of": str(as_of), "picks": len(rows), **status}


def run_night(session_date: date, *, build: bool = True, top_k: int | None = None) -> dict:
    """The whole night: risk run (limits, breaker), ranking marts, publication."""
    out = {"risk": run_nightly_risk(session_date, build=build)}
    if build:
        out["ranking"] = build_nightly_ranking(session_date)
    out["publication"] = publish_nightly_ranking(session_date, top_k=top_k)
    return out
