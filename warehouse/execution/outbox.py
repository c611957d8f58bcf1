"""The transactional outbox: publication, claims with leases, retries, expiry, replay.

Claim rule: an event is claimable when it is ``pending`` and available (its retry backoff
over), or ``in_flight`` with an expired lease (its worker died or lost the database), and no
earlier event of its aggregate (account|underlying) is pending, in flight or dead-lettered.
So at most one event per aggregate is ever claimable, and an aggregate's events run strictly
in sequence. Claiming is one statement: ``SELECT ... FOR UPDATE SKIP LOCKED`` of the
candidates, the update to ``in_flight`` with a lease, and a row per claim in
``ops.outbox_claims``. Finished states (done, rejected, expired) never go back, so a stale
snapshot can only delay a claim, never allow an out-of-order one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from warehouse.execution.models import ClaimedEvent, OrderIntent

OPEN_STATES = ("pending", "in_flight", "dead_letter")  # block later events of the aggregate
FINAL_STATES = ("done", "rejected", "expired")
STATES = ("pending", "in_flight", "done", "rejected", "expired", "dead_letter")


class LeaseLost(RuntimeError):
    """This worker no longer holds the event (its lease expired and another worker took it)."""


class OutboxError(RuntimeError):
    """An operator request on the outbox that cannot be honoured (unknown event, wrong state)."""


# -- publication ---------------------------------------------------------------------------

ENQUEUE = """
SELECT ops.enqueue_intent(
    p_as_of => %(as_of)s, p_account => %(account)s, p_underlying => %(underlying)s,
    p_strategy => %(strategy)s, p_structure => %(structure)s, p_legs => %(legs)s,
    p_valid_until => %(valid_until)s, p_market_ts => %(market_ts)s, p_source => %(source)s,
    p_metadata => %(metadata)s, p_intent_id => %(intent_id)s)
"""


def publish_intents(conn: psycopg.Connection, intents: Iterable[OrderIntent]) -> list[UUID]:
    """Publish intents with their outbox events, all in one transaction (all or nothing).

    Returns the event ids (= client order ids), in the order of ``intents``. Inside a
    transaction of the caller this becomes a savepoint of it, so the caller's commit decides.
    An intent with an ``intent_id`` already published returns its existing event.
    """
    ids: list[UUID] = []
    with conn.transaction():
        for intent in intents:
            row = conn.execute(
                ENQUEUE,
                {
                    "as_of": intent.as_of,
                    "account": intent.account,
                    "underlying": intent.underlying,
                    "strategy": intent.strategy,
                    "structure": intent.structure,
                    "legs": Jsonb([leg.as_json() for leg in intent.legs]),
                    "valid_until": intent.valid_until,
                    "market_ts": intent.market_ts,
                    "source": intent.source,
                    "metadata": Jsonb(intent.metadata),
                    "intent_id": intent.intent_id,
                },
            ).fetchone()
            ids.append(row[0])
    return ids


# -- claims --------------------------------------------------------------------------------

CLAIM = """
WITH candidate AS (
    SELECT o.event_id
      FROM ops.outbox AS o
     WHERE ((o.status = 'pending' AND o.available_at <= now())
            OR (o.status = 'in_flight' AND o.lease_until < now()))
       AND NOT EXISTS (
               SELECT 1
                 FROM ops.outbox AS e
                WHERE e.aggregate = o.aggregate
                  AND e.aggregate_seq < o.aggregate_seq
                  AND e.status IN ('pending', 'in_flight', 'dead_letter'))
     ORDER BY o.available_at, o.created_at
     LIMIT %(batch)s
       FOR UPDATE OF o SKIP LOCKED
), claimed AS (
    UPDATE ops.outbox AS o
       SET status = 'in_flight',
           locked_by = %(worker)s,
           lease_until = clock_timestamp() + make_interval(secs => %(lease)s),
           attempts = o.attempts + 1,
           first_claimed_at = coalesce(o.first_claimed_at, clock_timestamp())
      FROM candidate AS c
     WHERE o.event_id = c.event_id
 RETURNING o.event_id, o.aggregate, o.aggregate_seq, o.event_type, o.payload, o.valid_until,
           o.attempts, o.failures, o.lease_until
), audit AS (
    INSERT INTO ops.outbox_claims (event_id, worker_id, attempt, lease_until)
    SELECT event_id, %(worker)s, attempts, lease_until FROM claimed
    RETURNING claim_id, event_id
)
SELECT c.event_id, c.aggregate, c.aggregate_seq, c.event_type, c.payload, c.valid_until,
       c.attempts, c.failures, a.claim_id
  FROM claimed AS c
  JOIN audit AS a USING (event_id)
 ORDER BY c.aggregate, c.aggregate_seq
"""


def claim(
    conn: psycopg.Connection, worker_id: str, *, batch: int, lease_seconds: float
) -> list[ClaimedEvent]:
    """Claim up to ``batch`` claimable events (at most one per aggregate) for ``worker_id``."""
    with conn.transaction():
        rows = conn.execute(
            CLAIM, {"batch": batch, "worker": worker_id, "lease": lease_seconds}
        ).fetchall()
    return [ClaimedEvent(*row) for row in rows]


def renew_and_check(
    conn: psycopg.Connection, event_id: UUID, worker_id: str, lease_seconds: float
) -> bool | None:
    """Extend the lease of a held event. None: not ours any more; else whether it is past its
    ``valid_until`` (by the database's clock)."""
    row = conn.execute(
        "UPDATE ops.outbox SET lease_until = clock_timestamp() + make_interval(secs => %s) "
        "WHERE event_id = %s AND locked_by = %s AND status = 'in_flight' "
        "RETURNING clock_timestamp() >= valid_until",
        (lease_seconds, event_id, worker_id),
    ).fetchone()
    return None if row is None else bool(row[0])


def extend_leases(
    conn: psycopg.Connection, event_ids: Sequence[UUID], worker_id: str, lease_seconds: float
) -> set[UUID]:
    """Heartbeat: extend the leases of ``event_ids`` still held by ``worker_id``; returns the
    ids still held."""
    if not event_ids:
        return set()
    rows = conn.execute(
        "UPDATE ops.outbox SET lease_until = clock_timestamp() + make_interval(secs => %s) "
        "WHERE event_id = ANY(%s) AND locked_by = %s AND status = 'in_flight' RETURNING event_id",
        (lease_seconds, list(event_ids), worker_id),
    ).fetchall()
    return {r[0] for r in rows}


def assert_held(conn: psycopg.Connection, event_id: UUID, worker_id: str) -> None:
    """Lock the event row for the rest of the transaction; LeaseLost if it is not ours."""
    row = conn.execute(
        "SELECT 1 FROM ops.outbox WHERE event_id = %s AND locked_by = %s "
        "AND status = 'in_flight' FOR UPDATE",
        (event_id, worker_id),
    ).fetchone()
    if row is None:
        raise LeaseLost(f"event {event_id} is no longer held by {worker_id}")


def finish(
    conn: psycopg.Connection,
    event: ClaimedEvent,
    worker_id: str,
    status: str,
    *,
    outcome: str | None,
    error: str | None = None,
) -> None:
    """End a held event (``done``, ``rejected``, ``expired``, ``dead_letter``) and its claim;
    call inside the transaction that records the result. LeaseLost if it is not ours."""
    row = conn.execute(
        "UPDATE ops.outbox SET status = %s, outcome = %s, last_error = coalesce(%s, last_error), "
        "finished_at = clock_timestamp(), locked_by = NULL, lease_until = NULL "
        "WHERE event_id = %s AND locked_by = %s AND status = 'in_flight' RETURNING 1",
        (status, outcome, error, event.event_id, worker_id),
    ).fetchone()
    if row is None:
        raise LeaseLost(f"event {event.event_id} is no longer held by {worker_id}")
    _end_claim(conn, event.claim_id, status)


def fail(
    conn: psycopg.Connection,
    event: ClaimedEvent,
    worker_id: str,
    error: str,
    *,
    delay_seconds: float,
    max_attempts: int,
) -> str:
    """Record a failed attempt: back to ``pending`` after ``delay_seconds``, or
    ``dead_letter`` at ``max_attempts`` failures. Returns the new status ('' if lost)."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE ops.outbox SET failures = failures + 1, last_error = %(error)s, "
            "status = CASE WHEN failures + 1 >= %(max)s THEN 'dead_letter' ELSE 'pending' END, "
            "available_at = clock_timestamp() + make_interval(secs => %(delay)s), "
            "finished_at = CASE WHEN failures + 1 >= %(max)s THEN clock_timestamp() END, "
            "locked_by = NULL, lease_until = NULL "
            "WHERE event_id = %(id)s AND locked_by = %(worker)s AND status = 'in_flight' "
            "RETURNING status",
            {
                "error": error[:2000],
                "max": max_attempts,
                "delay": delay_seconds,
                "id": event.event_id,
                "worker": worker_id,
            },
        ).fetchone()
        if row is None:
            return ""
        _end_claim(conn, event.claim_id, "dead_letter" if row[0] == "dead_letter" else "retry")
    return row[0]


def release(conn: psycopg.Connection, worker_id: str, event_ids: Iterable[UUID]) -> int:
    """Give held events back (pending, available now) without counting a failure: a halt, a
    stop, a reconnect. Returns how many were still held."""
    ids = list(event_ids)
    if not ids:
        return 0
    with conn.transaction():
        rows = conn.execute(
            "UPDATE ops.outbox SET status = 'pending', locked_by = NULL, lease_until = NULL, "
            "available_at = clock_timestamp() "
            "WHERE event_id = ANY(%s) AND locked_by = %s AND status = 'in_flight' "
            "RETURNING event_id",
            (ids, worker_id),
        ).fetchall()
        conn.execute(
            "UPDATE ops.outbox_claims SET finished_at = clock_timestamp(), result = 'released' "
            "WHERE event_id = ANY(%s) AND worker_id = %s AND finished_at IS NULL",
            ([r[0] for r in rows], worker_id),
        )
    return len(rows)


def _end_claim(conn: psycopg.Connection, claim_id: int, result: str) -> None:
    conn.execute(
        "UPDATE ops.outbox_claims SET finished_at = clock_timestamp(), result = %s "
        "WHERE claim_id = %s",
        (result, claim_id),
    )


SWEEP = """
WITH stale AS (
    SELECT event_id
      FROM ops.outbox
     WHERE status = 'pending' AND first_claimed_at IS NULL AND valid_until <= now()
       FOR UPDATE SKIP LOCKED
)
UPDATE ops.outbox AS o
   SET status = 'expired', outcome = 'expired', finished_at = clock_timestamp(),
       last_error = 'valid_until passed before any attempt'
  FROM stale
 WHERE o.event_id = stale.event_id
RETURNING o.event_id
"""


def sweep_expired(conn: psycopg.Connection) -> list[UUID]:
    """Expire pending events past ``valid_until`` that no worker ever claimed (so no broker
    can have seen them); events claimed before go through the worker, which asks the broker
    first."""
    with conn.transaction():
        return [r[0] for r in conn.execute(SWEEP).fetchall()]


# -- retries -------------------------------------------------------------------------------


def backoff_delay(failures: int, base: float, cap: float, rng: np.random.Generator) -> float:
    """Capped exponential backoff with equal jitter: ``d = min(cap, base x 2^(failures-1))``,
    delay uniform in ``[d/2, d]`` (drawn from ``rng``, a seeded PCG64 generator)."""
    d = min(cap, base * 2.0 ** max(failures - 1, 0))
    return d / 2.0 + float(rng.uniform(0.0, d / 2.0))


# -- operator requests ---------------------------------------------------------------------


def replay(conn: psycopg.Connection, event_id: UUID, who: str) -> None:
    """Put a dead-lettered event back to ``pending`` with its failure count reset."""
    with conn.transaction():
        row = conn.execute(
            "SELECT status FROM ops.outbox WHERE event_id = %s FOR UPDATE", (event_id,)
        ).fetchone()
        if row is None:
            raise OutboxError(f"no outbox event {event_id}")
        if row[0] != "dead_letter":
            raise OutboxError(f"event {event_id} is {row[0]}, not dead_letter: nothing to replay")
        conn.execute(
            "UPDATE ops.outbox SET status = 'pending', failures = 0, finished_at = NULL, "
            "available_at = clock_timestamp(), replays = replays + 1, "
            "last_replayed_at = clock_timestamp(), last_replayed_by = %s WHERE event_id = %s",
            (who, event_id),
        )


@dataclass(frozen=True)
class OutboxStatus:
    counts: dict[str, int]
    waiting_retry: int
    oldest_pending: datetime | None
    dead_letters: list[tuple[UUID, str, int, int, str | None]]
    in_flight: list[tuple[UUID, str, int, str, datetime]]


def status(conn: psycopg.Connection) -> OutboxStatus:
    """Counts by status, retries waiting, dead letters and events in flight."""
    counts = {s: 0 for s in STATES}
    counts.update(
        dict(conn.execute("SELECT status, count(*) FROM ops.outbox GROUP BY status").fetchall())
    )
    waiting, oldest = conn.execute(
        "SELECT count(*) FILTER (WHERE available_at > now()), min(created_at) "
        "FROM ops.outbox WHERE status = 'pending'"
    ).fetchone()
    dead = conn.execute(
        "SELECT event_id, aggregate, aggregate_seq, failures, last_error FROM ops.outbox "
        "WHERE status = 'dead_letter' ORDER BY finished_at"
    ).fetchall()
    flight = conn.execute(
        "SELECT event_id, aggregate, aggregate_seq, locked_by, lease_until FROM ops.outbox "
        "WHERE status = 'in_flight' ORDER BY lease_until"
    ).fetchall()
    return OutboxStatus(counts, waiting, oldest, list(dead), list(flight))
