"""Nightly ranking and dispatch (issue 6): signals -> structures -> sized, costed, ranked picks
-> ops.run_strategy_dispatch (risk budget, order intents in the ranking's transaction) ->
analytics.nightly_ranking. Real database, no mocks.

The simulated world of warehouse.risk.fixtures (20 underlyings x 30 sessions, shared with
test_risk_engine.py) with stand-in signal marts (warehouse.risk.fixtures.signal_fixtures: one
'enter' decision per underlying, hit-rate history) and the demo book within its limits:

- candidates are listed structures of the right shape (30-45 DTE, legs by delta, wings beyond
  the short strikes, straddle at one strike), with limit prices bid + 0.3 spread / ask - 0.3
  spread, the delta hedge, and costs of python_udfs.sizing.order_costs; a candidate whose edge
  does not cover its costs is rejected with the reason;
- the ranking has 15 picks carrying every field, and a rationale;
- the publication writes the ranking, the intents, their legs and outbox events in ONE
  transaction (a failing intent leaves nothing), is idempotent per as-of (same intent ids, no
  new events), records the rejected candidates, and analytics.nightly_ranking shows it;
- while trading is halted the intents are held (ops.held_intents), nothing reaches the outbox
  or the broker; after the audited resume ops.release_held_intents publishes them;
- the prior probability is flagged; the target probability is the first passage of the swing
  target before the stop under the drift the hit rate implies.
"""

from __future__ import annotations

import math

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from python_udfs import ranking
from warehouse.config import settings
from warehouse.risk import fixtures, nightly
from warehouse.risk.demo_book import seed_demo_book

TOP_K = 15
PICK_FIELDS = (
    "underlying", "side", "structure", "expiration", "dte", "entry_price", "target_price",
    "stop_price", "target_pct", "stop_pct", "probability", "probability_source",
    "is_probability_prior", "position_size_pct", "units", "regime", "reward_risk",
    "expected_edge", "execution_costs", "net_edge", "risk_var_99_10d", "score", "legs",
    "hedge_shares", "rationale", "is_tradable", "intent_status",
)  # fmt: skip
# the options context: null only where fct_options_features has no value for the day (an IV
# rank needs 21 days of IV, the gamma flip a sign change of the GEX profile within +-20 %)
CONTEXT_FIELDS = {
    "pcr_oi": "pcr_oi",
    "max_pain_strike": "max_pain_strike",
    "max_pain_distance_pct": "max_pain_distance_pct",
    "gamma_flip": "gamma_flip",
    "gamma_flip_distance_pct": "gamma_flip_distance_pct",
    "iv_rank": "coalesce(iv_rank_252d, iv_rank_21d)",
    "iv_percentile": "coalesce(iv_percentile_252d, iv_percentile_21d)",
    "net_delta": "net_delta_per_oi",
    "vrp": "vrp_20d",
}


@pytest.fixture(scope="module")
def deployed(warehouse_db: str):
    """A database of this module's own (``<test db>_ranking``: migrated, UDFs deployed),
    dropped afterwards (see warehouse.risk.fixtures.isolated_database)."""
    with fixtures.isolated_database(f"{warehouse_db}_ranking") as name:
        yield name


@pytest.fixture
def conn(deployed: str):
    """A pipeline-role autocommit connection to this module's database."""
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        yield c


def _reset(conn, as_of) -> None:
    from warehouse.execution.fixtures import reset_execution

    reset_execution(conn)
    with conn.transaction():
        conn.execute("DELETE FROM ops.nightly_rankings WHERE as_of = %s", (as_of,))
        conn.execute("DELETE FROM ops.held_intents WHERE as_of = %s", (as_of,))
        conn.execute("DELETE FROM ops.rejected_candidates WHERE as_of = %s", (as_of,))


@pytest.fixture(scope="module")
def night(deployed, tmp_path_factory):
    """World, stand-in signals, the demo book within its limits, the ranking marts. The
    stand-in signal tables are dropped afterwards (the signal models build their own)."""
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        world = fixtures.ensure_world(c, tmp_path_factory.mktemp("ranking_world"))
        created = fixtures.signal_fixtures(c, world.as_of)
        _reset(c, world.as_of)
        c.execute("DELETE FROM ops.positions")
        seed_demo_book(c, world.as_of, n_options=60, seed=3, concentrated_pct=0.0)
    try:
        nightly.dbt_build(nightly.RANKING_SELECT, world.as_of)
        yield world
    finally:
        with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
            fixtures.drop_signal_fixtures(c, created)
            c.execute("DELETE FROM ops.positions")


def _candidates(conn, as_of, status="accepted"):
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM marts.fct_order_candidates WHERE as_of = %s AND status = %s "
            "ORDER BY candidate_id",
            (as_of, status),
        ).fetchall()


def test_candidates_are_listed_structures_with_limit_prices_and_hedges(conn, night):
    accepted = _candidates(conn, night.as_of)
    every = accepted + _candidates(conn, night.as_of, "rejected")
    assert {c["structure"] for c in every} == {
        "short_strangle", "iron_condor", "long_straddle", "bull_call_spread", "bear_put_spread",
    }  # fmt: skip
    assert {c["structure"] for c in accepted} >= {"short_strangle", "long_straddle"}
    assert {c["side"] for c in accepted} >= {"sell_vol", "buy_vol"}
    assert {c["side"] for c in accepted} & {"long", "short"}
    shapes = {
        "short_strangle": [("sell", "C"), ("sell", "P")],
        "iron_condor": [("sell", "C"), ("sell", "P"), ("buy", "C"), ("buy", "P")],
        "long_straddle": [("buy", "C"), ("buy", "P")],
        "bull_call_spread": [("buy", "C"), ("sell", "C")],
        "bear_put_spread": [("buy", "P"), ("sell", "P")],
    }
    for c in accepted:
        legs = c["legs"]
        assert [(leg["side"], leg["contract_symbol"][12]) for leg in legs] == shapes[c["structure"]]
        assert 30 <= c["dte"] <= 45
        assert all(leg["quantity"] == c["units"] >= 1 for leg in legs)
        for leg in legs:
            spread = leg["ask"] - leg["bid"]
            want = leg["bid"] + 0.3 * spread if leg["side"] == "buy" else leg["ask"] - 0.3 * spread
            assert leg["limit_price"] == pytest.approx(want)
            listed = conn.execute(
                "SELECT count(*) FROM marts.fct_risk_option_marks AS m "
                "JOIN ref.option_contracts AS o USING (contract_symbol) "
                "WHERE m.quote_date = %s AND m.contract_symbol = %s AND o.expiration = %s",
                (night.as_of, leg["contract_symbol"], c["expiration"]),
            ).fetchone()[0]
            assert listed == 1
        strikes = [leg["strike"] for leg in legs]
        if c["structure"] == "long_straddle":
            assert strikes[0] == strikes[1]
        if c["structure"] == "iron_condor":
            assert strikes[2] > strikes[0] and strikes[3] < strikes[1]
        if c["structure"] == "bull_call_spread":
            assert strikes[1] > strikes[0]
        if c["structure"] == "bear_put_spread":
            assert strikes[1] < strikes[0]
        unit_delta = c["plan"]["unit_delta_shares"]
        assert c["hedge_shares"] == -round(unit_delta * c["units"])


def test_edge_after_costs_and_rejections(conn, night):
    accepted = _candidates(conn, night.as_of)
    for c in accepted:
        assert c["net_edge"] > 0
        assert c["net_edge"] == pytest.approx(c["expected_edge"] - c["execution_costs"])
        assert 0 < c["position_size_pct"] <= 0.10
    c = accepted[0]
    total = 0.0
    for leg in c["legs"]:
        adv = next(
            x["adv_contracts"] for x in c["plan_inputs"]["legs"]
            if x["contract_symbol"] == leg["contract_symbol"]
        )  # fmt: skip
        daily = (
            c["plan_inputs"]["rv_21d"]
            / math.sqrt(252)
            * abs(leg["delta"])
            * (c["spot"] / leg["mid"])
        )
        costs = conn.execute(
            "SELECT risk.order_costs(%s, %s, %s, 100, 0.65, 0.02, %s, %s)",
            (leg["bid"], leg["ask"], leg["quantity"], adv if adv is not None else "NaN", daily),
        ).fetchone()[0]
        total += costs["total"]
    assert c["execution_costs"] == pytest.approx(total, rel=1e-9)
    rejected = _candidates(conn, night.as_of, "rejected")
    stages = {r["reject_stage"] for r in rejected}
    assert "costs" in stages and "structure" in stages
    for r in rejected:
        assert r["reject_reason"]
        if r["reject_stage"] == "costs":
            assert r["net_edge"] <= 0 and "does not cover costs" in r["reject_reason"]


def _ranking(conn, as_of):
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM marts.fct_nightly_ranking WHERE as_of = %s ORDER BY candidate_rank",
            (as_of,),
        ).fetchall()


def _check_context(conn, pick) -> None:
    exprs = sql.SQL(", ").join(sql.SQL(e) for e in CONTEXT_FIELDS.values())
    query = sql.SQL(
        "SELECT {} FROM marts.fct_options_features WHERE underlying = %s AND trade_date = %s"
    ).format(exprs)
    want = conn.execute(query, (pick["underlying"], pick["as_of"])).fetchone()
    assert want is not None
    got = tuple(pick[f] for f in CONTEXT_FIELDS)
    for field, g, w in zip(CONTEXT_FIELDS, got, want, strict=True):
        if w is None:
            assert g is None, field
        else:
            assert g == pytest.approx(w), field
    for field in ("pcr_oi", "max_pain_strike", "max_pain_distance_pct", "net_delta"):
        assert pick[field] is not None, field  # from the day's chain: always there


def test_the_nightly_ranking_has_15_picks_with_every_field(conn, night):
    rows = _ranking(conn, night.as_of)
    top = [r for r in rows if r["is_top_k"]]
    assert len(top) == TOP_K
    assert [r["candidate_rank"] for r in top] == list(range(1, TOP_K + 1))
    assert len({r["underlying"] for r in rows}) == len(rows)  # one pick per underlying
    tradable = [r["is_tradable"] for r in rows]
    assert tradable == sorted(tradable, reverse=True)  # the tradable picks first
    for group in (True, False):
        scores = [r["score"] for r in rows if r["is_tradable"] is group]
        assert scores == sorted(scores, reverse=True)
    assert sum(tradable) >= 10
    for r in rows:
        if r["is_tradable"]:
            assert r["net_edge"] > 0 and r["units"] >= 1 and r["no_trade_reason"] is None
        else:
            assert r["score"] <= 0 or r["units"] == 0
            assert r["no_trade_reason"] and r["no_trade_reason"] in r["rationale"]
    for r in top:
        missing = [f for f in PICK_FIELDS if f in r and r[f] is None]
        assert not missing, (r["candidate_id"], missing)
        _check_context(conn, r)
        assert 0 <= r["probability"] <= 1 and r["probability_source"] == "calibrated"
        assert r["underlying"] in r["rationale"] and "Economics" in r["rationale"]
        if r["side"] == "long":
            assert r["stop_price"] < r["entry_price"] < r["target_price"]
        if r["side"] == "short":
            assert r["target_price"] < r["entry_price"] < r["stop_price"]


def test_publication_is_one_transaction_idempotent_and_shown_in_analytics(conn, night):
    from warehouse.dbt import run_dbt

    as_of = night.as_of
    _reset(conn, as_of)
    # a pick whose intent cannot be written makes the whole publication fail: nothing stays
    original = conn.execute(
        "SELECT candidate_id, legs FROM marts.fct_nightly_ranking WHERE as_of = %s", (as_of,)
    ).fetchall()
    for candidate_id, legs in original:
        broken = [dict(leg, contract_symbol="NOT-AN-OCC-SYMBOL") for leg in legs]
        conn.execute(
            "UPDATE marts.fct_nightly_ranking SET legs = %s WHERE as_of = %s AND candidate_id = %s",
            (Jsonb(broken), as_of, candidate_id),
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        nightly.publish_ranking(conn, as_of)
    for table in ("nightly_rankings", "order_intents", "outbox", "rejected_candidates"):
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("ops", table))
        assert conn.execute(query).fetchone()[0] == 0, table
    for candidate_id, legs in original:
        conn.execute(
            "UPDATE marts.fct_nightly_ranking SET legs = %s WHERE as_of = %s AND candidate_id = %s",
            (Jsonb(legs), as_of, candidate_id),
        )

    first = nightly.publish_ranking(conn, as_of)
    assert len(first) == TOP_K
    published = [r for r in first if r["intent_status"] == "published"]
    assert published and {r["intent_status"] for r in first} <= {
        "published", "rejected_risk_budget", "not_tradable",
    }  # fmt: skip
    assert all((r["intent_id"] is None) == (r["intent_status"] == "not_tradable") for r in first)
    events = conn.execute(
        "SELECT o.intent_id, i.source, count(l.leg_no) FROM ops.outbox AS o "
        "JOIN ops.order_intents AS i USING (intent_id) "
        "JOIN ops.order_intent_legs AS l USING (intent_id) GROUP BY 1, 2"
    ).fetchall()
    assert {e[0] for e in events} == {r["intent_id"] for r in published}
    assert all(e[1] == "nightly_ranking" for e in events)
    hedge = conn.execute(
        "SELECT metadata -> 'delta_hedge' FROM ops.order_intents LIMIT 1"
    ).fetchone()[0]
    assert set(hedge) == {"instrument", "side", "shares"}
    again = nightly.publish_ranking(conn, as_of)
    assert again == first  # same picks, same intent ids
    assert conn.execute("SELECT count(*) FROM ops.outbox").fetchone()[0] == len(published)
    recorded = conn.execute(
        "SELECT stage, count(*) FROM ops.rejected_candidates WHERE as_of = %s GROUP BY 1",
        (as_of,),
    ).fetchall()
    assert {"costs", "structure"} <= {r[0] for r in recorded}

    assert run_dbt(["run", "--quiet", "--select", "nightly_ranking", "--vars",
                    nightly._vars(as_of)]) == 0  # fmt: skip
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        view = cur.execute(
            "SELECT * FROM analytics.nightly_ranking WHERE as_of = %s ORDER BY rank", (as_of,)
        ).fetchall()
    assert len(view) == TOP_K
    for r in view:
        missing = [f for f in PICK_FIELDS if f in r and r[f] is None]
        assert not missing, (r["rank"], missing)
        _check_context(conn, r)


def test_while_halted_the_intents_are_held_and_released_after_an_audited_resume(conn, night):
    from warehouse.execution.broker.paper import PaperBroker
    from warehouse.execution.settings import PaperConfig, WorkerConfig
    from warehouse.execution.worker import Worker

    as_of = night.as_of
    _reset(conn, as_of)
    conn.execute("SELECT ops.halt_trading('risk-run', 'test breach')")
    rows = nightly.publish_ranking(conn, as_of)
    held = [r for r in rows if r["intent_status"] == "held"]
    assert held and {r["intent_status"] for r in rows} <= {
        "held", "rejected_risk_budget", "not_tradable",
    }  # fmt: skip
    assert conn.execute("SELECT count(*) FROM ops.outbox").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM ops.order_intents").fetchone()[0] == 0
    stored = conn.execute(
        "SELECT intent_id, status FROM ops.held_intents WHERE as_of = %s", (as_of,)
    ).fetchall()
    assert {s[0] for s in stored} == {r["intent_id"] for r in held}
    assert {s[1] for s in stored} == {"held"}
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="halted"):
        conn.execute("SELECT ops.release_held_intents(%s, 'tester')", (as_of,))
    Worker(
        worker_id="ranking-test",
        config=WorkerConfig(poll_seconds=0.05),
        broker=PaperBroker(config=PaperConfig(noise=0.0)),
    ).run(once=True)
    assert conn.execute("SELECT count(*) FROM ops.orders").fetchone()[0] == 0

    assert conn.execute("SELECT ops.resume_trading('risk-officer', 'reviewed')").fetchone()[0]
    n = conn.execute("SELECT ops.release_held_intents(%s, 'risk-officer')", (as_of,)).fetchone()
    assert n[0] == len(held)
    events = {r[0] for r in conn.execute("SELECT intent_id FROM ops.outbox")}
    assert events == {r["intent_id"] for r in held}
    statuses = conn.execute(
        "SELECT DISTINCT intent_status FROM ops.nightly_rankings WHERE as_of = %s "
        "AND intent_id = ANY(%s)",
        (as_of, [r["intent_id"] for r in held]),
    ).fetchall()
    assert statuses == [("published",)]
    assert conn.execute(
        "SELECT count(*) FROM ops.held_intents WHERE as_of = %s AND status = 'released'",
        (as_of,),
    ).fetchone()[0] == len(held)


def test_prior_probability_is_flagged(conn, deployed):
    leg = {
        "contract_symbol": "XYZ   250620C00100000", "side": "buy", "strike": 100.0,
        "t": 0.1, "r": 0.03, "q": 0.0, "iv": 0.3, "is_call": True, "bid": 4.0, "ask": 4.4,
        "mid": 4.2, "delta": 0.55, "vega": 12.0, "multiplier": 100, "adv_contracts": 500,
    }  # fmt: skip
    put = dict(leg, contract_symbol="XYZ   250620P00100000", is_call=False, delta=-0.45)
    inputs = {
        "underlying": "XYZ", "side": "buy_vol", "structure": "long_straddle", "spot": 100.0,
        "rv_21d": 0.4, "forecast_vol": 0.45, "iv_atm_30d": 0.3, "n_signals": 0,
        "capital": 1e6, "legs": [leg, put],
    }  # fmt: skip
    plan = conn.execute("SELECT risk.candidate_plan(%s)", (Jsonb(inputs),)).fetchone()[0]
    assert plan["probability_source"] == "prior"
    assert plan["probability"] == pytest.approx(ranking.PRIOR_HIT_RATE)
    assert plan["target_pct"] == 0.5 and plan["stop_pct"] == -0.5
    assert plan["edge_vol_points"] == pytest.approx(15.0)  # 45 % forecast vs 30 % implied
    text = conn.execute(
        "SELECT risk.ranking_rationale(%s)",
        (Jsonb(plan | {"underlying": "XYZ", "strategies": ["test"], "strength": 0.7}),),
    ).fetchone()[0]
    assert "prior" in text and "XYZ" in text and "long straddle" in text


def test_target_probability_first_passage():
    assert ranking.target_probability(0.5, 0.02, -0.04, 0.05) == pytest.approx(2 / 3)
    up = ranking.target_probability(0.6, 0.02, -0.04, 0.05)
    down = ranking.target_probability(0.4, 0.02, -0.04, 0.05)
    assert down < 2 / 3 < up < 1
    z = 0.2533471031357997  # Phi^-1(0.6)
    a, b = 0.02 / 0.05, 0.04 / 0.05
    exact = (1 - math.exp(2 * z * b)) / (math.exp(-2 * z * a) - math.exp(2 * z * b))
    assert up == pytest.approx(exact, rel=1e-12)
    cal = ranking.calibrated_hit_rate(0.7, 20)
    assert cal["hit_rate"] == pytest.approx((0.7 * 20 + 20 * 0.55) / 40)
    assert ranking.calibrated_hit_rate(None, 0)["source"] == "prior"
