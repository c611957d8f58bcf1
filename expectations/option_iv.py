"""Implied vols and greeks (``intermediate.int_option_quotes_iv``) of one quote date: IV within
(0, 5), |delta| <= 1, gamma >= 0, and the share of quotes whose mid IV could not be solved
(price outside the no-arbitrage bounds) below ``MAX_IV_FAILURE_SHARE``. BLOCKING: bad vols
mean no risk and no ranking. The model is not partitioned: the date is the run's partition,
else the newest quote date in the model."""

from __future__ import annotations

from orchestration.checks.suites import Expect, Suite

MAX_IV_FAILURE_SHARE = 0.10


def _within(name: str, column: str, lo: float, hi: float, strict: bool) -> Expect:
    return Expect(
        name,
        "expect_column_values_to_be_between",
        column=column,
        min_value=lo,
        max_value=hi,
        strict_min=strict,
        strict_max=strict,
    )


SUITE = Suite(
    name="option_iv",
    asset=("intermediate", "int_option_quotes_iv"),
    blocking=True,
    partitioned=False,
    description="IV in (0, 5), |delta| <= 1, IV failure share",
    latest_date_query="SELECT max(quote_date) FROM intermediate.int_option_quotes_iv",
    query="""
        SELECT quote_ts, iv_bid, iv_mid, iv_ask, delta, gamma, is_quality_ok,
               -- |delta| <= 1 up to the dividend discount: the delta of a put is -exp(-q t) N(-d1),
               -- beyond -1 when the parity-implied yield q is negative; N(d1) itself is not
               delta * exp(coalesce(implied_dividend_yield, 0) * t_years) AS delta_undiscounted
          FROM intermediate.int_option_quotes_iv
         WHERE quote_ts >= {day_start} AND quote_ts < {day_end}
    """,
    expectations=(
        Expect("has_rows", "expect_table_row_count_to_be_between", min_value=1),
        _within("iv_mid_in_range", "iv_mid", 0, 5, True),
        _within("iv_bid_in_range", "iv_bid", 0, 5, True),
        _within("iv_ask_in_range", "iv_ask", 0, 5, True),
        _within("delta_in_range", "delta_undiscounted", -1, 1, False),
        Expect(
            "gamma_nonnegative", "expect_column_values_to_be_between", column="gamma", min_value=0
        ),
        Expect(
            "iv_failure_share",
            "expect_column_values_to_not_be_null",
            column="iv_mid",
            mostly=1 - MAX_IV_FAILURE_SHARE,
        ),
    ),
)
