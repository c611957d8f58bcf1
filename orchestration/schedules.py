"""Schedules on the XNYS calendar (America/New_York).

Cron fires on weekdays; each evaluation asks the trading calendar and skips (``SkipReason``)
what is not a session: holidays get no nightly, pre-market or intraday run, and the intraday
schedule stops at the close, which on a half day is 13:00.

* ``nightly_schedule``: 17:00, the ``nightly`` job for the session that just closed;
* ``premarket_schedule``: 08:00, the ``premarket`` job for the coming session;
* ``intraday_schedule``: every 15 minutes from 09:00 to 16:45; runs only between the open and
  the close (inclusive) of a session, for the watch list (``WAREHOUSE_WATCH_LIST``).

They are created stopped (turn them on in the UI or with ``dagster schedule start``): the
code location also serves development databases.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from orchestration.assets.dbt import dbt_models, dbt_option_models
from orchestration.calendar import NY, NY_TZ, is_half_day, is_session, session_bounds
from orchestration.jobs import intraday_job, nightly_job, premarket_job
from orchestration.settings import orchestration_settings

STOPPED = dg.DefaultScheduleStatus.STOPPED
DBT_OPS = (dbt_models.op.name, dbt_option_models.op.name)
# Scheduled runs test only recent rows (dbt var, a predicate on the hypertables' time column);
# backfills and run_nightly() test everything.
SCHEDULED_TEST_WINDOW_DAYS = 3


def scheduled_time(context: dg.ScheduleEvaluationContext) -> datetime:
    """The tick's time in New York (naive times are taken as New York time)."""
    t = context.scheduled_execution_time or datetime.now(NY)
    return t.replace(tzinfo=NY) if t.tzinfo is None else t.astimezone(NY)


def _not_a_session(t: datetime, what: str) -> dg.SkipReason:
    return dg.SkipReason(f"{t.date()} is not an XNYS session (holiday): no {what}")


@dg.schedule(
    name="nightly_schedule",
    cron_schedule="0 17 * * 1-5",
    execution_timezone=NY_TZ,
    job=nightly_job,
    default_status=STOPPED,
    description="17:00 New York on sessions: the full nightly job for the session's partition.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    t = scheduled_time(context)
    day = t.date()
    if not is_session(day):
        return _not_a_session(t, "nightly run")
    dbt_config = {"config": {"test_window_days": SCHEDULED_TEST_WINDOW_DAYS}}
    return dg.RunRequest(
        run_key=f"nightly-{day.isoformat()}",
        partition_key=day.isoformat(),
        run_config={"ops": {op: dbt_config for op in DBT_OPS}},
        tags={"trading_date": day.isoformat(), "half_day": str(is_half_day(day)).lower()},
    )


@dg.schedule(
    name="premarket_schedule",
    cron_schedule="0 8 * * 1-5",
    execution_timezone=NY_TZ,
    job=premarket_job,
    default_status=STOPPED,
    description="08:00 New York on sessions: rates and reference data, warm-start check.",
)
def premarket_schedule(context: dg.ScheduleEvaluationContext):
    t = scheduled_time(context)
    day = t.date()
    if not is_session(day):
        return _not_a_session(t, "pre-market run")
    return dg.RunRequest(
        run_key=f"premarket-{day.isoformat()}",
        partition_key=day.isoformat(),
        tags={"trading_date": day.isoformat()},
    )


@dg.schedule(
    name="intraday_schedule",
    cron_schedule="*/15 9-16 * * 1-5",
    execution_timezone=NY_TZ,
    job=intraday_job,
    default_status=STOPPED,
    description="Every 15 minutes between the open and the close (13:00 on half days): the "
    "surface models for the watch list.",
)
def intraday_schedule(context: dg.ScheduleEvaluationContext):
    t = scheduled_time(context)
    day = t.date()
    if not is_session(day):
        return _not_a_session(t, "intraday run")
    opened, closed = session_bounds(day)
    if not opened <= t <= closed:
        return dg.SkipReason(
            f"{t:%Y-%m-%d %H:%M} is outside the session "
            f"({opened:%H:%M}-{closed:%H:%M}{', half day' if is_half_day(day) else ''})"
        )
    watch = orchestration_settings().watch_list
    if not watch:
        return dg.SkipReason("empty watch list (WAREHOUSE_WATCH_LIST)")
    return dg.RunRequest(
        run_key=f"intraday-{t:%Y-%m-%dT%H:%M}",
        run_config={"ops": {dbt_option_models.op.name: {"config": {"watch_list": list(watch)}}}},
        tags={"trading_date": day.isoformat(), "watch_list": ",".join(watch)},
    )


SCHEDULES = (nightly_schedule, premarket_schedule, intraday_schedule)
