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
