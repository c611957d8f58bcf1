"""Options features (int_options_chain_daily, fct_options_features, analytics.options_features).

Real database, no mocks. First the SQL functions the models call, on hand-made inputs with
known answers (max pain, gamma flip, GEX concentration, IV rank vs IV percentile, the
earnings move, ex-event vol, rolling realized vol). Then a simulated world of this module's
own dates (seed 13, 2 underlyings x 30 sessions from 2022-01-03, ci chains; both underlyings
report earnings inside the run: an AMC and a BMO event) is loaded, the UDFs deployed and
``dbt build --select +options_features`` run (data and unit tests included):

- the view exposes >= 40 documented feature columns (COMMENTs from persist_docs);
- the positioning columns equal ``python_udfs.options_features.chain_positioning`` called in
  the venv on the same snapshot; IV rank / percentile and the 20-day realized vol equal
  ``python_udfs.iv_stats`` / ``python_udfs.realized`` on the model's own inputs;
- the implied earnings move recovers the simulator's event standard deviation;
- point in time: the raw and reference data truncated at the end of a date D and built into
  a scratch copy of the schemas (var schema_suffix) give the same rows for D as the full
  build; loading the rest of the data and running the models again (incrementally) gives the
  full build's rows for every date.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from conftest import (
    approx_equal,
    build_and_test,
    copy_sources,
    create_scratch,
    drop_scratch,
    load_sim_world,
)
from psycopg import sql
from psycopg.rows import dict_row

from python_udfs import iv_stats, options_features, realized
from warehouse.config import settings
from warehouse.dbt import run_dbt

START = date(2022, 1, 3)  # this module's own simulated dates
DAYS = 30
SEED = 13
N_UNDERLYINGS = 2
PIT_INDEX = 24  # the truncation date D: the 25th session (IV rank 21 and volume z exist)
SUFFIX = "_optf_pit"
PIT_TABLES = (
    ("marts", "fct_options_features", "trade_date"),
    ("intermediate", "int_options_chain_daily", "quote_date"),
)
REL = 1e-9
# (source table, time column, is the time column a date) copied into the scratch schemas
SOURCES = (
    ("raw", "option_quotes", "quote_ts", False),
    ("raw", "equity_bars", "ts", False),
    ("raw", "news", "published_ts", False),
    ("ref", "rates", "as_of", True),
    ("ref", "earnings", None, None),
    ("ref", "instruments", None, None),
    ("ref", "option_contracts", None, None),
    ("ref", "trading_calendar", None, None),
)


@pytest.fixture(scope="module")
def world(deployed_udfs, tmp_path_factory) -> dict:
    """Simulate, load and build; returns the symbols and session dates of this world."""
    out: Path = tmp_path_factory.mktemp("sim_for_options_features")
    load_sim_world(out, seed=SEED, underlyings=N_UNDERLYINGS, days=DAYS, start=START)
    build_and_test(
        "+options_features", "int_options_chain_daily", "fct_options_features", "options_features"
    )
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        days = c.execute(
            "SELECT DISTINCT session_date FROM sim.underlying_days WHERE session_date >= %s "
            "AND session_date < %s::date + 60 ORDER BY 1",
            (START, START),
        ).fetchall()
        symbols = c.execute(
            "SELECT DISTINCT underlying FROM marts.fct_options_features WHERE trade_date "
            "BETWEEN %s AND %s ORDER BY 1",
            (days[0][0], days[-1][0]),
        ).fetchall()
    dates = [d[0] for d in days][:DAYS]
    return {"symbols": [s[0] for s in symbols], "dates": dates}


def _close(a, b, what: str, rel: float = REL) -> None:
    approx_equal(a, b, what, rel)


# ----------------------------------------------------------------- SQL functions, known answers
def _positioning(conn, spot, strike, t, vol, is_call, oi, monthly=None) -> dict:
    """quant.options_positioning on a hand-made chain (r = q = 0, 100 shares per contract),
    greeks from quant.bs_greeks_batch at the given vols."""
    n = len(strike)
    monthly = [True] * n if monthly is None else monthly
    row = conn.execute(
        """
        SELECT to_jsonb(p) FROM quant.bs_greeks_batch(
            ARRAY[%(s)s]::float8[], %(k)s::float8[], %(t)s::float8[], ARRAY[0.0],
            ARRAY[0.0], %(v)s::float8[], %(c)s::boolean[]) g
        CROSS JOIN LATERAL quant.options_positioning(
            %(s)s, %(k)s::float8[], %(t)s::float8[], %(z)s::float8[], %(z)s::float8[],
            %(v)s::float8[], %(c)s::boolean[], %(oi)s::float8[], g.gamma, g.delta,
            %(size)s::float8[], %(m)s::boolean[]) p
        """,
        {
            "s": spot,
            "k": strike,
            "t": t,
            "v": vol,
            "c": is_call,
            "oi": oi,
            "z": [0.0] * n,
            "size": [100.0] * n,
            "m": monthly,
        },
    ).fetchone()[0]
    return row


def test_sql_max_pain_is_the_payout_minimiser_not_the_gamma_wall(deployed_udfs, conn):
    # holders' payout per share of OI at S = 90: puts (100-90) 50 + (110-90) 10 = 700; at
    # S = 100: calls 10 x 10 + puts 10 x 10 = 200; at S = 110: 20 x 10 + 10 x 50 = 700
    strikes = [90.0, 100.0, 110.0, 90.0, 100.0, 110.0]
    calls = [True, True, True, False, False, False]
    oi = [10.0, 50.0, 100.0, 100.0, 50.0, 10.0]
    p = _positioning(conn, 100.0, strikes, [0.1] * 6, [0.3] * 6, calls, oi)
    assert p["max_pain_strike"] == 100.0
    assert p["max_pain_payout"] == pytest.approx(200.0 * 100)
    # the seed's "max pain" (largest |GEX|) is another strike here: the 110 calls
    assert p["largest_gex_strike"] == 110.0
    assert p["n_gex_lines"] == 6
    # only the lines of the flagged expiry enter max pain: calls alone pay nothing at the
    # lowest strike
    p = _positioning(conn, 100.0, strikes, [0.1] * 6, [0.3] * 6, calls, oi, monthly=calls)
    assert p["max_pain_strike"] == 90.0 and p["max_pain_payout"] == 0.0


def test_sql_gamma_flip_and_concentration_known_answers(deployed_udfs, conn):
    """A put at 90 and a call at 110 with the same OI, vol and time (r = q = 0): their gammas
    are equal where d1(110) = -d1(90), i.e. at S* = sqrt(90 x 110) exp(-vol^2 t / 2); the
    dealer GEX profile (call +, put -) crosses zero there."""
    vol, t = 0.2, 0.25
    s_star = math.sqrt(90.0 * 110.0) * math.exp(-vol * vol * t / 2.0)
    args = ([90.0, 110.0], [t, t], [vol, vol], [False, True], [1000.0, 1000.0])
    p = _positioning(conn, 100.0, *args)
    assert p["gamma_flip"] == pytest.approx(s_star, abs=0.01)
    assert p["gex_total"] > 0  # above the flip the call side dominates
    assert p["gex_top3_share"] == 1.0  # two strikes only
    # at the flip itself both strikes carry the same |GEX|: Herfindahl 1/2, total ~ 0
    p = _positioning(conn, s_star, *args)
    assert p["gex_herfindahl"] == pytest.approx(0.5, abs=1e-9)
    assert abs(p["gex_total"]) < 1e-9 * abs(p["largest_gex"])
    assert p["gamma_flip"] == pytest.approx(s_star, abs=0.01)
    # puts only: negative gamma and delta exposure everywhere, no flip
    p = _positioning(conn, 100.0, [95.0, 100.0], [t, t], [vol, vol], [False, False], [5.0, 5.0])
    assert p["gex_total"] < 0 and p["dex_total"] < 0 and p["gamma_flip"] is None


def test_sql_iv_rank_is_not_iv_percentile(deployed_udfs, conn):
    """IV 0.10, 0.11, ..., 0.30 over 21 days, then 0.15. Day 20: rank over days 0..20 = 1
    (a new high), percentile null (only 20 previous days). Day 21: rank over days 1..21 =
    (0.15 - 0.11) / (0.30 - 0.11); percentile over days 0..20 (today excluded) = 5 / 21
    (0.10 .. 0.14 below 0.15)."""
    iv = [round(0.10 + 0.01 * i, 2) for i in range(21)] + [0.15]
    r = conn.execute(
        "SELECT iv_rank_21, iv_percentile_21, iv_rank_252, iv_percentile_252 "
        "FROM quant.iv_rank_percentile(%s::float8[])",
        (iv,),
    ).fetchone()
    rank21, pct21, rank252, pct252 = r
    assert rank21[:20] == [None] * 20 and pct21[:21] == [None] * 21
    assert rank21[20] == pytest.approx(1.0)
    assert rank21[21] == pytest.approx((0.15 - 0.11) / (0.30 - 0.11))
    assert pct21[21] == pytest.approx(5.0 / 21.0)
    assert rank252 == [None] * 22 and pct252 == [None] * 22
    # the 252-day window: a rising series is at its high and above every previous day
    rising = [0.1 + 0.001 * i for i in range(253)]
    r = conn.execute(
        "SELECT iv_rank_252, iv_percentile_252 FROM quant.iv_rank_percentile(%s::float8[])",
        (rising,),
    ).fetchone()
    assert r[0][250] is None and r[0][251] == pytest.approx(1.0)
    assert r[1][251] is None and r[1][252] == pytest.approx(1.0)
    # a missing day is passed as NaN and keeps the windows aligned
    gap = [*iv[:5], float("nan"), *iv[6:]]
    r = conn.execute(
        "SELECT iv_rank_21 FROM quant.iv_rank_percentile(%s::float8[])", (gap,)
    ).fetchone()[0]
    assert len(r) == len(gap) and r[5] is None


def test_sql_earnings_move_ex_event_vol_and_realized_vol(deployed_udfs, conn):
    """ATM total variance 0.04 T before the event, 0.04 T + 0.01 after it (event variance
    0.01, diffusive vol 0.2): both methods recover a 10 % move."""
    t = [0.05, 0.05, 0.1, 0.1, 0.2, 0.2]
    k = [-0.1, 0.1, -0.1, 0.1, -0.1, 0.1]
    w = [0.04 * tt + (0.01 if tt > 0.07 else 0.0) for tt in t]
    iv = [math.sqrt(wi / ti) for wi, ti in zip(w, t, strict=True)]
    after = [tt > 0.07 for tt in t]
    query = "SELECT to_jsonb(m) FROM quant.earnings_implied_move(%s, %s, %s, %s) m"
    m = conn.execute(query, (t, k, iv, after)).fetchone()[0]
    assert m["method"] == 1 and m["t_before"] == 0.05 and m["t_after"] == 0.1
    assert m["event_variance"] == pytest.approx(0.01, abs=1e-12)
    assert m["implied_move"] == pytest.approx(0.1, abs=1e-10)
    assert m["implied_move_abs"] == pytest.approx(0.1 * math.sqrt(2.0 / math.pi), abs=1e-10)
    assert m["diffusive_vol"] == pytest.approx(0.2, abs=1e-10)
    m = conn.execute(query, (t[2:], k[2:], iv[2:], after[2:])).fetchone()[0]
    assert m["method"] == 2 and m["t_before"] is None
    assert m["implied_move"] == pytest.approx(0.1, abs=1e-10)
    m = conn.execute(query, (t[:2], k[:2], iv[:2], after[:2])).fetchone()[0]
    assert m["method"] is None and m["implied_move"] is None  # no expiry after the event
    # 0.5^2 x 0.25 - 0.0525 = 0.01 = 0.2^2 x 0.25
    v = conn.execute("SELECT quant.ex_event_vol(0.5, 0.25, 0.0525)").fetchone()[0]
    assert v == pytest.approx(0.2, abs=1e-12)
    # alternating +-1 % daily log returns: sample variance of 20 of them 20/19 x 1e-4
    closes = list(np.exp(np.cumsum([0.0] + [0.01 * (-1) ** i for i in range(25)])))
    rv = conn.execute("SELECT quant.realized_vol_cc(%s, 20)", (closes,)).fetchone()[0]
    assert rv[:20] == [None] * 20
    assert rv[20] == pytest.approx(0.01 * math.sqrt(252.0 * 20.0 / 19.0), rel=1e-12)


# ----------------------------------------------------------------- the built models
def test_view_has_40_documented_features(world, conn):
    cols = conn.execute(
        "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a "
        "WHERE a.attrelid = 'analytics.options_features'::regclass AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum"
    ).fetchall()
    names = [c[0] for c in cols]
    assert names[:2] == ["underlying", "trade_date"]
    features = [
        n for n in names if n not in {"underlying", "trade_date", "quote_ts", "spot", "close_price"}
    ]
    assert len(features) >= 40, len(features)
    undocumented = [n for n, d in cols if not d or len(d) < 20]
    assert not undocumented, undocumented
    rel_comment = conn.execute(
        "SELECT obj_description('analytics.options_features'::regclass, 'pg_class')"
    ).fetchone()[0]
    assert rel_comment and "point in time" in rel_comment
    # the mart carries the same documentation
    mart = dict(
        conn.execute(
            "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a "
            "WHERE a.attrelid = 'marts.fct_options_features'::regclass AND a.attnum > 0 "
            "AND NOT a.attisdropped"
        ).fetchall()
    )
    assert all(mart.get(n) == d for n, d in cols)


def test_one_row_per_underlying_and_session_with_features_filled(world, conn):
    rows = conn.execute(
        "SELECT count(*), count(iv_atm_30d), count(gex_total), count(max_pain_strike), "
        "count(iv_rank_21d), count(iv_percentile_21d), count(volume_zscore_20d), "
        "count(rv_cc_20d), count(risk_reversal_25d_30d), count(earnings_implied_move), "
        "count(trend_signal), count(DISTINCT underlying) FROM analytics.options_features "
        "WHERE trade_date BETWEEN %s AND %s",
        (world["dates"][0], world["dates"][-1]),
    ).fetchone()
    n = N_UNDERLYINGS * DAYS
    assert rows[0] == n and rows[11] == N_UNDERLYINGS
    assert rows[1] == rows[2] == rows[3] == n
    # 21 rows for the rank (today included), 21 previous ones for the percentile, 20 for
    # the volume z-score, 21 closes for the 20-day realized vol, 6 rows for the OI trend
    # (more when another test module loaded earlier sessions of the same symbols)
    assert rows[4] >= N_UNDERLYINGS * (DAYS - 20)
    assert rows[5] >= N_UNDERLYINGS * (DAYS - 21)
    assert rows[6] >= N_UNDERLYINGS * (DAYS - 20)
    assert rows[7] >= N_UNDERLYINGS * (DAYS - 20)
    assert rows[8] == n and rows[9] > 0
    assert rows[10] >= N_UNDERLYINGS * (DAYS - 5)


def _snapshot_lines(conn, underlying: str, day: date):
    """The model's snapshot of (underlying, day), read back from its inputs."""
    return conn.execute(
        """
        WITH snap AS (
            SELECT max(quote_ts) AS ts FROM intermediate.int_option_quotes_iv
            WHERE underlying = %(u)s AND quote_date = %(d)s AND is_quality_ok
        )
        SELECT q.spot, q.strike::float8, q.t_years, q.rate, q.implied_dividend_yield, q.iv_mid,
               q.option_right = 'C', r.open_interest::float8, q.gamma, q.delta,
               coalesce(c.multiplier, 100)::float8, q.expiration
        FROM intermediate.int_option_quotes_iv q
        JOIN snap ON q.quote_ts = snap.ts
        LEFT JOIN staging.stg_raw__option_quotes r
          ON r.contract_symbol = q.contract_symbol AND r.quote_ts = q.quote_ts
        LEFT JOIN staging.stg_ref__option_contracts c ON c.contract_symbol = q.contract_symbol
        WHERE q.underlying = %(u)s AND q.quote_date = %(d)s
        ORDER BY q.contract_symbol
        """,
        {"u": underlying, "d": day},
    ).fetchall()


def _third_friday_or_shifted(d: date) -> bool:
    return (d.weekday() == 4 and 15 <= d.day <= 21) or (
        d.weekday() == 3 and 15 <= (d + timedelta(days=1)).day <= 21
    )


def test_positioning_equals_python_on_the_same_snapshot(world, conn):
    fields = [f for f in options_features.POSITIONING_FIELDS if f != "n_gex_lines"]
    query = sql.SQL(
        "SELECT underlying, quote_date, max_pain_expiration, n_gex_lines, {} "
        "FROM intermediate.int_options_chain_daily WHERE underlying = ANY(%s) "
        "AND quote_date = ANY(%s) ORDER BY 1, 2"
    ).format(sql.SQL(", ").join(map(sql.Identifier, fields)))
    days = world["dates"][::7]  # a sample of sessions
    rows = conn.execute(query, (world["symbols"], days)).fetchall()
    assert len(rows) == N_UNDERLYINGS * len(days)
    for u, d, mp_exp, n_lines, *values in rows:
        lines = _snapshot_lines(conn, u, d)
        cols = list(zip(*lines, strict=True))

        def arr(i, _cols=cols):
            return np.array([np.nan if v is None else float(v) for v in _cols[i]])

        expiries = cols[11]
        # the max-pain expiry: the nearest listed 3rd Friday (or holiday-shifted Thursday)
        monthlies = sorted(e for e in set(expiries) if e >= d and _third_friday_or_shifted(e))
        assert mp_exp == monthlies[0]
        expected = options_features.chain_positioning(
            [float(cols[0][0])],
            arr(1),
            arr(2),
            arr(3),
            arr(4),
            arr(5),
            np.array(cols[6], dtype=bool),
            arr(7),
            arr(8),
            arr(9),
            arr(10),
            np.array([e == mp_exp for e in expiries]),
        )
        assert n_lines == expected["n_gex_lines"]
        for name, got in zip(fields, values, strict=True):
            _close(got, expected[name], f"{u} {d} {name}")
    # the mart passes them through and measures distances from the same spot
    bad = conn.execute(
        "SELECT count(*) FROM marts.fct_options_features f "
        "JOIN intermediate.int_options_chain_daily c "
        "  ON c.underlying = f.underlying AND c.quote_date = f.trade_date "
        "WHERE f.gex_total IS DISTINCT FROM c.gex_total "
        "   OR f.max_pain_strike IS DISTINCT FROM c.max_pain_strike "
        "   OR abs(f.max_pain_distance_pct - (c.max_pain_strike / c.spot - 1)) > 1e-12"
    ).fetchone()[0]
    assert bad == 0


def test_iv_history_and_realized_vol_equal_python(world, conn):
    for u in world["symbols"]:
        rows = conn.execute(
            "SELECT trade_date, iv_atm_30d, iv_rank_21d, iv_percentile_21d, iv_rank_252d, "
            "iv_percentile_252d, rv_cc_20d FROM marts.fct_options_features "
            "WHERE underlying = %s AND trade_date <= %s ORDER BY trade_date",
            (u, world["dates"][-1]),
        ).fetchall()
        iv = np.array([np.nan if r[1] is None else r[1] for r in rows])
        expected = iv_stats.iv_rank_percentile(iv)
        for j, name in enumerate(
            ("iv_rank_21", "iv_percentile_21", "iv_rank_252", "iv_percentile_252"), start=2
        ):
            for r, e in zip(rows, expected[name], strict=True):
                _close(r[j], float(e), f"{u} {r[0]} {name}")
        bars = conn.execute(
            "SELECT trade_date, close_price FROM intermediate.int_underlying_daily_features "
            "WHERE symbol = %s AND trade_date <= %s ORDER BY trade_date",
            (u, world["dates"][-1]),
        ).fetchall()
        rv = realized.close_to_close_vol(np.array([float(b[1]) for b in bars]), 20)
        by_date = dict(zip([b[0] for b in bars], rv, strict=True))
        for r in rows:
            _close(r[6], float(by_date[r[0]]), f"{u} {r[0]} rv_cc_20d")


def test_earnings_implied_move_recovers_the_simulated_event(world, conn):
    """The simulator adds each pending event's variance earnings_std^2 to the ATM total
    variance of every expiry after it; the bracketing estimate recovers sqrt of it. Within
    30 days of the event the diffusive part of the bracket is small: each day's estimate is
    within 15 % of the truth and their median within 3 %."""
    rows = conn.execute(
        "SELECT f.underlying, f.trade_date, f.earnings_implied_move, e.event_std, "
        "f.days_to_earnings, f.next_earnings_timing, e.timing, f.ex_earnings_iv_30d, "
        "f.iv_atm_30d FROM marts.fct_options_features f "
        "JOIN sim.earnings_events e ON e.symbol = f.underlying "
        "AND e.event_date = f.next_earnings_date "
        "WHERE f.trade_date BETWEEN %s AND %s AND f.days_to_earnings <= 30 "
        "AND f.earnings_method IS NOT NULL",
        (world["dates"][0], world["dates"][-1]),
    ).fetchall()
    assert len(rows) >= 10
    ratio = np.array([r[2] / r[3] for r in rows])
    assert np.abs(ratio - 1.0).max() < 0.15, ratio
    assert abs(np.median(ratio) - 1.0) < 0.03
    assert all(r[5] == r[6] for r in rows)
    # the event inflates the 30-day ATM vol: removing it lowers the vol
    assert all(r[7] <= r[8] for r in rows)
    # the day after a BMO event / two days after an AMC one, the next event is the next
    # quarter's
    events = conn.execute(
        "SELECT symbol, event_date, timing FROM sim.earnings_events WHERE event_date "
        "BETWEEN %s AND %s",
        (world["dates"][0], world["dates"][-5]),
    ).fetchall()
    assert {e[2] for e in events} == {"AMC", "BMO"}
    for symbol, event_date, timing in events:
        nxt = conn.execute(
            "SELECT trade_date, next_earnings_date FROM marts.fct_options_features "
            "WHERE underlying = %s AND trade_date BETWEEN %s AND %s::date + 7 "
            "ORDER BY trade_date",
            (symbol, event_date, event_date),
        ).fetchall()
        on_day = nxt[0]
        assert on_day[0] == event_date
        assert (on_day[1] == event_date) == (timing == "AMC")
        assert nxt[1][1] > event_date


# ----------------------------------------------------------------- point in time
@pytest.fixture(scope="module")
def pit(world):
    """The sources truncated at the end of date D, built into the scratch schemas."""
    day = world["dates"][PIT_INDEX]
    vars_arg = json.dumps({"schema_suffix": SUFFIX})
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        create_scratch(c, SOURCES, SUFFIX, day)
        assert (
            run_dbt(["run", "--select", "+fct_options_features", "--vars", vars_arg, "--quiet"])
            == 0
        )
        truncated = {}
        for schema, table, key in PIT_TABLES:
            where = sql.SQL("{} >= %s").format(sql.Identifier(key))
            truncated[table] = _rows(c, schema + SUFFIX, table, key, where, (world["dates"][0],))
        yield {"day": day, "vars": vars_arg, "conn": c, "truncated": truncated}
        drop_scratch(c, SUFFIX)


def _rows(conn, schema: str, table: str, key: str, where: sql.Composable, params) -> list[dict]:
    cur = conn.cursor(row_factory=dict_row)
    return cur.execute(
        sql.SQL("SELECT * FROM {} WHERE ").format(sql.Identifier(schema, table))
        + where
        + sql.SQL(" ORDER BY underlying, {}").format(sql.Identifier(key)),
        params,
    ).fetchall()


def _same_rows(full: list[dict], part: list[dict], what: str) -> None:
    assert len(full) == len(part) > 0, what
    for a, b in zip(full, part, strict=True):
        assert a.keys() == b.keys()
        for k in a:
            _close(a[k], b[k], f"{what} {a['underlying']} {k}")


def test_point_in_time_rows_equal_the_truncated_build(world, pit, conn):
    """Every feature row of D (and of the days before it) built from the data available at
    the end of D equals the full build's row."""
    day = pit["day"]
    for schema, table, key in PIT_TABLES:
        part = pit["truncated"][table]
        assert max(r[key] for r in part) == day  # nothing after D
        where = sql.SQL("{} BETWEEN %s AND %s").format(sql.Identifier(key))
        full = _rows(conn, schema, table, key, where, (world["dates"][0], day))
        _same_rows(full, part, f"{table} up to {day}")
        on_day = [r for r in part if r[key] == day]
        assert len(on_day) == N_UNDERLYINGS
    # the rolling features of D are warm (their windows reach before the cut)
    on_day = [r for r in pit["truncated"]["fct_options_features"] if r["trade_date"] == day]
    for r in on_day:
        assert None not in (r["iv_rank_21d"], r["volume_zscore_20d"], r["rv_cc_20d"])


def test_incremental_run_after_the_rest_of_the_data_equals_the_full_build(world, pit, conn):
    """Load the data after D into the scratch sources and run again: the incremental models
    rebuild their trailing days (with the rolling windows' history) and every row of this
    world equals the full build's."""
    c = pit["conn"]
    copy_sources(c, SOURCES, SUFFIX, pit["day"], rest=True)
    assert (
        run_dbt(["run", "--select", "+fct_options_features", "--vars", pit["vars"], "--quiet"]) == 0
    )
    for schema, table, key in PIT_TABLES:
        where = sql.SQL("{} BETWEEN %s AND %s").format(sql.Identifier(key))
        params = (world["dates"][0], world["dates"][-1])
        full = _rows(conn, schema, table, key, where, params)
        part = _rows(conn, schema + SUFFIX, table, key, where, params)
        assert len(full) == N_UNDERLYINGS * DAYS
        _same_rows(full, part, table)
