"""Raw option chains (``raw.option_quotes``) of one trading date. BLOCKING: a failed chain suite
stops the option models and everything after them (risk, ranking) for the night.

The loader quarantines bad records before they land (``warehouse/loaders/base.py`` REASONS,
``validate.py``); this suite re-states each of those reasons as an expectation over what did
land, so a bypassed or changed loader, or a row written some other way, is caught. Parse-level
reasons (``truncated_line``, ``wrong_column_count``, ``malformed_number``,
``malformed_timestamp``) cannot exist in a typed table; ``ts_outside_file_day`` holds by the
query's date predicate; ``missing_required`` is the not-null expectations. On top: the day's
row count within a band around the trailing 20 sessions' median, and freshness (the day's
newest quote is inside that day's session).
"""

from __future__ import annotations

from datetime import timedelta
from statistics import median

from orchestration.checks.suites import Expect, Suite

TRAILING_SESSIONS = 20
MIN_HISTORY = 5  # fewer trailing sessions than this: only "at least one row"
BAND = (0.5, 2.0)  # x median of the trailing sessions
OPTIONS_AFTER_CLOSE = timedelta(minutes=60)  # index options +15 min, Cboe curb to 17:00


def parameters(conn, window) -> dict:
    """Row-count band from the trailing sessions; session end of option quotes."""
    rows = conn.execute(
        "SELECT (quote_ts AT TIME ZONE 'America/New_York')::date, count(*) "
        "FROM raw.option_quotes WHERE quote_ts >= %s AND quote_ts < %s "
        "GROUP BY 1 ORDER BY 1 DESC LIMIT %s",
        (window.day_start - timedelta(days=45), window.day_start, TRAILING_SESSIONS),
    ).fetchall()
    counts = [n for _, n in rows]
    if len(counts) >= MIN_HISTORY:
        m = median(counts)
        band = (max(1, int(m * BAND[0])), int(m * BAND[1]) + 1)
    else:
        band = (1, None)
    close = window.session_close
    return {
        "min_rows": band[0],
        "max_rows": band[1],
        "trailing_sessions": len(counts),
        "options_session_end_epoch": (close + OPTIONS_AFTER_CLOSE).timestamp() if close else None,
    }


_NONNEG = {"min_value": 0}
_KEYS = ("quote_ts", "underlying", "contract_symbol", "expiration", "strike", "option_right")

SUITE = Suite(
    name="raw_chains",
    asset=("raw", "option_quotes"),
    blocking=True,
    description="loader quarantine reasons as expectations, row-count band, freshness",
    query="""
        SELECT q.quote_ts, extract(epoch FROM q.quote_ts)::float8 AS quote_epoch,
               q.underlying, q.contract_symbol, q.expiration, q.strike, q.option_right,
               q.bid, q.ask, q.bid_size, q.ask_size, q.last, q.volume, q.open_interest,
               q.vendor_iv, q.vendor_delta, q.vendor_gamma,
               q.expiration - (q.quote_ts AT TIME ZONE 'America/New_York')::date
                   AS days_to_expiry,
               CASE WHEN substr(q.contract_symbol, 14, 8) ~ '^[0-9]+$'
                    THEN substr(q.contract_symbol, 7, 6) = to_char(q.expiration, 'YYMMDD')
                         AND substr(q.contract_symbol, 13, 1) = q.option_right
                         AND round(q.strike * 1000) = substr(q.contract_symbol, 14, 8)::bigint
                    ELSE false END AS occ_fields_match,
               EXISTS (SELECT 1 FROM ref.instruments AS i WHERE i.symbol = q.underlying)
                   AS underlying_known
          FROM raw.option_quotes AS q
         WHERE q.quote_ts >= {day_start} AND q.quote_ts < {day_end}
    """,
    parameters=parameters,
    expectations=(
        *(
            Expect(f"missing_required:{c}", "expect_column_values_to_not_be_null", column=c)
            for c in _KEYS
        ),
        Expect(
            "nonpositive_strike",
            "expect_column_values_to_be_between",
            column="strike",
            min_value=0,
            strict_min=True,
        ),
        Expect(
            "bad_occ_symbol",
            "expect_column_values_to_match_regex",
            column="contract_symbol",
            regex=r"^[A-Z0-9 ]{6}[0-9]{6}[CP][0-9]{8}$",
        ),
        Expect(
            "occ_field_mismatch",
            "expect_column_values_to_be_in_set",
            column="occ_fields_match",
            value_set=[True],
        ),
        Expect(
            "unknown_underlying",
            "expect_column_values_to_be_in_set",
            column="underlying_known",
            value_set=[True],
        ),
        *(
            Expect(f"negative_price:{c}", "expect_column_values_to_be_between", column=c, **_NONNEG)
            for c in ("bid", "ask", "last")
        ),
        Expect(
            "crossed_quote",
            "expect_column_pair_values_a_to_be_greater_than_b",
            column_A="ask",
            column_B="bid",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        Expect(
            "zero_ask",
            "expect_column_values_to_be_between",
            column="ask",
            min_value=0,
            strict_min=True,
        ),
        Expect(
            "iv_out_of_range",
            "expect_column_values_to_be_between",
            column="vendor_iv",
            min_value=0,
            max_value=5,
            strict_min=True,
            strict_max=True,
        ),
        Expect(
            "delta_out_of_range",
            "expect_column_values_to_be_between",
            column="vendor_delta",
            min_value=-1,
            max_value=1,
        ),
        Expect(
            "negative_gamma",
            "expect_column_values_to_be_between",
            column="vendor_gamma",
            **_NONNEG,
        ),
        *(
            Expect(
                f"negative_oi_volume:{c}", "expect_column_values_to_be_between", column=c, **_NONNEG
            )
            for c in ("volume", "open_interest")
        ),
        *(
            Expect(f"negative_size:{c}", "expect_column_values_to_be_between", column=c, **_NONNEG)
            for c in ("bid_size", "ask_size")
        ),
        Expect(
            "expiry_before_quote",
            "expect_column_values_to_be_between",
            column="days_to_expiry",
            **_NONNEG,
        ),
        Expect(
            "ts_outside_session",
            "expect_column_values_to_be_between",
            column="quote_epoch",
            min_value={"$PARAMETER": "session_open_epoch"},
            max_value={"$PARAMETER": "options_session_end_epoch"},
        ),
        Expect(
            "bad_value:option_right",
            "expect_column_values_to_be_in_set",
            column="option_right",
            value_set=["C", "P"],
        ),
        Expect(
            "duplicate_key",
            "expect_compound_columns_to_be_unique",
            column_list=["contract_symbol", "quote_ts"],
        ),
        Expect(
            "row_count_band",
            "expect_table_row_count_to_be_between",
            min_value={"$PARAMETER": "min_rows"},
            max_value={"$PARAMETER": "max_rows"},
        ),
        Expect(
            "freshness",
            "expect_column_max_to_be_between",
            column="quote_epoch",
            min_value={"$PARAMETER": "session_open_epoch"},
        ),
    ),
)
