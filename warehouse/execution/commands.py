"""The execution subcommands of ``warehouse``: worker, outbox, reconcile, halt, resume."""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
from uuid import UUID


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry
        return "unknown"


def _conn():
    from warehouse.db.connect import connect

    return connect("worker", autocommit=True)


def _fail(msg: str) -> int:
    msg = msg.strip().splitlines()[0] if msg.strip() else msg
    print(f"warehouse: error: {msg}", file=sys.stderr)
    return 1


def _worker(ns: argparse.Namespace) -> int:
    import psycopg

    if ns.action == "stop":
        from warehouse.execution import control

        with _conn() as conn:
            rid = control.request_stop(conn, ns.worker_id, ns.reason or f"stop by {_operator()}")
        target = f"worker {ns.worker_id}" if ns.worker_id else "every running worker"
        print(f"stop request {rid} recorded: {target} stops after its current event")
        return 0

    from warehouse.execution.settings import WorkerConfig
    from warehouse.execution.worker import Worker

    logging.basicConfig(
        level=logging.DEBUG if ns.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = WorkerConfig.from_settings(poll_seconds=ns.poll, batch_size=ns.batch)
    worker = Worker(worker_id=ns.worker_id, config=config)

    def on_signal(signum: int, _frame: object) -> None:
        worker.stop(f"signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return worker.run(once=ns.once)
    except psycopg.Error as exc:
        return _fail(f"worker: {exc}")


def _outbox(ns: argparse.Namespace) -> int:
    import psycopg

    from warehouse.execution import control, outbox

    try:
        with _conn() as conn:
            if ns.action == "replay":
                try:
                    event_id = UUID(ns.event_id)
                except ValueError:
                    return _fail(f"not an event id: {ns.event_id!r}")
                outbox.replay(conn, event_id, ns.who or _operator())
                print(f"event {event_id} is pending again (failures reset); a worker will retry it")
                return 0
            st = outbox.status(conn)
            ts = control.trading_state(conn)
            workers = conn.execute(
                "SELECT worker_id, started_at, stopped_at, stop_reason, "
                "extract(epoch FROM clock_timestamp() - heartbeat_at) FROM ops.workers "
                "ORDER BY started_at DESC LIMIT 10"
            ).fetchall()
    except outbox.OutboxError as exc:
        return _fail(str(exc))
    except psycopg.Error as exc:
        return _fail(str(exc).strip())
    state = "HALTED" if ts.halted else "active"
    since = f"{ts.changed_at:%Y-%m-%d %H:%M:%S%z}"
    print(f"trading: {state} since {since} by {ts.changed_by}: {ts.reason}")
    print("outbox:  " + ", ".join(f"{k} {v}" for k, v in st.counts.items()))
    if st.counts["pending"]:
        print(
            f"pending: {st.waiting_retry} waiting for a retry; oldest created {st.oldest_pending}"
        )
    for event_id, agg, seq, holder, lease in st.in_flight:
        print(f"in flight: {event_id} {agg} #{seq} held by {holder} until {lease}")
    for event_id, agg, seq, failures, error in st.dead_letters:
        print(f"dead letter: {event_id} {agg} #{seq} after {failures} failures: {error}")
    for wid, started, stopped, why, age in workers:
        life = f"stopped {stopped:%H:%M:%S} ({why})" if stopped else f"heartbeat {age:.1f} s ago"
        print(f"worker: {wid} started {started:%Y-%m-%d %H:%M:%S} {life}")
    return 0


def _reconcile(ns: argparse.Namespace) -> int:
    import psycopg

    from warehouse.execution.broker import make_broker
    from warehouse.execution.reconcile import reconcile

    broker = make_broker()
    try:
        with _conn() as conn:
            report = reconcile(conn, broker)
    except psycopg.Error as exc:
        return _fail(str(exc).strip())
    finally:
        broker.close()
    print(report.summary())
    return 0 if report.ok else 1


def _halt(ns: argparse.Namespace) -> int:
    import psycopg

    from warehouse.execution import control

    try:
        with _conn() as conn:
            was_running = control.halt(conn, ns.who, ns.reason)
    except psycopg.Error as exc:
        return _fail(str(exc).strip())
    print(
        ("trading halted" if was_running else "trading was already halted; reason updated")
        + f" by {ns.who}: {ns.reason}"
    )
    return 0


def _resume(ns: argparse.Namespace) -> int:
    import psycopg

    from warehouse.execution import control

    try:
        with _conn() as conn:
            resumed = control.resume(conn, ns.who, ns.why)
    except psycopg.Error as exc:
        return _fail(str(exc).strip())
    print(f"trading resumed by {ns.who}: {ns.why}" if resumed else "trading was not halted")
    return 0


def add_execution_commands(sub: argparse._SubParsersAction) -> None:
    """Register the execution subcommands on the ``warehouse`` parser."""
    w = sub.add_parser(
        "worker",
        help="run the outbox worker, or stop running workers (`worker stop`)",
        description="Claim outbox events (FOR UPDATE SKIP LOCKED, leased, in order per "
        "account|underlying), submit each order to the broker (WAREHOUSE_BROKER, default "
        "paper) with the event id as client order id, record order, fills and positions. "
        "Crash-safe: a killed worker's events are taken over when their lease expires. "
        "`warehouse worker stop` is the kill switch: running workers finish their current "
        "event, release the rest and exit.",
    )
    w.add_argument("action", nargs="?", choices=["run", "stop"], default="run")
    w.add_argument("--once", action="store_true", help="drain what is claimable now, then exit")
    w.add_argument("--poll", type=float, help="idle seconds between polls")
    w.add_argument("--batch", type=int, help="events claimed per poll")
    w.add_argument(
        "--worker-id", help="worker id (default host:pid); with `stop`: stop only this worker"
    )
    w.add_argument("--reason", help="with `stop`: why (recorded)")
    w.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    w.set_defaults(func=_worker)

    ob = sub.add_parser(
        "outbox",
        help="outbox status, or replay a dead-lettered event",
        description="status: trading state, events by status, retries waiting, events in "
        "flight, dead letters, workers. replay ID: put a dead-lettered event back to pending.",
    )
    ob_sub = ob.add_subparsers(dest="action", required=True, metavar="ACTION")
    ob_sub.add_parser("status", help="events by status, dead letters, workers")
    rp = ob_sub.add_parser("replay", help="retry a dead-lettered event")
    rp.add_argument("event_id", help="outbox event id (= client order id)")
    rp.add_argument("--who", help="operator (recorded; default: the OS user)")
    ob.set_defaults(func=_outbox)

    rc = sub.add_parser(
        "reconcile",
        help="compare the broker's orders, fills and positions with the warehouse's",
        description="Broker view vs ops.orders, ops.fills and ops.positions; prints the "
        "differences (exit 1 when there are any).",
    )
    rc.set_defaults(func=_reconcile)

    h = sub.add_parser(
        "halt",
        help="halt trading: workers submit nothing until an audited resume",
        description="Sets ops.trading_state.halted (audited). Returns once submissions in "
        "progress have ended; pending events stay pending.",
    )
    h.add_argument("--reason", required=True, help="why (recorded)")
    h.add_argument("--who", default=_operator(), help="who halts (default: the OS user)")
    h.set_defaults(func=_halt)

    r = sub.add_parser(
        "resume",
        help="clear a trading halt (audited: who and why)",
        description="The only way to clear a halt; recorded in ops.trading_state_audit.",
    )
    r.add_argument("--who", required=True, help="who resumes")
    r.add_argument("--why", required=True, help="why it is safe to resume")
    r.set_defaults(func=_resume)
