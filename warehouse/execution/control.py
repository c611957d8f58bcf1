"""Operator controls: the trading halt (audited), the worker kill switch, the worker registry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class TradingState:
    halted: bool
    reason: str
    changed_by: str
    changed_at: datetime


def trading_state(conn: psycopg.Connection) -> TradingState:
    row = conn.execute(
        "SELECT halted, reason, changed_by, changed_at FROM ops.trading_state"
    ).fetchone()
    return TradingState(*row)


def halt(conn: psycopg.Connection, who: str, reason: str) -> bool:
    """Halt trading; True if it was running. Returns once submissions in progress ended
    (workers hold a share lock on the trading state while they submit)."""
    with conn.transaction():
        return bool(conn.execute("SELECT ops.halt_trading(%s, %s)", (who, reason)).fetchone()[0])


def resume(conn: psycopg.Connection, who: str, why: str) -> bool:
    """Clear a halt, audited with who and why; False if trading was not halted."""
    with conn.transaction():
        return bool(conn.execute("SELECT ops.resume_trading(%s, %s)", (who, why)).fetchone()[0])


def request_stop(
    conn: psycopg.Connection, worker_id: str | None = None, reason: str | None = None
) -> int:
    """Kill switch: ask running workers (all, or ``worker_id``) to stop; returns the request
    id. Workers started after the request are not affected."""
    with conn.transaction():
        return conn.execute(
            "INSERT INTO ops.worker_stop_requests (worker_id, reason) VALUES (%s, %s) "
            "RETURNING request_id",
            (worker_id, reason),
        ).fetchone()[0]


def register_worker(conn: psycopg.Connection, worker_id: str, pid: int, host: str) -> datetime:
    """Record a worker start; returns its start time on the database's clock."""
    with conn.transaction():
        return conn.execute(
            "INSERT INTO ops.workers (worker_id, pid, host) VALUES (%s, %s, %s) "
            "ON CONFLICT (worker_id) DO UPDATE SET pid = excluded.pid, host = excluded.host, "
            "started_at = clock_timestamp(), heartbeat_at = clock_timestamp(), "
            "stopped_at = NULL, stop_reason = NULL RETURNING started_at",
            (worker_id, pid, host),
        ).fetchone()[0]


def stop_requested(conn: psycopg.Connection, worker_id: str, started_at: datetime) -> str | None:
    """The reason of a stop request for this worker made after it started, or None."""
    row = conn.execute(
        "SELECT coalesce(reason, 'stop requested') || ' (by ' || requested_by || ')' "
        "FROM ops.worker_stop_requests WHERE requested_at > %s "
        "AND (worker_id IS NULL OR worker_id = %s) ORDER BY request_id LIMIT 1",
        (started_at, worker_id),
    ).fetchone()
    return None if row is None else row[0]


def mark_stopped(conn: psycopg.Connection, worker_id: str, reason: str) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE ops.workers SET stopped_at = clock_timestamp(), stop_reason = %s "
            "WHERE worker_id = %s",
            (reason, worker_id),
        )
