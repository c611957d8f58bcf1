"""News sentiment: the headline scorer, its SQL function and the daily news features.

Real database, no mocks.

- The scorer (``python_udfs.news_sentiment``) on hand-written headlines: clear positives,
  negatives, negations, neutral corporate news; its conventions (range, NULL, cashtags,
  labels).
- The real labelled benchmark (``zeroshot/twitter-financial-news-sentiment``, 9.5k train +
  2.4k valid finance headlines, 0 = Bearish, 1 = Bullish, 2 = Neutral; skipped when the real
  data folder is absent) loaded by the ``headlines`` source and scored by the deployed
  ``quant.headline_sentiment_batch`` (one call per split): 3-class accuracy and macro-F1 with
  the neutral band |s| <= 0.2 against the majority class. Measured (lexicon written by hand,
  not fitted): valid accuracy 0.722 vs 0.656, macro-F1 0.663 vs 0.264; train 0.718 vs 0.647,
  0.657 vs 0.262.
- A simulated world of this module's own (seed 13, 3 underlyings x 30 sessions from
  2022-01-03, ci preset: ~2-3 headlines per underlying and session, three earnings events)
  built with ``dbt run --select +options_features`` and the news models' data and unit tests:
  the headline counts per (ticker, session) equal a Python assignment of every headline to the
  first session whose close follows it (after the close -> next session), the daily
  ``news_sentiment`` feature ranks like the simulator's true sentiment (sim.news_sentiment),
  and every earnings event's headline is counted on the session it moves (BMO: the event
  date, AMC: the next session) with the right sign.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from conftest import build_and_test, load_sim_world
from scipy.stats import spearmanr

from python_udfs import news_sentiment as ns
from warehouse.config import settings
from warehouse.loaders.engine import load_path

START = date(2022, 1, 3)  # this module's own simulated dates
DAYS = 30
SEED = 13
N_UNDERLYINGS = 3
# 3-class benchmark bounds: clearly above the majority class (measured +0.066 accuracy and
# macro-F1 0.66 vs 0.26 on valid; the lexicon is deterministic, the bounds guard regressions)
MIN_ACCURACY_GAIN = 0.04
MIN_MACRO_F1 = 0.60
# daily news_sentiment vs the simulator's true mean sentiment per (ticker, session): the
# scorer ranks the simulator's headlines with Spearman 0.91 per headline (the templates map
# five sentiment buckets to discrete scores; the true sentiment varies inside a bucket), and
# the daily mean of 2-3 headlines keeps that: measured 0.94 on this world's 87 ticker-sessions
# with news (0.91 on 155 with 4 underlyings x 40 sessions). The standard error of Spearman's
# rho near 0.9 with n ~ 90 is ~ (1 - rho^2) / sqrt(n) ~ 0.02, and an uninformative scorer
# gives 0 +- 0.11: 0.75 is far from both, a lexicon that loses the buckets' order fails it.
MIN_DAILY_SPEARMAN = 0.75
BAND = ns.NEUTRAL_BAND
NY = ZoneInfo("America/New_York")


# ----------------------------------------------------------------- the scorer, hand-made cases
POSITIVE_HEADLINES = (
    "Acme beats estimates and raises full-year guidance",
    "Analyst upgrades Acme to outperform, lifts price target",
    "Acme shares soar to a record high on strong demand",
    "Acme +7% after better than expected quarterly profit",
    "Regulators approve Acme's new drug; stock jumps",
    "Acme wins $2 billion defense contract",
)
NEGATIVE_HEADLINES = (
    "Acme misses estimates and cuts its outlook",
    "Acme downgraded to underweight on weak margins",
    "Acme plunges after regulators reject its new drug",
    "SEC opens probe into Acme accounting",
    "Acme -6% as sales decline for a third quarter",
    "Acme files for bankruptcy protection",
    "Acme recalls 200,000 vehicles over brake defect",
)
NEGATED_NEGATIVE = (  # a positive word negated
    "Acme fails to beat estimates",
    "Acme did not raise its dividend",
    "No growth expected at Acme this year",
)
NEGATED_POSITIVE = (  # a negative word negated
    "Acme margins are no longer under pressure",
    "Acme results were not weak",
)
NEUTRAL_HEADLINES = (
    "Acme names new chief financial officer",
    "Acme to hold annual shareholder meeting on May 5",
    "Acme and Widget Co. sign memorandum of understanding",
    "What to watch in Acme's filing",
    "",
)


@pytest.mark.parametrize("text", POSITIVE_HEADLINES)
def test_clear_positive_headlines_score_above_the_band(text):
    assert ns.headline_sentiment([text])[0] > BAND, text


@pytest.mark.parametrize("text", NEGATIVE_HEADLINES)
def test_clear_negative_headlines_score_below_the_band(text):
    assert ns.headline_sentiment([text])[0] < -BAND, text


@pytest.mark.parametrize("text", NEGATED_NEGATIVE)
def test_negated_positive_words_are_negative(text):
    assert ns.headline_sentiment([text])[0] < -BAND, text


@pytest.mark.parametrize("text", NEGATED_POSITIVE)
def test_negated_negative_words_are_positive(text):
    assert ns.headline_sentiment([text])[0] > 0, text


@pytest.mark.parametrize("text", NEUTRAL_HEADLINES)
def test_neutral_corporate_news_is_inside_the_band(text):
    assert abs(ns.headline_sentiment([text])[0]) <= BAND, text


def test_score_conventions():
    s = ns.headline_sentiment(
        ["Acme beats", "Acme beats and soars", "Acme beats but shares fall", None, "Acme"]
    )
    assert s[0] == pytest.approx(0.5)  # one plain word: 1 / (1 + 1)
    assert s[1] == pytest.approx(0.75)  # 1 + 2 (strong word) / (3 + 1)
    assert s[2] == pytest.approx(0.0)  # mixed evidence cancels
    assert math.isnan(s[3]) and s[4] == 0.0  # NULL -> NaN; no evidence -> 0
    assert ns.headline_sentiment("Acme beats")[0] == pytest.approx(0.5)  # a bare string
    assert len(ns.headline_sentiment([])) == 0
    # inflections, case, URLs and cashtags
    assert ns.headline_sentiment(["ACME DOWNGRADED https://t.co/beat"])[0] < -BAND
    assert ns.headline_sentiment(["$MISS $LOSS shares of Acme"])[0] == 0.0
    # the previous rating of an analyst action carries no sentiment
    assert ns.headline_sentiment(["Acme downgraded to neutral from overweight"])[0] < -BAND
    # bounded: a pile of strong words stays inside (-1, 1)
    pile = " ".join(["soars surges skyrockets"] * 20)
    assert 0.95 < ns.headline_sentiment([pile])[0] < 1.0
    labels = ns.sentiment_label([0.5, -0.5, 0.2, -0.2, np.nan])
    assert labels[:4].tolist() == [1.0, -1.0, 0.0, 0.0] and math.isnan(labels[4])


def test_sql_function_scores_a_batch_like_the_package(deployed_udfs, conn):
    """quant.headline_sentiment_batch: one call on a text[], one score per
    element in order, NULL for a NULL text, the package's values; its declared options."""
    texts = [*POSITIVE_HEADLINES, None, *NEGATIVE_HEADLINES, *NEUTRAL_HEADLINES]
    (scores,) = conn.execute(
        "SELECT quant.headline_sentiment_batch(%s::text[])", (texts,)
    ).fetchone()
    assert len(scores) == len(texts) and scores[len(POSITIVE_HEADLINES)] is None
    expected = ns.headline_sentiment(texts)
    for got, want in zip(scores, expected, strict=True):
        assert (got is None and math.isnan(want)) or got == pytest.approx(want, abs=1e-12)
    assert conn.execute("SELECT quant.headline_sentiment_batch('{}'::text[])").fetchone()[0] == []
    volatile, parallel = conn.execute(
        "SELECT provolatile, proparallel FROM pg_proc "
        "WHERE oid = 'quant.headline_sentiment_batch(text[])'::regprocedure"
    ).fetchone()
    assert (volatile, parallel) == ("i", "s")  # IMMUTABLE, PARALLEL SAFE


# ----------------------------------------------------------------- the real benchmark
def _metrics(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(accuracy, macro-F1) over the classes 0, 1, 2."""
    f1 = []
    for c in (0, 1, 2):
        tp = int(np.sum((pred == c) & (y == c)))
        fp = int(np.sum((pred == c) & (y != c)))
        fn = int(np.sum((pred != c) & (y == c)))
        f1.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(y == pred)), float(np.mean(f1))


@pytest.fixture(scope="module")
def benchmark(deployed_udfs, real_data_dir: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The labelled headlines loaded by the ``headlines`` source and scored in the database
    by quant.headline_sentiment_batch, one call per split: {split: (labels, scores)}."""
    folder = real_data_dir / "news_sentiment_labelled"
    if not folder.is_dir():
        pytest.skip(f"labelled headlines folder {folder} is absent")
    reports = load_path("headlines", folder, progress=False)
    assert all(r.status in ("loaded", "skipped_already_loaded") for r in reports)
    out = {}
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        rows = c.execute(
            "SELECT split, array_agg(label ORDER BY row_no), "
            "quant.headline_sentiment_batch(array_agg(headline ORDER BY row_no)), "
            "array_agg(headline ORDER BY row_no) "
            "FROM raw.sentiment_benchmark GROUP BY split ORDER BY split"
        ).fetchall()
    for split, labels, scores, headlines in rows:
        s = np.array(scores, dtype=np.float64)
        # the SQL function returns exactly the package's scores
        np.testing.assert_allclose(s, ns.headline_sentiment(headlines), rtol=0, atol=1e-12)
        out[split] = (np.array(labels, dtype=np.int64), s)
    return out


def test_benchmark_beats_the_majority_class(benchmark):
    """3 classes with the neutral band: s > 0.2 Bullish (1), s < -0.2 Bearish (0), else
    Neutral (2). Clearly better than always predicting the majority class (Neutral) on both
    splits, in accuracy and in macro-F1."""
    assert set(benchmark) == {"train", "valid"}
    assert len(benchmark["train"][0]) > 9000 and len(benchmark["valid"][0]) > 2300
    for split, (y, s) in benchmark.items():
        lab = ns.sentiment_label(s)
        pred = np.where(lab > 0, 1, np.where(lab < 0, 0, 2))
        acc, f1 = _metrics(y, pred)
        majority = np.full_like(y, np.bincount(y).argmax())
        base_acc, base_f1 = _metrics(y, majority)
        print(
            f"{split}: n={len(y)} accuracy {acc:.3f} (majority {base_acc:.3f}), "
            f"macro-F1 {f1:.3f} (majority {base_f1:.3f})"
        )
        assert acc >= base_acc + MIN_ACCURACY_GAIN, (split, acc, base_acc)
        assert f1 >= MIN_MACRO_F1 and f1 >= 2 * base_f1, (split, f1, base_f1)


# ----------------------------------------------------------------- the simulated world
@pytest.fixture(scope="module")
def world(deployed_udfs, tmp_path_factory) -> dict:
    """Simulate, load and build the features; returns the world's session dates."""
    out: Path = tmp_path_factory.mktemp("sim_for_news")
    load_sim_world(out, seed=SEED, underlyings=N_UNDERLYINGS, days=DAYS, start=START)
    build_and_test(
        "+options_features", "int_news_sentiment_daily", "fct_options_features", "options_features"
    )
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        days = c.execute(
            "SELECT DISTINCT trade_date FROM marts.fct_options_features ORDER BY 1"
        ).fetchall()
    return {"dates": [d[0] for d in days]}


def _session_of(conn) -> Callable[[datetime], date]:
    """ts -> the first session whose close is strictly after ts (ref.trading_calendar),
    computed in Python."""
    cal = conn.execute(
        "SELECT session_date, market_close FROM ref.trading_calendar ORDER BY 1"
    ).fetchall()
    closes = np.array([r[1].timestamp() for r in cal])
    sessions = [r[0] for r in cal]

    def session(ts: datetime) -> date:
        return sessions[int(np.searchsorted(closes, ts.timestamp(), side="right"))]

    return session


def test_headlines_count_for_the_session_whose_close_they_precede(world, conn):
    """Every headline x ticker lands on the first session whose close follows it: the
    model's counts per (ticker, session) equal the Python assignment, and headlines published
    after a close (or on a weekend) are among them, on the next session."""
    session = _session_of(conn)
    closes = dict(conn.execute("SELECT session_date, market_close FROM ref.trading_calendar"))
    expected: dict[tuple[str, date], int] = {}
    after_close = 0
    for ts, tickers in conn.execute("SELECT published_ts, tickers FROM raw.news"):
        d = session(ts)
        same_day = ts.astimezone(NY).date()
        if same_day in closes and ts >= closes[same_day]:
            after_close += 1
            assert d > same_day
        for t in set(tickers):
            expected[(t, d)] = expected.get((t, d), 0) + 1
    assert after_close > 20  # the simulator publishes ~15 % of headlines after the close
    got = {
        (u, d): n
        for u, d, n in conn.execute(
            "SELECT underlying, trade_date, headline_count "
            "FROM intermediate.int_news_sentiment_daily"
        )
    }
    assert got == expected
    # the feature rows carry the same counts (0 on sessions without news)
    for u, d, n in conn.execute(
        "SELECT underlying, trade_date, news_count FROM marts.fct_options_features"
    ):
        assert n == expected.get((u, d), 0), (u, d)


def test_daily_news_sentiment_ranks_like_the_true_sentiment(world, conn):
    """The feature's daily mean headline sentiment vs the simulator's true mean sentiment of
    the same headlines (sim.news_sentiment, per headline x ticker): Spearman > 0.75."""
    session = _session_of(conn)
    truth: dict[tuple[str, date], list[float]] = {}
    for sym, ts, s in conn.execute(
        "SELECT symbol, published_ts, sentiment FROM sim.news_sentiment"
    ):
        truth.setdefault((sym, session(ts)), []).append(s)
    rows = conn.execute(
        "SELECT underlying, trade_date, news_sentiment, news_sentiment_5d "
        "FROM marts.fct_options_features WHERE news_count > 0"
    ).fetchall()
    assert len(rows) >= 80
    feature = np.array([r[2] for r in rows])
    true = np.array([np.mean(truth[(r[0], r[1])]) for r in rows])
    rho = spearmanr(feature, true)[0]
    print(f"daily news_sentiment vs true sentiment: Spearman {rho:.3f} on {len(rows)} rows")
    assert rho > MIN_DAILY_SPEARMAN
    # the 5-session mean is headline-weighted over the calendar's last 5 sessions
    cal = [r[0] for r in conn.execute("SELECT session_date FROM ref.trading_calendar ORDER BY 1")]
    for u, d, _, s5 in rows[:40]:
        window = set(cal[cal.index(d) - 4 : cal.index(d) + 1])
        scores = conn.execute(
            "SELECT sentiment_sum, headline_count FROM intermediate.int_news_sentiment_daily "
            "WHERE underlying = %s AND trade_date = ANY(%s)",
            (u, sorted(window)),
        ).fetchall()
        assert s5 == pytest.approx(sum(a for a, _ in scores) / sum(b for _, b in scores))


def test_earnings_events_show_up_as_earnings_headlines(world, conn):
    """Each simulated earnings event inside the world has its headline counted on the session
    it moves (BMO: the event date, after the AMC report's 16:05 publication: the next
    session), with the sign of the simulated jump; no other headline counts as earnings."""
    dates = world["dates"]
    events = conn.execute(
        "SELECT symbol, event_date, timing, jump_logret, event_std FROM sim.earnings_events "
        "WHERE event_date BETWEEN %s AND %s",
        (dates[0], dates[-2]),
    ).fetchall()
    assert len(events) >= 2
    counts = {
        (u, d): (n, s)
        for u, d, n, s in conn.execute(
            "SELECT f.underlying, f.trade_date, f.news_earnings_count, n.earnings_sentiment "
            "FROM marts.fct_options_features f LEFT JOIN intermediate.int_news_sentiment_daily n "
            "ON n.underlying = f.underlying AND n.trade_date = f.trade_date"
        )
    }
    seen = set()
    for sym, event_date, timing, jump, std in events:
        d = event_date if timing == "BMO" else dates[dates.index(event_date) + 1]
        n, s = counts[(sym, d)]
        assert n == 1, (sym, event_date, timing)
        true = math.tanh(jump / std)
        if abs(true) > BAND:
            assert np.sign(s) == np.sign(true), (sym, event_date, s, true)
        seen.add((sym, d))
    others = {k: v for k, v in counts.items() if k not in seen and v[0]}
    assert not others  # the regular headlines are not mistaken for earnings reports
    # the existing earnings features announce the same events the session before
    for sym, event_date, timing, _, _ in events:
        i = dates.index(event_date)
        if i == 0:
            continue
        row = conn.execute(
            "SELECT next_earnings_date, next_earnings_timing FROM marts.fct_options_features "
            "WHERE underlying = %s AND trade_date = %s",
            (sym, dates[i - 1]),
        ).fetchone()
        assert row == (event_date, timing), (sym, event_date)
