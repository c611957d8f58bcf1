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
