"""The outbox worker (``warehouse worker``): claim, submit, record; crash-safe.

One event at a time, per claimed batch:

1. **Recovery check.** An event claimed before (its worker died, lost the database, or it
   was replayed) may already be at the broker: ask the broker by client order id (= event
   id) and, if it has the order, just record its answer.
2. **Gate.** Renew the lease (LeaseLost if another worker took the event), expire the event
   if its ``valid_until`` has passed, create the order (state ``new``). One transaction.
3. **Submit.** Holding ``FOR SHARE`` on ``ops.trading_state`` (so a halt waits for it, and
   nothing is submitted once a halt has committed), check the halt and hand the order to
   the broker, with the event id as client order id.
4. **Record.** In one transaction: check the event is still ours, move the order along the
   state machine, insert the fills (unique per broker fill id; positions follow by
   trigger), end the event and its claim.

A crash anywhere leaves the event in flight; when its lease expires another worker claims
it and step 1 finds what the broker has, so nothing is submitted twice and no fill is
recorded twice. Failures (broker unavailable, a poison payload, a bug) go back to pending
with capped exponential backoff and seeded jitter, and to ``dead_letter`` after
``max_attempts``. A lost database connection (``OperationalError``) is retried with backoff;
events held then are released after the reconnect. A background heartbeat extends the
leases of held events and records the worker's liveness. The kill switch
(``warehouse worker stop``), SIGTERM and SIGINT stop the worker after the current event.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import numpy as np
import psycopg

from warehouse.execution import control, orders, outbox
from warehouse.execution.broker import Broker, BrokerOrder, make_broker
from warehouse.execution.models import ClaimedEvent, OrderRequest, PayloadError
from warehouse.execution.outbox import LeaseLost
from warehouse.execution.settings import WorkerConfig

log = logging.getLogger("warehouse.execution.worker")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_connect(worker_id: str) -> psycopg.Connection:
    """A connection as the worker role, named after the worker (``order_events.actor``)."""
    from warehouse.config import settings

    return psycopg.connect(
        settings().dsn("worker"),
        autocommit=True,
        application_name=f"worker {worker_id}"[:63],
        connect_timeout=5,
    )


class Worker:
    """Drains ``ops.outbox`` into a broker (see the module docstring)."""

    def __init__(
        self,
        *,
        worker_id: str | None = None,
        config: WorkerConfig | None = None,
        broker: Broker | None = None,
        connect: Callable[[], psycopg.Connection] | None = None,
    ) -> None:
        self.worker_id = worker_id or default_worker_id()
        self.config = config or WorkerConfig.from_settings()
        self.broker = broker or make_broker()
        self._connect = connect or (lambda: worker_connect(self.worker_id))
        seq = np.random.SeedSequence([self.config.seed, zlib.crc32(self.worker_id.encode())])
        self.rng = np.random.Generator(np.random.PCG64(seq))
        self.stats: Counter[str] = Counter()
        self._conn: psycopg.Connection | None = None
        self._started_at: datetime | None = None
        self._stop = threading.Event()
        self._stop_reason: str | None = None
        self._held: set[UUID] = set()
        self._held_lock = threading.Lock()
        self._heartbeat: _Heartbeat | None = None
        self._halt_logged = False

    # -- lifecycle -------------------------------------------------------------------------

    def stop(self, reason: str = "stop requested") -> None:
        """Ask the worker to stop after the current event (thread- and signal-safe)."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._stop.set()

    def run(self, *, once: bool = False) -> int:
        """Poll until stopped (or, with ``once``, until nothing is claimable). Returns 0."""
        log.info(
            "worker %s starting: broker %s, poll %.2f s, batch %d, lease %.1f s, max attempts %d",
            self.worker_id,
            self.broker.name,
            self.config.poll_seconds,
            self.config.batch_size,
            self.config.lease_seconds,
            self.config.max_attempts,
        )
        self._start_heartbeat()
        outages = 0
        try:
            while not self._stop.is_set():
                try:
                    self._connection()
                    if outages:
                        log.info("database reachable again after %d failed attempt(s)", outages)
                        self._release_held("reconnected")
                        outages = 0
                    handled = self.run_once()
                except psycopg.OperationalError as exc:
                    outages += 1
                    self._drop_connection()
                    delay = self._reconnect_delay(outages)
                    log.warning(
                        "database connection lost (%s); reconnecting in %.2f s (attempt %d)",
                        str(exc).strip().splitlines()[0] if str(exc).strip() else exc,
                        delay,
                        outages,
                    )
                    self._stop.wait(delay)
                    continue
                if handled == 0:
                    if once:
                        break
                    self._stop.wait(self.config.poll_seconds)
        finally:
            self._shutdown()
        return 0

    def run_once(self) -> int:
        """One poll: kill switch, expiry sweep, halt check, claim a batch and process it.
        Returns the number of events handled."""
        conn = self._connection()
        if self._check_stop(conn):
            return 0
        expired = outbox.sweep_expired(conn)
        if expired:
            self.stats["expired"] += len(expired)
            log.info("expired %d event(s) past valid_until before any attempt", len(expired))
        state = control.trading_state(conn)
        if state.halted:
            if not self._halt_logged:
                log.warning(
                    "trading halted by %s at %s (%s): submitting nothing until an audited resume",
                    state.changed_by,
                    state.changed_at,
                    state.reason,
                )
                self._halt_logged = True
            return 0
        if self._halt_logged:
            log.info("trading resumed by %s (%s)", state.changed_by, state.reason)
            self._halt_logged = False
        events = outbox.claim(
            conn,
            self.worker_id,
            batch=self.config.batch_size,
            lease_seconds=self.config.lease_seconds,
        )
        if not events:
            return 0
        with self._held_lock:
            self._held.update(ev.event_id for ev in events)
        log.debug("claimed %d event(s)", len(events))
        handled = 0
        for ev in events:
            if self._stop.is_set() or self._check_stop(conn):
                break
            self._handle(conn, ev)
            handled += 1
        self._release_held("stopping" if self._stop.is_set() else "batch end")
        return handled

    # -- one event -------------------------------------------------------------------------

    def _handle(self, conn: psycopg.Connection, ev: ClaimedEvent) -> None:
        try:
            self._process(conn, ev)
        except psycopg.OperationalError:
            raise  # the run loop reconnects; the event is released afterwards
        except LeaseLost as exc:
            self.stats["lease_lost"] += 1
            log.warning("%s; leaving it to its new holder", exc)
            self._forget(ev)
        except Exception as exc:
            failures = ev.failures + 1
            delay = outbox.backoff_delay(
                failures, self.config.backoff_base, self.config.backoff_cap, self.rng
            )
            error = f"{type(exc).__name__}: {exc}"
            status = outbox.fail(
                conn,
                ev,
                self.worker_id,
                error,
                delay_seconds=delay,
                max_attempts=self.config.max_attempts,
            )
            self._forget(ev)
            if status == "dead_letter":
                self.stats["dead_letter"] += 1
                log.error(
                    "event %s (%s #%d) dead-lettered after %d failed attempts: %s "
                    "(retry it with `warehouse outbox replay %s`)",
                    ev.event_id,
                    ev.aggregate,
                    ev.aggregate_seq,
                    failures,
                    error,
                    ev.event_id,
                )
            elif status:
                self.stats["retry"] += 1
                log.warning(
                    "event %s (%s #%d) failed (attempt %d of %d): %s; retry in %.2f s",
                    ev.event_id,
                    ev.aggregate,
                    ev.aggregate_seq,
                    failures,
                    self.config.max_attempts,
                    error,
                    delay,
                )

    def _process(self, conn: psycopg.Connection, ev: ClaimedEvent) -> None:
        if ev.event_type != "submit_order":
            raise PayloadError(f"unknown event type {ev.event_type!r}")
        request = OrderRequest.from_payload(ev.event_id, ev.payload)
        me, lease = self.worker_id, self.config.lease_seconds

        # 1. recovery: an earlier claim may have reached the broker
        if ev.attempts > 1:
            existing = self.broker.lookup(ev.event_id)
            if existing is not None:
                self.stats["recovered"] += 1
                log.info(
                    "event %s (%s #%d): the broker already has order %s (%s); recording it",
                    ev.event_id,
                    ev.aggregate,
                    ev.aggregate_seq,
                    existing.broker_order_id,
                    existing.state,
                )
                self._record(conn, ev, request, existing)
                return
            if ev.attempts > self.config.max_claims:
                with conn.transaction():
                    outbox.finish(
                        conn,
                        ev,
                        me,
                        "dead_letter",
                        outcome=None,
                        error=f"claimed {ev.attempts} times without finishing (worker crashes?)",
                    )
                self._forget(ev)
                self.stats["dead_letter"] += 1
                log.error("event %s dead-lettered: claimed %d times", ev.event_id, ev.attempts)
                return

        # 2. gate: lease, expiry, the order row
        with conn.transaction():
            past = outbox.renew_and_check(conn, ev.event_id, me, lease)
            if past is None:
                raise LeaseLost(f"event {ev.event_id} is no longer held by {me}")
            if past:
                reason = "valid_until passed before submission"
                orders.expire_order(conn, request, reason)
                outbox.finish(conn, ev, me, "expired", outcome="expired", error=reason)
        if past:
            self._forget(ev)
            self.stats["expired"] += 1
            log.info(
                "event %s (%s #%d) expired: %s", ev.event_id, ev.aggregate, ev.aggregate_seq, reason
            )
            return
        with conn.transaction():
            orders.ensure_order(conn, request, self.broker.name)

        # 3. submit, unless halted; a halt waits for this transaction
        result: BrokerOrder | None = None
        with conn.transaction():
            halted, why = conn.execute(
                "SELECT halted, reason FROM ops.trading_state FOR SHARE"
            ).fetchone()
            if not halted:
                result = self.broker.submit(request)
        if result is None:
            outbox.release(conn, me, [ev.event_id])
            self._forget(ev)
            self.stats["released"] += 1
            log.warning("trading halted (%s): event %s released unsubmitted", why, ev.event_id)
            return

        # 4. record
        self._record(conn, ev, request, result)

    def _record(
        self, conn: psycopg.Connection, ev: ClaimedEvent, request: OrderRequest, result: BrokerOrder
    ) -> None:
        with conn.transaction():
            outbox.assert_held(conn, ev.event_id, self.worker_id)
            state, new_fills = orders.record_broker_order(conn, request, result)
            status = orders.event_status_for(state)
            outbox.finish(
                conn,
                ev,
                self.worker_id,
                status,
                outcome=state,
                error=result.reason if status != "done" else None,
            )
        self._forget(ev)
        self.stats[status] += 1
        log.info(
            "event %s (%s #%d): order %s %s, %d/%d units, %d new fill(s)%s",
            ev.event_id,
            ev.aggregate,
            ev.aggregate_seq,
            result.broker_order_id,
            state,
            result.filled_units,
            result.units,
            new_fills,
            f" ({result.reason})" if result.reason else "",
        )

    # -- helpers ---------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop_connection()
            self._conn = self._connect()
            if self._started_at is None:
                self._started_at = control.register_worker(
                    self._conn, self.worker_id, os.getpid(), socket.gethostname()
                )
                log.info("worker %s registered at %s", self.worker_id, self._started_at)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def _reconnect_delay(self, outages: int) -> float:
        d = min(self.config.reconnect_cap, self.config.reconnect_base * 2.0 ** (outages - 1))
        return d / 2.0 + float(self.rng.uniform(0.0, d / 2.0))

    def _check_stop(self, conn: psycopg.Connection) -> bool:
        if self._stop.is_set():
            return True
        reason = control.stop_requested(conn, self.worker_id, self._started_at)
        if reason:
            log.info("kill switch: %s", reason)
            self.stop(reason)
            return True
        return False

    def _forget(self, ev: ClaimedEvent) -> None:
        with self._held_lock:
            self._held.discard(ev.event_id)

    def held(self) -> list[UUID]:
        with self._held_lock:
            return list(self._held)

    def _release_held(self, why: str) -> None:
        held = self.held()
        if not held or self._conn is None:
            return
        n = outbox.release(self._conn, self.worker_id, held)
        with self._held_lock:
            self._held.difference_update(held)
        if n:
            self.stats["released"] += n
            log.info("released %d held event(s) (%s)", n, why)

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None:
            self._heartbeat = _Heartbeat(self)
            self._heartbeat.start()

    def _shutdown(self) -> None:
        reason = self._stop_reason or "finished"
        try:
            self._connection()
            self._release_held("shutdown")
            control.mark_stopped(self._conn, self.worker_id, reason)
        except psycopg.Error as exc:
            log.warning(
                "could not release held events on shutdown (%s); their leases expire in %.1f s",
                exc,
                self.config.lease_seconds,
            )
        if self._heartbeat is not None:
            self._heartbeat.halt()
            self._heartbeat = None
        self.broker.close()
        self._drop_connection()
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.stats.items())) or "nothing"
        log.info("worker %s stopped (%s): %s", self.worker_id, reason, counts)


class _Heartbeat(threading.Thread):
    """Extends the leases of the worker's held events and records its liveness."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(name=f"heartbeat {worker.worker_id}", daemon=True)
        self.worker = worker
        self._halt = threading.Event()

    def halt(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def run(self) -> None:
        w = self.worker
        conn: psycopg.Connection | None = None
        while not self._halt.wait(w.config.heartbeat_seconds):
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = w._connect()
                held = w.held()
                with conn.transaction():
                    conn.execute(
                        "UPDATE ops.workers SET heartbeat_at = clock_timestamp() "
                        "WHERE worker_id = %s",
                        (w.worker_id,),
                    )
                    kept = outbox.extend_leases(conn, held, w.worker_id, w.config.lease_seconds)
                lost = (set(held) & set(w.held())) - kept
                if lost:
                    log.warning("heartbeat: lease lost for %d event(s): %s", len(lost), lost)
            except psycopg.Error as exc:
                log.debug("heartbeat failed (%s); retrying", exc)
                if conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
                conn = None
        if conn is not None:
            conn.close()
