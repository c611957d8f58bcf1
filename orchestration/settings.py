"""Settings of the Dagster code location (landing folder, watch list, instance folder, alerts).

The connection settings come from ``warehouse.config``. The few settings only the orchestrator
uses are read here, on every call, from the environment, else from
``warehouse.config.settings().raw`` (should the project move them there, or into ``.env``),
else a default:

- ``WAREHOUSE_LANDING_DIR`` (default ``$WAREHOUSE_VAR_DIR/landing``): the drop folder,
  ``<dir>/<source>/...``;
- ``WAREHOUSE_WATCH_LIST`` (default ``SPY,QQQ,IWM``): underlyings of the intraday surface job;
- ``WAREHOUSE_DAGSTER_HOME`` (default ``$WAREHOUSE_VAR_DIR/dagster``): the Dagster instance of
  ``run_nightly`` and ``make ui``;
- ``WAREHOUSE_ALERT_NOTIFIERS`` (default ``log``): ``log``, ``file:PATH``, ``webhook:URL``,
  comma-separated;
- ``WAREHOUSE_LANDING_SETTLE_SECONDS`` (default ``5``): a file must be this old (mtime) before
  the landing sensor loads it (a copy still in progress is not picked up).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from warehouse.config import REPO_ROOT, settings

DEFAULTS: dict[str, str] = {
    "WAREHOUSE_LANDING_DIR": "",  # '' = <var dir>/landing
    "WAREHOUSE_WATCH_LIST": "SPY,QQQ,IWM",
    "WAREHOUSE_DAGSTER_HOME": "",  # '' = <var dir>/dagster
    "WAREHOUSE_ALERT_NOTIFIERS": "log",
    "WAREHOUSE_LANDING_SETTLE_SECONDS": "5",
}


def _get(key: str) -> str:
    if key in os.environ:
        return os.environ[key]
    return settings().raw.get(key, DEFAULTS[key])


def _path(value: str, fallback: Path) -> Path:
    if not value:
        return fallback
    path = Path(value)
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


@dataclass(frozen=True)
class OrchestrationSettings:
    """Resolved orchestration settings (read again on every call: sensors see changes)."""

    landing_dir: Path
    watch_list: tuple[str, ...]
    dagster_home: Path
    alert_notifiers: str
    landing_settle_seconds: float


def orchestration_settings() -> OrchestrationSettings:
    """The current settings (environment read each time, so tests and sensors can change it)."""
    var = settings().var_dir
    watch = tuple(s.strip().upper() for s in _get("WAREHOUSE_WATCH_LIST").split(",") if s.strip())
    return OrchestrationSettings(
        landing_dir=_path(_get("WAREHOUSE_LANDING_DIR"), var / "landing"),
        watch_list=watch,
        dagster_home=_path(_get("WAREHOUSE_DAGSTER_HOME"), var / "dagster"),
        alert_notifiers=_get("WAREHOUSE_ALERT_NOTIFIERS"),
        landing_settle_seconds=float(_get("WAREHOUSE_LANDING_SETTLE_SECONDS")),
    )
