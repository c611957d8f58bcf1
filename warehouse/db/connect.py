"""Connections to the warehouse, one role at a time."""

from __future__ import annotations

import psycopg

from warehouse.config import settings


def connect(role: str = "pipeline", *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection as ``role`` (admin, pipeline, analyst or worker).

    Raises a ``psycopg.OperationalError`` naming the DSN host/port when the server is down,
    with a hint to run ``warehouse db up``.
    """
    s = settings()
    try:
        return psycopg.connect(s.dsn(role), autocommit=autocommit, application_name="warehouse")
    except psycopg.OperationalError as exc:
        raise psycopg.OperationalError(
            f"cannot connect to the warehouse at {s.host}:{s.port}/{s.database} as "
            f"{s.user(role)}: {exc}. Is it running? Try `warehouse db up`."
        ) from exc
