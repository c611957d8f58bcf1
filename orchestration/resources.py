"""Resources of the code location: the dbt project (manifest prepared on load), the dbt CLI,
the retry policy for transient database errors and the guard that applies it.

The dbt manifest is the build's: ``dbt parse`` into the dbt target folder (``DBT_TARGET_PATH``,
default ``target``) when ``manifest.json`` is missing or older than any file of the dbt project,
so a fresh checkout and an edited model both load without a manual step, and an unchanged
project loads without running dbt at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import dagster as dg
import psycopg
from dagster_dbt import DbtCliResource, DbtProject

from warehouse.config import REPO_ROOT, settings

# dbt project inputs: a manifest older than any of these is stale
DBT_INPUTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "data-tests", "seeds")
# Transient database errors (server restarting, connection dropped, too many connections) are
# retried with exponential backoff: 2 s, 4 s, 8 s (+-jitter); anything else fails at once.
TRANSIENT_RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
# dbt runs in a subprocess: its transient errors are recognised in its messages.
TRANSIENT_DBT_MARKERS = (
    "could not connect to server",
    "connection to server at",
    "server closed the connection unexpectedly",
    "the database system is starting up",
    "the database system is shutting down",
    "too many clients already",
    "terminating connection due to administrator command",
)


def export_warehouse_env() -> None:
    """Put the warehouse settings into ``os.environ`` (only where unset): ``profiles.yml`` reads
    them through ``env_var()`` in every dbt subprocess dagster-dbt starts."""
    for key, value in settings().env().items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def dbt_executable() -> str:
    """dbt of this interpreter's environment (the venv), else ``dbt`` on PATH."""
    exe = Path(sys.executable).with_name("dbt")
    return os.fspath(exe) if exe.exists() else "dbt"


def dbt_target_path() -> Path:
    """dbt's target folder relative to the project (``DBT_TARGET_PATH``, default ``target``)."""
    return Path(os.environ.get("DBT_TARGET_PATH") or "target")


def _newest_input_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in DBT_INPUTS:
        path = project_dir / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for f in path.rglob("*"):
                if f.is_file():
                    newest = max(newest, f.stat().st_mtime)
    return newest


def manifest_is_stale(project: DbtProject) -> bool:
    """True when the manifest is missing or older than a file of the dbt project."""
    manifest = project.manifest_path
    if not manifest.is_file():
        return True
    return manifest.stat().st_mtime < _newest_input_mtime(project.project_dir)


@cache
def dbt_project() -> DbtProject:
    """The repository's dbt project, with a manifest that is current (parsed here if not)."""
    export_warehouse_env()
    project = DbtProject(
        project_dir=REPO_ROOT, target_path=dbt_target_path(), profiles_dir=REPO_ROOT
    )
    if manifest_is_stale(project):
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
        if not project.manifest_path.is_file():
            raise RuntimeError(f"dbt parse did not write {project.manifest_path}")
    return project


def dbt_resource() -> DbtCliResource:
    """The dbt CLI resource for the project (profiles.yml from the repository root)."""
    return DbtCliResource(
        project_dir=dbt_project(),
        profiles_dir=os.fspath(REPO_ROOT),
        dbt_executable=dbt_executable(),
    )


def remove_dbt_target(path: Path | None) -> None:
    """Remove one dbt invocation's own target folder (dagster-dbt makes one per invocation)."""
    if path is None:
        return
    root = (REPO_ROOT / dbt_target_path()).resolve()
    path = Path(path).resolve()
    if path != root and root in path.parents:
        shutil.rmtree(path, ignore_errors=True)


def is_transient(exc: BaseException) -> bool:
    """A database error worth retrying (the connection, not the data or the SQL)."""
    if isinstance(exc, psycopg.OperationalError):
        return True
    text = str(exc).lower()
    return any(m in text for m in TRANSIENT_DBT_MARKERS)


@contextlib.contextmanager
def transient_guard(what: str) -> Iterator[None]:
    """Let transient database errors through to the op's ``TRANSIENT_RETRY`` policy; turn any
    other exception into a ``Failure`` that is not retried (a bad file or a failing model gives
    the same result on every attempt)."""
    try:
        yield
    except dg.Failure:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        raise dg.Failure(
            description=f"{what}: {type(exc).__name__}: {exc}",
            allow_retries=False,
        ) from exc
