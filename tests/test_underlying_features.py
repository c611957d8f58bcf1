"""Underlying features through SQL and dbt against the real database (no mocks).

A simulated world of its own (seed 11, 2 underlyings x 280 sessions from 2020-06-01, the ci
preset's ~2000 trades per session: enough history for every window up to 273 days and for
the GARCH refits, which start after 250 returns) is loaded into the test database, the UDFs
are deployed and dbt builds ``int_underlying_daily_features`` and
``int_underlying_intraday_rv`` (with their data tests). Then:

- every model value equals ``python_udfs.features`` called here in the venv on the same
  arrays (1e-12 relative; the server runs its own Python/numpy/scipy builds);
- the intraday estimators recover the simulator's truth (``sim.underlyings.noise_var``,
  ``sim.underlying_days.session_integrated_variance``) on average, within tolerances derived
  from the number of ticks and days;
- no look-ahead: the SQL function on a truncated history, or with later days changed, gives
  bit-identical features on the earlier days.
"""

from __future__ import annotations

import math
import time
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql

from python_udfs import features
from warehouse.config import settings
from warehouse.dbt import run_dbt
from warehouse.loaders.engine import load_path
from warehouse.sim import simulate
from warehouse.udfs import deploy as udfs

REL = 1e-12
# GARCH(1,1) values come from a numerical maximum-likelihood fit (L-BFGS-B, ftol 1e-13): the
# server's and the venv's scipy builds stop at points that agree to ~1e-7 relative in the vol
# (a flat likelihood near the optimum), not to machine precision; every closed-form feature
# is compared at 1e-12.
GARCH_REL = 1e-5
START = date(2020, 6, 1)  # this module's own simulated dates (one world per date range)
DAYS = 280
N_UNDERLYINGS = 2
MODELS = "int_underlying_daily_features int_underlying_intraday_rv"


@pytest.fixture(scope="module")
def world(module_db, tmp_path_factory) -> dict:
    """Simulate, load, deploy the UDFs and dbt build the two models; returns the world's
    symbols and session dates plus the build time."""
    t_start = time.perf_counter()
    out: Path = tmp_path_factory.mktemp("sim_for_features")
    simulate(out, seed=11, preset="ci", underlyings=N_UNDERLYINGS, days=DAYS, start=START)
    reports = load_path("sim", out, progress=False)
    assert all(r.status in ("loaded", "skipped_already_loaded") for r in reports)
    with psycopg.connect(settings().dsn("admin"), autocommit=True) as admin:
        admin.execute("SET client_min_messages = warning")
        udfs.deploy(admin, modules=udfs.collect_package())
        with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
            rows = c.execute(
                "SELECT symbol, min(session_date), max(session_date), count(*) "
                "FROM sim.underlying_days WHERE session_date >= %s "
                "AND session_date < %s::date + 500 GROUP BY symbol ORDER BY symbol",
                (START, START),
            ).fetchall()
    t_load = time.perf_counter() - t_start
    t0 = time.perf_counter()
    rc = run_dbt(["build", "--select", f"+{MODELS.split()[0]}", f"+{MODELS.split()[1]}"])
    build_s = time.perf_counter() - t0
    assert rc == 0
    assert len(rows) == N_UNDERLYINGS and all(r[3] == DAYS for r in rows)
    return {
        "symbols": [r[0] for r in rows],
        "first": rows[0][1],
        "last": rows[0][2],
        "build_seconds": build_s,
        "load_seconds": t_load,
    }


def _same(sql_vals, py_vals, what: str, rel: float = REL) -> None:
    """Element-wise equal within ``rel`` (NULL == NaN)."""
    a = np.array([np.nan if v is None else float(v) for v in sql_vals])
    b = np.asarray(py_vals, dtype=float)
    assert a.shape == b.shape, what
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{what}: NULL pattern differs"
    ok = ~np.isnan(a)
    tol = rel * np.maximum(np.abs(b[ok]), 1e-300) + 1e-300
    bad = np.abs(a[ok] - b[ok]) > np.maximum(tol, rel * 1e-12)
    assert not bad.any(), f"{what}: max abs diff {np.max(np.abs(a[ok] - b[ok]))}"


def _daily_inputs(conn, symbol: str, last: date):
    """The symbol's daily bars up to ``last`` (this module's world; other test modules load
    later simulated worlds with the same symbols, which never affect earlier days)."""
    rows = conn.execute(
        "SELECT bar_date, open_price, high_price, low_price, close_price, volume "
        "FROM staging.stg_raw__equity_bars WHERE symbol = %s AND bar_seconds = 86400 "
        "AND bar_date <= %s ORDER BY bar_date",
        (symbol, last),
    ).fetchall()
    dates = [r[0] for r in rows]
    arrays = [np.array([float(r[i]) for r in rows]) for i in range(1, 6)]
    return dates, arrays


def test_build_time_and_shape(world, conn):
    n = conn.execute(
        "SELECT count(*), count(garch_vol), count(rv_yz_273) "
        "FROM intermediate.int_underlying_daily_features WHERE symbol = ANY(%s) "
        "AND trade_date <= %s",
        (world["symbols"], world["last"]),
    ).fetchone()
    assert n[0] == N_UNDERLYINGS * DAYS
    # GARCH from the 252nd day (250 returns before it), 273-day windows from day 274 (yz)
    assert n[1] == N_UNDERLYINGS * (DAYS - 251)
    assert n[2] == N_UNDERLYINGS * (DAYS - 273)
    m = conn.execute(
        "SELECT count(*), min(n_ticks) FROM intermediate.int_underlying_intraday_rv "
        "WHERE symbol = ANY(%s) AND trade_date <= %s",
        (world["symbols"], world["last"]),
    ).fetchone()
    assert m[0] == N_UNDERLYINGS * DAYS and m[1] > 100
    print(
        f"simulate + load + deploy: {world['load_seconds']:.1f} s; "
        f"dbt build of the feature models + parents: {world['build_seconds']:.1f} s"
    )


def test_daily_model_equals_python(world, conn):
    cols = features.DAILY_FEATURES
    for symbol in world["symbols"]:
        dates, (o, h, lo, c, v) = _daily_inputs(conn, symbol, world["last"])
        expected = features.daily_features(o, h, lo, c, v)
        query = sql.SQL(
            "SELECT trade_date, history_days, {} FROM intermediate.int_underlying_daily_features "
            "WHERE symbol = %s AND trade_date <= %s ORDER BY trade_date"
        ).format(sql.SQL(", ").join(map(sql.Identifier, cols)))
        rows = conn.execute(query, (symbol, world["last"])).fetchall()
        assert [r[0] for r in rows] == dates
        assert [r[1] for r in rows] == list(range(1, len(dates) + 1))
        for j, name in enumerate(cols, start=2):
            rel = GARCH_REL if name.startswith("garch_") else REL
            _same([r[j] for r in rows], expected[name], f"{symbol} {name}", rel=rel)
        # the values are not all warm-up: every feature has data in a 280-day history
        for name in cols:
            if name != "rv_cc_365" and not name.endswith("_365"):
                assert np.isfinite(expected[name]).any(), name


def test_intraday_model_equals_python(world, conn):
    for symbol in world["symbols"]:
        ticks = conn.execute(
            "SELECT trade_date, price FROM staging.stg_raw__equity_trades WHERE symbol = %s "
            "AND trade_date <= %s ORDER BY trade_date, trade_ts, seq",
            (symbol, world["last"]),
        ).fetchall()
        bars = conn.execute(
            "SELECT (bar_ts AT TIME ZONE 'America/New_York')::date, close_price "
            "FROM intermediate.int_equity_bars_1m WHERE symbol = %s "
            "AND (bar_ts AT TIME ZONE 'America/New_York')::date <= %s ORDER BY bar_ts",
            (symbol, world["last"]),
        ).fetchall()
        rows = conn.execute(
            "SELECT trade_date, n_ticks, n_bars, rv_1m, rv_tick, noise_var, noise_var_bc, tsrv "
            "FROM intermediate.int_underlying_intraday_rv WHERE symbol = %s "
            "AND trade_date <= %s ORDER BY trade_date",
            (symbol, world["last"]),
        ).fetchall()
        days = [r[0] for r in rows]
        tick_days = np.array([t[0] for t in ticks])
        bar_days = np.array([b[0] for b in bars])
        tick_counts = [int(np.count_nonzero(tick_days == d)) for d in days]
        bar_counts = [int(np.count_nonzero(bar_days == d)) for d in days]
        assert [r[1] for r in rows] == tick_counts
        assert [r[2] for r in rows] == bar_counts
        # one call for the whole history (the model batches by week: per-day results are
        # independent of the batching)
        got = features.intraday_rv(
            bar_counts,
            tick_counts,
            [float(b[1]) for b in bars],
            [float(t[1]) for t in ticks],
        )
        for j, name in enumerate(features.INTRADAY_FIELDS, start=3):
            _same([r[j] for r in rows], got[name], f"{symbol} {name}")


def _truth(conn, world):
    return conn.execute(
        "SELECT r.symbol, r.trade_date, r.n_ticks, r.n_bars, r.rv_1m, r.noise_var, "
        "r.noise_var_bc, r.tsrv, u.noise_var, d.session_integrated_variance, "
        "coalesce(d.jump_logret_sum, 0), d.n_jumps "
        "FROM intermediate.int_underlying_intraday_rv r "
        "JOIN sim.underlyings u ON u.symbol = r.symbol "
        "JOIN sim.underlying_days d ON d.symbol = r.symbol AND d.session_date = r.trade_date "
        "WHERE r.symbol = ANY(%s) AND r.trade_date BETWEEN %s AND %s "
        "ORDER BY r.symbol, r.trade_date",
        (world["symbols"], world["first"], world["last"]),
    ).fetchall()


def test_noise_variance_recovers_truth(world, conn):
    """Mean over the sessions of the bias-corrected noise estimate (RV - TSRV) / (2 n) vs the
    simulator's noise variance (bid-ask bounce c^2 + trade noise; cent rounding adds
    ~0.01^2 / (12 S^2), below 1 % here).

    Tolerance: per session the estimator's sd is about sqrt(E[eps^4] / n) ~ sqrt(3 / n)
    omega^2 (Zhang et al. 2005, Thm 1; n ~ 2000 ticks: ~4 %) plus sd(TSRV) / (2 n) (TSRV
    error ~30 % of IV ~ 1e-4: ~1e-8 / 4000 relative to omega^2 ~ 1e-7: ~10 %); over
    280 sessions the mean's sd is ~1 %, so 10 % is a >5-sigma bound. The raw RV / (2 n)
    carries the known upward bias IV / (2 n) (checked to within 10 % of its prediction).
    """
    rows = _truth(conn, world)
    for symbol in world["symbols"]:
        r = [x for x in rows if x[0] == symbol]
        omega2 = float(r[0][8])
        bc = np.array([float(x[6]) for x in r])
        raw = np.array([float(x[5]) for x in r])
        n = np.array([x[2] - 1.0 for x in r])
        iv = np.array([float(x[9]) for x in r])
        assert abs(bc.mean() / omega2 - 1.0) < 0.10, (symbol, bc.mean(), omega2)
        predicted = omega2 + iv / (2.0 * n)  # E[RV / (2n)]
        assert abs(raw.mean() / predicted.mean() - 1.0) < 0.10, (symbol, raw.mean())
        # per session: the median relative error stays within ~3 sigma of one session
        assert np.median(np.abs(bc / omega2 - 1.0)) < 3.0 * math.sqrt(3.0 / n.mean()) + 0.15


def test_realized_variance_tracks_integrated_variance(world, conn):
    """TSRV and the noise-corrected 1-minute RV vs the session's true quadratic variation.

    Both estimate the quadratic variation of the efficient log price: the simulator's
    integrated (diffusive) variance plus the squared jumps; on sessions with at most one jump
    that is session_integrated_variance + jump_logret_sum^2 exactly (sessions with more
    jumps are left out). TSRV's relative error per session is ~n^(-1/6) ~ 30 % with n ~ 2000
    ticks, ~2 % for the mean of 280 sessions: 10 % is a ~5-sigma bound. 1-minute RV includes
    the noise: E[RV_1m] = QV + 2 (bars - 1) omega^2; after removing that known term its mean is
    within 10 % too. Day by day both co-move with the truth (stochastic vol and jumps make
    the QV vary across sessions): correlation > 0.9.
    """
    rows = [x for x in _truth(conn, world) if x[11] <= 1]
    for symbol in world["symbols"]:
        r = [x for x in rows if x[0] == symbol]
        assert len(r) > 0.9 * DAYS
        omega2 = float(r[0][8])
        qv = np.array([float(x[9]) + float(x[10]) ** 2 for x in r])
        ts = np.array([float(x[7]) for x in r])
        rv1 = np.array([float(x[4]) for x in r])
        bars = np.array([x[3] - 1.0 for x in r])
        assert abs(ts.mean() / qv.mean() - 1.0) < 0.10, (symbol, ts.mean(), qv.mean())
        corrected = rv1 - 2.0 * bars * omega2
        assert abs(corrected.mean() / qv.mean() - 1.0) < 0.10, (symbol, corrected.mean())
        assert np.corrcoef(ts, qv)[0, 1] > 0.9
        assert np.corrcoef(corrected, qv)[0, 1] > 0.9


def _sql_features(conn, arrays) -> dict[str, list]:
    cols = features.DAILY_FEATURES
    query = sql.SQL(
        "SELECT {} FROM quant.underlying_daily_features("
        "%s::float8[], %s::float8[], %s::float8[], %s::float8[], %s::float8[]) f"
    ).format(sql.SQL(", ").join(sql.Identifier("f", c) for c in cols))
    row = conn.execute(query, [list(map(float, a)) for a in arrays]).fetchone()
    return {c: [np.nan if v is None else v for v in row[i]] for i, c in enumerate(cols)}


def test_no_look_ahead(world, conn):
    """Features on day d depend on days <= d only: truncating the history, or changing the
    later days, leaves every earlier value bit-identical (SQL function and model)."""
    symbol = world["symbols"][0]
    _, arrays = _daily_inputs(conn, symbol, world["last"])
    n = arrays[0].size
    full = _sql_features(conn, arrays)
    model = conn.execute(
        "SELECT garch_vol, garch_forecast_1d, rv_yz_30, rsi_14, macd_signal "
        "FROM intermediate.int_underlying_daily_features WHERE symbol = %s AND trade_date <= %s "
        "ORDER BY trade_date",
        (symbol, world["last"]),
    ).fetchall()
    for j, name in enumerate(("garch_vol", "garch_forecast_1d", "rv_yz_30", "rsi_14")):
        # the model and the function both run in the server: identical bits
        _same([m[j] for m in model], full[name], f"model vs function {name}", rel=0.0)
    for cut in (30, 252, 262, 274):  # inside the GARCH blocks and at a refit boundary
        part = _sql_features(conn, [a[:cut] for a in arrays])
        shocked = [a.copy() for a in arrays]
        shocked[3][cut:] *= 1.3  # a later crash / jump in the closes, highs and lows
        shocked[1][cut:] *= 1.3
        shocked[2][cut:] *= 1.3
        later = _sql_features(conn, shocked)
        for name in features.DAILY_FEATURES:
            a = np.asarray(full[name][:cut], dtype=float)
            for other, what in ((part, "truncated"), (later, "changed later days")):
                b = np.asarray(other[name][:cut], dtype=float)
                assert np.array_equal(a, b, equal_nan=True), f"{name} {what} at {cut}"
        # ... while the changed days themselves do change
        assert not np.array_equal(
            np.asarray(full["ret_1d"][cut:], dtype=float),
            np.asarray(later["ret_1d"][cut:], dtype=float),
            equal_nan=True,
        )
    assert n == DAYS


def test_incremental_rerun_keeps_rows(world, conn):
    """A second (incremental) build of the intraday model recomputes the trailing days to the
    same values."""
    before = conn.execute(
        "SELECT symbol, trade_date, tsrv FROM intermediate.int_underlying_intraday_rv "
        "WHERE symbol = ANY(%s) ORDER BY 1, 2",
        (world["symbols"],),
    ).fetchall()
    assert run_dbt(["run", "--select", "int_underlying_intraday_rv", "--quiet"]) == 0
    after = conn.execute(
        "SELECT symbol, trade_date, tsrv FROM intermediate.int_underlying_intraday_rv "
        "WHERE symbol = ANY(%s) ORDER BY 1, 2",
        (world["symbols"],),
    ).fetchall()
    assert after == before


def test_daily_incremental_rerun_recomputes_nothing(world, conn):
    """A second build of the daily model finds no symbol whose bars changed: same rows, and
    no row rewritten (the tuples keep their xmin)."""
    query = (
        "SELECT symbol, trade_date, garch_vol, xmin::text FROM "
        "intermediate.int_underlying_daily_features WHERE symbol = ANY(%s) ORDER BY 1, 2"
    )
    before = conn.execute(query, (world["symbols"],)).fetchall()
    assert run_dbt(["run", "--select", "int_underlying_daily_features", "--quiet"]) == 0
    after = conn.execute(query, (world["symbols"],)).fetchall()
    assert after == before and len(before) >= N_UNDERLYINGS * DAYS
