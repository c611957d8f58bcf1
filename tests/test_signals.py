"""Trading signals (models/marts/signals, analytics.signals / signal_performance).

Real database, no mocks. First the signal SQL functions against ``python_udfs.signals`` on
hand-made inputs with known answers. Then a simulated world of this module's own dates (seed
5, 3 underlyings x 60 sessions from 2020-01-02, ci chains, one earnings event per underlying
inside the run) is loaded, the UDFs deployed, the upstream models run and the signal layer
built with ``dbt build`` (data and unit tests included). The world is built with vars that
make every strategy fire on three underlyings: all pairs (not only same-sector ones), pair
selection at p < 0.5 (the simulated prices are not cointegrated, so p < 0.01 almost never
holds) and a synthetic dispersion basket (SIMAA as an "index" of SIMAB and SIMAC: the formula
wiring, not an economic index). Checked:

- the SQL wiring against the Python functions on the models' own inputs: regime
  probabilities (GMM and HMM), the OU pair path (Engle-Granger, OU fit, Leung-Li levels,
  decisions), the surface-arbitrage scores (model IV from the SABR / SVI slice, divergence,
  confidence), the dispersion correlations;
- the regime states line up with the simulator's variance better than chance;
- event-vol: the measured earnings moves are the simulator's reaction-day returns and the
  strategy fires after the simulated events;
- the decisions keep every exit; forward returns use the underlying's own trading days; the
  historical hit rates of date D count only windows closed by D;
- point in time: the sources truncated at the end of a date D and built into a scratch copy
  of the schemas (var schema_suffix) give the same signal, regime, pair, decision and hit-rate
  rows up to D as the full build.
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
import pytest
from conftest import approx_equal, copy_sources, create_scratch, drop_scratch, load_sim_world
from psycopg import sql
from psycopg.rows import dict_row
from scipy.stats import spearmanr

from python_udfs import sabr, signals, svi
from warehouse.config import settings
from warehouse.dbt import run_dbt
from warehouse.sim import simulate

START = date(2020, 1, 2)  # this module's own simulated dates (before every other module's)
DAYS = 60
SEED = 5
N_UNDERLYINGS = 3
PIT_INDEX = 49  # the truncation date D: the 50th session (pairs and regimes are fitted)
SUFFIX = "_sig_pit"
REL = 1e-9
BASKET = {"index": "SIMAA", "constituents": {"SIMAB": 0.6, "SIMAC": 0.4}}
VARS = {
    "signal_pairs_universe": "all",
    "signal_pairs_p_select": 0.5,
    "signal_dispersion_baskets": [BASKET],
}
SIGNAL_MODELS = "path:models/marts/signals path:models/analytics/signals.sql " + (
    "path:models/analytics/signal_performance.sql"
)
TOP = "+fct_signal_hit_rates +fct_signal_decisions +signals +signal_performance"
STRATEGIES = {
    "iv_rank_mean_reversion",
    "vol_regime",
    "composite",
    "surface_arbitrage",
    "ou_pairs",
    "event_vol",
    "dispersion",
}
# (table, key columns) compared between the full and the truncated build
PIT_TABLES = (
    ("fct_signals", ("as_of", "strategy", "underlying", "pair_id", "instrument")),
    ("fct_signal_regimes", ("as_of", "underlying")),
    ("fct_signal_pairs", ("as_of", "pair_id")),
    ("fct_signal_decisions", ("as_of", "underlying")),
    ("fct_signal_hit_rates", ("as_of", "strategy", "direction", "strength_bucket")),
)
# (source table, time column, is the time column a date) copied into the scratch schemas
SOURCES = (
    ("raw", "option_quotes", "quote_ts", False),
    ("raw", "equity_bars", "ts", False),
    ("raw", "equity_trades", "ts", False),
    ("raw", "news", "published_ts", False),
    ("ref", "rates", "as_of", True),
    ("ref", "earnings", None, None),
    ("ref", "instruments", None, None),
    ("ref", "option_contracts", None, None),
    ("ref", "trading_calendar", None, None),
)


def _build(vars_: dict, schema_suffix: str = "") -> None:
    v = json.dumps({**vars_, "schema_suffix": schema_suffix})
    assert run_dbt(["run", "--select", TOP, "--exclude", SIGNAL_MODELS, "--vars", v, "-q"]) == 0
    command = "run" if schema_suffix else "build"
    assert run_dbt([command, "--select", SIGNAL_MODELS, "--vars", v, "-q"]) == 0


@pytest.fixture(scope="module")
def world(deployed_udfs, tmp_path_factory) -> dict:
    """Simulate, load and build; returns the symbols and session dates of this world."""
    out: Path = tmp_path_factory.mktemp("sim_for_signals")
    load_sim_world(out, seed=SEED, underlyings=N_UNDERLYINGS, days=DAYS, start=START)
    _build(VARS)
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        days = c.execute(
            "SELECT DISTINCT session_date FROM sim.underlying_days WHERE session_date >= %s "
            "AND session_date < %s::date + 100 ORDER BY 1",
            (START, START),
        ).fetchall()
        symbols = c.execute(
            "SELECT DISTINCT symbol FROM sim.underlying_days WHERE session_date = %s ORDER BY 1",
            (days[0][0],),
        ).fetchall()
    dates = [d[0] for d in days][:DAYS]
    return {"symbols": [s[0] for s in symbols], "dates": dates}


def _close(a, b, what: str, rel: float = REL) -> None:
    approx_equal(a, b, what, rel)


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values])


# ----------------------------------------------------------------- SQL functions, known answers
def test_sql_signal_functions_equal_python(deployed_udfs, conn):
    # composite: rank 0 (+1), all low regime (+1), IV +25 % in 5 rows, flat term structure
    row = conn.execute(
        "SELECT to_jsonb(c) FROM quant.composite_vol_score(ARRAY[0.0, 1.0, 0.5], "
        "ARRAY[1.0, 0.0, 0.5], ARRAY[0.0, 1.0, 0.5], ARRAY[0.25, 0.2, 0.2], "
        "ARRAY[0.2, 0.25, 0.2], ARRAY[0.25, 0.2, 0.21]) c"
    ).fetchone()[0]
    expected = signals.composite_vol_score(
        [0.0, 1.0, 0.5],
        [1.0, 0.0, 0.5],
        [0.0, 1.0, 0.5],
        [0.25, 0.2, 0.2],
        [0.2, 0.25, 0.2],
        [0.25, 0.2, 0.21],
    )
    for k, v in expected.items():
        _close(row[k], v.tolist(), f"composite {k}")
    assert row["score"][0] == pytest.approx(0.6 + 0.2 * math.tanh(math.log(1.25) / 0.1))
    assert row["agreement"][0] == pytest.approx(1.0)  # every component says buy
    assert row["s_iv_rank"][2] == 0.0 and row["s_regime"][2] == 0.0
    # surface arbitrage: market 20 % above the model, tight and liquid 45-day option
    args = (
        [0.24, 0.20, 0.30],
        [0.20, 0.21, 0.30],
        [0.0, 0.01, 0.06],
        [0.0, 0.05, 0.2],
        [1000.0, math.nan, 5.0],
        [100.0, 10.0, 0.0],
        [45.0, 5.0, 200.0],
    )
    row = conn.execute(
        "SELECT to_jsonb(s) FROM quant.surface_arbitrage_scores(%s, %s, %s, %s, %s, %s, %s, "
        "ARRAY[0.1], ARRAY[0.6]) s",
        [list(a) for a in args],
    ).fetchone()[0]
    expected = signals.surface_arbitrage_scores(*args, [0.1], [0.6])
    for k, v in expected.items():
        _close(row[k], v.tolist(), f"surface {k}")
    assert row["divergence"][0] == pytest.approx(0.2) and row["confidence"][0] == 1.0
    assert row["signal"] == [-1.0, 0.0, 0.0]  # only the first fires: sell vol
    assert row["expected_edge"][0] == pytest.approx(0.04)
    # implied correlation: equal vols sigma, index vol sigma -> 1; sigma / sqrt(2) with two
    # equal weights -> 0
    rho = conn.execute(
        "SELECT quant.implied_correlation(0.3, ARRAY[0.5, 0.5], ARRAY[0.3, 0.3]), "
        "quant.implied_correlation(0.3 / sqrt(2.0), ARRAY[1.0, 1.0], ARRAY[0.3, 0.3]), "
        "quant.implied_correlation(0.2, ARRAY[0.7, 0.3, 0.1], ARRAY[0.25, 'NaN', 0.4])"
    ).fetchone()
    assert rho[0] == pytest.approx(1.0) and rho[1] == pytest.approx(0.0, abs=1e-12)
    _close(rho[2], signals.implied_correlation(0.2, [0.7, 0.3, 0.1], [0.25, np.nan, 0.4]), "rho")
    g = np.random.Generator(np.random.PCG64(3))
    common = g.normal(size=80)
    r = np.column_stack([common + g.normal(size=80), common + g.normal(size=80), g.normal(size=80)])
    got = conn.execute(
        "SELECT quant.realized_correlation(%s, 3, ARRAY[0.5, 0.3, 0.2]), "
        "quant.rank_correlation(%s, %s)",
        (r.ravel().tolist(), [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 4.0, 3.0, float("nan")]),
    ).fetchone()
    _close(got[0], signals.realized_correlation(r.ravel(), 3, [0.5, 0.3, 0.2]), "realized")
    assert got[1] == pytest.approx(0.6)  # 1 2 3 4 vs 2 1 4 3: 1 - 6 x 4 / (4 x 15)


# ----------------------------------------------------------------- the built models
def test_contract_columns_and_every_strategy(world, conn):
    contract = {
        "fct_signals": [
            ("as_of", "date"),
            ("strategy", "text"),
            ("underlying", "text"),
            ("pair_id", "text"),
            ("instrument", "text"),
            ("direction", "text"),
            ("strength", "double precision"),
            ("confidence", "double precision"),
            ("expected_edge", "double precision"),
            ("metadata", "jsonb"),
            ("model_version", "text"),
        ],
        "fct_signal_decisions": [
            ("as_of", "date"),
            ("underlying", "text"),
            ("side", "text"),
            ("action", "text"),
            ("long_confidence", "double precision"),
            ("short_confidence", "double precision"),
            ("strength", "double precision"),
            ("strategies", "ARRAY"),
            ("signal_count", "integer"),
            ("exit_signals", "integer"),
            ("metadata", "jsonb"),
        ],
        "fct_signal_hit_rates": [
            ("as_of", "date"),
            ("strategy", "text"),
            ("direction", "text"),
            ("strength_bucket", "text"),
            ("n_signals", "integer"),
            ("hit_rate_5d", "double precision"),
            ("hit_rate_20d", "double precision"),
            ("mean_fwd_return_5d", "double precision"),
            ("mean_fwd_return_20d", "double precision"),
        ],
    }
    for table, cols in contract.items():
        got = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'marts' AND table_name = %s",
                (table,),
            ).fetchall()
        )
        for name, typ in cols:
            assert got.get(name) == typ, (table, name, got.get(name))
    # documented: every column of the view carries a COMMENT
    undocumented = conn.execute(
        "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = 'analytics.signals'::regclass "
        "AND a.attnum > 0 AND NOT a.attisdropped "
        "AND coalesce(length(col_description(a.attrelid, a.attnum)), 0) < 20"
    ).fetchall()
    assert not undocumented
    rows = dict(
        conn.execute(
            "SELECT strategy, count(*) FROM analytics.signals WHERE as_of BETWEEN %s AND %s "
            "GROUP BY 1",
            (world["dates"][0], world["dates"][-1]),
        ).fetchall()
    )
    # the simulator prices every option on its own arbitrage-free surface: no contract is
    # 10 % away from its slice's fit (surface_arbitrage is checked on its scores below)
    assert set(rows) >= STRATEGIES - {"surface_arbitrage"}, rows
    bad = conn.execute(
        "SELECT count(*) FROM marts.fct_signals WHERE strength NOT BETWEEN 0 AND 1 "
        "OR confidence NOT BETWEEN 0 AND 1 OR direction NOT IN "
        "('buy_vol', 'sell_vol', 'long', 'short', 'exit') OR strategy <> ALL(%s)",
        (sorted(STRATEGIES),),
    ).fetchone()[0]
    assert bad == 0
    # IV rank: the 60-day world has no 252-day rank, the 21-day fallback is flagged
    windows = conn.execute(
        "SELECT DISTINCT (metadata ->> 'window_days')::int FROM marts.fct_signals "
        "WHERE strategy = 'iv_rank_mean_reversion' AND as_of BETWEEN %s AND %s",
        (world["dates"][0], world["dates"][-1]),
    ).fetchall()
    assert windows == [(21,)]


def _regime_inputs(conn, underlying: str):
    return conn.execute(
        "SELECT as_of, iv_atm_30d, vix_ratio_20d, term_slope_60d_30d, rv, gmm_p_low, "
        "gmm_p_mid, gmm_p_high, hmm_p_low, hmm_p_mid, hmm_p_high, gmm_fit_as_of "
        "FROM marts.fct_signal_regimes WHERE underlying = %s ORDER BY as_of",
        (underlying,),
    ).fetchall()


def test_regime_probabilities_equal_python(world, conn):
    """The models' default features (iv, rv), refit every 5 complete rows from 20."""
    for u in world["symbols"]:
        rows = _regime_inputs(conn, u)
        cols = list(zip(*rows, strict=True))
        X = np.column_stack([_arr(cols[1]), _arr(cols[4])])
        for model, first in (("gmm", 5), ("hmm", 8)):
            expected = signals.regime_probabilities_pit(X, 5, 20, model)["proba"]
            for j in range(3):
                for r, e in zip(cols[first + j], expected[:, j], strict=True):
                    _close(r, float(e), f"{u} {model} p{j}", rel=1e-7)
        fitted = [r for r in rows if r[5] is not None]
        assert len(fitted) >= 30
        assert all(r[11] <= r[0] for r in fitted)  # the fit in force never postdates the row


def test_regimes_line_up_with_the_simulated_variance(world, conn):
    """Within each underlying, the model's state against the terciles of the simulator's
    true variance (sim.underlying_days.snapshot_variance) on the same days: chance is 1/3.
    On this world (111 classified days) the GMM scores accuracy 0.54 (a binomial z of 4.5
    against 1/3) and a Spearman correlation of p_high - p_low with the variance of 0.33 (the
    HMM: 0.44 and 0.20)."""
    rows = conn.execute(
        "SELECT r.underlying, r.state, r.p_high - r.p_low, u.snapshot_variance "
        "FROM marts.fct_signal_regimes r JOIN sim.underlying_days u "
        "ON u.symbol = r.underlying AND u.session_date = r.as_of "
        "WHERE r.state IS NOT NULL AND r.as_of BETWEEN %s AND %s ORDER BY 1, r.as_of",
        (world["dates"][0], world["dates"][-1]),
    ).fetchall()
    assert len(rows) >= 100
    hits, scores, truth = [], [], []
    for u in world["symbols"]:
        mine = [r for r in rows if r[0] == u]
        v = np.array([r[3] for r in mine])
        terciles = np.digitize(v, np.quantile(v, [1 / 3, 2 / 3]))
        hits += list(np.array([r[1] for r in mine]) == terciles)
        scores += [r[2] for r in mine]
        truth += list(v)
    accuracy = float(np.mean(hits))
    rho = spearmanr(scores, truth).statistic
    assert accuracy > 0.45, accuracy
    assert rho > 0.2, rho


def test_pair_path_equals_python(world, conn):
    n_decisions = 0
    for (pair_id,) in conn.execute(
        "SELECT DISTINCT pair_id FROM marts.fct_signal_pairs WHERE as_of BETWEEN %s AND %s",
        (world["dates"][0], world["dates"][-1]),
    ).fetchall():
        a, b = pair_id.split("/")
        bars = conn.execute(
            "SELECT d.trade_date, max(ln(d.close_price::float8)) FILTER (WHERE d.symbol = %s), "
            "max(ln(d.close_price::float8)) FILTER (WHERE d.symbol = %s) "
            "FROM intermediate.int_underlying_daily_features d WHERE d.symbol IN (%s, %s) "
            "GROUP BY d.trade_date ORDER BY 1",
            (a, b, a, b),
        ).fetchall()
        dates = [r[0] for r in bars]
        expected = signals.pair_ou_path(
            _arr([r[1] for r in bars]), _arr([r[2] for r in bars]), p_select=0.5
        )
        rows = conn.execute(
            "SELECT * FROM marts.fct_signal_pairs WHERE pair_id = %s ORDER BY as_of", (pair_id,)
        )
        rows = [dict(zip([c.name for c in rows.description], r, strict=True)) for r in rows]
        assert [r["as_of"] for r in rows] == dates
        decisions = {1.0: "long", -1.0: "short", 2.0: "exit"}
        for i, r in enumerate(rows):
            for f in (
                "hedge_ratio",
                "intercept",
                "p_value",
                "theta",
                "mu",
                "sigma",
                "half_life_days",
                "spread",
                "z_score",
                "long_entry_upper",
                "long_exit",
                "long_stop",
                "short_entry_lower",
                "short_exit",
                "short_stop",
                "strength",
                "confidence",
                "expected_edge",
            ):
                _close(r[f], float(expected[f][i]), f"{pair_id} {r['as_of']} {f}", rel=1e-7)
            assert r["decision"] == decisions.get(float(expected["signal"][i])), r["as_of"]
            active = expected["is_active"][i]
            assert r["is_active"] == (None if np.isnan(active) else bool(active)), r["as_of"]
        n_decisions += sum(r["decision"] is not None for r in rows if r["is_active"])
    assert n_decisions > 0
    # the long / short / exit rows reach fct_signals with the pair's first leg
    n = conn.execute(
        "SELECT count(*) FILTER (WHERE s.direction = p.decision), count(*) "
        "FROM marts.fct_signal_pairs p LEFT JOIN marts.fct_signals s ON s.strategy = 'ou_pairs' "
        "AND s.pair_id = p.pair_id AND s.as_of = p.as_of AND s.underlying = p.leg_a "
        "WHERE p.decision IS NOT NULL"
    ).fetchone()
    assert n[0] == n[1] > 0


# OU speed of the planted spreads (warehouse.sim.features.PAIR_THETA): per trading year,
# half-life ln 2 / 175 x 252 = 1.0 session. At 40 (4.4 sessions, the earlier value) the
# Engle-Granger test at 1 % on 60 sessions (windows of 40..60 closes) had ~10 % power, so
# the planted pairs were rarely selected on the demo.
PLANTED_THETA = 175.0


@pytest.fixture(scope="module")
def planted_pairs_market(tmp_path_factory) -> tuple[dict[str, np.ndarray], set, list[dict]]:
    """The demo preset's market (12 names, 60 sessions, seed 7) with fast planted spreads:
    log daily closes per symbol (the simulator's daily equity bars, what
    int_underlying_daily_features reads), the planted pairs and their truth."""
    import pandas as pd

    import warehouse.sim.features as sim_features

    out: Path = tmp_path_factory.mktemp("sim_planted_pairs")
    assert sim_features.PAIR_THETA == PLANTED_THETA
    simulate(out, seed=7, preset="demo", underlyings=12, days=DAYS)
    bars = pd.concat(pd.read_parquet(f) for f in sorted((out / "equity_bars").glob("*.parquet")))
    close = bars.pivot_table(index="ts", columns="symbol", values="close").sort_index()
    assert len(close) == DAYS and not close.isna().any().any()
    truth = json.loads((out / "truth/features.json").read_text())["pairs"]
    planted = {tuple(sorted((p["lead"], p["dependent"]))) for p in truth}
    logs = {s: np.log(close[s].to_numpy()) for s in close.columns if s != "SIMIX"}
    return logs, planted, truth


def test_a_health_exit_retires_the_pair_until_it_is_selected_again() -> None:
    """A cointegrated pair whose relation breaks: one cointegration_lost exit, then inactive
    (no decision) until a new selection, although the p-value stays above p_warn within 20
    rows of the last selection (where a stateless rule repeated the exit every row); a run
    computing only the later rows gives the same rows."""
    rng = np.random.Generator(np.random.PCG64(3))
    n = 100
    b = np.cumsum(rng.normal(0.0, 0.01, n))
    u = np.zeros(n)
    for i in range(1, n):
        u[i] = 0.3 * u[i - 1] + rng.normal(0.0, 0.005)
    a = b + u
    a[60:] = a[59] + np.cumsum(rng.normal(0.0, 0.02, n - 60))  # the relation breaks
    r = signals.pair_ou_path(a, b)
    selected = np.flatnonzero(r["is_selected"] == 1.0)
    health = np.flatnonzero((r["signal"] == 2.0) & np.isin(r["exit_reason"], (5.0, 6.0)))
    assert health.size == 1
    k = int(health[0])
    assert r["exit_reason"][k] == signals.EXIT_COINTEGRATION_LOST and r["is_active"][k] == 1.0
    later = np.arange(k + 1, n)
    assert not np.isin(later, selected).any()  # never selected again in this path
    assert np.all(r["is_active"][later] == 0.0) and np.all(np.isnan(r["signal"][later]))
    last = int(selected[selected < k].max())
    within = later[later - last < 20]
    assert np.count_nonzero(r["p_value"][within] > 0.05) >= 5  # would have exited again
    part = signals.pair_ou_path(a, b, compute=np.arange(n) >= k - 3)
    for field in signals.PAIR_FIELDS:
        np.testing.assert_array_equal(part[field][k - 3 :], r[field][k - 3 :], err_msg=field)


def test_planted_pairs_are_selected_and_entered(planted_pairs_market):
    """The OU-pairs rules with the models' defaults (window 40..120 closes, p < 0.01, Leung-Li
    levels) on a simulated market: the planted cointegrated pairs pass the test on most
    days, the other pairs (same factors, no cointegration) almost never, and the planted
    pairs are entered when their spread is beyond the Leung-Li entry level."""
    logs, planted, truth = planted_pairs_market
    syms = sorted(logs)
    share = {}  # pair -> share of the tested days with p < 0.01
    entries = {}
    for i, a in enumerate(syms):
        for b in syms[i + 1 :]:
            r = signals.pair_ou_path(logs[a], logs[b])  # the models' default parameters
            p = r["p_value"]
            tested = np.isfinite(p)
            assert tested.sum() == DAYS - 39  # from the 40th close on
            share[(a, b)] = float((p[tested] < 0.01).mean())
            sig = r["signal"]
            entered = np.flatnonzero((sig == 1.0) | (sig == -1.0))
            entries[(a, b)] = len(entered)
            for k in entered:  # entries only on active rows, beyond the entry level
                assert r["is_active"][k] == 1.0 and r["warn_cointegration"][k] == 0.0
                if sig[k] == 1.0:
                    assert r["long_stop"][k] < r["spread"][k] <= r["long_entry_upper"][k]
                else:
                    assert r["short_entry_lower"][k] <= r["spread"][k] < r["short_stop"][k]
                assert r["expected_edge"][k] > 0.0 and 0.0 < r["strength"][k] <= 1.0
            if (a, b) in planted:
                # A regressed on B: the hedge ratio estimates 1 / beta (the lead sorts first)
                lead = next(t for t in truth if {t["lead"], t["dependent"]} == {a, b})
                assert lead["lead"] == a
                hr = r["hedge_ratio"][tested]
                assert np.all(np.abs(hr * lead["beta"] - 1.0) < 0.1)
    random_shares = [s for pair, s in share.items() if pair not in planted]
    random_mean = float(np.mean(random_shares))
    planted_shares = [share[pair] for pair in planted]
    # measured (seed 7): planted 0.67 and 1.0 of the 21 tested days, other 64 pairs 0.004
    assert len(planted_shares) == 2 and len(random_shares) == 64
    assert min(planted_shares) >= 0.5
    assert random_mean <= 0.02
    assert min(planted_shares) >= 20 * random_mean
    assert all(entries[pair] >= 1 for pair in planted)  # measured: one entry each
    assert sum(entries[pair] for pair in share if pair not in planted) <= 5


@pytest.fixture
def surface_scores_everywhere(world):
    """fct_signals_surface_arbitrage rebuilt with thresholds that let every contract fire
    (so that every score can be compared), then restored."""
    loose = {**VARS, "signal_surface_divergence": -1.0, "signal_surface_min_confidence": -1.0}
    for v in (loose, VARS):
        args = ["run", "--select", "fct_signals_surface_arbitrage", "--full-refresh"]
        assert run_dbt([*args, "--vars", json.dumps(v), "-q"]) == 0
        if v is loose:
            yield


def test_surface_arbitrage_scores_equal_python(surface_scores_everywhere, world, conn):
    days = world["dates"][10::17]
    rows = conn.execute(
        "SELECT s.as_of, s.instrument, s.direction, s.strength, s.confidence, s.expected_edge, "
        "s.metadata, q.forward, q.strike::float8, q.t_years, q.log_moneyness, "
        "b.sabr_alpha, b.sabr_beta, b.sabr_rho, b.sabr_nu, b.rmse_vol_points, "
        "v.svi_a, v.svi_b, v.svi_rho, v.svi_m, v.svi_sigma, v.rmse_vol_points "
        "FROM marts.fct_signals_surface_arbitrage s "
        "JOIN intermediate.int_option_surface_quotes q ON rtrim(q.contract_symbol) = "
        "s.instrument AND q.quote_date = s.as_of "
        "LEFT JOIN marts.fct_sabr_slices b ON b.underlying = q.underlying "
        "AND b.quote_date = q.quote_date AND b.expiration = q.expiration AND b.fit_status = 'ok' "
        "LEFT JOIN marts.fct_svi_slices v ON v.underlying = q.underlying "
        "AND v.quote_date = q.quote_date AND v.expiration = q.expiration AND v.fit_status = 'ok' "
        "WHERE s.as_of = ANY(%s) ORDER BY 1, 2",
        (days,),
    ).fetchall()
    assert len(rows) > 100
    models = set()
    for r in rows:
        m = r[6]
        if r[11] is not None:
            model_iv = float(sabr.sabr_vol(r[7], r[8], r[9], r[11], r[12], r[13], r[14]))
            rmse = r[15] / 100.0
        else:
            w = float(svi.svi_total_variance(r[10], r[16], r[17], r[18], r[19], r[20]))
            model_iv, rmse = math.sqrt(w / r[9]), r[21] / 100.0
        models.add(m["model"])
        assert m["model"] == ("sabr" if r[11] is not None else "svi")
        _close(m["model_iv"], model_iv, f"{r[1]} model_iv", rel=1e-9)
        e = signals.surface_arbitrage_scores(
            [m["market_iv"]],
            [model_iv],
            [rmse],
            [m["relative_spread"]],
            [np.nan if m["open_interest"] is None else m["open_interest"]],
            [np.nan if m["volume"] is None else m["volume"]],
            [m["days_to_expiry"]],
            [-1.0],
            [-1.0],
        )
        for k, got in (
            ("divergence", m["divergence"]),
            ("confidence", r[4]),
            ("fit_score", m["fit_score"]),
            ("liquidity_score", m["liquidity_score"]),
            ("maturity_score", m["maturity_score"]),
            ("expected_edge", r[5]),
        ):
            _close(got, float(e[k][0]), f"{r[1]} {k}", rel=1e-9)
        assert r[2] == ("sell_vol" if e["signal"][0] < 0 else "buy_vol")
    assert "sabr" in models
    # with the real thresholds: the simulator quotes every option on its own surface, the
    # largest divergence from the slice fits stays below 10 %
    worst = max(abs(r[6]["divergence"]) for r in rows)
    assert worst < 0.10, worst


def test_dispersion_correlations_equal_python(world, conn):
    rows = conn.execute(
        "SELECT as_of, direction, metadata FROM marts.fct_signals WHERE strategy = 'dispersion' "
        "AND underlying = %s ORDER BY as_of",
        (BASKET["index"],),
    ).fetchall()
    assert rows
    for as_of, direction, m in rows:
        assert m["constituents"] == sorted(BASKET["constituents"])
        _close(
            m["implied_correlation"],
            signals.implied_correlation(m["index_iv"], m["weights"], m["constituent_iv"]),
            f"{as_of} implied",
        )
        rets = conn.execute(
            "SELECT d.trade_date, array_agg(coalesce(d.ret_1d, 'NaN') ORDER BY d.symbol) "
            "FROM intermediate.int_underlying_daily_features d WHERE d.symbol = ANY(%s) "
            "AND d.trade_date <= %s GROUP BY 1 ORDER BY 1 DESC LIMIT 60",
            (m["constituents"], as_of),
        ).fetchall()
        matrix = np.array([r[1] for r in reversed(rets)], dtype=float)
        _close(
            m["realized_correlation"],
            signals.realized_correlation(matrix.ravel(), 2, m["weights"]),
            f"{as_of} realized",
        )
        spread = m["implied_correlation"] - m["realized_correlation"]
        assert abs(spread) > 0.1 and direction == ("sell_vol" if spread > 0 else "buy_vol")


def test_event_vol_measures_the_simulated_earnings_moves(world, conn):
    """The historical move of each past event is the close-to-close log return of its
    reaction session (BMO: the event date, AMC: the next session); the simulator's jump is
    most of it. The strategy fires only once an event of the underlying has been measured,
    from its reaction session on, with the implied move of the NEXT event."""
    events = conn.execute(
        "SELECT e.symbol, e.event_date, e.jump_logret, min(u.session_date) "
        "FROM sim.earnings_events e JOIN sim.underlying_days u ON u.symbol = e.symbol "
        "AND (u.session_date > e.event_date OR (e.timing = 'BMO' AND u.session_date = "
        "e.event_date)) WHERE e.in_run AND e.event_date BETWEEN %s AND %s "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2",
        (world["dates"][0], world["dates"][-1]),
    ).fetchall()
    assert len({e[0] for e in events}) >= 2  # SIMAA reports just after the run
    fired_on = conn.execute(
        "SELECT DISTINCT underlying FROM marts.fct_signals WHERE strategy = 'event_vol' "
        "AND as_of BETWEEN %s AND %s",
        (world["dates"][0], world["dates"][-1]),
    ).fetchall()
    assert {f[0] for f in fired_on} <= {e[0] for e in events}
    for symbol, event_date, jump, reaction in events:
        closes = dict(
            conn.execute(
                "SELECT trade_date, close_price::float8 FROM "
                "intermediate.int_underlying_daily_features WHERE symbol = %s "
                "AND trade_date BETWEEN %s::date - 7 AND %s",
                (symbol, reaction, reaction),
            ).fetchall()
        )
        prev = max(d for d in closes if d < reaction)
        move = math.log(closes[reaction] / closes[prev])
        assert abs(move - jump) < 0.04, (symbol, event_date, move, jump)
        fired = conn.execute(
            "SELECT min(as_of), max((metadata ->> 'n_past_events')::int), "
            "min((metadata ->> 'historical_mean_abs_move')::float8), "
            "max((metadata ->> 'historical_mean_abs_move')::float8), "
            "bool_and((metadata ->> 'next_earnings_date')::date > %s) "
            "FROM marts.fct_signals WHERE strategy = 'event_vol' AND underlying = %s "
            "AND as_of BETWEEN %s AND %s",
            (event_date, symbol, world["dates"][0], world["dates"][-1]),
        ).fetchone()
        if fired[0] is None:
            continue
        assert fired[0] >= reaction  # nothing before the first measured event
        assert fired[1] == 1 and fired[4]
        assert fired[2] == pytest.approx(abs(move), rel=1e-9) == fired[3]
    assert (
        conn.execute(
            "SELECT count(*) FROM marts.fct_signals WHERE strategy = 'event_vol' "
            "AND as_of BETWEEN %s AND %s",
            (world["dates"][0], world["dates"][-1]),
        ).fetchone()[0]
        > 0
    )


def test_decisions_keep_every_exit(world, conn):
    rows = conn.execute(
        "SELECT d.as_of, d.underlying, d.action, d.side, d.signal_count, d.exit_signals, "
        "d.long_confidence, d.short_confidence, jsonb_array_length(d.metadata -> 'exits') "
        "FROM marts.fct_signal_decisions d WHERE d.as_of BETWEEN %s AND %s",
        (world["dates"][0], world["dates"][-1]),
    ).fetchall()
    exits = dict(
        ((r[0], r[1]), r[2])
        for r in conn.execute(
            "SELECT as_of, u, count(*) FROM marts.fct_signals s CROSS JOIN LATERAL unnest("
            "CASE WHEN s.strategy = 'ou_pairs' THEN ARRAY[s.underlying, "
            "split_part(s.pair_id, '/', 2)] ELSE ARRAY[s.underlying] END) AS u "
            "WHERE s.direction = 'exit' GROUP BY 1, 2"
        ).fetchall()
    )
    assert sum(exits.values()) > 0
    features = conn.execute(
        "SELECT count(*) FROM marts.fct_options_features WHERE trade_date BETWEEN %s AND %s",
        (world["dates"][0], world["dates"][-1]),
    ).fetchone()[0]
    assert len(rows) >= features
    for as_of, u, action, side, n, n_exit, long_c, short_c, listed in rows:
        assert n_exit == exits.get((as_of, u), 0) == (listed or 0)
        assert (action == "hold") == (n == 0)
        if action == "enter":
            assert max(long_c, short_c) > 1.5 * min(long_c, short_c) and side is not None
        else:
            assert side is None
        if action in ("conflict", "exit"):
            assert max(long_c, short_c) <= 1.5 * min(long_c, short_c)
        assert action != "exit" or n_exit > 0


def test_forward_windows_use_the_underlyings_trading_days(world, conn):
    rows = conn.execute(
        "SELECT o.underlying, o.as_of, o.fwd_date_5d, o.fwd_date_20d, o.fwd_return_5d, "
        "o.fwd_return_20d, o.entry_close FROM marts.fct_signal_outcomes o "
        "WHERE o.pair_id IS NULL AND o.as_of BETWEEN %s AND %s ORDER BY 1, 2",
        (world["dates"][0], world["dates"][-1]),
    ).fetchall()
    bars = {}
    for u in world["symbols"]:
        bars[u] = conn.execute(
            "SELECT trade_date, close_price::float8 "
            "FROM intermediate.int_underlying_daily_features WHERE symbol = %s ORDER BY 1",
            (u,),
        ).fetchall()
    closed = 0
    for u, as_of, d5, d20, r5, r20, c0 in rows:
        seq = bars[u]
        i = [b[0] for b in seq].index(as_of)
        assert c0 == seq[i][1]
        for h, d, r in ((5, d5, r5), (20, d20, r20)):
            if i + h < len(seq):
                assert d == seq[i + h][0]
                _close(r, math.log(seq[i + h][1] / c0), f"{u} {as_of} {h}d")
                closed += 1
            else:
                assert d is None and r is None
    assert closed > 100


def test_hit_rates_count_only_closed_windows(world, conn):
    outcomes = conn.execute(
        "SELECT strategy, direction, strength_bucket, fwd_date_20d, hit_5d, hit_20d, "
        "fwd_return_20d FROM marts.fct_signal_outcomes WHERE fwd_date_20d IS NOT NULL"
    ).fetchall()
    rates = conn.execute(
        "SELECT as_of, strategy, direction, strength_bucket, n_signals, hit_rate_20d, "
        "mean_fwd_return_20d FROM marts.fct_signal_hit_rates WHERE as_of = ANY(%s)",
        (world["dates"][40::5],),
    ).fetchall()
    assert rates
    for as_of, strategy, direction, bucket, n, rate, mean_ret in rates:
        mine = [o for o in outcomes if o[:3] == (strategy, direction, bucket) and o[3] <= as_of]
        assert n == len(mine) > 0
        hits = [o[5] for o in mine if o[5] is not None]
        _close(rate, (sum(hits) / len(hits)) if hits else None, f"{as_of} {strategy}")
        _close(mean_ret, float(np.mean([o[6] for o in mine])), f"{as_of} {strategy} mean")
    perf = conn.execute(
        "SELECT strategy, sum(n_signals), sum(n_evaluated_5d) FROM analytics.signal_performance "
        "GROUP BY 1"
    ).fetchall()
    names = {p[0] for p in perf}
    assert {"pcr_extreme", "gamma_zone", "iv_rank_mean_reversion"} <= names
    ic = conn.execute(
        "SELECT as_of, strategy, ic_5d FROM marts.fct_signal_performance "
        "WHERE ic_5d IS NOT NULL AND strategy = 'iv_rank_mean_reversion' LIMIT 1"
    ).fetchone()
    o = conn.execute(
        "SELECT sign * strength, outcome_5d FROM marts.fct_signal_outcomes "
        "WHERE as_of = %s AND strategy = %s AND outcome_5d IS NOT NULL",
        ic[:2],
    ).fetchall()
    _close(ic[2], signals.rank_correlation([r[0] for r in o], [r[1] for r in o]), "ic")


# ----------------------------------------------------------------- point in time
def _rows(conn, schema: str, table: str, keys, day: date) -> dict:
    cur = conn.cursor(row_factory=dict_row)
    cur.execute(
        sql.SQL("SELECT * FROM {} WHERE as_of BETWEEN %s AND %s").format(
            sql.Identifier(schema, table)
        ),
        (START, day),
    )
    return {tuple(r[k] for k in keys): r for r in cur.fetchall()}


@pytest.fixture(scope="module")
def pit(world):
    """The sources truncated at the end of date D, built into the scratch schemas."""
    day = world["dates"][PIT_INDEX]
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        create_scratch(c, SOURCES, SUFFIX, day)
        _build(VARS, SUFFIX)
        yield {"day": day, "conn": c}
        drop_scratch(c, SUFFIX)


def test_point_in_time_rows_equal_the_truncated_build(world, pit, conn):
    """Every signal, regime, pair, decision and hit-rate row up to D built from the data
    available at the end of D equals the full build's row."""
    day = pit["day"]
    for table, keys in PIT_TABLES:
        full = _rows(conn, "marts", table, keys, day)
        part = _rows(pit["conn"], "marts" + SUFFIX, table, keys, day)
        assert full.keys() == part.keys() and full, table
        assert max(k[0] for k in part) == day
        for key, row in full.items():
            _close(row, part[key], f"{table} {key}")
    on_day = {
        k[1] for k in _rows(conn, "marts", "fct_signals", PIT_TABLES[0][1], day) if k[0] == day
    }
    assert {"iv_rank_mean_reversion", "vol_regime", "ou_pairs"} <= on_day, on_day


def test_incremental_run_after_the_rest_of_the_data_equals_the_full_build(world, pit, conn):
    """Load the data after D into the scratch sources and run again: the incremental signal
    models re-emit their trailing days from the whole history (regime fits, pair windows,
    forward windows that were still open) and every row of this world equals the full
    build's."""
    copy_sources(pit["conn"], SOURCES, SUFFIX, pit["day"], rest=True)
    _build(VARS, SUFFIX)
    last = world["dates"][-1]
    tables = (
        *PIT_TABLES,
        ("fct_signal_outcomes", ("as_of", "strategy", "underlying", "pair_id", "instrument")),
    )
    for table, keys in tables:
        full = _rows(conn, "marts", table, keys, last)
        part = _rows(pit["conn"], "marts" + SUFFIX, table, keys, last)
        assert full.keys() == part.keys() and full, table
        for key, row in full.items():
            _close(row, part[key], f"{table} {key}")
