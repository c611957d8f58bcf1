"""Reference data the warehouse derives itself: the XNYS trading calendar."""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg

from warehouse.loaders import copyio
from warehouse.loaders.calendar import sessions_between

CALENDAR_START = date(2000, 1, 3)
CALENDAR_END = date(2027, 12, 31)


def refresh_trading_calendar(
    conn: psycopg.Connection, start: date = CALENDAR_START, end: date = CALENDAR_END
) -> int:
    """Upsert XNYS sessions (open/close UTC, half-day flag) between two dates; returns count.

    A half day is a session shorter than the regular 6.5 hours (e.g. 13:00 closes).
    """
    sched = sessions_between(pd.Timestamp(start), pd.Timestamp(end))
    frame = pd.DataFrame(
        {
            "session_date": sched.index.date,
            "market_open": sched["open"].array,
            "market_close": sched["close"].array,
        }
    )
    length = (sched["close"] - sched["open"]).to_numpy()
    frame["is_half_day"] = length < pd.Timedelta(hours=6, minutes=30).to_timedelta64()
    frame["calendar"] = "XNYS"
    with conn.transaction():
        conn.execute("CREATE TEMP TABLE _cal (LIKE ref.trading_calendar) ON COMMIT DROP")
        types = copyio.column_types(conn, "ref.trading_calendar")
        with conn.cursor() as cur:
            copyio.copy_arrow(
                cur, copyio.qualified("_cal"), copyio.to_arrow(frame, list(types), types), types
            )
        conn.execute(
            """INSERT INTO ref.trading_calendar
               SELECT * FROM _cal
               ON CONFLICT (session_date) DO UPDATE
                  SET market_open = EXCLUDED.market_open, market_close = EXCLUDED.market_close,
                      is_half_day = EXCLUDED.is_half_day, calendar = EXCLUDED.calendar"""
        )
    return len(frame)
