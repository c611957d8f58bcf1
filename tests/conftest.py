"""Test session setup: an isolated database on the project's real cluster.

Tests run against the real PostgreSQL/TimescaleDB cluster (``make test`` provisions it), in
a database of their own (``WAREHOUSE_TEST_DB``, default ``warehouse_test``) recreated from
the migrations at the start of every session, so the demo's data is never touched.
"""

from __future__ import annotations

import os

os.environ["WAREHOUSE_DB"] = os.environ.get("WAREHOUSE_TEST_DB", "warehouse_test")
os.environ.setdefault("DO_NOT_TRACK", "1")

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from warehouse.config import settings


@pytest.fixture(scope="session")
def warehouse_db() -> str:
    """A freshly migrated, empty test database; returns its name."""
    from warehouse.db.runtime import recreate_database

    name = settings().database
    recreate_database(name)
    return name


@pytest.fixture
def conn(warehouse_db: str):
    """A pipeline-role connection to the test database, in autocommit mode so that no test
    holds a snapshot or a lock that a loader or ``drop_chunks`` would wait on."""
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        yield c


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real samples folder; tests needing it skip (saying so) where it is absent."""
    path = settings().real_data_dir
    if not path.is_dir():
        pytest.skip(f"real samples folder {path} is absent (set WAREHOUSE_REAL_DATA_DIR)")
    return path


@pytest.fixture(scope="module")
def module_db(warehouse_db: str, request) -> Iterator[str]:
    """A freshly migrated database of the test module's own (``<test db>_<module>``), dropped
    afterwards; ``settings()`` (hence ``conn``, the loaders, dbt) points at it meanwhile.

    For modules that build incremental dbt models over a simulated world: the models' rebuild
    windows follow the newest date already in the table, so worlds of other modules with later
    dates in a shared database would hide this module's rows.
    """
    from psycopg import sql

    from warehouse.db.runtime import recreate_database

    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = f"{warehouse_db}_{module}"
    saved = os.environ["WAREHOUSE_DB"]
    os.environ["WAREHOUSE_DB"] = name
    settings.cache_clear()
    try:
        recreate_database(name)
        yield name
    finally:
        os.environ["WAREHOUSE_DB"] = saved
        settings.cache_clear()
        admin = settings().dsn("admin").rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as c:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            c.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def deployed_udfs(module_db: str) -> str:
    """``module_db`` with the python_udfs package deployed (as the admin role); its name."""
    from warehouse.udfs import deploy as udfs

    with psycopg.connect(settings().dsn("admin"), autocommit=True) as admin:
        admin.execute("SET client_min_messages = warning")
        udfs.deploy(admin, modules=udfs.collect_package())
    return module_db


def load_sim_world(out: Path, *, seed: int, underlyings: int, days: int, start) -> None:
    """Simulate the ``ci`` preset (``underlyings`` x ``days`` sessions from ``start``) into
    ``out`` and load it into the test database (every file loaded or already there)."""
    from warehouse.loaders.engine import load_path
    from warehouse.sim import simulate

    simulate(out, seed=seed, preset="ci", underlyings=underlyings, days=days, start=start)
    reports = load_path("sim", out, progress=False)
    assert all(r.status in ("loaded", "skipped_already_loaded") for r in reports)


def build_and_test(run_select: str, *test_models: str) -> None:
    """``dbt run --select run_select`` then ``dbt test`` of ``test_models`` only (other
    modules' crafted raw rows may fail upstream source tests of a shared test database)."""
    from warehouse.dbt import run_dbt

    assert run_dbt(["run", "--select", run_select, "--quiet"]) == 0
    assert run_dbt(["test", "--select", *test_models, "--quiet"]) == 0


# --- point-in-time tests: sources truncated at the end of a date, built into scratch schemas


def approx_equal(a, b, what: str, rel: float) -> None:
    """Assert ``a`` equals ``b`` within ``rel`` (abs 1e-12) for numbers; None == None == NaN;
    dicts and lists element by element; anything else exactly."""
    import math

    if isinstance(a, dict) or isinstance(b, dict):
        assert isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys(), what
        for k in a:
            approx_equal(a[k], b[k], f"{what}.{k}", rel)
        return
    if isinstance(a, list) or isinstance(b, list):
        assert isinstance(a, list) and isinstance(b, list) and len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            approx_equal(x, y, f"{what}[{i}]", rel)
        return
    if (isinstance(a, float | int) and not isinstance(a, bool)) or isinstance(b, float):
        fa = math.nan if a is None else float(a)
        fb = math.nan if b is None else float(b)
        if math.isnan(fa) or math.isnan(fb):
            assert math.isnan(fa) and math.isnan(fb), f"{what}: {a!r} != {b!r}"
            return
        assert math.isclose(fa, fb, rel_tol=rel, abs_tol=1e-12), f"{what}: {a!r} != {b!r}"
    else:
        assert a == b, f"{what}: {a!r} != {b!r}"


SCRATCH_LAYERS = ("raw", "ref", "staging", "intermediate", "marts", "analytics")


def drop_scratch(conn: psycopg.Connection, suffix: str) -> None:
    """Drop the scratch schemas ``<layer><suffix>`` (dbt var schema_suffix builds into them)."""
    from psycopg import sql

    for layer in SCRATCH_LAYERS:
        conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(layer + suffix))
        )


def copy_sources(conn: psycopg.Connection, sources, suffix: str, day, *, rest: bool) -> None:
    """Copy ``sources`` ((schema, table, time column or None, is it a date)) into the scratch
    schemas: the rows up to the end of ``day`` (rest=False, creating the tables; a date column
    <= day, a timestamp < the next New York midnight; tables without a time column whole) or
    the rows after it (rest=True)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from psycopg import sql

    day_end = datetime.combine(
        day + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo("America/New_York")
    )
    for schema, table, col, is_date in sources:
        src, dst = sql.Identifier(schema, table), sql.Identifier(schema + suffix, table)
        if not rest:
            conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(dst, src))
        if col is None:
            if not rest:
                conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(dst, src))
            continue
        op = (">" if is_date else ">=") if rest else ("<=" if is_date else "<")
        conn.execute(
            sql.SQL("INSERT INTO {} SELECT * FROM {} WHERE {} " + op + " %s").format(
                dst, src, sql.Identifier(col)
            ),
            (day if is_date else day_end,),
        )


def create_scratch(conn: psycopg.Connection, sources, suffix: str, day) -> None:
    """Fresh scratch schemas with ``sources`` truncated at the end of ``day``."""
    from psycopg import sql

    drop_scratch(conn, suffix)
    for schema in ("raw", "ref"):
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema + suffix)))
    copy_sources(conn, sources, suffix, day, rest=False)
