"""Risk-engine benchmark in the database: the nightly risk functions on a 1,000-option book.

``bench.bench_risk`` times the numpy kernels in process; this one times the same work where the
nightly run does it, through the SQL API, in a database of its own
(``warehouse_bench_risk``, recreated from the migrations, UDFs deployed):

* **full-revaluation VaR**, a synthetic 1,000-option book (plus stock) on 50 underlyings with
  252 days of spot / ATM IV history, 10,000 paths, 99 % 1 day: ``risk.portfolio_var_kernel``
  (one PL/Python call: JSON book in, shrunk correlation, chunked Black-Scholes revaluation,
  Euler allocation) vs ``python_udfs.risk_calls.portfolio_var_one`` in the venv on the same
  JSON; the two VaRs must agree (same seed, same numbers up to the BLAS / libm of each side);
* **the nightly report**, ``risk.portfolio_risk_kernel`` (VaR / ES 95 / 99 x 1 / 10 days by
  Monte Carlo with components, historical and delta-gamma-vega, greeks, stress and
  historical replays, limit metrics) on the same book at 10,000 paths;
* **the pre-trade risk budget**, ``risk.risk_budget_kernel`` with 15 four-leg candidates on
  common scenarios, 5,000 paths.

Best of ``--repeat`` (default 2) after a warm-up call, wall clock. ``run() -> dict`` returns the
figures; ``python -m bench.bench_risk_engine`` prints them.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

BENCH_DB = "warehouse_bench_risk"
OPTIONS, UNDERLYINGS, DAYS, PATHS, BUDGET_PATHS, CANDIDATES = 1_000, 50, 252, 10_000, 5_000, 15


def _best(fn, repeat: int) -> tuple[float, object]:
    fn()
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def inputs(seed: int = 1) -> tuple[dict, dict, list]:
    """A synthetic book, market (with history) and risk-budget candidates, as the kernels'
    JSON (python_udfs.risk_calls)."""
    g = np.random.Generator(np.random.PCG64(seed))
    unds = [f"B{i:03d}" for i in range(UNDERLYINGS)]
    spot = 50.0 + 150.0 * g.random(UNDERLYINGS)
    beta = 0.5 + g.random(UNDERLYINGS)
    market_ret = g.normal(0.0, 0.01, DAYS)
    ret = market_ret[:, None] * beta + g.normal(0.0, 0.012, (DAYS, UNDERLYINGS))
    close = spot * np.exp(np.vstack([np.zeros(UNDERLYINGS), np.cumsum(ret, axis=0)]) - ret.sum(0))
    iv = 0.25 * np.exp(np.cumsum(g.normal(0.0, 0.05, (DAYS + 1, UNDERLYINGS)), axis=0) * 0.3)
    market = {
        "underlyings": unds,
        "spot": spot.tolist(),
        "spot_vol": (np.std(ret[-21:], axis=0, ddof=1) * math.sqrt(252)).tolist(),
        "atm_iv": iv[-1].tolist(),
        "asset_class": ["equity"] * UNDERLYINGS,
        "dates": [f"d{i:03d}" for i in range(DAYS + 1)],
        "close": close.T.tolist(),
        "iv": iv.T.tolist(),
    }
    positions = []
    for i in range(OPTIONS):
        u = int(g.integers(UNDERLYINGS))
        positions.append(
            {
                "instrument": f"OPT{i:05d}",
                "kind": "option",
                "underlying": unds[u],
                "strike": float(spot[u] * (0.8 + 0.4 * g.random())),
                "t": float(0.05 + 0.5 * g.random()),
                "r": 0.04,
                "q": 0.01,
                "vol": float(iv[-1, u] * (0.9 + 0.2 * g.random())),
                "is_call": bool(g.integers(2)),
                "quantity": int(g.integers(1, 11)) * (1 if g.random() < 0.45 else -1),
                "multiplier": 100,
            }
        )
    for u in range(0, UNDERLYINGS, 3):
        positions.append(
            {"instrument": unds[u], "kind": "stock", "underlying": unds[u],
             "quantity": int(g.integers(-500, 500)), "multiplier": 1}
        )  # fmt: skip
    candidates = []
    for k in range(CANDIDATES):
        u = int(g.integers(UNDERLYINGS))
        legs = [
            {"strike": float(spot[u] * m), "t": 0.1, "r": 0.04, "q": 0.01,
             "vol": float(iv[-1, u]), "is_call": c, "quantity": q, "multiplier": 100}
            for m, c, q in ((1.1, True, -5), (0.9, False, -5), (1.2, True, 5), (0.8, False, 5))
        ]  # fmt: skip
        candidates.append(
            {"candidate_id": f"c{k}", "underlying": unds[u], "legs": legs, "hedge_shares": 0}
        )
    return {"positions": positions}, market, candidates


LIMITS = [
    {"limit_name": "var_99_1d", "metric": "var_99_1d", "kind": "max", "threshold": 1e9},
    {"limit_name": "vega", "metric": "vega", "kind": "max_abs", "threshold": 1e9},
]


def run(seed: int = 1, repeat: int = 2) -> dict:
    import psycopg
    from psycopg.types.json import Jsonb

    from python_udfs.risk_calls import portfolio_var_one
    from warehouse.config import settings

    book, market, candidates = inputs(seed)
    out: dict = {
        "options": OPTIONS,
        "underlyings": UNDERLYINGS,
        "history_days": DAYS,
        "paths": PATHS,
        "cpus": os.cpu_count(),
    }
    t_venv, venv = _best(
        lambda: portfolio_var_one(book, market, 0.99, 1, "mc", PATHS, seed), repeat
    )
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as conn:
        conn.execute("SELECT quant.udf_info()")  # import the package once
        args = (Jsonb(book), Jsonb(market))
        t_sql, sql_var = _best(
            lambda: conn.execute(
                "SELECT risk.portfolio_var_kernel(%s, %s, 0.99, 1, 'mc', %s, %s)",
                (*args, PATHS, seed),
            ).fetchone()[0],
            repeat,
        )
        t_report, report = _best(
            lambda: conn.execute(
                "SELECT risk.portfolio_risk_kernel(%s, %s, 5e6, %s, %s)", (*args, PATHS, seed)
            ).fetchone()[0],
            repeat,
        )
        t_budget, budget = _best(
            lambda: conn.execute(
                "SELECT risk.risk_budget_kernel(%s, %s, %s, %s, 5e6, %s, %s)",
                (*args, Jsonb(candidates), Jsonb(LIMITS), BUDGET_PATHS, seed),
            ).fetchone()[0],
            repeat,
        )
    out["full_revaluation_var"] = {
        "sql_seconds": t_sql,
        "venv_seconds": t_venv,
        "prices_per_second_sql": OPTIONS * PATHS / t_sql,
        "var_sql": sql_var["var"],
        "var_venv": venv["var"],
        "var_rel_diff": abs(sql_var["var"] - venv["var"]) / abs(venv["var"]),
        "var_se": sql_var["var_se"],
    }
    out["nightly_report"] = {
        "sql_seconds": t_report,
        "full_revaluations": 4 * OPTIONS * PATHS,
        "var_99_1d": report["var"]["mc"]["99_1d"]["var"],
        "es_99_1d": report["var"]["mc"]["99_1d"]["es"],
        "historical_var_99_1d": report["var"]["historical"]["99_1d"]["var"],
        "parametric_var_99_1d": report["var"]["parametric"]["99_1d"]["var"],
        "worst_stress": report["worst_stress"],
    }
    out["risk_budget"] = {
        "sql_seconds": t_budget,
        "candidates": CANDIDATES,
        "paths": BUDGET_PATHS,
        "accepted": sum(c["accepted"] for c in budget["candidates"]),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="reuse the bench database if it exists")
    args = ap.parse_args()
    os.environ["WAREHOUSE_DB"] = os.environ.get("WAREHOUSE_BENCH_RISK_DB", BENCH_DB)
    import psycopg

    from warehouse.config import settings
    from warehouse.db.runtime import recreate_database
    from warehouse.udfs import deploy as udfs

    if not args.keep:
        recreate_database(settings().database)
    with psycopg.connect(settings().dsn("admin"), autocommit=True) as admin:
        admin.execute("SET client_min_messages = warning")
        udfs.deploy(admin, modules=udfs.collect_package())
    r = run(args.seed, args.repeat)
    v, n, b = r["full_revaluation_var"], r["nightly_report"], r["risk_budget"]
    print(
        f"book: {r['options']:,} options + stock on {r['underlyings']} underlyings, "
        f"{r['history_days']} days of history, {r['paths']:,} paths ({r['cpus']} CPUs)"
    )
    print(
        f"full-revaluation VaR99 1d: SQL risk.portfolio_var_kernel {v['sql_seconds']:.2f} s "
        f"({v['prices_per_second_sql'] / 1e6:.2f} M option prices/s), venv "
        f"{v['venv_seconds']:.2f} s; VaR {v['var_sql']:,.0f} (venv {v['var_venv']:,.0f}, rel "
        f"diff {v['var_rel_diff']:.1e}, MC SE {v['var_se']:,.0f})"
    )
    print(
        f"nightly report (4 MC runs + historical + parametric + stress): "
        f"{n['sql_seconds']:.2f} s; VaR99 1d {n['var_99_1d']:,.0f}, ES99 {n['es_99_1d']:,.0f}, "
        f"historical {n['historical_var_99_1d']:,.0f}, delta-gamma-vega "
        f"{n['parametric_var_99_1d']:,.0f}; worst stress {n['worst_stress']}"
    )
    print(
        f"risk budget: {b['candidates']} candidates on {b['paths']:,} common paths: "
        f"{b['sql_seconds']:.2f} s ({b['accepted']} accepted)"
    )


if __name__ == "__main__":
    main()
