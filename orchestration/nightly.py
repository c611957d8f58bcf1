"""Run the nightly job in-process (what ``warehouse demo`` calls) and summarise the run."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dagster import AssetKey

from orchestration.calendar import NY, is_session, session_on_or_before


@dataclass
class NightlySummary:
    """What a nightly run did."""

    run_id: str
    partition: str
    success: bool
    seconds: float
    materialized: list[str] = field(default_factory=list)
    not_materialized: list[str] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    skipped_steps: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)  # "asset:check" -> passed
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset -> metadata

    @property
    def failed_checks(self) -> list[str]:
        return [k for k, ok in self.checks.items() if not ok]

    def render(self) -> str:
        lines = [
            f"nightly {self.partition}: {'succeeded' if self.success else 'FAILED'} in "
            f"{self.seconds:.1f}s (run {self.run_id})",
            f"  materialised {len(self.materialized)} assets; "
            f"checks {sum(self.checks.values())}/{len(self.checks)} passed",
        ]
        if self.failed_checks:
            lines.append(f"  failed checks: {', '.join(self.failed_checks)}")
        if self.failed_steps:
            lines.append(f"  failed steps: {', '.join(self.failed_steps)}")
        if self.not_materialized:
            lines.append(f"  not materialised: {', '.join(self.not_materialized)}")
        return "\n".join(lines)


def _scalar(value: Any) -> Any:
    v = getattr(value, "value", value)
    return v if isinstance(v, str | int | float | bool) or v is None else str(v)


def run_nightly(
    partition_date: str | None = None,
    *,
    dagster_home: Path | None = None,
    raise_on_error: bool = False,
    run_config: dict | None = None,
    tags: dict[str, str] | None = None,
    asset_selection: Sequence[AssetKey] | None = None,
    log_level: str = "WARNING",
) -> NightlySummary:
    """Materialise the nightly job for one trading date in this process.

    ``partition_date`` (YYYY-MM-DD) defaults to the latest XNYS session on or before today
    (New York). The run is recorded in the Dagster instance in ``dagster_home`` (default
    ``WAREHOUSE_DAGSTER_HOME``, i.e. ``var/dagster``: the instance ``make ui`` shows). A failed
    step or blocking check does not raise unless ``raise_on_error``; the summary says what ran.
    ``asset_selection`` runs a subset of the job (e.g. one source's load and what follows).
    ``log_level`` is the console log level of the run (the instance keeps every event).
    """
    from orchestration.definitions import defs
    from orchestration.instance import open_instance

    day = (
        date.fromisoformat(partition_date)
        if partition_date
        else session_on_or_before(datetime.now(NY).date())
    )
    if day is None or not is_session(day):
        raise ValueError(f"{day} is not an XNYS session: no nightly partition")
    job = defs.resolve_job_def("nightly")
    config = dict(run_config or {})
    config.setdefault("loggers", {"console": {"config": {"log_level": log_level}}})
    t0 = time.perf_counter()
    with open_instance(dagster_home) as instance:
        result = job.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            raise_on_error=raise_on_error,
            run_config=config,
            tags=tags,
            asset_selection=list(asset_selection) if asset_selection else None,
        )
        summary = summarise(result, day.isoformat(), time.perf_counter() - t0, instance)
    return summary


def planned_assets(instance, run_id: str) -> set[str]:
    """The assets a run planned to materialise (recorded by the instance at run start)."""
    from dagster import DagsterEventType

    entries = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    return {
        e.dagster_event.event_specific_data.asset_key.to_user_string()
        for e in entries
        if e.dagster_event is not None
    }


def summarise(result, partition: str, seconds: float, instance=None) -> NightlySummary:
    """A ``NightlySummary`` from an ``ExecuteInProcessResult`` (and its instance)."""
    materialized: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        materialized[mat.asset_key.to_user_string()] = {
            k: _scalar(v) for k, v in mat.metadata.items()
        }
    planned = {
        e.event_specific_data.asset_key.to_user_string()
        for e in result.get_asset_materialization_planned_events()
    }
    if instance is not None:
        planned |= planned_assets(instance, result.run_id)
    checks = {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed
        for e in result.get_asset_check_evaluations()
    }
    return NightlySummary(
        run_id=result.run_id,
        partition=partition,
        success=result.success,
        seconds=seconds,
        materialized=sorted(materialized),
        not_materialized=sorted(planned - set(materialized)),
        failed_steps=sorted(result.get_failed_step_keys()),
        skipped_steps=sorted(e.step_key for e in result.get_step_skipped_events()),
        checks=checks,
        metadata=materialized,
    )
