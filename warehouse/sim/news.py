"""Simulated headlines whose sentiment moves the price.

Each headline names one or two tickers and carries a sentiment s in [-1, 1] known to the
simulator (``sim.news_sentiment``). Its impact on every ticker it names is a log-return of
``news_impact[ticker] * s``:

- published in the session: spread evenly over the ``HORIZON_MINUTES`` minutes after the
  minute of publication (fewer if the close comes first; published in the last minute it
  moves the next open);
- published before the open (04:00-09:30 New York): moves that session's open;
- published after the close (close-19:00 New York): moves the next session's open.

Earnings headlines (published 07:00 for BMO, 16:05 for AMC events) report the earnings jump
itself, which the price process applies at the event's open; their sentiment is
tanh(jump / earnings_std) and their recorded impact is the jump.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from warehouse.sim.calendar import US_PER_MINUTE, ny_time_us
from warehouse.sim.universe import Universe

HORIZON_MINUTES = 30
SOURCE = "sim"

_BANKS = ("Morgan Stanley", "Goldman Sachs", "JPMorgan", "Barclays", "UBS", "Citi", "Jefferies")
_EVENTS = (
    "a supply agreement",
    "a share buyback",
    "a new product line",
    "a cost review",
    "an acquisition",
    "a partnership",
    "a factory expansion",
)
_TEMPLATES: tuple[tuple[str, ...], ...] = (
    (  # strongly negative
        "{T} plunges after cutting full-year guidance",
        "{T} tumbles on regulatory probe into {E}",
        "{T} sinks as CEO departs unexpectedly",
        "{T} slumps after product recall",
    ),
    (  # negative
        "{T} downgraded to underweight at {B}",
        "{T} slips as analysts trim price targets",
        "{T} faces delays on {E}",
        "{T} shares fall after weak sector data",
    ),
    (  # neutral
        "{T} to present at {B} industry conference",
        "{T} announces board changes",
        "{T} files quarterly report",
        "{T} schedules investor day",
    ),
    (  # positive
        "{T} upgraded to overweight at {B}",
        "{T} wins contract tied to {E}",
        "{T} gains as analysts lift targets",
        "{T} announces {E}",
    ),
    (  # strongly positive
        "{T} surges on record orders",
        "{T} soars after raising full-year outlook",
        "{T} jumps on takeover interest",
        "{T} rallies after blockbuster approval",
    ),
)
_EARNINGS = (
    "{T} misses estimates, shares drop on weak quarter",
    "{T} reports quarterly results in line with estimates",
    "{T} beats estimates, quarterly revenue tops forecasts",
)


def sentiment_bucket(s: np.ndarray) -> np.ndarray:
    """0..4: strongly negative, negative, neutral, positive, strongly positive."""
    return np.digitize(s, [-0.6, -0.2, 0.2, 0.6])


def sentiment_label(s: np.ndarray) -> np.ndarray:
    return np.array(["negative", "neutral", "positive"])[np.digitize(s, [-0.2, 0.2])]


@dataclass
class DayNews:
    """Headlines of one session and the price impacts they schedule."""

    published_us: np.ndarray  # (H,) UTC epoch microseconds
    vendor_id: list[str]
    headline: list[str]
    body: list[str]
    tickers: list[list[str]]
    kind: list[str]  # news | earnings
    sentiment: np.ndarray  # (H,)
    # one row per (headline, ticker)
    link_h: np.ndarray
    link_u: np.ndarray
    link_impact: np.ndarray  # log-return
    link_when: np.ndarray  # 0 in session, 1 today's open, 2 next open, 3 via earnings
    link_start_minute: np.ndarray  # first minute of the drift (in session), else -1
    link_minutes: np.ndarray  # minutes of drift (0 = at an open)


def simulate_news(
    u: Universe,
    g: np.random.Generator,
    day,
    ext_index: int,
    open_us: int,
    close_us: int,
    news_per_day: float,
) -> DayNews:
    """Headlines of session ``day`` (ext_index: its index in the session window)."""
    n_u = u.n
    minutes = int((close_us - open_us) // US_PER_MINUTE)
    counts = g.poisson(news_per_day * u.p["news_rate"])
    prim = np.repeat(np.arange(n_u), counts)
    n = len(prim)
    cat = np.digitize(g.random(n), [0.15, 0.85])  # 0 pre, 1 session, 2 post
    pre_lo, post_hi = ny_time_us(day, 4), ny_time_us(day, 19)
    lo = np.choose(cat, [pre_lo, open_us, close_us])
    hi = np.choose(cat, [open_us, close_us, post_hi])
    pub = lo + np.floor(g.random(n) * (hi - lo)).astype(np.int64)
    neutral = g.random(n) < 0.35
    s = np.where(neutral, g.normal(0.0, 0.1, n), g.uniform(-1.0, 1.0, n))
    s = np.round(np.clip(s, -1.0, 1.0), 4)
    # a second ticker for some headlines: a peer in the same sector when there is one
    two = (g.random(n) < 0.15) & (n_u > 1)
    peer_draw = g.random(n)
    second = np.full(n, -1, dtype=np.int64)
    sector = u.sector_idx
    for i in np.flatnonzero(two):  # ~15 % of a few thousand headlines
        peers = np.flatnonzero((sector == sector[prim[i]]) & (np.arange(n_u) != prim[i]))
        if len(peers) == 0:
            peers = np.flatnonzero(np.arange(n_u) != prim[i])
        second[i] = peers[int(peer_draw[i] * len(peers))]
    tmpl = g.integers(0, 4, n)
    bank = g.integers(0, len(_BANKS), n)
    event = g.integers(0, len(_EVENTS), n)

    # earnings headlines for events announced today
    ev = np.flatnonzero(u.ev_session == ext_index)
    ev_u = u.ev_u[ev]
    ev_jump = u.ev_jump[ev]
    ev_amc = u.p["timing_draw"][ev_u] >= 0.4
    ev_pub = np.where(ev_amc, ny_time_us(day, 16, 5), ny_time_us(day, 7))
    ev_s = np.round(np.tanh(ev_jump / u.p["earnings_std"][ev_u]), 4)

    all_pub = np.concatenate([pub, ev_pub]).astype(np.int64)
    all_u = np.concatenate([prim, ev_u]).astype(np.int64)
    all_s = np.concatenate([s, ev_s])
    all_second = np.concatenate([second, np.full(len(ev), -1, dtype=np.int64)])
    is_ev = np.concatenate([np.zeros(n, bool), np.ones(len(ev), bool)])
    all_jump = np.concatenate([np.zeros(n), ev_jump])
    order = np.lexsort((all_u, all_pub))
    stamp = day.strftime("%Y%m%d")
    sym = u.symbols
    headlines, bodies, tickers, kinds, vendor_ids = [], [], [], [], []
    bucket = sentiment_bucket(all_s)
    ev_text = np.digitize(all_s, [-0.2, 0.2])
    for rank, i in enumerate(order):  # a few thousand headlines per day
        names = [sym[all_u[i]]] + ([sym[all_second[i]]] if all_second[i] >= 0 else [])
        t = names[0] if len(names) == 1 else f"{names[0]} (with peer {names[1]})"
        if is_ev[i]:
            text = _EARNINGS[ev_text[i]].format(T=t)
            kinds.append("earnings")
        else:
            text = _TEMPLATES[bucket[i]][tmpl[i]].format(
                T=t, B=_BANKS[bank[i]], E=_EVENTS[event[i]]
            )
            kinds.append("news")
        vendor_ids.append(f"SIM{stamp}-{rank + 1:06d}")
        headlines.append(text)
        bodies.append(f"{text}. Simulated headline for {', '.join(names)}.")
        tickers.append(names)

    pub_o, u_o, s_o, second_o, ev_o = (
        all_pub[order],
        all_u[order],
        all_s[order],
        all_second[order],
        is_ev[order],
    )
    # links: primary ticker, then the second tickers
    h_idx = np.arange(len(order))
    has2 = second_o >= 0
    link_h = np.concatenate([h_idx, h_idx[has2]])
    link_u = np.concatenate([u_o, second_o[has2]])
    link_ev = ev_o[link_h]
    link_pub = pub_o[link_h]
    impact = u.p["news_impact"][link_u] * s_o[link_h]
    impact = np.where(link_ev, all_jump[order][link_h], impact)
    m0 = (link_pub - open_us) // US_PER_MINUTE
    in_session = (link_pub >= open_us) & (link_pub < close_us)
    start = m0 + 1
    n_min = np.minimum(HORIZON_MINUTES, minutes - start)
    when = np.where(link_pub < open_us, 1, 2)
    when = np.where(in_session & (n_min > 0), 0, when)
    when = np.where(link_ev, 3, when)
    link_start = np.where(when == 0, start, -1)
    link_minutes = np.where(when == 0, n_min, 0)
    return DayNews(
        published_us=pub_o,
        vendor_id=vendor_ids,
        headline=headlines,
        body=bodies,
        tickers=tickers,
        kind=kinds,
        sentiment=s_o,
        link_h=link_h,
        link_u=link_u,
        link_impact=impact,
        link_when=when,
        link_start_minute=link_start,
        link_minutes=link_minutes,
    )
