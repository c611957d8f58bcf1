"""Fault tests of the outbox worker: SIGKILL crash loop, database restart, four concurrent
workers, a poison event, a halt mid-drain. Each ends with the same checks: every event
finished, one order per intent, no fill twice, positions = fills, broker = warehouse.

The database restart runs on a throwaway PostgreSQL instance of its own (initdb in a
temporary folder, own port), never on the shared cluster.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql

from warehouse.config import Settings, load_settings, settings
from warehouse.execution import control, publish_intents
from warehouse.execution.broker.base import BrokerUnavailable
from warehouse.execution.broker.paper import PaperBroker
from warehouse.execution.fixtures import (
    random_intents,
    remove_fixture_quotes,
    reset_execution,
    seed_quotes,
)
from warehouse.execution.models import OrderRequest
from warehouse.execution.reconcile import reconcile
from warehouse.execution.settings import PaperConfig, WorkerConfig
from warehouse.execution.worker import Worker

T0 = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
UNDERLYINGS = [f"K{i:02d}" for i in range(12)]
WORKER_CMD = [sys.executable, "-m", "warehouse.cli", "worker"]
AS_POSTGRES = ["runuser", "-u", "postgres", "--"]
INITDB_OPTIONS = ["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"]
WORKER_ENV = {
    "DO_NOT_TRACK": "1",
    "WAREHOUSE_OUTBOX_LEASE_SECONDS": "1.0",
    "WAREHOUSE_OUTBOX_MAX_ATTEMPTS": "5",
    "WAREHOUSE_OUTBOX_BACKOFF_BASE_SECONDS": "0.05",
    "WAREHOUSE_OUTBOX_BACKOFF_CAP_SECONDS": "0.5",
    "WAREHOUSE_WORKER_BATCH": "4",
    "WAREHOUSE_PAPER_SEED": "17",
}


# -- helpers -------------------------------------------------------------------------------


def wait_until(cond: Callable[[], bool], timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class WorkerProc:
    """A ``warehouse worker`` subprocess with its log in a file."""

    def __init__(self, worker_id: str, log_dir: Path, env: dict[str, str], poll: float = 0.05):
        self.worker_id = worker_id
        self.log = log_dir / f"{worker_id}.log"
        full_env = dict(os.environ) | WORKER_ENV | env
        self.proc = subprocess.Popen(
            [*WORKER_CMD, "--poll", str(poll), "--worker-id", worker_id],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def tail(self, n: int = 15) -> str:
        return "\n".join(self.log.read_text().splitlines()[-n:])

    def ensure_dead(self) -> None:
        if self.proc.poll() is None:
            self.kill()


def unfinished(conn: psycopg.Connection) -> int:
    return conn.execute(
        "SELECT count(*) FROM ops.outbox WHERE status IN ('pending', 'in_flight')"
    ).fetchone()[0]


def scalar(conn: psycopg.Connection, query: str, params: tuple = ()) -> object:
    return conn.execute(query, params).fetchone()[0]


def check_invariants(
    conn: psycopg.Connection,
    broker: PaperBroker,
    *,
    finished: tuple[str, ...] = ("done", "expired"),
) -> dict[str, int]:
    """The guarantees after any fault; returns figures for the report."""
    statuses = dict(conn.execute("SELECT status, count(*) FROM ops.outbox GROUP BY 1").fetchall())
    assert set(statuses) <= set(finished), statuses
    assert scalar(conn, "SELECT count(*) FROM ops.order_intents") == sum(statuses.values())
    # exactly one order per intent that reached a broker, none for the others
    assert (
        scalar(
            conn,
            "SELECT count(*) FROM ops.outbox e LEFT JOIN ops.orders o "
            "ON o.client_order_id = e.event_id WHERE e.status = 'done' AND o.state IS NULL",
        )
        == 0
    )
    assert (
        scalar(
            conn,
            "SELECT count(*) FROM (SELECT intent_id FROM ops.orders GROUP BY 1 "
            "HAVING count(*) > 1) d",
        )
        == 0
    )
    done = statuses.get("done", 0)
    broker_orders = scalar(conn, "SELECT count(*) FROM ops.broker_paper_orders")
    assert broker_orders == done  # expired events never reached the broker
    assert (
        scalar(
            conn,
            "SELECT count(*) FROM ops.broker_paper_orders b LEFT JOIN ops.outbox e "
            "ON e.event_id = b.client_order_id WHERE e.status IS DISTINCT FROM 'done'",
        )
        == 0
    )
    # no fill twice, none missing
    fills = scalar(conn, "SELECT count(*) FROM ops.fills")
    assert fills == scalar(conn, "SELECT count(DISTINCT (broker, broker_fill_id)) FROM ops.fills")
    assert fills == scalar(conn, "SELECT count(*) FROM ops.broker_paper_fills")
    # positions = the sum of the fills
    assert (
        scalar(
            conn,
            "SELECT count(*) FROM ops.positions p FULL JOIN ("
            "  SELECT account, rtrim(contract_symbol) AS instrument,"
            "         sum(CASE WHEN side = 'buy' THEN quantity ELSE -quantity END) AS q"
            "    FROM ops.fills GROUP BY 1, 2) f USING (account, instrument)"
            " WHERE coalesce(p.quantity, 0) <> coalesce(f.q, 0)",
        )
        == 0
    )
    report = reconcile(conn, broker)
    assert report.ok, report.summary()
    return {
        "events": sum(statuses.values()),
        "done": done,
        "expired": statuses.get("expired", 0),
        "orders": scalar(conn, "SELECT count(*) FROM ops.orders"),
        "fills": fills,
        "duplicate_fills": 0,
        "claims": scalar(conn, "SELECT count(*) FROM ops.outbox_claims"),
        "reclaimed_events": scalar(
            conn, "SELECT count(*) FROM ops.outbox WHERE attempts > 1 AND status = 'done'"
        ),
        # crash window exercised: the broker had the order before the claim that recorded it
        "recovered_from_broker": scalar(
            conn,
            "SELECT count(*) FROM ops.outbox e JOIN ops.broker_paper_orders b "
            "ON b.client_order_id = e.event_id WHERE b.received_at < "
            "(SELECT max(c.claimed_at) FROM ops.outbox_claims c WHERE c.event_id = e.event_id)",
        ),
        "resubmissions": scalar(
            conn, "SELECT coalesce(sum(submissions - 1), 0) FROM ops.broker_paper_orders"
        ),
    }


@pytest.fixture
def ops(conn):
    reset_execution(conn)
    return conn


@pytest.fixture(scope="module")
def contracts(warehouse_db):
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        contracts = seed_quotes(c, UNDERLYINGS, quote_ts=T0, seed=3)
    yield contracts
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        remove_fixture_quotes(c)  # later modules build dbt models over raw.option_quotes


def worker_broker(s: Settings | None = None) -> PaperBroker:
    s = s or settings()
    return PaperBroker(
        connect=lambda: psycopg.connect(s.dsn("worker"), autocommit=True),
        config=PaperConfig(seed=17),
    )


# -- crash loop ----------------------------------------------------------------------------


def test_crash_loop_sigkill(ops, contracts, tmp_path):
    """300 events; the worker is SIGKILLed 20 times at seeded random moments while it
    drains, and restarted each time."""
    rng = np.random.Generator(np.random.PCG64(2024))
    intents = random_intents(contracts, n=290, accounts=("a1", "a2"), seed=21)
    intents += random_intents(
        contracts, n=10, accounts=("a1",), seed=22, valid_for=timedelta(seconds=-1)
    )
    publish_intents(ops, intents)
    env = {"WAREHOUSE_PAPER_LATENCY_MS": "8"}
    kills: list[tuple[int, int, int]] = []  # (events held at the kill, done, unfinished)
    started = time.monotonic()
    procs: list[WorkerProc] = []
    try:
        for i in range(20):
            claims_before = scalar(ops, "SELECT count(*) FROM ops.outbox_claims")
            w = WorkerProc(f"crash-{i:02d}", tmp_path, env)
            procs.append(w)
            wait_until(
                lambda before=claims_before: (
                    scalar(ops, "SELECT count(*) FROM ops.outbox_claims") > before
                ),
                20,
                f"worker crash-{i:02d} to claim",
            )
            time.sleep(float(rng.uniform(0.0, 0.25)))
            w.kill()
            held = scalar(
                ops,
                "SELECT count(*) FROM ops.outbox WHERE status = 'in_flight' AND locked_by = %s",
                (w.worker_id,),
            )
            kills.append(
                (
                    held,
                    scalar(ops, "SELECT count(*) FROM ops.outbox WHERE status = 'done'"),
                    unfinished(ops),
                )
            )
        assert all(k[2] > 0 for k in kills), "every kill must land mid-drain"
        final = WorkerProc("final", tmp_path, env)
        procs.append(final)
        wait_until(lambda: unfinished(ops) == 0, 90, "the final worker to drain")
        with psycopg.connect(settings().dsn("worker"), autocommit=True) as wc:
            control.request_stop(wc, reason="test over")
        assert final.wait(timeout=10) == 0, final.tail()
    finally:
        for p in procs:
            p.ensure_dead()
    elapsed = time.monotonic() - started
    broker = worker_broker()
    try:
        figures = check_invariants(ops, broker)
    finally:
        broker.close()
    figures |= {
        "kills": len(kills),
        "kills_with_events_in_flight": sum(1 for k in kills if k[0] > 0),
        "seconds": round(elapsed, 1),
    }
    print(f"\ncrash loop: {figures}")
    assert figures["events"] == 300 and figures["expired"] >= 10
    assert figures["kills_with_events_in_flight"] >= 10
    assert figures["reclaimed_events"] >= 1


# -- database restart ----------------------------------------------------------------------


@dataclass
class ScratchPg:
    """A throwaway PostgreSQL instance (own data folder and port)."""

    base: Path
    port: int
    database: str
    pg_ctl: Path

    @property
    def log(self) -> Path:
        return self.base / "server.log"

    @property
    def settings(self) -> Settings:
        return load_settings(
            dict(os.environ) | {"WAREHOUSE_PG_PORT": str(self.port), "WAREHOUSE_DB": self.database}
        )

    def ctl(self, *args: str) -> None:
        subprocess.run(
            [
                *AS_POSTGRES,
                str(self.pg_ctl),
                "-D",
                str(self.base / "data"),
                "-l",
                str(self.log),
                *args,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scratch_pg(warehouse_db) -> Iterator[ScratchPg]:
    """initdb + start + roles + database + migrations, on a free port; removed afterwards."""
    major = settings()["WAREHOUSE_PG_MAJOR"]
    bindir = Path(f"/usr/lib/postgresql/{major}/bin")
    if os.geteuid() != 0 or shutil.which("runuser") is None or not (bindir / "initdb").exists():
        pytest.skip("needs root, runuser and the PostgreSQL server binaries for a scratch instance")
    base = Path(tempfile.mkdtemp(prefix="warehouse-exec-pg-"))
    shutil.chown(base, "postgres", "postgres")
    port = _free_port()
    pg = ScratchPg(base, port, "warehouse_exec_scratch", bindir / "pg_ctl")
    subprocess.run(
        [*AS_POSTGRES, str(bindir / "initdb"), "-D", str(base / "data"), *INITDB_OPTIONS],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (base / "data" / "postgresql.auto.conf").write_text(
        f"port = {port}\nlisten_addresses = 'localhost'\nunix_socket_directories = '{base}'\n"
        "shared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n"
        "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 40\n"
        "shared_buffers = '32MB'\njit = off\n"
    )
    shutil.chown(base / "data" / "postgresql.auto.conf", "postgres", "postgres")
    try:
        pg.ctl("-w", "-t", "30", "start")
        s = pg.settings
        su = f"postgresql://postgres@localhost:{port}/postgres"
        with psycopg.connect(su, autocommit=True) as c:
            for role in ("admin", "pipeline", "analyst", "worker"):
                opts = sql.SQL("LOGIN SUPERUSER") if role == "admin" else sql.SQL("LOGIN")
                c.execute(
                    sql.SQL("CREATE ROLE {} {} PASSWORD {}").format(
                        sql.Identifier(s.user(role)), opts, sql.Literal(s.password(role))
                    )
                )
            c.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(pg.database), sql.Identifier(s.user("pipeline"))
                )
            )
        with psycopg.connect(
            f"postgresql://postgres@localhost:{port}/{pg.database}", autocommit=True
        ) as c:
            c.execute("SET client_min_messages = warning")
            c.execute("CREATE EXTENSION timescaledb")
            c.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        from warehouse.db.grants import apply_grants
        from warehouse.db.migrate import migrate

        with psycopg.connect(s.dsn("pipeline")) as c:
            migrate(c)
            apply_grants(c)
        yield pg
    finally:
        subprocess.run(
            [*AS_POSTGRES, str(pg.pg_ctl), "-D", str(base / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


def test_database_restart_mid_drain(scratch_pg, tmp_path):
    """The database goes down for ~1.5 s while the worker drains 200 events: the worker
    reconnects (backoff) and finishes with the same guarantees."""
    s = scratch_pg.settings
    t_start = time.monotonic()
    with psycopg.connect(s.dsn("pipeline"), autocommit=True) as c:
        contracts = seed_quotes(c, UNDERLYINGS[:8], quote_ts=T0, seed=4)
        publish_intents(c, random_intents(contracts, n=200, accounts=("a1",), seed=31))
    env = {
        "WAREHOUSE_PG_PORT": str(scratch_pg.port),
        "WAREHOUSE_DB": scratch_pg.database,
        "WAREHOUSE_PAPER_LATENCY_MS": "10",
        "WAREHOUSE_OUTBOX_LEASE_SECONDS": "2.0",
    }
    w = WorkerProc("restart", tmp_path, env)

    def done() -> int:
        with psycopg.connect(s.dsn("pipeline"), autocommit=True) as c:
            return scalar(c, "SELECT count(*) FROM ops.outbox WHERE status = 'done'")

    try:
        wait_until(lambda: done() >= 40, 30, "40 events done before the restart")
        scratch_pg.ctl("-m", "fast", "-w", "stop")
        down_at = time.monotonic()
        time.sleep(1.5)
        assert w.proc.poll() is None, "the worker must survive the outage\n" + w.tail()
        scratch_pg.ctl("-w", "-t", "30", "start")
        down_for = time.monotonic() - down_at
        done_at_restart = done()
        wait_until(lambda: done() == 200, 40, "the drain to finish after the restart", 0.2)
        with psycopg.connect(s.dsn("worker"), autocommit=True) as wc:
            control.request_stop(wc, "restart", "test over")
        assert w.wait(timeout=10) == 0, w.tail()
    finally:
        w.ensure_dead()
    log = w.log.read_text()
    assert "database connection lost" in log and "database reachable again" in log, log[-3000:]
    broker = worker_broker(s)
    try:
        with psycopg.connect(s.dsn("pipeline"), autocommit=True) as c:
            figures = check_invariants(c, broker)
    finally:
        broker.close()
    figures |= {
        "done_at_restart": done_at_restart,
        "down_seconds": round(down_for, 1),
        "reconnect_attempts_logged": log.count("database connection lost"),
        "seconds": round(time.monotonic() - t_start, 1),
    }
    print(f"\ndatabase restart: {figures}")
    assert done_at_restart < 200


# -- concurrency ---------------------------------------------------------------------------


def test_four_workers_claim_each_event_once_and_keep_aggregate_order(ops, contracts, tmp_path):
    publish_intents(ops, random_intents(contracts, n=240, accounts=("a1",), seed=41))
    env = {"WAREHOUSE_PAPER_LATENCY_MS": "3", "WAREHOUSE_OUTBOX_LEASE_SECONDS": "5"}
    t0 = time.monotonic()
    workers = [WorkerProc(f"conc-{i}", tmp_path, env) for i in range(4)]
    try:
        wait_until(lambda: unfinished(ops) == 0, 60, "four workers to drain")
        with psycopg.connect(settings().dsn("worker"), autocommit=True) as wc:
            control.request_stop(wc, reason="test over")
        for w in workers:
            assert w.wait(timeout=10) == 0, w.tail()
    finally:
        for w in workers:
            w.ensure_dead()
    elapsed = time.monotonic() - t0
    double = ops.execute(
        "SELECT event_id, count(*) FROM ops.outbox_claims GROUP BY 1 HAVING count(*) > 1"
    ).fetchall()
    assert double == []
    assert scalar(ops, "SELECT count(*) FROM ops.outbox_claims WHERE result <> 'done'") == 0
    per_worker = dict(
        ops.execute("SELECT worker_id, count(*) FROM ops.outbox_claims GROUP BY 1").fetchall()
    )
    assert len(per_worker) >= 2, per_worker
    # per aggregate: event k is claimed only after event k-1 finished, and reaches the broker
    # after it
    out_of_order = scalar(
        ops,
        "WITH c AS ("
        "  SELECT e.aggregate, e.aggregate_seq, c.claimed_at, c.finished_at, b.received_at,"
        "         lag(c.finished_at) OVER w AS prev_finished,"
        "         lag(b.received_at) OVER w AS prev_received"
        "    FROM ops.outbox e JOIN ops.outbox_claims c USING (event_id)"
        "    JOIN ops.broker_paper_orders b ON b.client_order_id = e.event_id"
        "  WINDOW w AS (PARTITION BY e.aggregate ORDER BY e.aggregate_seq))"
        "SELECT count(*) FROM c WHERE claimed_at <= prev_finished OR received_at <= prev_received",
    )
    assert out_of_order == 0
    aggregates = scalar(ops, "SELECT count(DISTINCT aggregate) FROM ops.outbox")
    broker = worker_broker()
    try:
        figures = check_invariants(ops, broker, finished=("done",))
    finally:
        broker.close()
    figures |= {
        "claims_by_worker": per_worker,
        "aggregates": aggregates,
        "double_claims": len(double),
        "out_of_order": out_of_order,
        "seconds": round(elapsed, 1),
    }
    print(f"\nconcurrency: {figures}")


# -- poison event --------------------------------------------------------------------------


class FlakyBroker(PaperBroker):
    """The paper broker, unavailable for the first ``n`` submissions of given orders."""

    def __init__(self, flaky: dict, **kw) -> None:
        super().__init__(**kw)
        self.flaky = flaky

    def submit(self, order: OrderRequest):
        if self.flaky.get(order.client_order_id, 0) > 0:
            self.flaky[order.client_order_id] -= 1
            raise BrokerUnavailable("simulated broker outage")
        return super().submit(order)


def test_poison_event_dead_letters_and_replay_works(ops, contracts):
    syms = contracts["K00"]
    from warehouse.execution.models import IntentLeg, OrderIntent

    def mk(underlying: str, sym: str) -> OrderIntent:
        return OrderIntent(
            as_of=T0.date(),
            account="acct",
            underlying=underlying,
            strategy="poison-test",
            structure="single",
            legs=(IntentLeg(sym, "buy", 1),),
            valid_until=datetime.now(UTC) + timedelta(hours=1),
        )

    poison, blocked, flaky, fine = publish_intents(
        ops,
        [
            mk("K00", syms[0]),
            mk("K00", syms[1]),
            mk("K01", contracts["K01"][0]),
            mk("K02", contracts["K02"][0]),
        ],
    )
    legs = scalar(ops, "SELECT payload -> 'legs' FROM ops.outbox WHERE event_id = %s", (poison,))
    ops.execute(
        "UPDATE ops.outbox SET payload = payload - 'legs' WHERE event_id = %s", (poison,)
    )  # corrupt
    config = WorkerConfig(poll_seconds=0.02, max_attempts=3, backoff_base=0.1, backoff_cap=0.4)
    broker = FlakyBroker({flaky: 2}, config=PaperConfig(seed=17))
    w = Worker(worker_id="poison-test", config=config, broker=broker)

    def status(event_id) -> str:
        return scalar(ops, "SELECT status FROM ops.outbox WHERE event_id = %s", (event_id,))

    def drive(until: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not until() and time.monotonic() < deadline:
            w.run_once()
            time.sleep(0.02)
        assert until(), "timed out"

    try:
        drive(lambda: status(poison) == "dead_letter" and status(flaky) == "done", 15)
        assert status(fine) == "done"
        assert status(blocked) == "pending"  # strictly after the poison event: it waits
        assert scalar(ops, "SELECT attempts FROM ops.outbox WHERE event_id = %s", (blocked,)) == 0
        failures, attempts, error = ops.execute(
            "SELECT failures, attempts, last_error FROM ops.outbox WHERE event_id = %s", (poison,)
        ).fetchone()
        assert (failures, attempts) == (3, 3) and "PayloadError" in error
        claims = ops.execute(
            "SELECT result, claimed_at FROM ops.outbox_claims WHERE event_id = %s ORDER BY 2",
            (poison,),
        ).fetchall()
        assert [c[0] for c in claims] == ["retry", "retry", "dead_letter"]
        gaps = [(b[1] - a[1]).total_seconds() for a, b in itertools.pairwise(claims)]
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # backoff: base 0.1 then 0.2, jitter >= half
        assert scalar(ops, "SELECT failures FROM ops.outbox WHERE event_id = %s", (flaky,)) == 2
        assert (
            scalar(ops, "SELECT count(*) FROM ops.orders WHERE client_order_id = %s", (poison,))
            == 0
        )
        cli = [sys.executable, "-m", "warehouse.cli"]
        st = subprocess.run([*cli, "outbox", "status"], capture_output=True, text=True, check=True)
        assert f"dead letter: {poison}" in st.stdout
        # repair the payload, then replay from the command line
        ops.execute(
            "UPDATE ops.outbox SET payload = jsonb_set(payload, '{legs}', %s) WHERE event_id = %s",
            (psycopg.types.json.Jsonb(legs), poison),
        )
        rp = subprocess.run(
            [*cli, "outbox", "replay", str(poison), "--who", "tester"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert rp.returncode == 0, rp.stderr
        assert ops.execute(
            "SELECT status, failures, replays, last_replayed_by FROM ops.outbox "
            "WHERE event_id = %s",
            (poison,),
        ).fetchone() == ("pending", 0, 1, "tester")
        drive(lambda: status(blocked) == "done", 10)
    finally:
        w.stop("test over")
        w.run(once=True)  # shuts down cleanly (releases nothing: all finished)
    assert status(poison) == "done"
    assert scalar(
        ops,
        "SELECT (SELECT max(claimed_at) FROM ops.outbox_claims WHERE event_id = %s) < "
        "(SELECT min(claimed_at) FROM ops.outbox_claims WHERE event_id = %s)",
        (poison, blocked),
    )
    check_invariants(ops, worker_broker(), finished=("done",))


# -- halt mid-drain ------------------------------------------------------------------------


def test_halt_mid_drain_stops_submissions_and_resume_is_audited(ops, contracts, tmp_path):
    publish_intents(ops, random_intents(contracts, n=120, accounts=("a1",), seed=51))
    poll = 0.1
    w = WorkerProc("halt", tmp_path, {"WAREHOUSE_PAPER_LATENCY_MS": "20"}, poll=poll)
    cli = [sys.executable, "-m", "warehouse.cli"]
    try:
        wait_until(
            lambda: scalar(ops, "SELECT count(*) FROM ops.outbox WHERE status = 'done'") >= 20,
            30,
            "20 events done",
        )
        with psycopg.connect(settings().dsn("worker"), autocommit=True) as wc:
            assert control.halt(wc, "risk-bot", "halt mid-drain test")
            halted_at = scalar(wc, "SELECT clock_timestamp()")
        time.sleep(3 * poll + 0.5)
        after = scalar(
            ops, "SELECT count(*) FROM ops.broker_paper_orders WHERE received_at > %s", (halted_at,)
        )
        last_before = scalar(ops, "SELECT max(received_at) FROM ops.broker_paper_orders")
        done_halted = scalar(ops, "SELECT count(*) FROM ops.outbox WHERE status = 'done'")
        pending = scalar(ops, "SELECT count(*) FROM ops.outbox WHERE status = 'pending'")
        assert after == 0 and last_before <= halted_at
        assert (
            pending > 0
            and scalar(ops, "SELECT count(*) FROM ops.outbox WHERE status = 'in_flight'") == 0
        )
        assert w.proc.poll() is None  # idle, not dead
        bad = subprocess.run(
            [*cli, "resume", "--who", "", "--why", "x"], capture_output=True, text=True, check=False
        )
        assert bad.returncode == 1
        ok = subprocess.run(
            [*cli, "resume", "--who", "alice", "--why", "limits reviewed"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert ok.returncode == 0, ok.stderr
        wait_until(lambda: unfinished(ops) == 0, 30, "the drain to finish after the resume")
        stop = subprocess.run([*cli, "worker", "stop", "--reason", "test over"], check=True)
        assert stop.returncode == 0
        t_stop = time.monotonic()
        assert w.wait(timeout=10) == 0, w.tail()
        stop_seconds = time.monotonic() - t_stop
    finally:
        w.ensure_dead()
    audit = ops.execute(
        "SELECT changed_by, action, reason, old_halted, new_halted FROM ops.trading_state_audit "
        "ORDER BY audit_id"
    ).fetchall()
    assert audit == [
        ("risk-bot", "halt", "halt mid-drain test", False, True),
        ("alice", "resume", "limits reviewed", True, False),
    ]
    assert scalar(ops, "SELECT stop_reason FROM ops.workers WHERE worker_id = 'halt'").startswith(
        "test over"
    )
    broker = worker_broker()
    try:
        figures = check_invariants(ops, broker, finished=("done",))
    finally:
        broker.close()
    print(
        f"\nhalt: done before halt {done_halted}, pending while halted {pending}, "
        f"submissions after the halt {after}, worker stop took {stop_seconds:.2f} s; {figures}"
    )
