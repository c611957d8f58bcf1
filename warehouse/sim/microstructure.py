"""Trades and NBBO quotes around the efficient price.

Activity is U-shaped over the session: the intensity of minute m of an M-minute session is
proportional to 1 + 2 (2 (m + 1/2) / M - 1)^2 (three times busier at the open and close than
at midday), scaled so a full session averages ``trades_per_day * activity``.

Between minute boundaries the efficient log price follows the exact Brownian bridge of the
minute's diffusion shock, so prices at event times carry no artificial autocorrelation.

- Quote: bid = floor_cent(S e^-c), ask = ceil_cent(S e^c) (at least one cent wide), with
  c = ``quote_half_spread`` (log units).
- Trade: price = round_cent(S exp(d c + e)), d = +-1 with equal odds (buyer/seller
  initiated), e ~ N(0, trade_noise_std^2). The microstructure noise of trade log prices
  therefore has variance ``noise_var = c^2 + trade_noise_std^2`` (truth), plus the rounding
  to cents (about (0.01 / S)^2 / 12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from warehouse.sim.calendar import US_PER_MINUTE
from warehouse.sim.market import DayPath
from warehouse.sim.universe import Universe

TRADE_VENUES = np.array(["N", "Q", "P", "Z", "K", "V", "D"])
TRADE_VENUE_P = np.array([0.18, 0.22, 0.12, 0.08, 0.08, 0.07, 0.25])
QUOTE_VENUES = TRADE_VENUES[:-1]
QUOTE_VENUE_P = TRADE_VENUE_P[:-1] / TRADE_VENUE_P[:-1].sum()


def activity_weights(minutes: int) -> np.ndarray:
    """U-shaped relative intensity per minute (mean 1 over a full 390-minute session)."""
    pos = 2.0 * (np.arange(minutes) + 0.5) / minutes - 1.0
    return (1.0 + 2.0 * pos * pos) / (1.0 + 2.0 / 3.0)


@dataclass
class DayEvents:
    trades: dict[str, np.ndarray]  # u, ts_us, seq, price, size, exchange, conditions
    quotes: dict[str, np.ndarray]  # u, ts_us, seq, bid, ask, bid_size, ask_size, exchange


def _cent_floor(x: np.ndarray) -> np.ndarray:
    return np.floor(x * 100.0 + 1e-7) / 100.0


def _cent_ceil(x: np.ndarray) -> np.ndarray:
    return np.ceil(x * 100.0 - 1e-7) / 100.0


def quote_prices(log_price: np.ndarray, half_spread: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NBBO bid/ask in cents around the efficient log price."""
    bid = _cent_floor(np.exp(log_price - half_spread))
    ask = _cent_ceil(np.exp(log_price + half_spread))
    ask = np.where(ask <= bid, np.round(bid + 0.01, 2), ask)
    return np.round(bid, 2), np.round(ask, 2)


def _seq(u: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """0-based ordinal among rows with the same (u, ts); rows sorted by (u, ts)."""
    n = len(u)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.ones(n, dtype=bool)
    new[1:] = (u[1:] != u[:-1]) | (ts[1:] != ts[:-1])
    start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    return np.arange(n) - start


def simulate_events(
    u: Universe,
    g: np.random.Generator,
    path: DayPath,
    open_us: int,
    trades_per_day: float,
    quotes_per_day: float,
) -> DayEvents:
    """Trades and quotes of one session for every underlying."""
    p = u.p
    minutes, n_u = path.det.shape
    wts = activity_weights(minutes) / 390.0
    lam = np.outer(p["activity"], wts)  # (U, M) per unit rate
    n_tr = g.poisson(lam * trades_per_day)
    n_q = g.poisson(lam * quotes_per_day)
    cells = np.arange(n_u * minutes)
    cell = np.concatenate([np.repeat(cells, n_tr.ravel()), np.repeat(cells, n_q.ravel())])
    kind = np.concatenate([np.zeros(n_tr.sum(), np.int8), np.ones(n_q.sum(), np.int8)])
    n = len(cell)
    frac = g.random(n)
    order = np.lexsort((frac, cell))
    cell, kind, frac = cell[order], kind[order], frac[order]

    # exact Brownian bridge of each minute's diffusion shock at the event fractions
    starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]]) if n else np.zeros(0, int)
    sizes = np.diff(np.r_[starts, n])
    ends = starts + sizes - 1
    prev = np.r_[0.0, frac[:-1]] if n else frac
    prev[starts] = 0.0
    inc = np.sqrt(frac - prev) * g.standard_normal(n)
    cs = np.cumsum(inc)
    b = cs - np.repeat(cs[starts] - inc[starts], sizes)
    b1 = b[ends] + np.sqrt(1.0 - frac[ends]) * g.standard_normal(len(starts))
    uu, mm = cell // minutes, cell % minutes
    w_end = path.w[mm, uu]
    bridge = b - frac * np.repeat(b1, sizes) + frac * w_end
    x = path.x[mm, uu] + frac * path.det[mm, uu] + path.sd[mm, uu] * bridge
    ts = open_us + mm * US_PER_MINUTE + np.floor(frac * US_PER_MINUTE).astype(np.int64)

    t = kind == 0
    q = ~t
    n_t, n_qq = int(t.sum()), int(q.sum())
    side = np.where(g.random(n_t) < 0.5, -1.0, 1.0)
    eps = g.standard_normal(n_t) * p["trade_noise_std"][uu[t]]
    price = np.round(np.exp(x[t] + side * p["quote_half_spread"][uu[t]] + eps), 2)
    odd = g.random(n_t) < 0.1
    size = np.where(odd, g.integers(1, 100, n_t), 100 * g.geometric(0.5, n_t)).astype(float)
    trades = {
        "u": uu[t],
        "ts_us": ts[t],
        "seq": _seq(uu[t], ts[t]),
        "price": price,
        "size": size,
        "exchange": g.choice(TRADE_VENUES, n_t, p=TRADE_VENUE_P),
        "conditions": np.where(odd, "@ I", "@"),
    }
    bid, ask = quote_prices(x[q], p["quote_half_spread"][uu[q]])
    quotes = {
        "u": uu[q],
        "ts_us": ts[q],
        "seq": _seq(uu[q], ts[q]),
        "bid": bid,
        "ask": ask,
        "bid_size": (100 * g.geometric(0.35, n_qq)).astype(float),
        "ask_size": (100 * g.geometric(0.35, n_qq)).astype(float),
        "exchange": g.choice(QUOTE_VENUES, n_qq, p=QUOTE_VENUE_P),
    }
    return DayEvents(trades=trades, quotes=quotes)


def daily_bars(trades: dict[str, np.ndarray], n_u: int) -> dict[str, np.ndarray]:
    """OHLCV of the session per underlying from its trades (underlyings with trades only)."""
    tu, price, size = trades["u"], trades["price"], trades["size"]
    if len(tu) == 0:
        return {k: np.zeros(0) for k in ("u", "open", "high", "low", "close", "volume")}
    starts = np.flatnonzero(np.r_[True, tu[1:] != tu[:-1]])
    ends = np.r_[starts[1:], len(tu)] - 1
    return {
        "u": tu[starts],
        "open": price[starts],
        "close": price[ends],
        "high": np.maximum.reduceat(price, starts),
        "low": np.minimum.reduceat(price, starts),
        "volume": np.add.reduceat(size, starts),
    }


def last_trade_before(trades: dict[str, np.ndarray], n_u: int, ts_us: int) -> np.ndarray:
    """(U,) price of each underlying's last trade at or before ``ts_us`` (NaN if none)."""
    out_idx = np.full(n_u, -1, dtype=np.int64)
    mask = trades["ts_us"] <= ts_us
    idx = np.flatnonzero(mask)
    np.maximum.at(out_idx, trades["u"][idx], idx)
    prices = trades["price"]
    return np.where(out_idx >= 0, prices[np.maximum(out_idx, 0)] if len(prices) else np.nan, np.nan)
