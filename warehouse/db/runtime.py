"""Bring the local warehouse cluster up or down and report its status."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from warehouse.config import settings
from warehouse.db.connect import connect
from warehouse.db.grants import apply_grants
from warehouse.db.migrate import migrate

PROVISION_SCRIPT = Path(__file__).with_name("provision.sh")


class RuntimeErrorWarehouse(RuntimeError):
    """Provisioning or cluster control failed; the message says what to do."""


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update(settings().env())
    return env


def provision() -> None:
    """Install packages (if missing), create/start the cluster, roles, database, extensions."""
    if shutil.which("apt-get") is None:
        raise RuntimeErrorWarehouse(
            "no apt-get on this system: install PostgreSQL 17 with TimescaleDB, pgvector and "
            "PL/Python 3 (numpy, scipy, pandas) yourself, or use the timescale/timescaledb-ha "
            "container described in the README, then set WAREHOUSE_PG_* to reach it"
        )
    proc = subprocess.run(["bash", str(PROVISION_SCRIPT)], env=_env(), check=False)
    if proc.returncode != 0:
        raise RuntimeErrorWarehouse(f"provisioning failed (exit {proc.returncode}); see above")


def up() -> list[str]:
    """Provision, start, migrate and grant. Returns the migrations applied now."""
    provision()
    from warehouse.refdata import refresh_trading_calendar

    with connect("pipeline") as conn:
        applied = migrate(conn)
        apply_grants(conn)
        if (
            applied
            or not conn.execute("SELECT EXISTS (SELECT 1 FROM ref.trading_calendar)").fetchone()[0]
        ):
            refresh_trading_calendar(conn)
    return applied


def down() -> None:
    """Stop the project's cluster (data is kept)."""
    s = settings()
    subprocess.run(
        ["pg_ctlcluster", s["WAREHOUSE_PG_MAJOR"], s["WAREHOUSE_PG_CLUSTER"], "stop"],
        check=False,
    )


@dataclass
class Status:
    online: bool
    detail: str


def status() -> Status:
    s = settings()
    t0 = time.perf_counter()
    try:
        with connect("analyst") as conn:
            version = conn.execute("SELECT version()").fetchone()[0]
            ext = conn.execute(
                "SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname) "
                "FROM pg_extension WHERE extname <> 'plpgsql'"
            ).fetchone()[0]
    except psycopg.OperationalError as exc:
        return Status(False, f"offline: {s.host}:{s.port}/{s.database} ({exc})")
    ms = (time.perf_counter() - t0) * 1000
    return Status(True, f"online {s.host}:{s.port}/{s.database} ({ms:.0f} ms)\n{version}\n{ext}")


def recreate_database(name: str) -> None:
    """Drop and create database ``name`` with the extensions, migrations and grants.

    Used by the test suite for an isolated, empty warehouse (``warehouse_test``).
    """
    import psycopg
    from psycopg import sql

    s = settings()
    admin_dsn = s.dsn("admin").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(s.user("pipeline"))
            )
        )
    db_dsn = s.dsn("admin").rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        for ext in ("timescaledb", "vector", "plpython3u"):
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(ext)))
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute("SET client_min_messages = warning")
    pipe_dsn = s.dsn("pipeline").rsplit("/", 1)[0] + "/" + name
    from warehouse.refdata import refresh_trading_calendar

    with psycopg.connect(pipe_dsn) as conn:
        migrate(conn)
        apply_grants(conn)
        refresh_trading_calendar(conn)
