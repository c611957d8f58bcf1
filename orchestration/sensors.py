"""Sensors: new files in the landing folder launch their loads; alert rules are evaluated.

``landing_sensor`` scans ``<landing>/<source>/`` (``WAREHOUSE_LANDING_DIR``) every minute. A
file is new when its (size, mtime) differs from what the cursor remembers and it has been
still for ``WAREHOUSE_LANDING_SETTLE_SECONDS`` (a copy in progress is left for the next tick).
New files are grouped by (source, trading date) -- the date named in the path, else the latest
session -- and each group becomes one run of the ``landing`` job: the source's load asset for
that partition and the landing tables it writes, with their quality checks. The run key
hashes the files, so the same drop never launches twice; loading is idempotent anyway.

``alerts_sensor`` evaluates every alert rule (``warehouse.alerts``) every 5 minutes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from datetime import datetime

import dagster as dg

from orchestration.assets.loads import (
    ANY_DATE,
    expand_entry,
    file_partition,
    landing_entries,
    landing_source_dir,
    load_asset_key,
    registered_sources,
)
from orchestration.calendar import NY, session_on_or_before
from orchestration.jobs import SERIAL_TAG, landing_job, landing_keys_for
from orchestration.settings import orchestration_settings

STOPPED = dg.DefaultSensorStatus.STOPPED


def scan_landing(cursor: dict[str, list[int]], now: float | None = None):
    """New settled files by (source, partition key), the updated cursor and how many files
    are still settling. ``cursor`` maps ``<source>/<relative path>`` to [size, mtime_ns]."""
    settings = orchestration_settings()
    now = time.time() if now is None else now
    today = session_on_or_before(datetime.now(NY).date())
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    new_cursor = dict(cursor)
    settling = 0
    for source in registered_sources():
        root = landing_source_dir(source, settings.landing_dir)
        for entry in landing_entries(source, settings.landing_dir):
            for f in expand_entry(source, entry):
                st = f.stat()
                rel = f.relative_to(root).as_posix() if f.is_relative_to(root) else f.name
                key = f"{source}/{rel}"
                sig = [st.st_size, st.st_mtime_ns]
                if cursor.get(key) == sig:
                    continue
                if now - st.st_mtime < settings.landing_settle_seconds:
                    settling += 1
                    continue
                part = file_partition(rel)
                if part == ANY_DATE:
                    part = today.isoformat() if today else None
                new_cursor[key] = sig
                if part is None:
                    continue  # dated before the first partition: load it by hand
                groups[(source, part)].append(f"{rel}:{sig[0]}:{sig[1]}")
    return groups, new_cursor, settling


@dg.sensor(
    name="landing_sensor",
    job=landing_job,
    minimum_interval_seconds=60,
    default_status=STOPPED,
    description="Launch the load of files dropped into <landing>/<source>/ (per source and "
    "trading date).",
)
def landing_sensor(context: dg.SensorEvaluationContext):
    cursor = json.loads(context.cursor) if context.cursor else {}
    groups, new_cursor, settling = scan_landing(cursor)
    requests = []
    for (source, part), files in sorted(groups.items()):
        digest = hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()[:16]
        requests.append(
            dg.RunRequest(
                run_key=f"landing:{source}:{part}:{digest}",
                partition_key=part,
                asset_selection=[load_asset_key(source), *landing_keys_for([source])],
                tags={"source": source, "files": str(len(files)), SERIAL_TAG: f"load:{source}"},
            )
        )
    context.update_cursor(json.dumps(new_cursor, sort_keys=True))
    if not requests:
        return dg.SkipReason(
            "no new files" + (f" ({settling} still being written)" if settling else "")
        )
    return requests


@dg.sensor(
    name="alerts_sensor",
    minimum_interval_seconds=300,
    default_status=STOPPED,
    description="Evaluate the alert rules (warehouse.alerts; cooldown per rule and subject).",
)
def alerts_sensor(context: dg.SensorEvaluationContext):
    from warehouse import alerts

    report = alerts.evaluate(
        notifiers=alerts.notifiers_from_spec(orchestration_settings().alert_notifiers)
    )
    return dg.SkipReason(f"alerts: {report.summary()}")


SENSORS = (landing_sensor, alerts_sensor)
