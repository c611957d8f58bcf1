"""Connection and runtime settings: the one place that reads the environment.

Every setting comes from an environment variable with a working default (listed in
``.env.example``). A ``.env`` file in the repository root, when present, fills in variables
that the environment does not set. Nothing else in the project reads ``os.environ`` for these.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, str] = {
    "WAREHOUSE_PG_HOST": "localhost",
    "WAREHOUSE_PG_PORT": "5433",
    "WAREHOUSE_DB": "warehouse",
    "WAREHOUSE_PG_MAJOR": "17",
    "WAREHOUSE_PG_CLUSTER": "warehouse",
    "WAREHOUSE_ADMIN_USER": "warehouse_admin",
    "WAREHOUSE_ADMIN_PASSWORD": "warehouse_admin_local",
    "WAREHOUSE_PIPELINE_USER": "warehouse_pipeline",
    "WAREHOUSE_PIPELINE_PASSWORD": "warehouse_pipeline_local",
    "WAREHOUSE_ANALYST_USER": "warehouse_analyst",
    "WAREHOUSE_ANALYST_PASSWORD": "warehouse_analyst_local",
    "WAREHOUSE_WORKER_USER": "warehouse_worker",
    "WAREHOUSE_WORKER_PASSWORD": "warehouse_worker_local",
    "WAREHOUSE_REAL_DATA_DIR": "../shared/data/real",
    "WAREHOUSE_VAR_DIR": "var",
    # execution (warehouse/execution): outbox worker and paper broker
    "WAREHOUSE_BROKER": "paper",
    "WAREHOUSE_WORKER_POLL_SECONDS": "1.0",
    "WAREHOUSE_WORKER_BATCH": "10",
    "WAREHOUSE_WORKER_SEED": "0",
    "WAREHOUSE_OUTBOX_LEASE_SECONDS": "30",
    "WAREHOUSE_OUTBOX_MAX_ATTEMPTS": "5",
    "WAREHOUSE_OUTBOX_MAX_CLAIMS": "25",
    "WAREHOUSE_OUTBOX_BACKOFF_BASE_SECONDS": "1.0",
    "WAREHOUSE_OUTBOX_BACKOFF_CAP_SECONDS": "300",
    "WAREHOUSE_PAPER_SLIPPAGE": "0.5",
    "WAREHOUSE_PAPER_FEE_PER_CONTRACT": "0.65",
    "WAREHOUSE_PAPER_NOISE": "0.1",
    "WAREHOUSE_PAPER_PARTICIPATION": "1.0",
    "WAREHOUSE_PAPER_SEED": "0",
    "WAREHOUSE_PAPER_LATENCY_MS": "0",
    "WAREHOUSE_PAPER_PASSIVE_FILLS": "1",
}

ROLES = ("admin", "pipeline", "analyst", "worker")


def _dotenv(path: Path) -> dict[str, str]:
    """Parse ``KEY=VALUE`` lines of a .env file (comments and blanks ignored)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


@dataclass(frozen=True)
class Settings:
    """Resolved settings. ``raw`` maps every WAREHOUSE_* variable to its value."""

    raw: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.raw[key]

    @property
    def host(self) -> str:
        return self.raw["WAREHOUSE_PG_HOST"]

    @property
    def port(self) -> int:
        return int(self.raw["WAREHOUSE_PG_PORT"])

    @property
    def database(self) -> str:
        return self.raw["WAREHOUSE_DB"]

    def user(self, role: str = "pipeline") -> str:
        return self.raw[f"WAREHOUSE_{role.upper()}_USER"]

    def password(self, role: str = "pipeline") -> str:
        return self.raw[f"WAREHOUSE_{role.upper()}_PASSWORD"]

    def dsn(self, role: str = "pipeline") -> str:
        """libpq URI for ``role`` (one of admin, pipeline, analyst, worker)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        return (
            f"postgresql://{quote(self.user(role), safe='')}:{quote(self.password(role), safe='')}"
            f"@{self.host}:{self.port}/{quote(self.database, safe='')}"
        )

    def _path(self, key: str) -> Path:
        path = Path(self.raw[key])
        return path if path.is_absolute() else (REPO_ROOT / path).resolve()

    @property
    def real_data_dir(self) -> Path:
        """Folder of real market samples (may not exist)."""
        return self._path("WAREHOUSE_REAL_DATA_DIR")

    @property
    def var_dir(self) -> Path:
        """Working folder for simulated files and scratch output (git-ignored)."""
        return self._path("WAREHOUSE_VAR_DIR")

    def env(self) -> dict[str, str]:
        """The settings as environment variables, for child processes (dbt, provisioning)."""
        return dict(self.raw)


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Resolve settings: environment first, then ``.env`` in the repo root, then defaults."""
    environ = dict(os.environ) if environ is None else environ
    dotenv = _dotenv(REPO_ROOT / ".env")
    raw = {key: environ.get(key, dotenv.get(key, default)) for key, default in DEFAULTS.items()}
    return Settings(raw=raw)


@cache
def settings() -> Settings:
    """Process-wide settings (resolved once)."""
    return load_settings()
