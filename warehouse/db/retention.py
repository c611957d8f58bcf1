"""Retention housekeeping for the raw hypertables with TimescaleDB ``drop_chunks``.

The Apache build has no ``add_retention_policy`` (a licensed feature), so retention is a
command (``warehouse retention --older-than '400 days'``) that an orchestrator schedules.
"""

from __future__ import annotations

from psycopg import sql

from warehouse.db.connect import connect

RAW_HYPERTABLES = (
    "raw.equity_trades",
    "raw.equity_quotes",
    "raw.equity_bars",
    "raw.option_quotes",
    "raw.news",
)


def drop_old_chunks(
    older_than: str, tables: list[str] | None = None, dry_run: bool = False
) -> dict[str, list[str]]:
    """Drop (or list, with ``dry_run``) chunks entirely older than ``older_than`` ago."""
    tables = tables or list(RAW_HYPERTABLES)
    unknown = set(tables) - set(RAW_HYPERTABLES)
    if unknown:
        raise ValueError(f"not a raw hypertable: {', '.join(sorted(unknown))}")
    out: dict[str, list[str]] = {}
    with connect("pipeline") as conn:
        for t in tables:
            schema, _, rel = t.partition(".")
            fn = "show_chunks" if dry_run else "drop_chunks"
            q = sql.SQL("SELECT {}(%s::regclass, older_than => now() - %s::interval)::text").format(
                sql.Identifier(fn)
            )
            out[t] = [r[0] for r in conn.execute(q, (f"{schema}.{rel}", older_than))]
    return out


def compression_available(conn) -> tuple[bool, str]:
    """Whether this TimescaleDB build offers compression (the Timescale-licensed build does,
    the Apache build does not). Returns (available, license name)."""
    lic = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()[0]
    return (lic or "apache") != "apache", lic or "apache"


# segment-by columns per raw hypertable: the "per underlying" key downstream queries filter on
COMPRESSION_SEGMENT_BY = {
    "raw.equity_trades": "symbol",
    "raw.equity_quotes": "symbol",
    "raw.equity_bars": "symbol",
    "raw.option_quotes": "underlying",
    "raw.news": "source",
}


def enable_compression(older_than: str = "7 days") -> list[str]:
    """Optional: turn on native compression where the license allows it (checked at run time).

    Raises ``RuntimeError`` with the license name on the Apache build, where compression is
    not available; nothing in the project depends on it.
    """
    done = []
    with connect("pipeline") as conn:
        ok, lic = compression_available(conn)
        if not ok:
            raise RuntimeError(
                f"TimescaleDB license is '{lic}': compression needs the Timescale license "
                "build; the warehouse works without it"
            )
        for table, segment_by in COMPRESSION_SEGMENT_BY.items():
            schema, _, rel = table.partition(".")
            ident = sql.Identifier(schema, rel)
            conn.execute(
                sql.SQL(
                    "ALTER TABLE {} SET (timescaledb.compress, timescaledb.compress_segmentby = {})"
                ).format(ident, sql.Literal(segment_by))
            )
            conn.execute(
                "SELECT add_compression_policy(%s::regclass, %s::interval, if_not_exists => true)",
                (table, older_than),
            )
            done.append(table)
    return done
