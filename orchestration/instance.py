"""The Dagster instance folder (``DAGSTER_HOME``) used by ``make ui`` and ``run_nightly``."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.settings import orchestration_settings

DAGSTER_YAML = """\
# Written by orchestration/instance.py when missing (edit freely; it is not overwritten).
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 4
  # one run at a time per value of the tag: the dbt jobs, and the loads of each source
  tag_concurrency_limits:
    - key: "warehouse/serial"
      value:
        applyLimitPerUniqueValue: true
      limit: 1
"""


def ensure_dagster_home(path: Path | None = None) -> Path:
    """Create the instance folder with its ``dagster.yaml`` (if missing); returns it."""
    home = Path(path or orchestration_settings().dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return home


def open_instance(path: Path | None = None) -> dg.DagsterInstance:
    """A persistent instance in ``path`` (default: the configured Dagster home)."""
    from dagster._core.instance.ref import InstanceRef

    home = ensure_dagster_home(path)
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


if __name__ == "__main__":  # `python -m orchestration.instance`: print the folder (Makefile)
    print(ensure_dagster_home())
