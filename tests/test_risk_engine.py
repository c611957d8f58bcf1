"""Portfolio risk engine: the SQL wiring of the risk kernels, the risk marts, limits and the
circuit breaker (issue 6). Real database, no mocks.

Known answers through SQL (the numerics themselves are tested in test_risk.py,
test_revaluation.py and test_sizing.py):

- risk.mc_var_es of a linear normal book converges to the closed form within 3 standard
  errors, and the same seed gives the same numbers;
- historical VaR / ES of a hand-made P&L series (a stock position over hand-made returns);
- delta-gamma-vega (Cornish-Fisher) VaR against full-revaluation Monte Carlo for small shocks;
- vol-scaled, half-Kelly, swing-plan, cost and limit-price hand cases;
- the crash stress P&L of a single warehouse option position against its direct repricing
  with quant.bs_price at the shocked spot and vol.

Then a simulated world (warehouse.risk.fixtures: 20 underlyings x 30 sessions, built up to
the risk marts) with the demo book: fct_portfolio_risk and the marts that unpack it, Euler
components summing to the VaR, the three methods, determinism; the nightly limit check halts
trading on the demo book's concentration breach, the breach is kept, a halted worker submits
nothing, only the audited resume clears the halt and the worker then trades; the intraday
check; configurable limits.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import psycopg
import pytest
from psycopg.types.json import Jsonb
from scipy.stats import norm

from warehouse.config import settings
from warehouse.risk import fixtures, nightly
from warehouse.risk.demo_book import seed_demo_book


@pytest.fixture(scope="module")
def deployed(warehouse_db: str):
    """A database of this module's own (``<test db>_risk``: migrated, UDFs deployed),
    dropped afterwards (see warehouse.risk.fixtures.isolated_database)."""
    with fixtures.isolated_database(f"{warehouse_db}_risk") as name:
        yield name


@pytest.fixture
def conn(deployed: str):
    """A pipeline-role autocommit connection to this module's database."""
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def world(deployed, tmp_path_factory) -> fixtures.World:
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        return fixtures.ensure_world(c, tmp_path_factory.mktemp("risk_world"))


def _kernel(conn, name: str, *args):
    from psycopg import sql

    query = sql.SQL("SELECT {}({})").format(
        sql.Identifier("risk", name), sql.SQL(", ").join(sql.Placeholder() * len(args))
    )
    return conn.execute(query, args).fetchone()[0]


# ------------------------------------------------------------------- known answers (SQL)


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_mc_var_es_of_a_linear_book_converges_to_the_closed_form(conn, deployed, confidence):
    exposures = [1_000_000.0, -400_000.0, 250_000.0]
    vols = [0.20, 0.30, 0.15]
    corr = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]])
    e, v = np.array(exposures), np.array(vols)
    sigma = math.sqrt(float((v * e) @ corr @ (v * e)) * 10 / 252)
    z = norm.ppf(confidence)
    var_exact, es_exact = z * sigma, norm.pdf(z) / (1 - confidence) * sigma
    row = conn.execute(
        "SELECT var, es, var_se, es_se, repaired FROM risk.mc_var_es(%s, %s, %s, %s, 10, "
        "200000, 42)",
        (exposures, vols, corr.ravel().tolist(), confidence),
    ).fetchone()
    var, es, var_se, es_se, repaired = row
    assert repaired == 0
    assert abs(var - var_exact) < 3 * var_se
    assert abs(es - es_exact) < 3 * es_se
    again = conn.execute(
        "SELECT var, es FROM risk.mc_var_es(%s, %s, %s, %s, 10, 200000, 42)",
        (exposures, vols, corr.ravel().tolist(), confidence),
    ).fetchone()
    assert again == (var, es)  # same seed, same numbers
    other = conn.execute(
        "SELECT var FROM risk.mc_var_es(%s, %s, %s, %s, 10, 200000, 43)",
        (exposures, vols, corr.ravel().tolist(), confidence),
    ).fetchone()[0]
    assert other != var


RETURNS = [-0.05, 0.01, 0.02, -0.03, 0.004, -0.012, 0.03, -0.07, 0.015, 0.0]
RETURNS += [0.01, -0.02, 0.025, -0.001, 0.002, -0.04, 0.006, 0.011, -0.008, 0.019]


def _stock_market(returns, spot=100.0) -> dict:
    close = [spot]
    for r in returns:
        close.append(close[-1] * math.exp(r))
    n = len(close)
    return {
        "underlyings": ["XYZ"],
        "spot": [spot],
        "spot_vol": [0.2],
        "atm_iv": [None],
        "asset_class": ["equity"],
        "dates": [f"d{i:02d}" for i in range(n)],
        "close": [close],
        "iv": [[None] * n],
    }


def test_historical_var_of_a_hand_made_pnl_series(conn, deployed):
    book = {
        "positions": [
            {
                "instrument": "XYZ",
                "kind": "stock",
                "underlying": "XYZ",
                "quantity": 100,
                "multiplier": 1,
            }
        ]
    }
    out = _kernel(
        conn,
        "portfolio_var_kernel",
        Jsonb(book),
        Jsonb(_stock_market(RETURNS)),
        0.9,
        1,
        "historical",
        1000,
        0,
    )
    # P&L per day: 100 shares x 100 x (exp(r) - 1); 20 days at 90 %: k = floor(20 x 0.1) = 2,
    # VaR = the 3rd worst loss, ES = the mean of the 2 worst
    losses = sorted((-100 * 100 * (math.exp(r) - 1) for r in RETURNS), reverse=True)
    assert out["n_scenarios"] == 20
    assert out["var"] == pytest.approx(losses[2], rel=1e-12)
    assert out["es"] == pytest.approx((losses[0] + losses[1]) / 2, rel=1e-12)
    assert out["positions"][0]["component_var"] == pytest.approx(out["var"], rel=1e-9)


def _option_book(quantity=10, is_call=True) -> dict:
    return {
        "positions": [
            {
                "instrument": "XYZ   250620C00100000",
                "kind": "option",
                "underlying": "XYZ",
                "strike": 100.0,
                "t": 0.25,
                "r": 0.03,
                "q": 0.0,
                "vol": 0.25,
                "is_call": is_call,
                "quantity": quantity,
                "multiplier": 100,
            }
        ]
    }


def test_delta_gamma_vega_var_matches_full_revaluation_for_small_shocks(conn, deployed):
    market = _stock_market(RETURNS) | {
        "spot_vol": [0.05],
        "vol_of_vol": [0.05],
        "correlation": [1.0, -0.5, -0.5, 1.0],
    }
    book = Jsonb(_option_book(quantity=-20))
    mc = _kernel(conn, "portfolio_var_kernel", book, Jsonb(market), 0.99, 1, "mc", 100000, 5)
    dgv = _kernel(conn, "portfolio_var_kernel", book, Jsonb(market), 0.99, 1, "parametric", 1000, 5)
    assert dgv["var"] == pytest.approx(mc["var"], abs=4 * mc["var_se"], rel=0.02)
    assert dgv["es"] == pytest.approx(mc["es"], abs=4 * mc["es_se"], rel=0.02)


def test_sizing_and_costs_hand_cases(conn, deployed):
    one = conn.execute(
        "SELECT risk.vol_scaled_weight(0.30, 0.15, 0.2, 2.0), "
        "risk.vol_scaled_weight(0.05, 0.15, 0.2, 2.0), risk.vol_scaled_weight(1.0, 0.15, 0.2, 2.0)"
    ).fetchone()
    assert one == pytest.approx((0.5, 2.0, 0.2))
    k = conn.execute("SELECT risk.half_kelly_size(0.55, 1.0, -1.0, false, 'NaN')").fetchone()[0]
    assert k["kelly"] == pytest.approx(0.10)  # p / |L| - (1 - p) / W = 0.55 - 0.45
    assert k["half_kelly"] == pytest.approx(0.05) and k["size"] == pytest.approx(0.05)
    capped = conn.execute("SELECT risk.half_kelly_size(0.6, 0.10, 0.05, true, 1e6)").fetchone()[0]
    assert capped["kelly"] == pytest.approx(8.0)  # 0.6 / 0.05 - 0.4 / 0.1
    assert capped["size"] == pytest.approx(0.10 * 0.7 * 0.5)  # cap, PCR extreme, illiquid
    plan = conn.execute(
        "SELECT risk.swing_trade_plan(-0.04, 0.01, 0.05, 0.02, 0.6, 'NaN', 'NaN', false, "
        "'NaN', 'NaN')"
    ).fetchone()[0]
    assert plan["target"] == pytest.approx(0.01 + 0.7 * 0.04)
    assert plan["stop"] == pytest.approx(-0.05)  # min(-2 x 0.02, -0.04 - 0.01)
    assert plan["kelly"] == pytest.approx(0.6 / 0.05 - 0.4 / 0.038)
    assert plan["size"] == pytest.approx(0.10)
    costs = conn.execute(
        "SELECT risk.order_costs(1.0, 1.2, 10, 100, 0.65, 0.02, 1000, 0.05), "
        "risk.order_costs(1.0, 1.2, 10, 100, 0.65, 0.02, 100, 0.05)"
    ).fetchone()
    assert costs[0]["per_contract"] == pytest.approx(10.0 + 0.67)  # no impact at 1 %
    assert costs[0]["total"] == pytest.approx(106.7)
    assert costs[1]["impact"] == pytest.approx(1.1 * 0.05 * math.sqrt(0.1) * 100)
    prices = conn.execute(
        "SELECT risk.limit_price(1.0, 1.2, 'buy'), risk.limit_price(1.0, 1.2, 'sell')"
    ).fetchone()
    assert prices == pytest.approx((1.06, 1.14))


def test_portfolio_kernels_are_deterministic(conn, deployed):
    market = Jsonb(_stock_market(RETURNS))
    book = Jsonb(_option_book())
    a = _kernel(conn, "portfolio_risk_kernel", book, market, 1e6, 3000, 11)
    b = _kernel(conn, "portfolio_risk_kernel", book, market, 1e6, 3000, 11)
    c = _kernel(conn, "portfolio_risk_kernel", book, market, 1e6, 3000, 12)
    assert a == b
    assert a["var"]["mc"]["99_1d"]["var"] != c["var"]["mc"]["99_1d"]["var"]
    assert a["var"]["parametric"] == c["var"]["parametric"]  # no randomness there


# ----------------------------------------------------------------- the warehouse wiring


def _reset(conn) -> None:
    from warehouse.execution.fixtures import reset_execution

    reset_execution(conn)
    conn.execute("DELETE FROM ops.positions")


def test_stress_of_a_single_option_matches_direct_repricing(conn, world):
    _reset(conn)
    mark = conn.execute(
        "SELECT contract_symbol::text, underlying, strike, t_years, rate, dividend_yield, iv, "
        "is_call, multiplier FROM marts.fct_risk_option_marks WHERE quote_date = %s AND "
        "is_quality_ok AND iv_source = 'svi' AND is_call AND abs(delta - 0.5) < 0.2 "
        "ORDER BY contract_symbol LIMIT 1",
        (world.as_of,),
    ).fetchone()
    symbol, _und, k, t, r, q, iv, is_call, mult = mark
    conn.execute(
        "INSERT INTO ops.positions (account, instrument, quantity, avg_price, multiplier) "
        "VALUES ('stress', %s, 3, 1.0, %s)",
        (symbol, mult),
    )
    inputs = conn.execute("SELECT ops.risk_book_inputs(%s)", (world.as_of,)).fetchone()[0]
    spot = inputs["market"]["spot"][0]
    report = conn.execute(
        "SELECT ops.portfolio_risk_report(%s, 2000, 1)", (world.as_of,)
    ).fetchone()[0]
    expected = conn.execute(
        "SELECT 3 * %(m)s * (quant.bs_price(%(s)s * 0.8, %(k)s, %(t)s, %(r)s, %(q)s, "
        "%(v)s * 1.5, %(c)s) - quant.bs_price(%(s)s, %(k)s, %(t)s, %(r)s, %(q)s, %(v)s, %(c)s))",
        {"m": mult, "s": spot, "k": k, "t": t, "r": r, "q": q, "v": iv, "c": is_call},
    ).fetchone()[0]
    crash = next(s for s in report["stress"] if s["scenario"] == "crash")
    assert crash["pnl"] == pytest.approx(expected, rel=1e-9)
    assert report["positions"][0]["stress"]["crash"] == pytest.approx(expected, rel=1e-9)
    assert report["positions"][0]["iv_source"] == "svi"
    conn.execute("DELETE FROM ops.positions")


@pytest.fixture(scope="module")
def demo_night(world):
    """The demo book (with its 25 % single-name holding) and the nightly risk marts."""
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        _reset(c)
        book = seed_demo_book(c, world.as_of, n_options=60, seed=3)
    nightly.dbt_build(nightly.RISK_SELECT, world.as_of, {"risk_mc_paths": 4000})
    yield {"book": book, "as_of": world.as_of}
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        _reset(c)  # leave no book and trading active for the modules that follow


def test_fct_portfolio_risk_of_the_demo_book(conn, demo_night):
    as_of = demo_night["as_of"]
    risk = conn.execute(
        "SELECT n_positions, n_options, var_95_1d, var_99_1d, es_99_1d, var_99_10d, "
        "hist_var_99_1d, dgv_var_99_1d, worst_stress_scenario, report "
        "FROM marts.fct_portfolio_risk WHERE as_of = %s",
        (as_of,),
    ).fetchone()
    n_pos, n_opt, v95, v99, es99, v99_10, hist99, dgv99, worst, report = risk
    book = demo_night["book"]
    assert n_opt == book.n_options and n_pos == book.n_options + book.n_stock
    assert 0 < v95 < v99 < es99 < v99_10
    assert hist99 > 0 and dgv99 > 0
    assert report["var"]["historical"]["99_1d"]["n_scenarios"] == fixtures.WORLD_DAYS - 1
    # Euler components sum to the VaR; greeks aggregate consistently over the levels
    comp = conn.execute(
        "SELECT sum(component_var_99_1d), sum(component_var_95_1d), count(*) "
        "FROM marts.fct_portfolio_risk_positions WHERE as_of = %s",
        (as_of,),
    ).fetchone()
    assert comp[0] == pytest.approx(v99, rel=1e-9) and comp[1] == pytest.approx(v95, rel=1e-9)
    assert comp[2] == n_pos
    levels = dict(
        conn.execute(
            "SELECT aggregation_level, sum(dollar_delta) FROM marts.fct_portfolio_greeks "
            "WHERE as_of = %s "
            "GROUP BY aggregation_level",
            (as_of,),
        ).fetchall()
    )
    assert set(levels) == {"position", "underlying", "asset_class", "total"}
    for value in levels.values():
        assert value == pytest.approx(levels["total"], rel=1e-9)
    stress = conn.execute(
        "SELECT scenario, scenario_kind, pnl FROM marts.fct_stress_results "
        "WHERE as_of = %s AND aggregation_level = 'total' ORDER BY scenario",
        (as_of,),
    ).fetchall()
    names = {s[0] for s in stress}
    assert {"crash", "vol_spike", "black_swan", "squeeze"} <= names
    assert {"hist_worst_1d", "hist_worst_5d"} <= names
    assert worst == min(stress, key=lambda s: s[2])[0]
    by_und = conn.execute(
        "SELECT sum(pnl) FROM marts.fct_stress_results WHERE as_of = %s AND aggregation_level = "
        "'underlying' AND scenario = 'crash'",
        (as_of,),
    ).fetchone()[0]
    assert by_und == pytest.approx(next(s[2] for s in stress if s[0] == "crash"), rel=1e-9)


def test_portfolio_var_function_methods(conn, demo_night):
    as_of = demo_night["as_of"]
    rows = {}
    for method in ("mc", "historical", "parametric"):
        rows[method] = conn.execute(
            "SELECT var, es, var_se, n_positions, positions FROM ops.portfolio_var(%s, 0.99, "
            "1, %s, 4000, 7)",
            (as_of, method),
        ).fetchone()
    mc = rows["mc"]
    assert sum(p["component_var"] for p in mc[4]) == pytest.approx(mc[0], rel=1e-9)
    assert (
        mc
        == conn.execute(
            "SELECT var, es, var_se, n_positions, positions FROM ops.portfolio_var(%s, 0.99, 1, "
            "'mc', 4000, 7)",
            (as_of,),
        ).fetchone()
    )
    stored = conn.execute(
        "SELECT var_99_1d, hist_var_99_1d, dgv_var_99_1d FROM marts.fct_portfolio_risk "
        "WHERE as_of = %s",
        (as_of,),
    ).fetchone()
    assert rows["historical"][0] == pytest.approx(stored[1], rel=1e-12)
    assert rows["parametric"][0] == pytest.approx(stored[2], rel=1e-12)
    assert rows["parametric"][0] == pytest.approx(mc[0], rel=0.15)  # same factor model
    with pytest.raises(psycopg.errors.Error, match="method must be"):
        conn.execute("SELECT * FROM ops.portfolio_var(%s, 0.99, 1, 'nope')", (as_of,))


def test_a_breach_halts_trading_and_blocks_intents_until_an_audited_resume(conn, demo_night):
    from warehouse.execution import publish_intents
    from warehouse.execution.broker.paper import PaperBroker
    from warehouse.execution.models import IntentLeg, OrderIntent
    from warehouse.execution.settings import PaperConfig, WorkerConfig
    from warehouse.execution.worker import Worker

    as_of = demo_night["as_of"]
    check = nightly.check_nightly(conn, as_of)
    breached = {b["limit_name"] for b in check.breaches}
    assert "concentration_underlying" in breached  # the demo book's 25 % holding
    assert check.halted
    state = conn.execute("SELECT halted, reason, changed_by FROM ops.trading_state").fetchone()
    assert state[0] and state[2] == "risk-run" and "concentration_underlying" in state[1]
    kept = conn.execute(
        "SELECT b.limit_name, b.value > b.threshold, c.halted_now FROM ops.limit_breaches AS b "
        "JOIN ops.risk_checks AS c USING (check_id) WHERE b.as_of = %s",
        (as_of,),
    ).fetchall()
    assert ("concentration_underlying", True, True) in kept
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("DELETE FROM ops.limit_breaches")

    # an intent published while halted stays pending: the worker submits nothing
    leg = conn.execute(
        "SELECT contract_symbol::text, quote_ts FROM marts.fct_risk_option_marks "
        "WHERE quote_date = %s AND is_quality_ok ORDER BY contract_symbol LIMIT 1",
        (as_of,),
    ).fetchone()
    intent = OrderIntent(
        as_of=as_of,
        account="test",
        underlying=leg[0][:6].strip(),
        strategy="test",
        structure="single",
        legs=(IntentLeg(leg[0], "buy", 1),),
        valid_until=datetime.now(UTC) + timedelta(hours=1),
        market_ts=leg[1],
    )
    publish_intents(conn, [intent])

    def worker() -> Worker:
        return Worker(
            worker_id="risk-test",
            config=WorkerConfig(poll_seconds=0.05, lease_seconds=10.0),
            broker=PaperBroker(config=PaperConfig(noise=0.0, seed=0)),
        )

    worker().run(once=True)
    assert conn.execute("SELECT count(*) FROM ops.orders").fetchone()[0] == 0
    assert conn.execute("SELECT status FROM ops.outbox").fetchone()[0] == "pending"
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="resume_trading"):
        conn.execute("UPDATE ops.trading_state SET halted = false, reason = 'x', changed_by = 'y'")
    assert conn.execute("SELECT ops.resume_trading('risk-officer', 'book reviewed')").fetchone()[0]
    audit = conn.execute(
        "SELECT changed_by, action FROM ops.trading_state_audit ORDER BY audit_id"
    ).fetchall()
    assert audit[-2:] == [("risk-run", "halt"), ("risk-officer", "resume")]
    worker().run(once=True)
    assert conn.execute("SELECT count(*) FROM ops.orders").fetchone()[0] == 1


def test_intraday_check_and_configurable_limits(conn, demo_night):
    as_of = demo_night["as_of"]
    _reset(conn)
    with conn.transaction():
        seed_demo_book(conn, as_of, n_options=60, seed=3, concentrated_pct=0.0)
    within = nightly.check_intraday(conn, as_of, paths=2000)
    assert within.source == "intraday" and not within.breaches and not within.halted
    var99 = next(r["value"] for r in within.rows if r["metric"] == "var_99_1d")
    conn.execute(
        "UPDATE ops.risk_limits SET threshold = %s WHERE limit_name = 'var_99_1d'", (var99 / 2,)
    )
    try:
        tight = nightly.check_intraday(conn, as_of, paths=2000, who="intraday-test")
        assert [b["limit_name"] for b in tight.breaches] == ["var_99_1d"]
        assert tight.halted
        assert conn.execute("SELECT changed_by FROM ops.trading_state").fetchone()[0] == (
            "intraday-test"
        )
    finally:
        conn.execute("UPDATE ops.risk_limits SET threshold = 100000 WHERE limit_name = 'var_99_1d'")
        conn.execute("SELECT ops.resume_trading('risk-officer', 'test over')")


def test_equity_curve_and_drawdown_follow_the_daily_pnl_night_by_night(conn, demo_night):
    """Nights built in order: equity = capital + cumulative daily P&L, drawdown = 1 - equity /
    running peak, recomputed here from the stored daily P&L (numpy, independent of the SQL)."""
    as_of = demo_night["as_of"]
    _reset(conn)
    with conn.transaction():
        seed_demo_book(conn, as_of, n_options=60, seed=3)
    nights = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT quote_date FROM marts.fct_risk_option_marks WHERE quote_date <= %s "
            "ORDER BY quote_date DESC LIMIT 3",
            (as_of,),
        ).fetchall()
    ][::-1]
    conn.execute("DELETE FROM marts.fct_portfolio_risk")
    for night in nights:
        nightly.dbt_build(("fct_portfolio_risk",), night, {"risk_mc_paths": 500})
    rows = conn.execute(
        "SELECT as_of, daily_pnl, cumulative_pnl, equity, peak_equity, drawdown "
        "FROM marts.fct_portfolio_risk ORDER BY as_of"
    ).fetchall()
    capital = conn.execute("SELECT ops.risk_parameter('capital')").fetchone()[0]
    assert [r[0] for r in rows] == nights
    pnl = np.array([r[1] or 0.0 for r in rows])
    assert np.count_nonzero(pnl) >= 2  # the book's value moves from night to night
    equity = capital + np.cumsum(pnl)
    peak = np.maximum.accumulate(np.concatenate([[capital], equity]))[1:]
    np.testing.assert_allclose([r[2] for r in rows], np.cumsum(pnl), rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose([r[3] for r in rows], equity, rtol=1e-12)
    np.testing.assert_allclose([r[4] for r in rows], peak, rtol=1e-12)
    np.testing.assert_allclose([r[5] for r in rows], 1.0 - equity / peak, rtol=1e-9, atol=1e-15)
    # the CRITICAL drawdown rule reads the column: quiet below 20 %, raised above
    from warehouse import alerts

    quiet = alerts.evaluate(conn, rules=["drawdown"], notifiers=[])
    assert not quiet.skipped and not quiet.errors
    assert len(quiet.raised) == (1 if rows[-1][5] > 0.2 else 0)
    conn.execute(
        "UPDATE marts.fct_portfolio_risk SET drawdown = 0.25 WHERE as_of = %s", (nights[-1],)
    )
    loud = alerts.evaluate(conn, rules=["drawdown"], notifiers=[])
    assert [(a.rule, a.severity) for a in loud.raised] == [("drawdown", "CRITICAL")]
    _reset(conn)
