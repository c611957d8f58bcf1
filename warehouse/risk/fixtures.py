"""Fixtures of the risk engine's tests and demos: a simulated world built up to the risk marts,
and stand-in signal marts (``fct_signals``, ``fct_signal_decisions``, ``fct_signal_hit_rates``
with the columns of the signals contract, and ``fct_signal_regimes``) for databases where the
signal models are not built.

``isolated_database`` gives a test module a database of its own; ``ensure_world`` simulates
(numpy PCG64, same arguments same bytes), loads and builds the models the risk engine reads,
once per database (a second call finds them and returns).
``signal_fixtures`` writes one 'enter' decision per underlying of an as-of date: sell_vol where
the 30-day IV is above the 20-day realized vol, buy_vol below, and every
``directional_every``-th underlying directional (long after a 5-day rise, short after a fall);
hit rates of every strategy / direction / strength bucket (the buckets of fct_signal_outcomes)
at ``hit_rate`` over ``n_signals``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg

WORLD_SEED = 21
WORLD_UNDERLYINGS = 20
WORLD_DAYS = 30
# the world's dates; the tests build it in a database of their own (isolated_database), and
# the risk engine's factor history reaches back 380 calendar days at most
WORLD_START = date(2025, 1, 2)
UPSTREAM_SELECT = (
    "+fct_risk_option_marks",
    "+fct_risk_factor_history",
    "+fct_options_features",
)

SIGNAL_TABLES = {
    "fct_signals": (
        "as_of date, strategy text, underlying text, pair_id text, instrument text, "
        "direction text, strength float8, confidence float8, expected_edge float8, "
        "metadata jsonb, model_version text"
    ),
    "fct_signal_decisions": (
        "as_of date, underlying text, side text, action text, long_confidence float8, "
        "short_confidence float8, strength float8, strategies text[], signal_count integer, "
        "exit_signals integer, metadata jsonb"
    ),
    "fct_signal_hit_rates": (
        "as_of date, strategy text, direction text, strength_bucket text, n_signals integer, "
        "hit_rate_5d float8, hit_rate_20d float8, mean_fwd_return_5d float8, "
        "mean_fwd_return_20d float8"
    ),
    "fct_signal_regimes": "as_of date, underlying text, regime text, state_probability float8",
}


@dataclass(frozen=True)
class World:
    dates: list[date]
    underlyings: list[str]

    @property
    def as_of(self) -> date:
        return self.dates[-1]


@contextlib.contextmanager
def isolated_database(name: str) -> Iterator[str]:
    """Point the settings (``WAREHOUSE_DB``) at a fresh database ``name`` (migrated, UDFs
    deployed) for the duration of the block, then drop it and restore the previous one.

    The world's dbt models are incremental, and their rebuild windows follow the newest date
    already built: in a database shared with modules that simulate other dates (and the same
    SIMAA, SIMAB, ... symbols) the worlds would leak into each other's builds and histories.
    """
    from psycopg import sql

    from warehouse.config import settings
    from warehouse.db.runtime import recreate_database
    from warehouse.udfs import deploy as udfs

    saved = os.environ.get("WAREHOUSE_DB")
    os.environ["WAREHOUSE_DB"] = name
    settings.cache_clear()
    try:
        recreate_database(name)
        with psycopg.connect(settings().dsn("admin"), autocommit=True) as admin:
            admin.execute("SET client_min_messages = warning")
            udfs.deploy(admin, modules=udfs.collect_package())
        yield name
    finally:
        if saved is None:
            os.environ.pop("WAREHOUSE_DB", None)
        else:
            os.environ["WAREHOUSE_DB"] = saved
        settings.cache_clear()
        server = settings().dsn("admin").rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(server, autocommit=True) as c:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _world_state(conn: psycopg.Connection) -> World | None:
    ok = conn.execute(
        "SELECT to_regclass('marts.fct_risk_option_marks') IS NOT NULL "
        "AND to_regclass('marts.fct_options_features') IS NOT NULL "
        "AND to_regclass('marts.fct_risk_factor_history') IS NOT NULL"
    ).fetchone()[0]
    if not ok:
        return None
    # the world's own sessions: other test modules simulate other date ranges in the database
    sessions = [
        r[0]
        for r in conn.execute(
            "SELECT session_date FROM ref.trading_calendar WHERE session_date >= %s "
            "ORDER BY session_date LIMIT %s",
            (WORLD_START, WORLD_DAYS),
        )
    ]
    if len(sessions) < WORLD_DAYS:
        return None
    dates = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT quote_date FROM marts.fct_risk_option_marks "
            "WHERE quote_date BETWEEN %s AND %s ORDER BY 1",
            (sessions[0], sessions[-1]),
        )
    ]
    if len(dates) < WORLD_DAYS:
        return None
    unds = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT underlying FROM marts.fct_risk_option_marks WHERE quote_date = %s "
            "ORDER BY 1",
            (dates[-1],),
        )
    ]
    return World(dates, unds)


def ensure_world(conn: psycopg.Connection, out: Path) -> World:
    """The test world (simulated, loaded, built up to the risk marts and the options
    features), built on the first call in a database."""
    state = _world_state(conn)
    if state is not None:
        return state
    from warehouse.dbt import run_dbt
    from warehouse.loaders.engine import load_path
    from warehouse.risk.nightly import RiskRunError
    from warehouse.sim import simulate

    if not (out / "manifest.json").exists():
        simulate(
            out,
            seed=WORLD_SEED,
            preset="ci",
            underlyings=WORLD_UNDERLYINGS,
            days=WORLD_DAYS,
            start=WORLD_START,
        )
    reports = load_path("sim", out, progress=False)
    failed = [r for r in reports if r.status == "failed"]
    if failed:
        raise RiskRunError(f"loading the test world failed: {failed[0].error}")
    # incremental models rebuild from their latest date: should a later world be built in
    # this database already, this one would be late data and needs a full refresh
    later = (
        conn.execute(
            "SELECT to_regclass('intermediate.int_option_quotes_iv') IS NOT NULL"
        ).fetchone()[0]
        and conn.execute(
            "SELECT EXISTS (SELECT 1 FROM intermediate.int_option_quotes_iv WHERE quote_date > %s)",
            (WORLD_START,),
        ).fetchone()[0]
    )
    code = run_dbt(
        [
            "run",
            "--quiet",
            *(["--full-refresh"] if later else []),
            "--select",
            *UPSTREAM_SELECT,
            "--exclude",
            "path:models/marts/signals",
        ]
    )
    if code != 0:
        raise RiskRunError(f"dbt run of the test world failed (exit {code})")
    state = _world_state(conn)
    if state is None:
        raise RiskRunError("the test world has no risk marks after the build")
    return state


def signal_fixtures(
    conn: psycopg.Connection,
    as_of: date,
    *,
    hit_rate: float = 0.62,
    n_signals: int = 40,
    directional_every: int = 5,
    history: bool = True,
) -> list[str]:
    """Stand-in signal marts for ``as_of`` (see the module docstring). Tables that exist
    (built by the signal models) get the rows (explicit column lists); missing ones are
    created. Returns the tables created, for ``drop_signal_fixtures``. ``history=False``
    writes no hit rates (every probability is the prior)."""
    from psycopg import sql

    created = []
    with conn.transaction():
        for name, cols in SIGNAL_TABLES.items():
            exists = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"marts.{name}",)
            ).fetchone()[0]
            if not exists:
                conn.execute(
                    sql.SQL("CREATE TABLE {} ({})").format(
                        sql.Identifier("marts", name), sql.SQL(cols)
                    )
                )
                created.append(name)
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE as_of = %s").format(sql.Identifier("marts", name)),
                (as_of,),
            )
        conn.execute(
            """
            INSERT INTO marts.fct_signals (as_of, strategy, underlying, pair_id, instrument,
                                           direction, strength, confidence, expected_edge,
                                           metadata, model_version)
            SELECT f.trade_date, d.strategy, f.underlying, NULL, f.underlying, d.direction,
                   least(0.95, 0.35 + abs(coalesce(f.vrp_20d, 0)) * 4), 0.7, f.vrp_20d,
                   '{}'::jsonb, 'fixture'
              FROM (SELECT f.*, row_number() OVER (ORDER BY f.underlying) AS k
                      FROM marts.fct_options_features AS f
                     WHERE f.trade_date = %(as_of)s) AS f
             CROSS JOIN LATERAL (
                 SELECT CASE WHEN f.k %% %(every)s = 0
                             THEN CASE WHEN f.ret_5d >= 0 THEN 'long' ELSE 'short' END
                             WHEN f.vrp_20d >= 0 THEN 'sell_vol' ELSE 'buy_vol' END AS direction,
                        CASE WHEN f.k %% %(every)s = 0 THEN 'trend_following'
                             ELSE 'iv_rank_mean_reversion' END AS strategy) AS d
            """,
            {"as_of": as_of, "every": directional_every},
        )
        conn.execute(
            """
            INSERT INTO marts.fct_signal_decisions (as_of, underlying, side, action,
                                                    long_confidence, short_confidence,
                                                    strength, strategies, signal_count,
                                                    exit_signals, metadata)
            SELECT s.as_of, s.underlying, s.direction, 'enter',
                   CASE WHEN s.direction IN ('buy_vol', 'long') THEN s.confidence
                        ELSE 1 - s.confidence END,
                   CASE WHEN s.direction IN ('buy_vol', 'long') THEN 1 - s.confidence
                        ELSE s.confidence END,
                   s.strength, ARRAY[s.strategy], 1, 0, '{}'::jsonb
              FROM marts.fct_signals AS s
             WHERE s.as_of = %s
            """,
            (as_of,),
        )
        conn.execute(
            """
            INSERT INTO marts.fct_signal_regimes (as_of, underlying, regime, state_probability)
            SELECT f.trade_date, f.underlying,
                   CASE WHEN f.iv_percentile_21d > 0.8 THEN 'high'
                        WHEN f.iv_percentile_21d < 0.2 THEN 'low' ELSE 'normal' END, 0.9
              FROM marts.fct_options_features AS f
             WHERE f.trade_date = %s
            """,
            (as_of,),
        )
        if history:
            conn.execute(
                """
                INSERT INTO marts.fct_signal_hit_rates (as_of, strategy, direction,
                                                        strength_bucket, n_signals, hit_rate_5d,
                                                        hit_rate_20d, mean_fwd_return_5d,
                                                        mean_fwd_return_20d)
                SELECT %(as_of)s::date - 7, s.strategy, d.direction, b.bucket, %(n)s, %(h)s,
                       %(h)s, 0.005, 0.01
                  FROM unnest(ARRAY['iv_rank_mean_reversion', 'trend_following']) AS s (strategy)
                 CROSS JOIN unnest(ARRAY['sell_vol', 'buy_vol', 'long', 'short'])
                       AS d (direction)
                 CROSS JOIN unnest(ARRAY['[0,0.33)', '[0.33,0.66)', '[0.66,1]']) AS b (bucket)
                """,
                {"as_of": as_of, "n": n_signals, "h": hit_rate},
            )
    return created


def drop_signal_fixtures(conn: psycopg.Connection, created: list[str]) -> None:
    """Drop the stand-in tables ``signal_fixtures`` created (so that the signal models can
    build their own relations later in the same database)."""
    from psycopg import sql

    with conn.transaction():
        for name in created:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("marts", name)))
