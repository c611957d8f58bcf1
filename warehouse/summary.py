"""What landed: rows per table, quarantined rows by reason, load outcomes."""

from __future__ import annotations

import psycopg
from psycopg import sql

SUMMARY_TABLES = (
    "raw.equity_trades",
    "raw.equity_quotes",
    "raw.equity_bars",
    "raw.option_quotes",
    "raw.news",
    "raw.sentiment_benchmark",
    "ref.instruments",
    "ref.option_contracts",
    "ref.trading_calendar",
    "ref.rates",
    "ref.dividends",
    "ref.earnings",
    "intermediate.int_option_quotes_iv",
    "intermediate.int_equity_bars_1m",
    "intermediate.int_underlying_daily_features",
    "intermediate.int_underlying_intraday_rv",
)


def table_counts(
    conn: psycopg.Connection, tables: tuple[str, ...] = SUMMARY_TABLES
) -> dict[str, int]:
    out = {}
    for t in tables:
        schema, _, rel = t.partition(".")
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (t,)).fetchone()[0]
        if exists:
            out[t] = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, rel))
            ).fetchone()[0]
    return out


def quarantine_counts(conn: psycopg.Connection) -> list[tuple[str, str, int]]:
    return conn.execute(
        "SELECT source, reason, count(*) FROM raw.quarantine GROUP BY 1, 2 ORDER BY 1, 3 DESC"
    ).fetchall()


def load_outcomes(conn: psycopg.Connection) -> list[tuple[str, str, int]]:
    return conn.execute(
        "SELECT source, status, count(*) FROM raw.load_reports GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()


def print_summary(conn: psycopg.Connection) -> None:
    print("\nRows per table")
    for t, n in table_counts(conn).items():
        print(f"  {t:44s} {n:>12,}")
    q = quarantine_counts(conn)
    print("\nQuarantined rows by source and reason" + ("" if q else ": none"))
    for source, reason, n in q:
        print(f"  {source:24s} {reason:24s} {n:>10,}")
    print("\nLoad attempts by source and outcome")
    for source, status, n in load_outcomes(conn):
        print(f"  {source:24s} {status:24s} {n:>10,}")
