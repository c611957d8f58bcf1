"""Synthetic quotes and order intents, for tests, demos and smoke runs of the execution layer.

``seed_quotes`` writes a small option chain per underlying into ``raw.option_quotes`` (as the
pipeline role); ``random_intents`` draws single-leg and vertical-spread intents over those
contracts. Both are deterministic for a seed (numpy PCG64).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg

from warehouse.execution.models import IntentLeg, OrderIntent

FIXTURE_LOAD_ID = 0

# every table the execution layer writes (not the transition table, not trading_state)
EXECUTION_TABLES = (
    "ops.order_events",
    "ops.fills",
    "ops.positions",
    "ops.orders",
    "ops.outbox_claims",
    "ops.outbox",
    "ops.outbox_aggregates",
    "ops.order_intent_legs",
    "ops.order_intents",
    "ops.broker_paper_fills",
    "ops.broker_paper_orders",
    "ops.worker_stop_requests",
    "ops.workers",
    "ops.trading_state_audit",
)


def reset_execution(conn: psycopg.Connection) -> None:
    """Empty the execution tables and resume trading (tests and demos only: as the pipeline
    role, which owns them; TRUNCATE bypasses the append-only triggers)."""
    from psycopg import sql

    with conn.transaction():
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
                sql.SQL(", ").join(sql.Identifier(*t.split(".")) for t in EXECUTION_TABLES)
            )
        )
        conn.execute("SELECT ops.resume_trading('reset_execution', 'test/demo reset')")
        conn.execute("TRUNCATE ops.trading_state_audit RESTART IDENTITY")


def occ(root: str, expiry: date, right: str, strike: float) -> str:
    """The 21-character OCC symbol (root padded to 6, yymmdd, C/P, strike x 1000 in 8 digits)."""
    return f"{root:<6}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"


def seed_quotes(
    conn: psycopg.Connection,
    underlyings: Sequence[str],
    *,
    quote_ts: datetime,
    expiry: date = date(2030, 12, 20),
    strikes: Sequence[float] = (90.0, 100.0, 110.0),
    sizes: tuple[int, int] = (5, 60),
    seed: int = 0,
) -> dict[str, list[str]]:
    """Insert one quote per call and put of ``strikes`` per underlying at ``quote_ts``.

    Returns the contract symbols by underlying. Existing rows (same contract and time) are
    kept (``ON CONFLICT DO NOTHING``).
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    out: dict[str, list[str]] = {}
    rows = []
    for u in underlyings:
        spot = 100.0
        for k in strikes:
            for right in ("C", "P"):
                intrinsic = max(spot - k, 0.0) if right == "C" else max(k - spot, 0.0)
                mid = round(intrinsic + 2.0 + float(rng.uniform(0.0, 1.0)), 2)
                hs = round(float(rng.uniform(0.02, 0.15)), 2)
                sym = occ(u, expiry, right, k)
                out.setdefault(u, []).append(sym)
                rows.append(
                    (
                        quote_ts,
                        u,
                        sym,
                        expiry,
                        k,
                        right,
                        round(mid - hs, 2),
                        round(mid + hs, 2),
                        float(rng.integers(sizes[0], sizes[1] + 1)),
                        float(rng.integers(sizes[0], sizes[1] + 1)),
                        FIXTURE_LOAD_ID,
                    )
                )
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO raw.option_quotes (quote_ts, underlying, contract_symbol, expiration, "
            "strike, option_right, bid, ask, bid_size, ask_size, load_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            rows,
        )
    return out


def random_intents(
    contracts: dict[str, list[str]],
    *,
    n: int,
    accounts: Sequence[str] = ("paper-1",),
    seed: int = 0,
    as_of: date | None = None,
    valid_for: timedelta = timedelta(hours=6),
    max_quantity: int = 5,
    strategy: str = "fixture",
) -> list[OrderIntent]:
    """``n`` intents: single legs and 1x1 verticals, random sides and quantities."""
    rng = np.random.Generator(np.random.PCG64(seed))
    now = datetime.now(UTC)
    as_of = as_of or now.date()
    underlyings = sorted(contracts)
    out = []
    for _ in range(n):
        u = underlyings[int(rng.integers(len(underlyings)))]
        account = accounts[int(rng.integers(len(accounts)))]
        syms = contracts[u]
        qty = int(rng.integers(1, max_quantity + 1))
        if rng.uniform() < 0.7:
            legs = (
                IntentLeg(
                    syms[int(rng.integers(len(syms)))], str(rng.choice(["buy", "sell"])), qty
                ),
            )
            structure = "single"
        else:
            i, j = rng.choice(len(syms), size=2, replace=False)
            legs = (IntentLeg(syms[int(i)], "buy", qty), IntentLeg(syms[int(j)], "sell", qty))
            structure = "vertical"
        out.append(
            OrderIntent(
                as_of=as_of,
                account=account,
                underlying=u,
                strategy=strategy,
                structure=structure,
                legs=legs,
                valid_until=now + valid_for,
            )
        )
    return out


def remove_fixture_quotes(conn: psycopg.Connection) -> int:
    """Delete the quotes ``seed_quotes`` (and tests using ``FIXTURE_LOAD_ID``) inserted, so that
    later builds of the same database see only loaded data; returns the rows deleted."""
    cur = conn.execute("DELETE FROM raw.option_quotes WHERE load_id = %s", (FIXTURE_LOAD_ID,))
    return cur.rowcount
