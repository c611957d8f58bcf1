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
