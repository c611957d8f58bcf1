"""The XNYS trading calendar for partitions and schedules (exchange_calendars, America/New_York).

Partitions are trading dates: a ``DailyPartitionsDefinition`` in New York time whose
``exclusions`` drop weekends (cron) and every weekday that is not an XNYS session (holidays, as
datetimes), so a holiday has no partition and a backfill never asks for one. Half days are
sessions (they have a partition); schedules learn their early close from ``session_bounds``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

NY_TZ = "America/New_York"
NY = ZoneInfo(NY_TZ)
CALENDAR = "XNYS"
# First partition: before the oldest real sample (Cboe SPX 2011) and the simulator's dates.
PARTITIONS_START = date(2010, 1, 4)


@cache
def _calendar():
    import exchange_calendars as xcals

    return xcals.get_calendar(CALENDAR, start=PARTITIONS_START.isoformat())


@cache
def _sessions() -> frozenset[date]:
    return frozenset(d.date() for d in _calendar().sessions)


def calendar_last_date() -> date:
    """Last date the calendar knows (exchange_calendars looks about a year ahead)."""
    return _calendar().last_session.date()


def is_session(day: date) -> bool:
    """True when ``day`` is an XNYS trading session (half days included)."""
    return day in _sessions()


def session_bounds(day: date) -> tuple[datetime, datetime]:
    """Open and close of the session ``day`` as aware New York datetimes (early close on half
    days). Raises ``ValueError`` when ``day`` is not a session."""
    if not is_session(day):
        raise ValueError(f"{day} is not an {CALENDAR} session")
    cal = _calendar()
    ts = pd.Timestamp(day)
    opened = cal.session_open(ts).tz_convert(NY_TZ).to_pydatetime()
    closed = cal.session_close(ts).tz_convert(NY_TZ).to_pydatetime()
    return opened, closed


def is_half_day(day: date) -> bool:
    """A session shorter than the regular 6.5 hours."""
    opened, closed = session_bounds(day)
    return closed - opened < timedelta(hours=6, minutes=30)


def session_on_or_before(day: date) -> date | None:
    """The latest session on or before ``day`` (None before the calendar starts)."""
    d = day
    while d >= PARTITIONS_START:
        if is_session(d):
            return d
        d -= timedelta(days=1)
    return None


def previous_session(day: date) -> date | None:
    """The session before ``day``."""
    return session_on_or_before(day - timedelta(days=1))


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[midnight, next midnight) of the New York calendar day, as aware datetimes."""
    start = datetime.combine(day, time(0), tzinfo=NY)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=NY)


def holidays(start: date = PARTITIONS_START, end: date | None = None) -> list[date]:
    """Weekdays between two dates that are not sessions (exchange holidays)."""
    end = end or calendar_last_date()
    out: list[date] = []
    d = start
    while d <= end:
        if d.weekday() < 5 and not is_session(d):
            out.append(d)
        d += timedelta(days=1)
    return out


@cache
def trading_day_partitions() -> dg.DailyPartitionsDefinition:
    """Daily partitions on XNYS sessions: weekends and exchange holidays excluded.

    ``end_offset=1`` makes today's partition exist during the day (the 17:00 nightly run
    materialises the session that just closed).
    """
    return dg.DailyPartitionsDefinition(
        start_date=PARTITIONS_START.isoformat(),
        timezone=NY_TZ,
        end_offset=1,
        exclusions=[
            "0 0 * * 6",
            "0 0 * * 0",
            *(datetime.combine(d, time(0), tzinfo=NY) for d in holidays()),
        ],
    )


def partition_for(day: date) -> str | None:
    """The partition key holding data dated ``day``: the latest session on or before it
    (weekend news belongs to Friday's partition). None before the partitions start."""
    session = session_on_or_before(day)
    return session.isoformat() if session else None
