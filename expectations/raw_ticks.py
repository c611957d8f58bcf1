"""Raw equity ticks (``raw.equity_trades``, ``raw.equity_quotes``) of one trading date: keys not
null, prices positive, bid <= ask, timestamps inside the extended session (04:00-20:01 New York,
the loader's window), natural keys unique. Warning only (not blocking)."""

from __future__ import annotations

from datetime import datetime, time

from orchestration.calendar import NY
from orchestration.checks.suites import Expect, Suite

EXTENDED = (time(4, 0), time(20, 1))


def parameters(conn, window) -> dict:
    """Extended-hours bounds of the date, epoch seconds."""
    d = window.trading_date
    return {
        "extended_start_epoch": datetime.combine(d, EXTENDED[0], tzinfo=NY).timestamp(),
        "extended_end_epoch": datetime.combine(d, EXTENDED[1], tzinfo=NY).timestamp(),
    }


def _in_session() -> Expect:
    return Expect(
        "ts_outside_session",
        "expect_column_values_to_be_between",
        column="ts_epoch",
        min_value={"$PARAMETER": "extended_start_epoch"},
        max_value={"$PARAMETER": "extended_end_epoch"},
    )


def _positive(column: str) -> Expect:
    return Expect(
        f"positive_price:{column}",
        "expect_column_values_to_be_between",
        column=column,
        min_value=0,
        strict_min=True,
    )


def _keys(*columns: str) -> tuple[Expect, ...]:
    return (
        *(
            Expect(f"key_not_null:{c}", "expect_column_values_to_not_be_null", column=c)
            for c in columns
        ),
        Expect("key_unique", "expect_compound_columns_to_be_unique", column_list=list(columns)),
    )


SUITES = (
    Suite(
        name="raw_equity_trades",
        asset=("raw", "equity_trades"),
        description="ticks: keys, positive prices and sizes, session window",
        query="""
            SELECT ts, extract(epoch FROM ts)::float8 AS ts_epoch, symbol, seq, price, size
              FROM raw.equity_trades
             WHERE ts >= {day_start} AND ts < {day_end}
        """,
        parameters=parameters,
        expectations=(
            *_keys("symbol", "ts", "seq"),
            _positive("price"),
            Expect(
                "positive_size",
                "expect_column_values_to_be_between",
                column="size",
                min_value=0,
                strict_min=True,
            ),
            _in_session(),
        ),
    ),
    Suite(
        name="raw_equity_quotes",
        asset=("raw", "equity_quotes"),
        description="ticks: keys, positive prices, bid <= ask, session window",
        query="""
            SELECT ts, extract(epoch FROM ts)::float8 AS ts_epoch, symbol, seq, bid, ask
              FROM raw.equity_quotes
             WHERE ts >= {day_start} AND ts < {day_end}
        """,
        parameters=parameters,
        expectations=(
            *_keys("symbol", "ts", "seq"),
            _positive("bid"),
            _positive("ask"),
            Expect(
                "crossed_quote",
                "expect_column_pair_values_a_to_be_greater_than_b",
                column_A="ask",
                column_B="bid",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
            _in_session(),
        ),
    ),
)
