"""Execution layer, unit level: order state machine, matching engine, backoff, positions,
one-transaction publication, expiry, recovery, the paper broker, trading halt, reconciliation.

The fault tests (SIGKILL loop, database restart, concurrency, poison, halt mid-drain) are in
test_worker_faults.py.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import numpy as np
import psycopg
import pytest

from warehouse.config import settings
from warehouse.execution import outbox, publish_intents
from warehouse.execution.broker.matching import (
    MatchParams,
    Quote,
    match_order,
    order_rng,
    passive_fill_probability,
)
from warehouse.execution.broker.paper import PaperBroker
from warehouse.execution.fixtures import occ, remove_fixture_quotes, reset_execution, seed_quotes
from warehouse.execution.models import IntentLeg, OrderIntent, OrderLeg, OrderRequest
from warehouse.execution.positions import Position, apply_fill, replay
from warehouse.execution.reconcile import reconcile
from warehouse.execution.settings import PaperConfig, WorkerConfig
from warehouse.execution.state_machine import (
    TRANSITIONS,
    IllegalTransition,
    OrderState,
    check_transition,
    route,
)
from warehouse.execution.worker import Worker

CLI = [sys.executable, "-m", "warehouse.cli"]
T0 = datetime(2025, 6, 2, 15, 0, tzinfo=UTC)
EXPIRY = date(2030, 12, 20)
EXA_C = occ("EXA", EXPIRY, "C", 100)  # bid 1.80 x 3, ask 2.00 x 4 at T0; 2.80/3.00 at T0+1h
EXA_P = occ("EXA", EXPIRY, "P", 100)  # bid 1.00 x 6, ask 1.10 x 5 at T0
EXA_ZB = occ("EXA", EXPIRY, "P", 50)  # zero bid
NOQUOTE = occ("NOQ", EXPIRY, "C", 100)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quotes(warehouse_db):
    """Known quotes for exact assertions, plus a small random chain (AAA, BBB, CCC)."""
    rows = [
        (T0, "EXA", EXA_C, EXPIRY, 100.0, "C", 1.80, 2.00, 3.0, 4.0, 0),
        (T0 + timedelta(hours=1), "EXA", EXA_C, EXPIRY, 100.0, "C", 2.80, 3.00, 3.0, 4.0, 0),
        (T0, "EXA", EXA_P, EXPIRY, 100.0, "P", 1.00, 1.10, 6.0, 5.0, 0),
        (T0, "EXA", EXA_ZB, EXPIRY, 50.0, "P", 0.0, 0.05, 0.0, 10.0, 0),
    ]
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        with c.cursor() as cur:
            cur.executemany(
                "INSERT INTO raw.option_quotes (quote_ts, underlying, contract_symbol, expiration, "
                "strike, option_right, bid, ask, bid_size, ask_size, load_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                rows,
            )
        contracts = seed_quotes(c, ["AAA", "BBB", "CCC"], quote_ts=T0, seed=1)
    yield contracts
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        remove_fixture_quotes(c)  # later modules build dbt models over raw.option_quotes


@pytest.fixture
def ops(conn, quotes):
    """Empty execution tables, trading active; the pipeline-role connection."""
    reset_execution(conn)
    return conn


def worker_conn() -> psycopg.Connection:
    return psycopg.connect(settings().dsn("worker"), autocommit=True)


def paper(**kw) -> PaperBroker:
    cfg = {"slippage": 0.5, "fee_per_contract": 0.65, "noise": 0.0, "seed": 0} | kw
    return PaperBroker(config=PaperConfig(**cfg))


def make_worker(worker_id: str = "t-worker", broker: PaperBroker | None = None, **kw) -> Worker:
    cfg = {
        "poll_seconds": 0.05,
        "lease_seconds": 10.0,
        "max_attempts": 3,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
    } | kw
    return Worker(worker_id=worker_id, config=WorkerConfig(**cfg), broker=broker or paper())


def intent(
    *legs: IntentLeg,
    account: str = "acct",
    underlying: str = "EXA",
    valid_for: timedelta = timedelta(hours=1),
    market_ts: datetime | None = None,
    intent_id: UUID | None = None,
) -> OrderIntent:
    return OrderIntent(
        as_of=date(2025, 6, 2),
        account=account,
        underlying=underlying,
        strategy="test",
        structure="single" if len(legs) == 1 else "combo",
        legs=legs,
        valid_until=datetime.now(UTC) + valid_for,
        market_ts=market_ts,
        intent_id=intent_id,
    )


def count(conn: psycopg.Connection, table: str) -> int:
    from psycopg import sql

    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".")))
    return conn.execute(query).fetchone()[0]


# -- order state machine -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("new", "submitted"),
        ("new", "rejected"),
        ("submitted", "partially_filled"),
        ("submitted", "filled"),
        ("partially_filled", "partially_filled"),
        ("partially_filled", "filled"),
        ("partially_filled", "cancelled"),
        ("submitted", "expired"),
    ],
)
def test_state_machine_allows(current, target):
    assert check_transition(current, target) == OrderState(target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("new", "filled"),
        ("new", "partially_filled"),
        ("filled", "cancelled"),
        ("filled", "new"),
        ("cancelled", "submitted"),
        ("rejected", "submitted"),
        ("expired", "filled"),
        ("partially_filled", "submitted"),
        ("submitted", "new"),
        ("new", "bogus"),
    ],
)
def test_state_machine_refuses(current, target):
    with pytest.raises(IllegalTransition):
        check_transition(current, target)


def test_route_from_broker_answers():
    assert route("new", "filled", filled_units=5, units=5) == ["submitted", "filled"]
    assert route("new", "cancelled", filled_units=2, units=5) == [
        "submitted",
        "partially_filled",
        "cancelled",
    ]
    assert route("new", "cancelled", filled_units=0, units=5) == ["submitted", "cancelled"]
    assert route("new", "rejected", filled_units=0, units=5) == ["rejected"]
    assert route("new", "expired", filled_units=0, units=5) == ["expired"]
    assert route("filled", "filled", filled_units=5, units=5) == []  # re-recording: no move
    with pytest.raises(IllegalTransition):
        route("filled", "cancelled", filled_units=5, units=5)


def test_database_transition_table_is_the_python_one(ops):
    db = set(ops.execute("SELECT from_state, to_state FROM ops.order_state_transitions"))
    py = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert db == py


def test_database_refuses_illegal_order_transitions(ops):
    with worker_conn() as wc:
        publish_intents(ops, [intent(IntentLeg(EXA_C, "buy", 1))])
        make_worker().run(once=True)
        cid = ops.execute("SELECT client_order_id FROM ops.orders").fetchone()[0]
        assert ops.execute("SELECT state FROM ops.orders").fetchone()[0] == "filled"
        for bad in ("new", "cancelled", "submitted"):
            with pytest.raises(psycopg.errors.CheckViolation, match="illegal order state"):
                wc.execute(
                    "UPDATE ops.orders SET state = %s WHERE client_order_id = %s", (bad, cid)
                )
    events = ops.execute(
        "SELECT from_state, to_state FROM ops.order_events WHERE client_order_id = %s "
        "ORDER BY order_event_id",
        (cid,),
    ).fetchall()
    assert events == [(None, "new"), ("new", "submitted"), ("submitted", "filled")]


# -- matching engine -----------------------------------------------------------------------

Q_C = Quote(EXA_C, T0, 1.80, 2.00, 3.0, 4.0)
Q_P = Quote(EXA_P, T0, 1.00, 1.10, 6.0, 5.0)
NO_NOISE = MatchParams(slippage=0.5, fee_per_contract=0.65, noise=0.0)
IOC_ONLY = MatchParams(slippage=0.5, fee_per_contract=0.65, noise=0.0, passive=False)


def leg(symbol: str, side: str, qty: int, limit: float | None = None, no: int = 1) -> OrderLeg:
    return OrderLeg(no, symbol, side, qty, limit, 100)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def test_matching_slippage_is_coefficient_times_half_spread_and_fees_per_contract():
    quotes = {EXA_C: Q_C}
    buy = match_order([leg(EXA_C, "buy", 3)], quotes, NO_NOISE, rng())
    assert buy.state == "filled" and buy.filled_units == 3
    (ex,) = buy.executions
    assert ex.half_spread == pytest.approx(0.10)
    assert ex.slippage == pytest.approx(0.05)  # 0.5 x 0.10
    assert ex.price == pytest.approx(2.05)  # ask + slippage
    assert ex.fee == pytest.approx(3 * 0.65)
    sell = match_order([leg(EXA_C, "sell", 2)], quotes, NO_NOISE, rng()).executions[0]
    assert sell.price == pytest.approx(1.75)  # bid - slippage
    wide = MatchParams(slippage=1.0, fee_per_contract=0.0, noise=0.0)
    assert match_order([leg(EXA_C, "buy", 1)], quotes, wide, rng()).executions[0].price == 2.10


def test_matching_partial_fills_follow_quoted_size():
    quotes = {EXA_C: Q_C, EXA_P: Q_P}
    part = match_order([leg(EXA_C, "buy", 10)], quotes, NO_NOISE, rng())  # ask size 4
    assert (part.state, part.units, part.filled_units) == ("cancelled", 10, 4)
    assert part.executions[0].quantity == 4 and "IOC remainder" in part.reason
    sell = match_order([leg(EXA_C, "sell", 10)], quotes, NO_NOISE, rng())  # bid size 3
    assert sell.filled_units == 3
    half = MatchParams(slippage=0.5, fee_per_contract=0.65, noise=0.0, participation=0.5)
    assert match_order([leg(EXA_C, "buy", 10)], quotes, half, rng()).filled_units == 2
    # a 1x2 combo: 2 units of (buy 1 call, sell 2 puts); puts' bid size 6 -> 3 units, call 4
    combo = [leg(EXA_C, "buy", 2, no=1), leg(EXA_P, "sell", 4, no=2)]
    full = match_order(combo, quotes, NO_NOISE, rng())
    assert full.state == "filled" and [e.quantity for e in full.executions] == [2, 4]
    big = [leg(EXA_C, "buy", 5, no=1), leg(EXA_P, "sell", 10, no=2)]  # 5 units, 3 fit
    res = match_order(big, quotes, NO_NOISE, rng())
    assert res.filled_units == 3 and [e.quantity for e in res.executions] == [3, 6]
    unknown = Quote(EXA_C, T0, 1.80, 2.00, None, None)  # no size reported: no limit
    assert match_order([leg(EXA_C, "buy", 50)], {EXA_C: unknown}, NO_NOISE, rng()).state == (
        "filled"
    )


def test_matching_limits_missing_quotes_and_zero_bids():
    quotes = {EXA_C: Q_C, EXA_ZB: Quote(EXA_ZB, T0, 0.0, 0.05, 0.0, 10.0)}
    tight = match_order([leg(EXA_C, "buy", 1, limit=2.00)], quotes, IOC_ONLY, rng())
    assert tight.state == "cancelled" and tight.filled_units == 0
    assert "not marketable" in tight.reason
    ok = match_order([leg(EXA_C, "buy", 1, limit=2.05)], quotes, IOC_ONLY, rng())
    assert ok.state == "filled" and not ok.executions[0].passive
    sell_limit = match_order([leg(EXA_C, "sell", 1, limit=1.76)], quotes, IOC_ONLY, rng())
    assert sell_limit.state == "cancelled"
    # below the passive touch (a buy under the bid) never fills, passive fills or not
    under = match_order([leg(EXA_C, "buy", 1, limit=1.79)], quotes, NO_NOISE, rng())
    assert under.state == "cancelled" and "did not fill" in under.reason
    missing = match_order([leg(NOQUOTE, "buy", 1)], quotes, NO_NOISE, rng())
    assert missing.state == "rejected" and "no quote" in missing.reason
    zero_bid = match_order([leg(EXA_ZB, "sell", 1)], quotes, NO_NOISE, rng())
    assert zero_bid.state == "cancelled" and "no bid" in zero_bid.reason


def test_passive_fill_probability_is_the_depth_into_the_spread():
    quotes = {EXA_C: Q_C, EXA_P: Q_P}  # call 1.80/2.00, put 1.00/1.10
    depth = passive_fill_probability
    assert depth([leg(EXA_C, "buy", 1, limit=1.80)], quotes) == pytest.approx(0.0)
    assert depth([leg(EXA_C, "buy", 1, limit=1.86)], quotes) == pytest.approx(0.3)
    assert depth([leg(EXA_C, "sell", 1, limit=1.94)], quotes) == pytest.approx(0.3)
    assert depth([leg(EXA_C, "buy", 1, limit=2.50)], quotes) == pytest.approx(1.0)
    assert depth([leg(EXA_C, "buy", 1, limit=1.70)], quotes) == 0.0  # under the bid
    # a combo is one order at its net price: spread-weighted, (0.06 + 2 x 0.08) / (0.20 + 2 x 0.10)
    combo = [leg(EXA_C, "buy", 1, limit=1.86, no=1), leg(EXA_P, "sell", 2, limit=1.02, no=2)]
    assert depth(combo, quotes) == pytest.approx(0.22 / 0.40)


def test_passive_fills_happen_at_the_limit_with_the_depth_as_probability():
    quotes = {EXA_C: Q_C, EXA_P: Q_P}
    params = MatchParams(slippage=0.5, fee_per_contract=0.65, noise=0.1)
    legs = [leg(EXA_C, "buy", 1, limit=1.86, no=1), leg(EXA_P, "sell", 1, limit=1.07, no=2)]
    p = passive_fill_probability(legs, quotes)  # (0.06 + 0.03) / 0.30
    assert p == pytest.approx(0.3)
    results = [match_order(legs, quotes, params, order_rng(11, UUID(int=i))) for i in range(2000)]
    filled = [r for r in results if r.state == "filled"]
    share = len(filled) / len(results)
    assert abs(share - p) < 4 * (p * (1 - p) / len(results)) ** 0.5  # binomial, 4 sd
    for r in filled:
        assert [(e.price, e.passive, e.slippage, e.noise) for e in r.executions] == [
            (1.86, True, 0.0, 0.0),
            (1.07, True, 0.0, 0.0),
        ]
        assert r.reason == "passive fill at the limit"
    missed = next(r for r in results if r.state == "cancelled")
    assert "not marketable" in missed.reason and "did not fill" in missed.reason
    # the passive draw comes after the noise: the immediate (IOC) prices of an order are the
    # same with passive fills on or off
    cid = uuid4()
    market = [leg(EXA_C, "buy", 1, no=1), leg(EXA_P, "sell", 1, no=2)]
    off = MatchParams(slippage=0.5, fee_per_contract=0.65, noise=0.1, passive=False)
    assert [e.price for e in match_order(market, quotes, params, order_rng(3, cid)).executions] == [
        e.price for e in match_order(market, quotes, off, order_rng(3, cid)).executions
    ]
    # off-tick limits fill on the tick, never worse for the trader; sizes still bind
    odd = [leg(EXA_C, "buy", 10, limit=2.00)]  # ask size 4, depth 1, 2.00 + slippage > limit
    res = match_order(odd, quotes, params, order_rng(5, uuid4()))
    assert res.filled_units == 4 and res.executions[0].price == 2.00
    odd = [leg(EXA_C, "buy", 10, limit=1.999)]  # depth 0.995
    res = next(
        r
        for r in (match_order(odd, quotes, params, order_rng(5, UUID(int=i))) for i in range(9))
        if r.filled_units
    )
    assert res.filled_units == 4 and res.executions[0].price == 1.99
    assert "passive fill at the limit, remainder cancelled" in res.reason


def test_matching_noise_is_deterministic_per_seed_and_order():
    params = MatchParams(slippage=0.5, fee_per_contract=0.0, noise=0.5, tick=0.0)
    legs = [leg(EXA_C, "buy", 1, no=1), leg(EXA_P, "sell", 1, no=2)]
    quotes = {EXA_C: Q_C, EXA_P: Q_P}
    cid = uuid4()

    def prices(seed: int, order_id: UUID) -> list[float]:
        res = match_order(legs, quotes, params, order_rng(seed, order_id))
        return [e.price for e in res.executions]

    assert prices(7, cid) == prices(7, cid)
    assert prices(7, cid) != prices(8, cid)
    assert prices(7, cid) != prices(7, uuid4())
    res = match_order(legs, quotes, params, order_rng(7, cid))
    for ex in res.executions:  # price = touch +- (slippage + noise), noise ~ N(0, (0.5 hs)^2)
        sign = 1 if ex.side == "buy" else -1
        assert ex.price == pytest.approx(ex.touch + sign * (ex.slippage + ex.noise))
    draws = np.array([prices(7, uuid4())[0] for _ in range(400)]) - 2.05
    assert abs(draws.mean()) < 0.01 and draws.std() == pytest.approx(0.05, rel=0.15)


# -- backoff, positions --------------------------------------------------------------------


def test_backoff_is_capped_exponential_with_seeded_jitter():
    a = [outbox.backoff_delay(f, 1.0, 30.0, rng(3)) for f in range(1, 10)]
    b = [outbox.backoff_delay(f, 1.0, 30.0, rng(3)) for f in range(1, 10)]
    assert a == b
    g = rng(4)
    for failures in range(1, 12):
        d = min(30.0, 2.0 ** (failures - 1))
        delay = outbox.backoff_delay(failures, 1.0, 30.0, g)
        assert d / 2 <= delay <= d
    assert outbox.backoff_delay(50, 1.0, 30.0, g) <= 30.0


def test_position_arithmetic_average_cost():
    p = apply_fill(Position(), "buy", 10, 1.00, 6.5)
    p = apply_fill(p, "sell", 4, 1.50, 2.6)
    assert (p.quantity, p.avg_price, p.realized_pnl) == (6, 1.00, pytest.approx(200.0))
    p = apply_fill(p, "sell", 10, 2.00)  # closes 6 (+600), opens -4 at 2.00
    assert (p.quantity, p.avg_price, p.realized_pnl) == (-4, 2.00, pytest.approx(800.0))
    p = apply_fill(p, "buy", 4, 1.00)  # short covered 1.00 below cost: +400
    assert (p.quantity, p.avg_price, p.realized_pnl) == (0, 0.0, pytest.approx(1200.0))
    assert p.fees == pytest.approx(9.1)


def test_positions_move_with_fills_in_the_same_transaction(ops):
    publish_intents(
        ops,
        [
            intent(IntentLeg(EXA_C, "buy", 3), market_ts=T0),
            intent(IntentLeg(EXA_C, "sell", 2), market_ts=T0),
        ],
    )
    make_worker().run(once=True)
    q, avg, pnl, fees = ops.execute(
        "SELECT quantity, avg_price, realized_pnl, fees FROM ops.positions "
        "WHERE account = 'acct' AND instrument = %s",
        (EXA_C,),
    ).fetchone()
    assert (q, avg) == (1, pytest.approx(2.05))
    assert pnl == pytest.approx(2 * (1.75 - 2.05) * 100)
    assert fees == pytest.approx(5 * 0.65)
    fills = ops.execute(
        "SELECT account, rtrim(contract_symbol), side, quantity, price, fee, multiplier "
        "FROM ops.fills ORDER BY fill_id"
    ).fetchall()
    assert replay(fills)[("acct", EXA_C)].quantity == 1
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        ops.execute("DELETE FROM ops.fills")


# -- publication ---------------------------------------------------------------------------


def test_publication_is_one_transaction(ops):
    good = intent(IntentLeg(EXA_C, "buy", 1))
    bad = intent(IntentLeg(EXA_C, "buy", 1, limit_price=-1.0))  # CHECK fails in the database
    with pytest.raises(psycopg.errors.CheckViolation):
        publish_intents(ops, [good, good, bad])
    assert count(ops, "ops.order_intents") == 0 and count(ops, "ops.outbox") == 0
    ids = publish_intents(ops, [good, intent(IntentLeg(EXA_P, "sell", 2), account="other")])
    assert len(ids) == 2
    assert count(ops, "ops.order_intents") == 2 and count(ops, "ops.outbox") == 2
    assert count(ops, "ops.order_intent_legs") == 2


def test_intent_without_event_is_refused_at_commit(ops):
    refused = pytest.raises(psycopg.errors.ForeignKeyViolation, match="no outbox event")
    with refused, ops.transaction():
        ops.execute(
            "INSERT INTO ops.order_intents (as_of, account, underlying, strategy, structure, "
            "valid_until) VALUES (current_date, 'a', 'EXA', 's', 'single', now())"
        )
    (event_id,) = publish_intents(ops, [intent(IntentLeg(EXA_C, "buy", 1))])
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="remains"), ops.transaction():
        ops.execute("DELETE FROM ops.outbox WHERE event_id = %s", (event_id,))
    assert count(ops, "ops.outbox") == 1


def test_publication_with_intent_id_is_idempotent_and_sequenced(ops):
    iid = uuid4()
    first = publish_intents(ops, [intent(IntentLeg(EXA_C, "buy", 1), intent_id=iid)])
    again = publish_intents(ops, [intent(IntentLeg(EXA_C, "buy", 1), intent_id=iid)])
    assert first == again and count(ops, "ops.outbox") == 1
    publish_intents(
        ops,
        [intent(IntentLeg(EXA_C, "buy", 1)), intent(IntentLeg(EXA_P, "buy", 1), underlying="X")],
    )
    seqs = ops.execute("SELECT aggregate, aggregate_seq FROM ops.outbox ORDER BY created_at")
    assert seqs.fetchall() == [("acct|EXA", 1), ("acct|EXA", 2), ("acct|X", 1)]


# -- worker: drain, paper broker, expiry, recovery, rejection ------------------------------


def test_worker_drains_and_the_books_reconcile(ops, quotes):
    from warehouse.execution.fixtures import random_intents

    publish_intents(ops, random_intents(quotes, n=40, accounts=["a1", "a2"], seed=5))
    w = make_worker(broker=paper(noise=0.1, seed=3))
    w.run(once=True)
    assert dict(ops.execute("SELECT status, count(*) FROM ops.outbox GROUP BY 1")) == {"done": 40}
    assert count(ops, "ops.orders") == 40
    assert count(ops, "ops.broker_paper_orders") == 40
    assert ops.execute("SELECT sum(submissions) FROM ops.broker_paper_orders").fetchone()[0] == 40
    assert count(ops, "ops.fills") == count(ops, "ops.broker_paper_fills") > 40
    assert ops.execute("SELECT count(*) FROM ops.outbox_claims").fetchone()[0] == 40
    with worker_conn() as wc:
        report = reconcile(wc, w.broker)
    assert report.ok, report.summary()
    assert w.stats["done"] == 40


def test_paper_broker_uses_the_latest_quote_at_or_before_the_order_time(ops):
    publish_intents(
        ops,
        [
            intent(IntentLeg(EXA_C, "buy", 1), market_ts=T0 + timedelta(minutes=30)),
            intent(IntentLeg(EXA_C, "buy", 1)),  # no market time: now -> the T0+1h quote
            intent(IntentLeg(EXA_C, "buy", 1), market_ts=T0 - timedelta(days=1)),  # none yet
        ],
    )
    make_worker().run(once=True)
    rows = ops.execute(
        "SELECT f.price, f.quote_ts FROM ops.fills f JOIN ops.outbox e "
        "ON e.event_id = f.client_order_id ORDER BY e.aggregate_seq"
    ).fetchall()
    assert rows == [(pytest.approx(2.05), T0), (pytest.approx(3.05), T0 + timedelta(hours=1))]
    status, state, reason = ops.execute(
        "SELECT e.status, o.state, o.reason FROM ops.outbox e JOIN ops.orders o "
        "ON o.client_order_id = e.event_id WHERE e.aggregate_seq = 3"
    ).fetchone()
    assert (status, state) == ("rejected", "rejected") and "no quote" in reason


def test_paper_broker_recognises_a_resubmission(ops):
    (event_id,) = publish_intents(ops, [intent(IntentLeg(EXA_C, "buy", 2))])
    payload = ops.execute("SELECT payload FROM ops.outbox").fetchone()[0]
    request = OrderRequest.from_payload(event_id, payload)
    broker = paper()
    try:
        first = broker.submit(request)
        second = broker.submit(request)
        assert broker.lookup(event_id) is not None and broker.lookup(uuid4()) is None
    finally:
        broker.close()
    assert first.broker_order_id == second.broker_order_id
    assert [f.broker_fill_id for f in first.fills] == [f.broker_fill_id for f in second.fills]
    assert second.submissions == 2
    assert count(ops, "ops.broker_paper_orders") == 1 and count(ops, "ops.broker_paper_fills") == 1


def test_expiry_past_valid_until(ops):
    publish_intents(
        ops,
        [
            intent(IntentLeg(EXA_C, "buy", 1), valid_for=timedelta(seconds=-1)),
            intent(IntentLeg(EXA_C, "buy", 1)),
        ],
    )
    w = make_worker()
    w.run(once=True)
    rows = ops.execute(
        "SELECT aggregate_seq, status, outcome FROM ops.outbox ORDER BY aggregate_seq"
    ).fetchall()
    assert rows == [(1, "expired", "expired"), (2, "done", "filled")]
    assert count(ops, "ops.broker_paper_orders") == 1  # the expired one never reached it
    assert count(ops, "ops.orders") == 1


def ghost_claim(ops: psycopg.Connection) -> list:
    """Claim as a worker that then dies (lease left to expire)."""
    with worker_conn() as wc:
        return outbox.claim(wc, "ghost", batch=10, lease_seconds=60)


def expire_leases(ops: psycopg.Connection, *, valid_until_past: bool = False) -> None:
    ops.execute(
        "UPDATE ops.outbox SET lease_until = now() - interval '1 s' WHERE status = 'in_flight'"
    )
    if valid_until_past:
        ops.execute("UPDATE ops.outbox SET valid_until = now() - interval '1 s'")


def test_claimed_event_past_valid_until_expires_unless_the_broker_has_it(ops):
    publish_intents(
        ops,
        [intent(IntentLeg(EXA_C, "buy", 1)), intent(IntentLeg(EXA_P, "buy", 1), underlying="B")],
    )
    claimed = ghost_claim(ops)
    assert len(claimed) == 2
    # the ghost got one order to the broker before dying, the other not
    submitted = next(ev for ev in claimed if ev.aggregate == "acct|EXA")
    broker = paper()
    broker.submit(OrderRequest.from_payload(submitted.event_id, submitted.payload))
    broker.close()
    expire_leases(ops, valid_until_past=True)
    w = make_worker()
    w.run(once=True)
    got = dict(ops.execute("SELECT aggregate, status FROM ops.outbox").fetchall())
    assert got == {"acct|EXA": "done", "acct|B": "expired"}
    assert w.stats["recovered"] == 1 and w.stats["expired"] == 1
    assert count(ops, "ops.broker_paper_orders") == 1


def test_recovery_after_a_crash_between_submission_and_recording(ops):
    publish_intents(ops, [intent(IntentLeg(EXA_C, "buy", 2), IntentLeg(EXA_P, "sell", 2))])
    (ev,) = ghost_claim(ops)
    broker = paper()
    at_broker = broker.submit(OrderRequest.from_payload(ev.event_id, ev.payload))
    broker.close()
    expire_leases(ops)
    w = make_worker("rescuer")
    w.run(once=True)
    assert w.stats["recovered"] == 1
    assert ops.execute("SELECT status, attempts FROM ops.outbox").fetchone() == ("done", 2)
    assert ops.execute("SELECT submissions FROM ops.broker_paper_orders").fetchone()[0] == 1
    assert count(ops, "ops.orders") == 1 and count(ops, "ops.fills") == len(at_broker.fills) == 2
    claims = ops.execute(
        "SELECT worker_id, finished_at IS NOT NULL, result FROM ops.outbox_claims ORDER BY claim_id"
    ).fetchall()
    assert claims == [("ghost", False, None), ("rescuer", True, "done")]


def test_rejection_is_terminal_with_its_reason(ops):
    publish_intents(ops, [intent(IntentLeg(NOQUOTE, "buy", 1), underlying="NOQ")])
    make_worker().run(once=True)
    status, outcome, error, failures = ops.execute(
        "SELECT status, outcome, last_error, failures FROM ops.outbox"
    ).fetchone()
    assert (status, outcome, failures) == ("rejected", "rejected", 0)
    assert "no quote" in error


# -- trading state, roles, reconciliation, CLI ---------------------------------------------


def test_only_an_audited_resume_clears_a_halt(ops):
    from warehouse.execution import control

    with worker_conn() as wc:
        assert control.halt(wc, "risk-bot", "limit breach") is True
        assert control.halt(wc, "risk-bot", "still") is False
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=r"only ops\.resume_trading"):
            wc.execute(
                "UPDATE ops.trading_state SET halted = false, reason = 'x', changed_by = 'y'"
            )
        with pytest.raises(psycopg.errors.RaiseException, match="who and why"):
            control.resume(wc, "alice", " ")
        assert control.trading_state(wc).halted
        assert control.resume(wc, "alice", "limits reviewed") is True
        assert control.resume(wc, "alice", "again") is False
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            wc.execute("DELETE FROM ops.trading_state_audit")
    audit = ops.execute(
        "SELECT changed_by, action, reason, old_halted, new_halted, changed_at IS NOT NULL "
        "FROM ops.trading_state_audit ORDER BY audit_id"
    ).fetchall()
    assert audit == [
        ("risk-bot", "halt", "limit breach", False, True, True),
        ("risk-bot", "halt", "still", True, True, True),
        ("alice", "resume", "limits reviewed", True, False, True),
    ]


def test_worker_role_sees_quotes_only_through_the_paper_function(ops):
    with worker_conn() as wc, pytest.raises(psycopg.errors.InsufficientPrivilege):
        wc.execute("SELECT 1 FROM raw.option_quotes LIMIT 1")
    with worker_conn() as wc:
        row = wc.execute(
            "SELECT bid, ask FROM ops.paper_latest_quote(%s::bpchar, %s)", (EXA_C, T0)
        ).fetchone()
        assert row == (1.80, 2.00)
    analyst = psycopg.connect(settings().dsn("analyst"))
    with analyst as ac, pytest.raises(psycopg.errors.InsufficientPrivilege):
        ac.execute("SELECT * FROM ops.paper_latest_quote(%s::bpchar, now())", (EXA_C,))


def test_reconcile_reports_differences(ops):
    publish_intents(ops, [intent(IntentLeg(EXA_C, "buy", 2)), intent(IntentLeg(EXA_P, "buy", 1))])
    w = make_worker()
    w.run(once=True)
    broker = paper()
    with worker_conn() as wc:
        assert reconcile(wc, broker).ok
        # a book written without fills (an account that never traded) is not compared
        wc.execute(
            "INSERT INTO ops.positions (account, instrument, quantity, avg_price, multiplier) "
            "VALUES ('seeded', %s, 3, 1.0, 100)",
            (EXA_C,),
        )
        seeded = reconcile(wc, broker)
        assert seeded.ok and seeded.untraded_positions == 1, seeded.summary()
        oid, cid = wc.execute(
            "SELECT broker_order_id, client_order_id FROM ops.broker_paper_orders LIMIT 1"
        ).fetchone()
        wc.execute(
            "INSERT INTO ops.broker_paper_fills (broker_fill_id, broker_order_id, client_order_id, "
            "account, leg_no, contract_symbol, side, quantity, price, fee, multiplier) "
            "VALUES ('extra', %s, %s, 'acct', 9, %s, 'buy', 1, 2.0, 0.65, 100)",
            (oid, cid, EXA_C),
        )
        wc.execute(
            "UPDATE ops.positions SET quantity = quantity + 5 WHERE instrument = %s", (EXA_P,)
        )
        report = reconcile(wc, broker)
    broker.close()
    kinds = sorted({d.kind for d in report.differences})
    assert kinds == ["fill_missing_in_warehouse", "position", "position_vs_fills"]
    out = subprocess.run([*CLI, "reconcile"], capture_output=True, text=True, check=False)
    assert out.returncode == 1 and "fill_missing_in_warehouse" in out.stdout


@pytest.mark.parametrize(
    "sub",
    [["worker"], ["outbox"], ["outbox", "replay"], ["reconcile"], ["halt"], ["resume"]],
)
def test_cli_help(sub):
    out = subprocess.run([*CLI, *sub, "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "usage: warehouse" in out.stdout


def test_cli_status_halt_resume_and_replay_errors(ops):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], capture_output=True, text=True, check=False)

    publish_intents(ops, [intent(IntentLeg(EXA_C, "buy", 1))])
    assert run("halt", "--reason", "cli test", "--who", "ops-desk").returncode == 0
    st = run("outbox", "status")
    assert st.returncode == 0 and "HALTED" in st.stdout and "pending 1" in st.stdout
    denied = run("resume", "--who", "ops-desk", "--why", "")
    assert denied.returncode == 1 and "who and why" in denied.stderr
    assert run("resume", "--who", "ops-desk", "--why", "cli test over").returncode == 0
    event_id = ops.execute("SELECT event_id FROM ops.outbox").fetchone()[0]
    rp = run("outbox", "replay", str(event_id))
    assert rp.returncode == 1 and "not dead_letter" in rp.stderr
    assert run("outbox", "replay", "nope").returncode == 1
