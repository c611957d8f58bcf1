"""Quant benchmark: implied vol + greeks in the database (batched UDFs) vs py_vollib_vectorized.

Inputs: the reference day of the simulated market (``warehouse.sim``, preset
``reference-day``, ~397k option quotes): price = mid of bid/ask, spot = mid of the underlying's
bid/ask, t = years (ACT/365) from the quote to the expiry's 16:00 New York close, r = the
zero curve of ``rates.csv`` interpolated at t, q = 0, one slice per (underlying, quote time).

Measured in one run, in a database of its own (``warehouse_bench_quant``, recreated, UDFs
deployed), best of ``--repeat`` (default 3), parallel query off (one core, like the library)
except where said:

* **in-DB, batched**: ``quant.implied_vol_greeks_batch`` once per slice over a table of
  per-slice arrays: IV + 8 greeks for every option as SQL ``float8[]`` values;
* **in-DB, batched, parallel**: the same per-slice calls under a parallel seq scan (1 worker
  + the leader: both cores; the worker is a new process that imports numpy, scipy.special and
  the UDF modules it needs, ~0.16 s, which is counted);
* **in-DB, two calls**: ``quant.implied_vol_batch`` then ``quant.bs_greeks_batch`` at that vol;
* **in-DB, rows to rows**: from a table of one row per option: ``array_agg`` per slice, the
  batched call, ``unnest(...) WITH ORDINALITY`` back to one row per option (not stored);
* **py_vollib_vectorized** (numba; after a warm-up call): ``vectorized_implied_volatility``
  + ``get_all_greeks`` (delta, gamma, theta, rho, vega) on the same numpy arrays, in process;
* for reference, ``python_udfs`` called in this process on the same arrays.

Misses: options strictly inside the no-arbitrage bounds (checked independently here) whose
implied vol is missing or does not re-price the input within 1e-9 relative (re-priced with
``python_udfs.black_scholes.bs_price``). Goal: in-DB >= 2x py_vollib_vectorized, zero misses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import time
import warnings
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pyarrow.compute as pc
import pyarrow.parquet as pq
from psycopg import sql

from bench.common import reference_day
from warehouse.config import settings

BENCH_DB = "warehouse_bench_quant"
GREEKS = ("delta", "gamma", "vega", "theta", "rho", "vanna", "volga", "charm")
NY = ZoneInfo("America/New_York")


def reference_inputs(out: Path) -> dict[str, np.ndarray]:
    """The option inputs of the reference day, sorted by slice (underlying, quote time)."""
    files = sorted((out / "option_quotes").glob("*.parquet"))
    cols = [
        "quote_ts",
        "underlying",
        "expiration",
        "strike",
        "option_right",
        "bid",
        "ask",
        "underlying_bid",
        "underlying_ask",
    ]
    table = pq.read_table(files, columns=cols) if len(files) > 1 else pq.read_table(files[0])
    quote_ts = table["quote_ts"].to_numpy().astype("datetime64[us]")
    expiration = table["expiration"].to_numpy().astype("datetime64[D]")
    days, which = np.unique(expiration, return_inverse=True)
    closes = []
    for day in days.astype(dt.date).tolist():
        close = dt.datetime(day.year, day.month, day.day, 16, tzinfo=NY).astimezone(dt.UTC)
        closes.append(np.datetime64(close.replace(tzinfo=None), "us"))
    expiry_ts = np.array(closes, dtype="datetime64[us]")[which]
    t = (expiry_ts - quote_ts).astype(np.float64) / (365.0 * 86400e6)
    rates = np.genfromtxt(out / "rates.csv", delimiter=",", names=True, dtype=None, encoding=None)
    r = np.interp(t * 365.0, rates["tenor_days"].astype(float), rates["zero_rate"].astype(float))
    bid = table["bid"].to_numpy()
    ask = table["ask"].to_numpy()
    ub = table["underlying_bid"].to_numpy()
    ua = table["underlying_ask"].to_numpy()
    key = pc.binary_join_element_wise(
        table["underlying"], pc.cast(table["quote_ts"], "string"), "|"
    ).to_numpy(zero_copy_only=False)
    _, slice_id = np.unique(key, return_inverse=True)
    _, quote_group = np.unique(quote_ts, return_inverse=True)
    order = np.argsort(slice_id, kind="stable")
    data = {
        "slice_id": slice_id.astype(np.int32),
        "quote_group": quote_group.astype(np.int32),
        "price": 0.5 * (bid + ask),
        "spot": 0.5 * (ub + ua),
        "strike": table["strike"].to_numpy(),
        "t": t,
        "r": r,
        "q": np.zeros_like(t),
        "is_call": pc.equal(table["option_right"], "C").to_numpy(zero_copy_only=False),
    }
    data = {k: np.ascontiguousarray(v[order]) for k, v in data.items()}
    data["option_id"] = np.arange(len(order), dtype=np.int32)
    return data


def in_bounds(d: dict[str, np.ndarray]) -> np.ndarray:
    """Options strictly inside the European no-arbitrage bounds (an IV exists)."""
    df_q = np.exp(-d["q"] * d["t"])
    df_r = np.exp(-d["r"] * d["t"])
    s, k, p = d["spot"] * df_q, d["strike"] * df_r, d["price"]
    lower = np.where(d["is_call"], np.maximum(s - k, 0.0), np.maximum(k - s, 0.0))
    upper = np.where(d["is_call"], s, k)
    ok = (d["t"] > 0) & (d["spot"] > 0) & (d["strike"] > 0) & (p > lower) & (p < upper)
    return ok


def misses(d: dict[str, np.ndarray], iv: np.ndarray, solvable: np.ndarray) -> int:
    from python_udfs.black_scholes import bs_price

    ivf = np.where(np.isfinite(iv), iv, 0.0)
    with np.errstate(all="ignore"):
        repriced = bs_price(d["spot"], d["strike"], d["t"], d["r"], d["q"], ivf, d["is_call"])
        err = np.abs(repriced - d["price"]) / d["price"]
    bad = ~np.isfinite(iv) | ~(err <= 1e-9)
    return int(np.count_nonzero(bad & solvable))


def _load(conn: psycopg.Connection, d: dict[str, np.ndarray]) -> None:
    conn.execute("DROP SCHEMA IF EXISTS bench_quant CASCADE")
    conn.execute("CREATE SCHEMA bench_quant")
    conn.execute(
        "CREATE TABLE bench_quant.options (slice_id int4, quote_group int4, option_id int4, "
        "price float8, spot float8, strike float8, t float8, r float8, q float8, "
        "is_call boolean)"
    )
    cols = (
        "slice_id",
        "quote_group",
        "option_id",
        "price",
        "spot",
        "strike",
        "t",
        "r",
        "q",
        "is_call",
    )
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY bench_quant.options (slice_id, quote_group, option_id, price, spot, strike, "
            "t, r, q, is_call) FROM STDIN (FORMAT BINARY)"
        ) as cp,
    ):
        cp.set_types(["int4", "int4", "int4", *["float8"] * 6, "bool"])
        for row in zip(*(d[c].tolist() for c in cols), strict=True):
            cp.write_row(row)
    for table, key in (("slices", "slice_id"), ("quote_times", "quote_group")):
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} AS SELECT {} AS slice_id, "
                "array_agg(option_id ORDER BY option_id) AS ids, "
                "array_agg(price ORDER BY option_id) AS price, "
                "array_agg(spot ORDER BY option_id) AS spot, "
                "array_agg(strike ORDER BY option_id) AS strike, "
                "array_agg(t ORDER BY option_id) AS t, array_agg(r ORDER BY option_id) AS r, "
                "array_agg(q ORDER BY option_id) AS q, "
                "array_agg(is_call ORDER BY option_id) AS is_call "
                "FROM bench_quant.options GROUP BY {}"
            ).format(sql.Identifier("bench_quant", table), sql.Identifier(key), sql.Identifier(key))
        )
    conn.execute("VACUUM ANALYZE bench_quant.options")
    conn.execute("VACUUM ANALYZE bench_quant.slices")
    conn.execute("VACUUM ANALYZE bench_quant.quote_times")


PARALLEL_SETTINGS = (
    "SET max_parallel_workers_per_gather = 1",
    "SET parallel_setup_cost = 0",
    "SET parallel_tuple_cost = 0",
    "SET min_parallel_table_scan_size = 0",
)


def q_batched(table: str) -> sql.Composed:
    return sql.SQL(
        "SELECT sum(cardinality(g.iv)), sum(cardinality(g.charm)) FROM {} s "
        "CROSS JOIN LATERAL quant.implied_vol_greeks_batch(s.price, s.spot, s.strike, s.t, s.r, "
        "s.q, s.is_call) g"
    ).format(sql.Identifier("bench_quant", table))


Q_TWO_CALLS = (
    "SELECT sum(cardinality(g.delta)), sum(cardinality(g.charm)) FROM bench_quant.slices s "
    "CROSS JOIN LATERAL quant.implied_vol_batch(s.price, s.spot, s.strike, s.t, s.r, s.q, "
    "s.is_call) AS v(iv) "
    "CROSS JOIN LATERAL quant.bs_greeks_batch(s.spot, s.strike, s.t, s.r, s.q, "
    "array_replace(v.iv, NULL, 0.0::float8), s.is_call) g"
)


def _unnest(key: str) -> sql.Composed:
    return sql.SQL(
        "FROM (SELECT {} AS slice_id, array_agg(option_id ORDER BY option_id) AS ids, "
        "array_agg(price ORDER BY option_id) AS price, "
        "array_agg(spot ORDER BY option_id) AS spot, "
        "array_agg(strike ORDER BY option_id) AS strike, array_agg(t ORDER BY option_id) AS t, "
        "array_agg(r ORDER BY option_id) AS r, array_agg(q ORDER BY option_id) AS q, "
        "array_agg(is_call ORDER BY option_id) AS is_call "
        "FROM bench_quant.options GROUP BY {}) s "
        "CROSS JOIN LATERAL quant.implied_vol_greeks_batch(s.price, s.spot, s.strike, s.t, s.r, "
        "s.q, s.is_call) g "
        "CROSS JOIN LATERAL unnest(s.ids, g.iv, g.delta, g.gamma, g.vega, g.theta, g.rho, "
        "g.vanna, g.volga, g.charm) WITH ORDINALITY "
        "AS u(option_id, iv, delta, gamma, vega, theta, rho, vanna, volga, charm, ord)"
    ).format(sql.Identifier(key), sql.Identifier(key))


def q_rows(key: str) -> sql.Composed:
    return sql.SQL(
        "SELECT count(*), sum(u.iv), sum(u.delta), sum(u.gamma), sum(u.vega), sum(u.theta), "
        "sum(u.rho), sum(u.vanna), sum(u.volga), sum(u.charm) {}"
    ).format(_unnest(key))


def q_fetch() -> sql.Composed:
    return sql.SQL(
        "SELECT u.option_id, u.iv, u.delta, u.gamma, u.vega, u.theta, u.rho, u.vanna, u.volga, "
        "u.charm {} ORDER BY u.option_id"
    ).format(_unnest("slice_id"))


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _py_vollib(d: dict[str, np.ndarray]):
    from py_vollib_vectorized import get_all_greeks, vectorized_implied_volatility

    flag = np.where(d["is_call"], "c", "p")

    def run():
        iv = vectorized_implied_volatility(
            d["price"],
            d["spot"],
            d["strike"],
            d["t"],
            d["r"],
            flag,
            q=d["q"],
            model="black_scholes_merton",
            return_as="numpy",
        )
        greeks = get_all_greeks(
            flag,
            d["spot"],
            d["strike"],
            d["t"],
            d["r"],
            iv,
            q=d["q"],
            model="black_scholes_merton",
            return_as="dict",
        )
        return np.asarray(iv, dtype=np.float64), greeks

    return run


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--model-only",
        action="store_true",
        help="only the int_option_quotes_iv materialisation benchmark (keeps the database, "
        "deploys the UDFs if changed)",
    )
    args = ap.parse_args()
    os.environ["WAREHOUSE_DB"] = os.environ.get("WAREHOUSE_BENCH_QUANT_DB", BENCH_DB)
    warnings.filterwarnings("ignore")

    from python_udfs.iv_greeks import implied_vol_and_greeks
    from warehouse.db.runtime import recreate_database
    from warehouse.udfs.deploy import deploy

    out = reference_day(args.seed)
    if args.model_only:
        deploy()
        bench_int_option_quotes_iv(out, args.repeat)
        return
    d = reference_inputs(out)
    n = d["price"].size
    n_slices = int(d["slice_id"].max()) + 1
    solvable = in_bounds(d)

    recreate_database(settings().database)
    t0 = time.perf_counter()
    report = deploy()
    t_deploy_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    report2 = deploy()
    t_deploy_warm = time.perf_counter() - t0
    assert report2.changed == 0, report2.summary()

    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as conn:
        _load(conn, d)
        conn.execute("SET max_parallel_workers_per_gather = 0")
        conn.execute("SET work_mem = '256MB'")
        conn.execute(q_batched("slices"))  # warm-up: session imports the package, plans

        def timed(query) -> float:
            return _best(lambda: conn.execute(query).fetchall(), args.repeat)

        times = {
            "batched": timed(q_batched("slices")),
            "batched_qt": timed(q_batched("quote_times")),
            "two_calls": timed(Q_TWO_CALLS),
            "rows": timed(q_rows("slice_id")),
            "rows_qt": timed(q_rows("quote_group")),
        }
        # both cores: the same per-slice calls under a parallel seq scan of the slices table
        # (the functions are PARALLEL SAFE), the leader and one worker; the worker is a new
        # process that imports the UDF modules first, which is part of the time
        for setting in PARALLEL_SETTINGS:
            conn.execute(setting)
        plan = conn.execute(sql.SQL("EXPLAIN ANALYZE ") + q_batched("slices")).fetchall()
        launched = re.search(r"Workers Launched: (\d+)", "\n".join(r[0] for r in plan))
        workers = int(launched.group(1)) if launched else 0
        times["batched_par"] = timed(q_batched("slices"))
        conn.execute("SET max_parallel_workers_per_gather = 0")
        rows = conn.execute(q_fetch()).fetchall()
    db = np.array([[np.nan if v is None else v for v in row[1:]] for row in rows])
    db_iv = db[:, 0]

    local = implied_vol_and_greeks(
        d["price"], d["spot"], d["strike"], d["t"], d["r"], d["q"], d["is_call"]
    )
    times["python_udfs"] = _best(
        lambda: implied_vol_and_greeks(
            d["price"], d["spot"], d["strike"], d["t"], d["r"], d["q"], d["is_call"]
        ),
        args.repeat,
    )
    pvv = _py_vollib(d)
    pvv()  # warm-up: numba compiles
    times["py_vollib"] = _best(pvv, args.repeat)
    pvv_iv, _ = pvv()

    max_rel = 0.0
    for j, name in enumerate(("iv", *GREEKS)):
        a, b = db[:, j], np.asarray(local[name])
        same_nan = np.isnan(a) == np.isnan(b)
        if not same_nan.all():
            raise SystemExit(f"{name}: NULL pattern differs between the database and the venv")
        fin = ~np.isnan(a)
        rel = np.abs(a[fin] - b[fin]) / np.maximum(np.abs(b[fin]), 1e-300)
        max_rel = max(max_rel, float(rel.max(initial=0.0)))

    n_qt = int(d["quote_group"].max()) + 1
    print(
        f"\nreference day: {n:,} options in {n_slices} slices (underlying, quote time), "
        f"{n_qt} quote time(s); {int(solvable.sum()):,} strictly inside the no-arbitrage bounds"
    )
    print(
        f"deploy: cold {t_deploy_cold:.2f}s ({report.changed} objects), "
        f"warm {t_deploy_warm:.2f}s (0 changed)"
    )
    print(f"{'variant':66s} {'seconds':>8s} {'options/s':>12s}")
    labels = {
        "batched": f"in-DB: implied_vol_greeks_batch, {n_slices} calls (one per slice)",
        "batched_qt": f"in-DB: implied_vol_greeks_batch, {n_qt} call(s) (one per quote time)",
        "batched_par": f"in-DB: implied_vol_greeks_batch per slice, parallel ({workers} worker(s)"
        " + leader)",
        "two_calls": f"in-DB: implied_vol_batch + bs_greeks_batch, {n_slices} calls each",
        "rows": "in-DB rows->rows: array_agg per slice, batch, unnest",
        "rows_qt": "in-DB rows->rows: array_agg per quote time, batch, unnest",
        "py_vollib": "py_vollib_vectorized: IV + get_all_greeks (5 greeks)",
        "python_udfs": "python_udfs in this process, one call (IV + 8 greeks)",
    }
    for key in labels:
        print(f"{labels[key]:66s} {times[key]:8.3f} {n / times[key]:12,.0f}")
    best_batched = min(times["batched"], times["batched_qt"])
    best_rows = min(times["rows"], times["rows_qt"])
    print(
        f"\nin-DB batched / py_vollib_vectorized throughput: per slice "
        f"{times['py_vollib'] / times['batched']:.2f}x, best "
        f"{times['py_vollib'] / best_batched:.2f}x (goal >= 2x); rows->rows best "
        f"{times['py_vollib'] / best_rows:.2f}x"
    )
    print(
        f"misses (in bounds, IV missing or re-pricing off by > 1e-9 rel): in-DB "
        f"{misses(d, db_iv, solvable)}, py_vollib_vectorized {misses(d, pvv_iv, solvable)}"
    )
    print(
        f"both cores (parallel query, {workers} worker(s) launched + the leader): per slice "
        f"{times['py_vollib'] / times['batched_par']:.2f}x py_vollib_vectorized (one thread)"
    )
    print(f"in-DB vs python_udfs in the venv: max relative difference {max_rel:.1e}")
    bench_int_option_quotes_iv(out, args.repeat)


def _backend_cpu(conn: psycopg.Connection):
    """A function returning the CPU seconds (user + system) used so far by ``conn``'s server
    process, read from /proc (the server runs on this machine); None when unreadable."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    stat = Path(f"/proc/{pid}/stat")
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float | None:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / tick

    return read if read() is not None else (lambda: None)


def _timed_statements(conn: psycopg.Connection, statements) -> tuple[float, float | None]:
    """(wall seconds, server CPU seconds or None) of running ``statements`` in order."""
    cpu = _backend_cpu(conn)
    c0, t0 = cpu(), time.perf_counter()
    for stmt in statements:
        conn.execute(stmt)
    wall, c1 = time.perf_counter() - t0, cpu()
    return wall, (None if c0 is None or c1 is None else c1 - c0)


def _fmt(wall: float, cpu: float | None, base: tuple[float, float | None]) -> str:
    text = f"{wall:6.2f}s {wall / base[0]:5.2f}x"
    if cpu is not None and base[1]:
        text += f" | server CPU {cpu:6.2f}s {cpu / base[1]:5.2f}x"
    return text


def bench_int_option_quotes_iv(out: Path, repeat: int = 3) -> None:
    """Materialising int_option_quotes_iv for the reference day vs COPY of the same rows into
    a bare table, measured in the same run (the machine may be loaded: compare the ratios).
    Goal: materialisation <= 1.5x COPY.

    * ``dbt run --full-refresh`` wall time, best of ``repeat``: includes dbt's start-up and
      project parsing (~4 s, not materialisation);
    * dbt's own ``execution_time`` of the node (``run_results.json``), best of ``repeat``
      (each run a new session): the model's pre-hooks
      (quant.udf_warm: the session installs python_udfs, ~0.1 s), the CREATE TABLE AS (its
      first UDF call imports the modules it needs), the column comments, the hypertable
      post-hook (``make_hypertable``: migrate_data) and the backup-table drop;
    * the model's compiled SQL (the ``--full-refresh`` rendering, ``target/compiled``) run
      directly with psycopg in a session that has installed the UDFs, as the materialisation
      writes it: CREATE TABLE AS (two parallel workers and parallel_setup_cost 20000, as the
      model's pre-hooks), then create_hypertable with migrate_data and the default index built
      after; best of ``repeat``; server CPU is the leader's (the workers' is not counted);
    * baseline: COPY FROM STDIN (text) of the model's rows, exported beforehand, into a bare
      table with its columns (``CREATE TABLE ... AS SELECT * ... LIMIT 0``); best of
      ``repeat``.

    Wall seconds and, where /proc of the server is readable, the server process's CPU
    seconds (insensitive to other load on the machine). Runs in the benchmark database (UDFs
    deployed by ``main``); loads the reference day with ``load_path("sim", out)``.
    """
    import json
    import tempfile

    from warehouse.config import REPO_ROOT
    from warehouse.dbt import run_dbt
    from warehouse.loaders.engine import load_path

    t0 = time.perf_counter()
    load_path("sim", out, progress=False)
    print(f"\nint_option_quotes_iv: loaded the reference day in {time.perf_counter() - t0:.1f}s")
    target = Path(os.environ.get("DBT_TARGET_PATH") or tempfile.mkdtemp(prefix="bench_dbt_"))
    os.environ["DBT_TARGET_PATH"] = str(target)
    if not target.is_absolute():
        target = REPO_ROOT / target
    staging = ["run", "--select", "+int_option_quotes_iv", "--exclude", "int_option_quotes_iv"]
    if run_dbt([*staging, "--quiet"]) != 0:
        raise SystemExit("dbt run of the staging views failed")
    t_dbt = t_node = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        rc = run_dbt(["run", "--select", "int_option_quotes_iv", "--full-refresh", "--quiet"])
        t_dbt = min(t_dbt, time.perf_counter() - t0)
        if rc != 0:
            raise SystemExit("dbt run of int_option_quotes_iv failed")
        results = json.loads((target / "run_results.json").read_text())["results"]
        node = next(r for r in results if r["unique_id"].endswith(".int_option_quotes_iv"))
        t_node = min(t_node, float(node["execution_time"]))
    compiled = next((target / "compiled").rglob("models/intermediate/int_option_quotes_iv.sql"))
    select_sql = compiled.read_text()

    model = sql.Identifier("intermediate", "int_option_quotes_iv")
    scratch = sql.Identifier("public", "bench_iv_direct")
    with psycopg.connect(settings().dsn("admin"), autocommit=True) as conn:
        n_rows, n_cols = conn.execute(
            sql.SQL(
                "SELECT count(*), (SELECT count(*) FROM information_schema.columns "
                "WHERE table_schema = 'intermediate' AND table_name = 'int_option_quotes_iv') "
                "FROM {}"
            ).format(model)
        ).fetchone()
        buf = bytearray()
        # a hypertable: COPY of the relation itself would read only its (empty) parent
        copy_out = sql.SQL("COPY (SELECT * FROM {}) TO STDOUT").format(model)
        with conn.cursor().copy(copy_out) as cp:
            for chunk in cp:
                buf += chunk

        def copy_in() -> tuple[float, float | None]:
            conn.execute("DROP TABLE IF EXISTS public.bench_iv_copy")
            conn.execute(
                sql.SQL("CREATE TABLE public.bench_iv_copy AS SELECT * FROM {} LIMIT 0").format(
                    model
                )
            )
            cpu = _backend_cpu(conn)
            c0, t0 = cpu(), time.perf_counter()
            with conn.cursor().copy("COPY public.bench_iv_copy FROM STDIN") as cp:
                view = memoryview(buf)
                for i in range(0, len(view), 1 << 20):
                    cp.write(view[i : i + (1 << 20)])
            wall, c1 = time.perf_counter() - t0, cpu()
            conn.execute("DROP TABLE public.bench_iv_copy")
            return wall, (None if c0 is None or c1 is None else c1 - c0)

        t_warm = _timed_statements(conn, ["SELECT quant.udf_warm()"])
        # the model's pre-hooks: work_mem, 2 parallel workers (var iv_parallel_workers) and
        # parallel_setup_cost 20000 (var iv_parallel_setup_cost): its branches side by side
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET max_parallel_workers_per_gather = 2")
        conn.execute("SET parallel_setup_cost = 20000")
        direct, copy = [], []
        for _ in range(repeat):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))
            ctas = _timed_statements(
                conn, [sql.SQL("CREATE TABLE {} AS ").format(scratch) + sql.SQL(select_sql)]
            )
            # as macros/hypertable.sql: rows moved without indexes, then the default index
            migrate = _timed_statements(
                conn,
                [
                    sql.SQL(
                        "SELECT public.create_hypertable({}::regclass, "
                        "public.by_range('quote_ts', interval '1 day'), migrate_data => true, "
                        "create_default_indexes => false)"
                    ).format(sql.Literal("public.bench_iv_direct")),
                    sql.SQL("CREATE INDEX ON {} (quote_ts DESC)").format(scratch),
                ],
            )
            direct.append((ctas, migrate))
            copy.append(copy_in())
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(scratch))

    def total(pair):
        (w1, c1), (w2, c2) = pair
        return w1 + w2, (None if c1 is None or c2 is None else c1 + c2)

    best_direct = min(direct, key=lambda p: total(p)[0])
    t_direct = total(best_direct)
    base = min(copy, key=lambda c: c[0])
    print(
        f"int_option_quotes_iv: {n_rows:,} rows x {n_cols} columns; baseline COPY of the same "
        f"rows into a bare table {base[0]:.2f}s"
        + (f" (server CPU {base[1]:.2f}s)" if base[1] is not None else "")
        + f", {len(buf) / 1e6:.0f} MB text; goal <= 1.5x"
    )
    print(f"  dbt run --full-refresh, wall incl. dbt start-up  {_fmt(t_dbt, None, base)}")
    print(f"  dbt node execution_time (run_results.json)      {_fmt(t_node, None, base)}")
    print(
        f"  compiled SQL direct: CTAS + hypertable migrate   {_fmt(*t_direct, base)}"
        f"  [CTAS {best_direct[0][0]:.2f}s, migrate {best_direct[1][0]:.2f}s; the session's "
        f"UDF install (quant.udf_warm) before it {t_warm[0]:.2f}s]"
    )


if __name__ == "__main__":
    main()
