"""Load benchmark: the reference day's option quotes through the loader vs plain COPY.

Measured in one run, in a database of its own (``warehouse_bench``, recreated):

* **pipeline**: ``load_path("sim", <option_quotes file>)`` — read Parquet, validate every rule,
  quarantine, register contracts, manifest and report, binary COPY, commit;
* **baseline**: the same file read with pyarrow and its rows sent as they are by plain
  binary COPY into an identical hypertable (same columns, same indexes, same chunking),
  commit: reading, transport and the server's work, with no validation;
* also shown: the baseline by CSV COPY, and both COPYs into a bare table without indexes.

Each variant runs ``--repeat`` times (default 3) on a fresh table; the best time counts.
Goal (issue 2): >= 200k quotes/s and >= 0.8x plain COPY.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import sql

from bench.common import reference_day
from warehouse.config import settings
from warehouse.loaders import copyio
from warehouse.loaders.engine import load_path

BENCH_DB = "warehouse_bench"


def _fresh_copy_target(conn: psycopg.Connection, name: str, indexes: bool) -> sql.Identifier:
    ident = sql.Identifier("public", name)
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
    conn.execute(
        sql.SQL(
            "CREATE TABLE {} (LIKE raw.option_quotes INCLUDING DEFAULTS INCLUDING CONSTRAINTS{})"
        ).format(ident, sql.SQL(" INCLUDING INDEXES" if indexes else ""))
    )
    conn.execute(
        "SELECT create_hypertable(%s::regclass, by_range('quote_ts', INTERVAL '1 day'))",
        (f"public.{name}",),
    )
    conn.commit()
    return ident


def _read_for_copy(option_file: Path, types: dict[str, str]) -> pa.Table:
    """The file's rows as an Arrow table typed for the target: what a plain COPY loads."""
    table = pq.read_table(option_file)
    cols = [c for c in types if c in table.column_names]
    table = table.select(cols).append_column(
        "load_id", pa.array(np.zeros(table.num_rows, dtype=np.int64))
    )
    schema = pa.schema([(c, copyio.BINARY_TYPES[types[c]]) for c in table.column_names])
    return table.cast(schema)


def _baseline(conn, option_file: Path, types, fmt: str, indexes: bool) -> float:
    """Read the file and COPY its rows as they are into a fresh identical hypertable."""
    target = _fresh_copy_target(conn, "bench_plain_copy", indexes)
    t0 = time.perf_counter()
    table = _read_for_copy(option_file, types)
    with conn.cursor() as cur:
        if fmt == "binary":
            copyio.copy_arrow(cur, target, table, types)
        else:
            stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                target, sql.SQL(", ").join(map(sql.Identifier, table.column_names))
            )
            with cur.copy(stmt) as cp:
                for block in copyio._csv_blocks(table):
                    cp.write(block)
    conn.commit()
    return time.perf_counter() - t0


def _pipeline(conn, option_file: Path) -> tuple[float, float]:
    """Seconds for the loader's file transaction, and for registering the new contracts."""
    from warehouse.loaders.engine import get_source, load_file, register_contracts

    # fresh raw.option_quotes and manifest, so every repeat loads for real
    conn.execute("TRUNCATE raw.option_quotes")
    conn.execute("DELETE FROM raw.quarantine WHERE source_file = %s", (str(option_file),))
    conn.execute("DELETE FROM raw.file_manifest WHERE file_path = %s", (str(option_file),))
    conn.execute("TRUNCATE ref.option_contracts")
    conn.commit()
    t0 = time.perf_counter()
    report = load_file(conn, get_source("sim"), option_file, progress=False)
    t1 = time.perf_counter()
    if report.status != "loaded":
        raise SystemExit(f"pipeline load failed: {report.error}")
    register_contracts(conn, [report.contracts])
    return t1 - t0, time.perf_counter() - t1


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    # a database of its own (settings are resolved lazily, on first use)
    os.environ["WAREHOUSE_DB"] = os.environ.get("WAREHOUSE_BENCH_DB", BENCH_DB)

    from warehouse.db.runtime import recreate_database

    out = reference_day(args.seed)
    recreate_database(settings().database)
    from warehouse.loaders.engine import get_source

    files = get_source("sim").files(out)
    option_file = next(
        f for f in files if "option_quotes" in f.parts[-2] or "option_quotes" in f.name
    )
    with psycopg.connect(settings().dsn("pipeline")) as conn:
        # reference data first (instruments, rates...), not timed
        for f in files:
            if f.suffix == ".csv":
                load_path("sim", f, progress=False, conn=conn)
        types = copyio.column_types(conn, "raw.option_quotes")
        n = pq.read_metadata(option_file).num_rows
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for key, fmt, idx in (
                ("copy_binary", "binary", True),
                ("copy_csv", "csv", True),
                ("copy_binary_noindex", "binary", False),
            ):
                dt = _baseline(conn, option_file, types, fmt, idx)
                best[key] = min(best.get(key, dt), dt)
            dt, dc = _pipeline(conn, option_file)
            best["pipeline"] = min(best.get("pipeline", dt), dt)
            best["contracts"] = min(best.get("contracts", dc), dc)
        conn.execute("DROP TABLE IF EXISTS public.bench_plain_copy")
        q = conn.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0]
        conn.commit()

    print(
        f"\nreference day: {n:,} option quotes ({option_file.name}), "
        f"{q:,} quarantined by the pipeline"
    )
    print(f"{'variant':44s} {'seconds':>8s} {'quotes/s':>12s}")
    labels = {
        "pipeline": "loader (parse+validate+quarantine+COPY)",
        "copy_binary": "baseline: plain binary COPY, same indexes",
        "copy_csv": "plain CSV COPY, same indexes",
        "copy_binary_noindex": "plain binary COPY, no indexes",
        "contracts": "then: register the new contracts (ref)",
    }
    for key in ("pipeline", "copy_binary", "copy_csv", "copy_binary_noindex", "contracts"):
        print(f"{labels[key]:44s} {best[key]:8.2f} {n / best[key]:12,.0f}")
    ratio = best["copy_binary"] / best["pipeline"]
    print(f"\nloader / plain binary COPY throughput ratio: {ratio:.2f}x (goal >= 0.80)")
    print(f"loader throughput: {n / best['pipeline']:,.0f} quotes/s (goal >= 200,000)")


if __name__ == "__main__":
    main()
