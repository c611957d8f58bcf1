"""XNYS session bounds for timestamp checks (exchange_calendars, cached per process)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

NY = "America/New_York"


@cache
def _calendar():
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start="2000-01-03")


@cache
def _schedule(first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    cal = _calendar()
    lo = max(first, cal.first_session)
    hi = min(last, cal.last_session)
    if lo > hi:
        return pd.DataFrame(columns=["open", "close"])
    return cal.schedule.loc[lo:hi, ["open", "close"]]


def local_days(ts: pd.Series) -> np.ndarray:
    """New York calendar day of each UTC timestamp, as datetime64[D]."""
    local = ts.dt.tz_convert(NY).dt.tz_localize(None)
    return local.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def session_bounds(days: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """UTC [start, end] (int64 ns) of the session of each day; NaT-equivalent where no session.

    ``kind``: ``regular`` (open..close); ``options`` (open..close + 60 min: index options
    trade to close + 15 min and Cboe's curb session runs to 17:00 New York); ``extended``
    (04:00..20:01 New York on a trading day: pre/post market, with the 20:00 bar's end).
    """
    uniq, inv = np.unique(days, return_inverse=True)
    start = np.full(len(uniq), np.iinfo(np.int64).max, dtype=np.int64)
    end = np.full(len(uniq), np.iinfo(np.int64).min, dtype=np.int64)
    if len(uniq):
        sched = _schedule(pd.Timestamp(uniq[0]), pd.Timestamp(uniq[-1]))
        for i, d in enumerate(uniq):
            day = pd.Timestamp(d)
            if day not in sched.index:
                continue
            if kind == "extended":
                s = pd.Timestamp(day.date(), tz=NY) + pd.Timedelta(hours=4)
                e = pd.Timestamp(day.date(), tz=NY) + pd.Timedelta(hours=20, minutes=1)
            else:
                s, e = sched.at[day, "open"], sched.at[day, "close"]
                if kind == "options":
                    e = e + pd.Timedelta(minutes=60)
            start[i], end[i] = s.value, e.value
    return start[inv], end[inv]


def sessions_between(first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """XNYS schedule (open, close UTC) for the sessions between two dates, inclusive."""
    return _schedule(pd.Timestamp(first), pd.Timestamp(last))
