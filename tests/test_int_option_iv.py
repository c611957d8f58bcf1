"""int_option_quotes_iv: one row per option quote with rate, parity forward, IVs and greeks.

Real database, no mocks: a ci simulation of its own dates is loaded, the UDFs deployed and the
model built with dbt; the results are compared with the simulator's truth
(``sim.surface_params``: the forward, rate and t_years every chain was priced with; the raw
``vendor_iv`` is the true vol of each option).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql

from warehouse.config import settings
from warehouse.dbt import run_dbt
from warehouse.loaders.engine import load_path
from warehouse.sim import simulate
from warehouse.udfs import deploy as udfs

MODEL = "intermediate.int_option_quotes_iv"
MINUTE_YEARS = 60.0 / (365.0 * 86400.0)
# crafted quotes (contracts absent from the simulated chains): a deep ITM call priced below
# intrinsic, a zero-bid call and a wide market
BAD_STRIKE_BELOW = 1.0
BAD_STRIKE_NO_BID = 9991.0
BAD_STRIKE_WIDE = 9992.0


@pytest.fixture(scope="module")
def built(warehouse_db: str, tmp_path_factory) -> Path:
    """Simulate and load a ci world (its own dates), deploy the UDFs, craft three bad quotes
    and build the model; returns the simulation folder."""
    out = tmp_path_factory.mktemp("sim_for_iv")
    simulate(out, seed=33, preset="ci", start=date(2023, 6, 1))
    reports = load_path("sim", out, progress=False)
    assert all(r.status in ("loaded", "skipped_already_loaded") for r in reports)
    with psycopg.connect(settings().dsn("admin"), autocommit=True) as admin:
        admin.execute("SET client_min_messages = warning")
        udfs.deploy(admin, modules=udfs.collect_package())
        underlying, quote_ts = admin.execute(
            "SELECT underlying, quote_ts FROM raw.option_quotes "
            "WHERE quote_ts >= '2023-06-01' AND quote_ts < '2023-07-01' "
            "ORDER BY quote_ts, underlying LIMIT 1"
        ).fetchone()
        cols = [
            r[0]
            for r in admin.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "'raw' AND table_name = 'option_quotes' ORDER BY ordinal_position"
            ).fetchall()
        ]
        # copies of one real call of that slice with new strikes (and OCC symbols) and prices
        replaced = {
            "contract_symbol": "left(q.contract_symbol, 13) || lpad((%(k)s * 1000)::bigint"
            "::text, 8, '0')",
            "strike": "%(k)s",
            "bid": "%(b)s",
            "ask": "%(a)s",
        }
        select_list = sql.SQL(", ").join(
            sql.SQL(replaced[c]) if c in replaced else sql.Identifier("q", c) for c in cols
        )
        insert = sql.SQL(
            "INSERT INTO raw.option_quotes ({}) SELECT {} FROM raw.option_quotes q "
            "WHERE q.underlying = %(u)s AND q.quote_ts = %(ts)s AND q.option_right = 'C' "
            "LIMIT 1"
        ).format(sql.SQL(", ").join(map(sql.Identifier, cols)), select_list)
        for strike, bid, ask in (
            (BAD_STRIKE_BELOW, 0.01, 0.02),
            (BAD_STRIKE_NO_BID, 0.0, 0.05),
            (BAD_STRIKE_WIDE, 0.10, 1.00),
        ):
            admin.execute(
                insert, {"k": strike, "b": bid, "a": ask, "u": underlying, "ts": quote_ts}
            )
    # the staging views it reads, then the model and its tests
    staging = ["run", "--select", "+int_option_quotes_iv", "--exclude", "int_option_quotes_iv"]
    assert run_dbt([*staging, "--quiet"]) == 0
    assert run_dbt(["build", "--select", "int_option_quotes_iv", "--quiet"]) == 0
    return out


def q(text: str) -> sql.Composed:
    """A query of this module: ``{model}`` is the model; ``{window}`` / ``{window_i}`` keep
    the rows of this module's simulated world (June 2023), unqualified / for alias ``i``."""

    def window(col: sql.Identifier) -> sql.Composed:
        return sql.SQL("{c} >= {lo} AND {c} < {hi}").format(
            c=col, lo=sql.Literal(date(2023, 6, 1)), hi=sql.Literal(date(2023, 7, 1))
        )

    return sql.SQL(text).format(
        model=sql.Identifier(*MODEL.split(".")),
        window=window(sql.Identifier("quote_ts")),
        window_i=window(sql.Identifier("i", "quote_ts")),
    )


def test_one_row_per_staged_quote_and_incremental_rerun_is_idempotent(built, conn):
    staged = conn.execute("SELECT count(*) FROM staging.stg_raw__option_quotes").fetchone()[0]
    n = conn.execute(q("SELECT count(*) FROM {model}")).fetchone()[0]
    assert n == staged > 0
    before = conn.execute(
        q("SELECT sum(iv_mid), sum(forward), count(iv_mid) FROM {model}")
    ).fetchone()
    assert run_dbt(["run", "--select", "int_option_quotes_iv", "--quiet"]) == 0
    assert conn.execute(q("SELECT count(*) FROM {model}")).fetchone()[0] == n
    after = conn.execute(
        q("SELECT sum(iv_mid), sum(forward), count(iv_mid) FROM {model}")
    ).fetchone()
    assert after[2] == before[2]
    assert after[0] == pytest.approx(before[0], rel=1e-12)
    assert after[1] == pytest.approx(before[1], rel=1e-12)


def test_parity_forward_rate_and_time_match_the_truth(built, conn):
    rows = conn.execute(
        q("""
        SELECT i.forward, s.forward, i.rate, s.rate, i.t_years, s.t_years, i.settlement,
               i.implied_dividend_yield, s.div_yield, i.n_parity_pairs
        FROM {model} i
        JOIN sim.surface_params s
          ON s.symbol = i.underlying AND s.quote_ts = i.quote_ts
         AND s.expiration = i.expiration
        WHERE {window_i}
        """)
    ).fetchall()
    assert len(rows) > 500
    a = np.array([[float(x) for x in r[:6]] for r in rows])
    # the forward from ticked quotes: ~1e-4 relative (a spread-weighted mean of per-strike
    # forwards whose errors are at most half a tick on each of C and P)
    rel = np.abs(a[:, 0] / a[:, 1] - 1.0)
    assert rel.max() < 2e-3
    assert np.median(rel) < 2e-4
    # the published curve read with the simulator's own interpolation rule
    np.testing.assert_allclose(a[:, 2], a[:, 3], rtol=0, atol=1e-12)
    # PM settlement: 16:00 New York, the simulator's expiry instant, within a minute
    pm = np.array([r[6] == "PM" for r in rows])
    assert pm.any()
    assert np.abs(a[pm, 4] - a[pm, 5]).max() < MINUTE_YEARS
    assert all(r[9] >= 2 for r in rows)


def test_mid_iv_recovers_the_true_vol_within_the_tick_rounding(built, conn):
    """The sim's bid/ask are the BSM price at the true vol, floored / ceiled to the tick
    (0.01 below $3, 0.05 from $3), so |mid - theo| <= tick / 2 and, to first order,
    |iv_mid - vendor_iv| * vega <= tick / 2 + e^{-rt} |F - F_true| (forward error)."""
    rows = conn.execute(
        q("""
        SELECT i.iv_mid, i.vendor_iv, i.vega, i.mid, i.rate, i.t_years,
               abs(i.forward - s.forward)
        FROM {model} i
        JOIN sim.surface_params s
          ON s.symbol = i.underlying AND s.quote_ts = i.quote_ts
         AND s.expiration = i.expiration
        WHERE {window_i} AND i.bid > 0 AND abs(i.log_moneyness) < 0.1
          AND i.t_years > 7 / 365.0 AND i.relative_spread < 0.2
        """)
    ).fetchall()
    assert len(rows) > 100
    a = np.array(rows, dtype=float)
    iv, true, vega, mid, r, t, df = a.T
    assert not np.isnan(iv).any()
    tick = np.where(mid < 3.0, 0.01, 0.05)
    bound = (0.5 * tick + np.exp(-r * t) * df) / vega
    err = np.abs(iv - true)
    assert (err <= 1.05 * bound + 1e-9).all(), float((err / bound).max())
    assert np.median(err) < 0.005  # half a vol point


def test_greeks_equal_bs_greeks_at_the_mid_iv(built, conn):
    rows = conn.execute(
        q("""
        SELECT i.delta, i.gamma, i.vega, i.theta, i.rho, i.vanna, i.volga, i.charm,
               (g).delta, (g).gamma, (g).vega, (g).theta, (g).rho, (g).vanna, (g).volga,
               (g).charm
        FROM (
            SELECT *, quant.bs_greeks(spot, strike, t_years, rate, implied_dividend_yield,
                                      iv_mid, option_right = 'C') AS g
            FROM {model}
            WHERE {window} AND iv_mid IS NOT NULL
            ORDER BY contract_symbol, quote_ts
            LIMIT 300
        ) i
        """)
    ).fetchall()
    assert len(rows) == 300
    for r in rows:
        for ours, ref in zip(r[:8], r[8:], strict=True):
            assert math.isclose(ours, ref, rel_tol=1e-12, abs_tol=1e-12)


def test_bid_mid_ask_ivs_are_ordered_and_vendor_diff(built, conn):
    bad = conn.execute(
        q("""
        SELECT count(*) FROM {model}
        WHERE {window}
          AND (iv_bid > iv_mid * (1 + 1e-9) OR iv_mid > iv_ask * (1 + 1e-9)
               OR abs(iv_vendor_diff - (iv_mid - vendor_iv)) > 1e-15)
        """)
    ).fetchone()[0]
    assert bad == 0
    n_diff = conn.execute(q("SELECT count(iv_vendor_diff) FROM {model} WHERE {window}")).fetchone()[
        0
    ]
    assert n_diff > 0


def test_quality_flags_fire_on_crafted_quotes(built, conn):
    rows = dict(
        conn.execute(
            q("""
            SELECT strike, quality_reason FROM {model}
            WHERE {window} AND strike IN (%s, %s, %s)
            """),
            (BAD_STRIKE_BELOW, BAD_STRIKE_NO_BID, BAD_STRIKE_WIDE),
        ).fetchall()
    )
    assert "below_intrinsic" in rows[BAD_STRIKE_BELOW]
    assert "no_bid" in rows[BAD_STRIKE_NO_BID]
    assert "wide_spread" in rows[BAD_STRIKE_WIDE]
    row = conn.execute(
        q("SELECT iv_mid, iv_status, is_quality_ok FROM {model} WHERE {window} AND strike = %s"),
        (BAD_STRIKE_BELOW,),
    ).fetchone()
    assert row == (None, "below_intrinsic", False)
    # clean quotes exist and carry no reason
    ok = conn.execute(
        q(
            "SELECT count(*) FROM {model} WHERE {window} AND is_quality_ok "
            "AND (quality_reason IS NOT NULL OR iv_mid IS NULL)"
        )
    ).fetchone()[0]
    assert ok == 0


def test_american_contracts_use_the_tree_with_the_parity_yield(built, conn):
    """Flag one underlying's contracts American (the sim lists European ones) and rebuild: its
    vols come from quant.american_implied_vol_batch with the parity yield. The same price
    needs no more vol under American exercise (the early-exercise right is worth >= 0), so
    iv_mid <= the European vol of that price; greeks are BSM at the American vol."""
    with psycopg.connect(settings().dsn("admin"), autocommit=True) as admin:
        underlying = admin.execute(
            q("SELECT min(underlying) FROM {model} WHERE {window}")
        ).fetchone()[0]
        admin.execute(
            "UPDATE ref.option_contracts SET exercise_style = 'A' WHERE underlying = %s",
            (underlying,),
        )
        try:
            assert run_dbt(["run", "--select", "int_option_quotes_iv", "--full-refresh", "-q"]) == 0
            rows = conn.execute(
                q("""
                SELECT iv_model, iv_mid, delta, vega,
                       quant.implied_vol(mid, spot, strike, t_years, rate,
                                         implied_dividend_yield, option_right = 'C'),
                       (quant.bs_greeks(spot, strike, t_years, rate, implied_dividend_yield,
                                        iv_mid, option_right = 'C')).delta
                FROM {model}
                WHERE {window} AND underlying = %s AND bid > 0
                  AND abs(log_moneyness) < 0.2 AND t_years > 7 / 365.0
                """),
                (underlying,),
            ).fetchall()
        finally:
            admin.execute(
                "UPDATE ref.option_contracts SET exercise_style = 'E' WHERE underlying = %s",
                (underlying,),
            )
            assert run_dbt(["run", "--select", "int_option_quotes_iv", "--full-refresh", "-q"]) == 0
    assert len(rows) > 20
    assert {r[0] for r in rows} == {"american_tree"}
    solved = [r for r in rows if r[1] is not None and r[4] is not None]
    assert len(solved) >= 0.9 * len(rows)
    for _, am_iv, delta, _, eu_iv, ref_delta in solved:
        assert am_iv <= eu_iv * (1 + 1e-6)
        assert math.isclose(delta, ref_delta, rel_tol=1e-12, abs_tol=1e-12)


def test_rate_curve_is_point_in_time_and_by_source_priority(built, conn):
    """The zero curve of a quote is the latest published on or before its New York date
    (never a later one) and, of several sources on that date, the first in var
    rate_source_priority (sim, frb_h15, lean): flat curves put on the last quote date by
    lean (5 %) and frb_h15 (3 %), and by sim (9 %) the day after, give that date 3 % from
    frb_h15 and leave the earlier dates on earlier curves. The database is shared with the
    other modules: the curves of those two days are restored and the model rebuilt after."""
    dates = [
        r[0]
        for r in conn.execute(
            q("SELECT DISTINCT quote_date FROM {model} WHERE {window} ORDER BY 1")
        ).fetchall()
    ]
    assert len(dates) >= 2
    last, earlier = dates[-1], dates[:-1]
    after = date.fromordinal(last.toordinal() + 1)
    curves = [(last, "lean", 0.05), (last, "frb_h15", 0.03), (after, "sim", 0.09)]
    days = "FROM ref.rates WHERE as_of = ANY(%s)"
    with psycopg.connect(settings().dsn("admin"), autocommit=True) as admin:
        saved = admin.execute(
            "SELECT as_of, tenor_days, zero_rate, source " + days, ([last, after],)
        ).fetchall()
        insert = (
            "INSERT INTO ref.rates (as_of, tenor_days, zero_rate, source) VALUES (%s, %s, %s, %s)"
        )
        try:
            admin.execute("DELETE " + days, ([last, after],))
            with admin.cursor() as cur:
                cur.executemany(
                    insert,
                    [(d, k, rate, src) for d, src, rate in curves for k in (1, 30, 365, 3650)],
                )
            assert run_dbt(["run", "--select", "int_option_quotes_iv", "--full-refresh", "-q"]) == 0
            rows = conn.execute(
                q("""
                SELECT quote_date, rate_as_of_date, rate_source, min(rate), max(rate), count(*)
                FROM {model} WHERE {window} AND t_years > 0
                GROUP BY 1, 2, 3 ORDER BY 1
                """)
            ).fetchall()
        finally:
            admin.execute("DELETE " + days, ([last, after],))
            with admin.cursor() as cur:
                cur.executemany(insert, saved)
            assert run_dbt(["run", "--select", "int_option_quotes_iv", "--full-refresh", "-q"]) == 0
    by_date = {r[0]: r for r in rows}
    assert set(by_date) == set(dates)  # one curve per quote date
    _, as_of, source, lo, hi, n = by_date[last]
    assert (as_of, source) == (last, "frb_h15") and n > 0
    assert lo == pytest.approx(0.03, abs=1e-12) and hi == pytest.approx(0.03, abs=1e-12)
    for d in earlier:
        _, as_of, _, _, _, _ = by_date[d]
        assert as_of is not None and as_of <= d < last
