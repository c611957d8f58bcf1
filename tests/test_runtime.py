"""The database runtime: provisioning is idempotent, roles can do what they should, no more."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from warehouse.config import settings

WAREHOUSE = [sys.executable, "-m", "warehouse.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*WAREHOUSE, *args], capture_output=True, text=True, check=False)


def test_db_up_is_idempotent(warehouse_db):
    first = run("db", "up")
    assert first.returncode == 0, first.stderr
    second = run("db", "up")
    assert second.returncode == 0, second.stderr
    assert "migrations applied now: none" in second.stdout
    assert "packages present" in second.stderr


def test_cluster_has_the_three_extensions_and_preloads_timescaledb(conn):
    ext = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
    assert {"timescaledb", "vector", "plpython3u"} <= ext
    with psycopg.connect(settings().dsn("admin")) as admin:
        assert "timescaledb" in admin.execute("SHOW shared_preload_libraries").fetchone()[0]
    assert conn.execute("SHOW port").fetchone()[0] == str(settings().port)


def test_server_python_has_numpy_scipy_pandas(warehouse_db):
    with psycopg.connect(settings().dsn("admin")) as c:
        c.execute(
            "CREATE OR REPLACE FUNCTION pg_temp.stack() RETURNS text LANGUAGE plpython3u AS $$\n"
            "import numpy, scipy, pandas, sys\n"
            "v = sys.version_info\n"
            "return f'{v[0]}.{v[1]} {numpy.__version__} {scipy.__version__}'\n$$"
        )
        version = c.execute("SELECT pg_temp.stack()").fetchone()[0]
    major_minor, numpy_version, scipy_version = version.split()
    assert int(major_minor.split(".")[0]) == 3
    assert int(numpy_version.split(".")[0]) >= 1 and int(scipy_version.split(".")[1]) >= 0


def test_raw_tables_are_hypertables(conn):
    rows = dict(
        conn.execute(
            "SELECT hypertable_schema || '.' || hypertable_name, num_dimensions "
            "FROM timescaledb_information.hypertables"
        ).fetchall()
    )
    for t in (
        "raw.equity_trades",
        "raw.equity_quotes",
        "raw.option_quotes",
        "raw.news",
        "raw.equity_bars",
    ):
        assert rows.get(t) == 1, t


def test_analyst_reads_but_cannot_write(warehouse_db):
    with psycopg.connect(settings().dsn("analyst")) as c:
        assert c.execute("SELECT count(*) FROM raw.option_quotes").fetchone()[0] >= 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("INSERT INTO ref.instruments (symbol, source) VALUES ('X', 'test')")


def test_worker_is_confined_to_ops(warehouse_db):
    with psycopg.connect(settings().dsn("pipeline")) as c:
        c.execute("CREATE TABLE IF NOT EXISTS ops._grant_probe (id int)")
    with psycopg.connect(settings().dsn("worker")) as c:
        c.execute("INSERT INTO ops._grant_probe VALUES (1)")
        assert c.execute("SELECT count(*) FROM ops._grant_probe").fetchone()[0] >= 1
        c.commit()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT count(*) FROM raw.option_quotes")
    with psycopg.connect(settings().dsn("pipeline")) as c:
        c.execute("DROP TABLE ops._grant_probe")


def test_only_admin_may_create_plpython_functions(warehouse_db):
    with (
        psycopg.connect(settings().dsn("pipeline")) as c,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        c.execute("CREATE FUNCTION public.f() RETURNS int LANGUAGE plpython3u AS $$return 1$$")


def test_migrations_refuse_an_edited_file(warehouse_db):
    from warehouse.db import migrate as m

    # one transaction, rolled back: the recorded hash is changed only for this check
    with psycopg.connect(settings().dsn("pipeline")) as c:
        c.execute(
            "UPDATE meta.schema_migrations SET sha256 = 'edited' WHERE version = '001_schemas'"
        )
        with pytest.raises(m.MigrationError, match="edited after it was applied"):
            m.migrate(c)
        c.rollback()
        assert m.migrate(c) == []


def test_parallel_scans_of_hypertables_return_every_row(warehouse_db):
    """TimescaleDB 2.19's parallel-aware ChunkAppend intermittently returns no rows when a
    chunk's condition references an InitPlan parameter under a parallel join
    (timescale/timescaledb#10503; this probe returned 0 rows in 2 of 15 runs with the node
    on). The cluster turns it off (provision.sh); the join still runs in parallel workers and
    counts every row, 30 times out of 30."""
    with psycopg.connect(settings().dsn("admin"), autocommit=True) as c:
        assert c.execute("SHOW timescaledb.enable_parallel_chunk_append").fetchone()[0] == "off"
        c.execute("DROP SCHEMA IF EXISTS parallel_probe CASCADE")
        c.execute("CREATE SCHEMA parallel_probe")
        c.execute(
            "CREATE TABLE parallel_probe.ticks (ts timestamptz NOT NULL, sym text NOT NULL, "
            "v float8)"
        )
        c.execute(
            "SELECT public.create_hypertable('parallel_probe.ticks', "
            "public.by_range('ts', interval '1 day'))"
        )
        c.execute(
            "INSERT INTO parallel_probe.ticks SELECT '2024-01-02 15:00+00'::timestamptz "
            "+ (g % 300) * interval '1 second', 'S' || (g % 50000), g "
            "FROM generate_series(1, 300000) AS g"
        )
        c.execute(
            "CREATE TABLE parallel_probe.syms AS SELECT 'S' || g AS sym FROM "
            "generate_series(0, 49999) AS g"
        )
        c.execute("ANALYZE parallel_probe.ticks")
        c.execute("ANALYZE parallel_probe.syms")
        for setting in (
            "parallel_setup_cost = 0",
            "parallel_tuple_cost = 0",
            "min_parallel_table_scan_size = 0",
            "max_parallel_workers_per_gather = 2",
        ):
            c.execute("SET " + setting)
        query = (
            "SELECT count(*) FROM parallel_probe.ticks t JOIN parallel_probe.syms s USING (sym) "
            "WHERE t.ts >= (SELECT '-infinity'::timestamptz)"
        )
        plan = "\n".join(r[0] for r in c.execute("EXPLAIN " + query).fetchall())
        assert "Parallel Hash Join" in plan and "Parallel Custom Scan" not in plan, plan
        counts = [c.execute(query).fetchone()[0] for _ in range(30)]
        c.execute("DROP SCHEMA parallel_probe CASCADE")
    assert counts == [300000] * 30
