"""``make bench-surfaces``: smile fits and Heston calibration, in Python and inside the database.

Prints, measured in one run:

1. in the database, on the simulated reference day (500 underlyings, ~400k quotes; the surface
   marts' own inputs, ``intermediate.int_option_surface_quotes``): time per SVI slice
   (``quant.svi_fit``, goal <= 2 ms) and per SABR smile (``quant.sabr_fit``, goal <= 2 ms),
   every slice of the day fitted in one statement, wall time / number of slices;
2. time per Heston calibration of a 320-option surface (8 maturities x 40 strikes, Heston
   prices of known parameters) cold and warm, side by side with QuantLib's own calibration
   (Levenberg-Marquardt, AnalyticHestonEngine, HestonModelHelper) on the same surface (goal
   <= 50 ms and >= 10x faster), from ``bench.bench_heston``; and the same calibration called
   through SQL (``quant.heston_calibrate``) on a reference-day surface;
3. the Python-level smile timings of ``bench.bench_smiles`` (synthetic slices).

Baselines measured in the same run. Use ``--cpu`` on a busy machine (process CPU clock for
the Python parts; the SQL parts are always wall clock).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import psycopg

from bench.common import reference_day
from warehouse.config import settings

BENCH_DB = "warehouse_bench_surfaces"

SLICES = (
    "SELECT underlying, quote_date, expiration, min(t_years) AS t, avg(forward) AS f, "
    "array_agg(log_moneyness ORDER BY log_moneyness) AS k, "
    "array_agg(total_variance ORDER BY log_moneyness) AS w, "
    "array_agg(fit_weight ORDER BY log_moneyness) AS wt, "
    "array_agg(strike::float8 ORDER BY log_moneyness) AS strikes, "
    "array_agg(iv_mid ORDER BY log_moneyness) AS vols "
    "FROM intermediate.int_option_surface_quotes WHERE is_otm "
    "GROUP BY 1, 2, 3 HAVING count(*) >= 5"
)


def _wall(conn: psycopg.Connection, query: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        conn.execute(query).fetchall()
        best = min(best, time.perf_counter() - t0)
    return best


def in_database(seed: int, repeat: int) -> dict:
    """Build the reference day's surface inputs in the bench database and time the fits."""
    from warehouse.db.runtime import recreate_database
    from warehouse.dbt import run_dbt
    from warehouse.loaders.engine import load_path
    from warehouse.udfs.deploy import deploy

    out = reference_day(seed)
    recreate_database(settings().database)
    deploy()
    load_path("sim", out, progress=False)
    if run_dbt(["run", "--select", "+int_option_surface_quotes", "--quiet"]) != 0:
        raise SystemExit("dbt run of the surface inputs failed")
    res: dict = {}
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")
        conn.execute("CREATE TEMP TABLE bench_slices AS " + SLICES)
        (n,) = conn.execute("SELECT count(*) FROM bench_slices").fetchone()
        conn.execute("SELECT quant.svi_fit(k, w, wt, t) FROM bench_slices LIMIT 1").fetchall()
        t_read = _wall(conn, "SELECT k, w, wt, t FROM bench_slices", repeat)
        t_svi = _wall(conn, "SELECT quant.svi_fit(k, w, wt, t) FROM bench_slices", repeat)
        t_sabr = _wall(
            conn, "SELECT quant.sabr_fit(f, strikes, t, vols, 0.5) FROM bench_slices", repeat
        )
        (repaired,) = conn.execute(
            "SELECT count(*) FILTER (WHERE (quant.svi_fit(k, w, wt, t) ->> 'repaired')::bool) "
            "FROM bench_slices"
        ).fetchone()
        res.update(
            n_slices=n,
            svi_ms=1e3 * (t_svi - t_read) / n,
            sabr_ms=1e3 * (t_sabr - t_read) / n,
            svi_repaired=repaired,
        )
        # one reference-day surface of up to 320 OTM options, through SQL, cold and warm
        surface = (
            "WITH s AS (SELECT * FROM intermediate.int_option_surface_quotes WHERE is_otm "
            "AND abs(log_moneyness) <= 0.5 AND underlying = (SELECT underlying FROM "
            "intermediate.int_option_surface_quotes GROUP BY 1 ORDER BY count(*) DESC LIMIT 1) "
            "ORDER BY t_years, strike LIMIT 320) SELECT min(spot), array_agg(strike::float8), "
            "array_agg(t_years), array_agg(rate), array_agg(coalesce(implied_dividend_yield, 0)),"
            " array_agg(mid::float8), array_agg(is_call), count(*) FROM s"
        )
        args = conn.execute(surface).fetchone()
        call = "SELECT quant.heston_calibrate(%s, %s, %s, %s, %s, %s, %s, %s::jsonb, 0)"
        cold_runs, warm_runs = [], []
        fit = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            (fit,) = conn.execute(call, (*args[:7], None)).fetchone()
            cold_runs.append(time.perf_counter() - t0)
        for _ in range(repeat):
            t0 = time.perf_counter()
            conn.execute(call, (*args[:7], psycopg.types.json.Jsonb(fit))).fetchone()
            warm_runs.append(time.perf_counter() - t0)
        res.update(
            heston_sql_options=args[7],
            heston_sql_cold_ms=1e3 * min(cold_runs),
            heston_sql_warm_ms=1e3 * min(warm_runs),
            heston_sql_rmse_iv=fit["rmse_iv"],
        )
    return res


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpu", action="store_true", help="process CPU clock for the Python parts")
    args = ap.parse_args()
    os.environ["WAREHOUSE_DB"] = os.environ.get("WAREHOUSE_BENCH_SURFACES_DB", BENCH_DB)
    warnings.filterwarnings("ignore")
    from bench import bench_heston, bench_smiles

    db = in_database(args.seed, args.repeat)
    print("\n== in the database, reference day (int_option_surface_quotes, OTM, >= 5 quotes)")
    print(
        f"  {db['n_slices']:,} slices: SVI {db['svi_ms']:.2f} ms/slice "
        f"({db['svi_repaired']} repaired), SABR {db['sabr_ms']:.2f} ms/smile "
        "(goal <= 2 ms each; wall clock, one statement, minus the time to read the arrays)"
    )
    print(
        f"  quant.heston_calibrate on a {db['heston_sql_options']}-option reference-day surface:"
        f" cold {db['heston_sql_cold_ms']:.1f} ms, warm {db['heston_sql_warm_ms']:.1f} ms, "
        f"IV RMSE {100 * db['heston_sql_rmse_iv']:.2f} vol points"
    )

    print("\n== Heston, 320-option synthetic surface (bench.bench_heston)")
    h = bench_heston.run(runs=5, repeat=args.repeat, quantlib=True, cpu=args.cpu)
    for key in sorted(h):
        if isinstance(h[key], float | int | str | bool):
            print(f"  {key}: {h[key]}")

    print("\n== smiles in Python, synthetic slices (bench.bench_smiles)")
    s = bench_smiles.run(repeat=args.repeat, cpu=args.cpu)
    for key in sorted(s):
        if isinstance(s[key], float | int | str | bool):
            print(f"  {key}: {s[key]}")


if __name__ == "__main__":
    main()
