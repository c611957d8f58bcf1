"""XNYS sessions (exchange_calendars) as plain arrays: dates, open/close in UTC microseconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

US_PER_MINUTE = 60_000_000
US_PER_DAY = 86_400_000_000
US_PER_YEAR = 365 * US_PER_DAY  # ACT/365 year used for option time to expiry
NY = "America/New_York"


@dataclass(frozen=True)
class Sessions:
    """A run of consecutive XNYS sessions. ``open_us``/``close_us``: UTC epoch microseconds."""

    dates: list[date]
    open_us: np.ndarray
    close_us: np.ndarray

    @property
    def minutes(self) -> np.ndarray:
        """Session length in minutes (390 on a full day, 210 on a half day)."""
        return ((self.close_us - self.open_us) // US_PER_MINUTE).astype(np.int64)

    def index_of(self, day: date) -> int:
        return self.dates.index(day)

    def __len__(self) -> int:
        return len(self.dates)


def _calendar(first: date, last: date):
    import exchange_calendars as xc

    return xc.get_calendar("XNYS", start=pd.Timestamp(first), end=pd.Timestamp(last))


def sessions_around(start: date, n_days: int, before: int, after_days: int) -> tuple[Sessions, int]:
    """Sessions from ``before`` sessions before the first session on/after ``start`` to
    ``after_days`` calendar days past the last simulated session.

    Returns (sessions, index of the first simulated session).
    """
    lo = start - timedelta(days=int(before * 1.6) + 10)
    hi = start + timedelta(days=int(n_days * 1.6) + 10 + after_days)
    cal = _calendar(lo, hi)
    sched = cal.schedule
    dates = [d.date() for d in sched.index]
    first = next(i for i, d in enumerate(dates) if d >= start)
    lo_i = max(0, first - before)
    last_sim = first + n_days - 1
    if last_sim >= len(dates):
        raise ValueError("calendar window too short")
    end_date = dates[last_sim] + timedelta(days=after_days)
    hi_i = max(i for i, d in enumerate(dates) if d <= end_date)
    sel = slice(lo_i, hi_i + 1)
    open_us, close_us = (
        sched[col]
        .iloc[sel]
        .dt.tz_convert(None)
        .to_numpy()
        .astype("datetime64[us]")
        .astype(np.int64)
        for col in ("open", "close")
    )
    return Sessions(dates[sel], open_us, close_us), first - lo_i


def ny_time_us(day: date, hour: int, minute: int = 0) -> int:
    """UTC epoch microseconds of a New York wall-clock time on ``day``."""
    ts = pd.Timestamp(year=day.year, month=day.month, day=day.day, hour=hour, minute=minute, tz=NY)
    return int(ts.tz_convert("UTC").value // 1000)


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    offset = (4 - first.weekday()) % 7
    return first + timedelta(days=offset + 14)


def expiries(sessions: Sessions, today: date, weeklies: int, monthlies: int) -> list[date]:
    """Listed expiration dates after ``today``: the next ``weeklies`` Fridays and the 3rd
    Fridays of the next ``monthlies`` months. A Friday that is not a session (holiday) moves
    to the previous session. Sorted, unique, strictly after ``today``.
    """
    session_set = set(sessions.dates)
    out: set[date] = set()
    friday = today + timedelta(days=(4 - today.weekday()) % 7 or 7)
    candidates = [friday + timedelta(weeks=i) for i in range(weeklies)]
    y, m = today.year, today.month
    n = 0
    while n < monthlies:
        tf = third_friday(y, m)
        if tf > today:
            candidates.append(tf)
            n += 1
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    for c in candidates:
        d = c
        while d not in session_set:
            d -= timedelta(days=1)
            if d <= today:
                break
        if d > today and d in session_set:
            out.add(d)
    return sorted(out)
