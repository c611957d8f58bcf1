"""Role privileges, applied after every migration run (idempotent).

| role      | may                                                           |
|-----------|---------------------------------------------------------------|
| admin     | superuser: creates the untrusted PL/Python functions          |
| pipeline  | owns and writes every schema                                  |
| analyst   | reads every schema except ``meta``; writes nothing            |
| worker    | reads and writes the ``ops`` schema only                      |
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from warehouse.config import settings

READ_SCHEMAS = (
    "raw",
    "ref",
    "sim",
    "staging",
    "intermediate",
    "marts",
    "ops",
    "analytics",
    "risk",
)


def apply_grants(conn: psycopg.Connection) -> None:
    """Grant the analyst and worker roles their privileges (run as the pipeline role)."""
    s = settings()
    analyst = sql.Identifier(s.user("analyst"))
    worker = sql.Identifier(s.user("worker"))
    pipeline = sql.Identifier(s.user("pipeline"))
    stmts: list[sql.Composable] = []
    for name in READ_SCHEMAS:
        schema = sql.Identifier(name)
        stmts += [
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, analyst),
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, analyst),
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}"
            ).format(pipeline, schema, analyst),
        ]
    ops = sql.Identifier("ops")
    stmts += [
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ops, worker),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(
            ops, worker
        ),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(ops, worker),
        # ops functions, including ops.paper_latest_quote (revoked from PUBLIC): the paper
        # broker's one read of market data, as a SECURITY DEFINER function
        sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {} TO {}").format(ops, worker),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}"
        ).format(pipeline, ops, worker),
        sql.SQL(
            "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} "
            "GRANT USAGE, SELECT ON SEQUENCES TO {}"
        ).format(pipeline, ops, worker),
    ]
    with conn.transaction():
        for stmt in stmts:
            conn.execute(stmt)
