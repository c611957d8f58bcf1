"""News (``raw.news``) published on one New York calendar day: non-empty headlines, every
tagged ticker known in ``ref.instruments``, keys not null and unique. Warning only."""

from __future__ import annotations

from orchestration.checks.suites import Expect, Suite

SUITE = Suite(
    name="raw_news",
    asset=("raw", "news"),
    description="non-empty headlines, known tickers, keys",
    query="""
        SELECT n.published_ts, n.source, n.vendor_id, n.headline,
               length(btrim(n.headline)) AS headline_length,
               (SELECT count(*) FROM unnest(n.tickers) AS t(symbol)
                 WHERE NOT EXISTS (SELECT 1 FROM ref.instruments AS i WHERE i.symbol = t.symbol))
                   AS unknown_tickers
          FROM raw.news AS n
         WHERE n.published_ts >= {day_start} AND n.published_ts < {day_end}
    """,
    expectations=(
        *(
            Expect(f"key_not_null:{c}", "expect_column_values_to_not_be_null", column=c)
            for c in ("published_ts", "source", "vendor_id", "headline")
        ),
        Expect(
            "key_unique",
            "expect_compound_columns_to_be_unique",
            column_list=["source", "vendor_id", "published_ts"],
        ),
        Expect(
            "headline_not_empty",
            "expect_column_values_to_be_between",
            column="headline_length",
            min_value=1,
        ),
        Expect(
            "known_tickers",
            "expect_column_values_to_be_between",
            column="unknown_tickers",
            min_value=0,
            max_value=0,
        ),
    ),
)
