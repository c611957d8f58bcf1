"""The simulated underlyings: static parameters, dividend and earnings schedules.

Every parameter of underlying k is drawn from its own stream (``streams.PARAMS``, k), so the
first N underlyings of a larger run are the same stocks as those of a smaller run.

Units: prices in USD; ``drift``, ``dividend_yield`` decimal per year; Heston variance
parameters in decimal^2 per year (``heston_theta`` = long-run variance, vol = sqrt); time in
trading years (252 sessions) for the price process; log-return units for jumps, noise,
spreads and news impacts.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from warehouse.sim import streams
from warehouse.sim.calendar import Sessions

SECTORS: tuple[str, ...] = (
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
)
EARNINGS_SPACING = 63  # sessions between quarterly earnings events
N_EARNINGS_DRAWS = 12  # earnings jumps pre-drawn per underlying
DIVIDEND_SPACING_DAYS = 91  # calendar days between quarterly ex-dates

# name, low, high of the uniform draws (in draw order after the sector and the price)
_UNIFORMS: tuple[tuple[str, float, float], ...] = (
    ("drift", 0.03, 0.12),
    ("beta_market", 0.35, 0.70),
    ("beta_sector", 0.20, 0.50),
    ("heston_kappa", 1.5, 5.0),
    ("vol_long", 0.18, 0.45),
    ("xi_frac", 0.5, 1.0),
    ("heston_rho", -0.8, -0.3),
    ("jump_intensity", 0.5, 4.0),
    ("jump_mean", -0.04, 0.0),
    ("jump_std", 0.02, 0.06),
    ("quote_half_spread", 1.0e-4, 4.0e-4),
    ("trade_noise_std", 1.0e-4, 3.0e-4),
    ("ssvi_rho", -0.75, -0.25),
    ("eta_frac", 0.5, 0.95),
    ("ssvi_gamma", 0.30, 0.50),
    ("variance_risk_premium", 1.05, 1.25),
    ("earnings_std", 0.03, 0.09),
    ("earnings_phase", 0.0, 1.0),
    ("news_impact", 0.003, 0.012),
    ("option_half_spread_base", 0.01, 0.04),
    ("timing_draw", 0.0, 1.0),
    ("dividend_draw", 0.0, 1.0),
    ("dividend_yield_raw", 0.005, 0.04),
    ("dividend_phase", 0.0, 1.0),
    ("exchange_draw", 0.0, 1.0),
)
_LOGNORMALS: tuple[tuple[str, float], ...] = (
    ("v0_mult", 0.25),
    ("activity", 0.4),
    ("news_rate", 0.4),
    ("option_popularity", 0.7),
)


def symbol_for(k: int) -> str:
    """Ticker of underlying k: SIMAA..SIMZZ for k < 676, then SIMAAA.. (OCC root <= 6)."""
    letters = string.ascii_uppercase
    if k < 26 * 26:
        return "SIM" + letters[k // 26] + letters[k % 26]
    k -= 26 * 26
    return "SIM" + letters[k // 676] + letters[(k // 26) % 26] + letters[k % 26]


@dataclass
class Universe:
    """Struct of arrays over underlyings (index k) plus the event schedules."""

    symbols: list[str]
    sector_idx: np.ndarray
    p: dict[str, np.ndarray]  # parameter name -> array over underlyings
    earnings_jump_draws: np.ndarray  # (U, N_EARNINGS_DRAWS) standard normals
    # dividends: one entry per (underlying, ex-date)
    div_u: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    div_ex: list[date] = field(default_factory=list)
    div_pay: list[date] = field(default_factory=list)
    div_amount: np.ndarray = field(default_factory=lambda: np.zeros(0))
    div_session: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # earnings events
    ev_u: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ev_date: list[date] = field(default_factory=list)
    ev_session: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ev_jump_session: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ev_jump: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n(self) -> int:
        return len(self.symbols)

    @property
    def sectors(self) -> list[str]:
        return [SECTORS[i] for i in self.sector_idx]

    @property
    def timing(self) -> list[str]:
        return ["BMO" if t < 0.4 else "AMC" for t in self.p["timing_draw"]]

    @property
    def exchange(self) -> list[str]:
        return ["XNAS" if e < 0.5 else "XNYS" for e in self.p["exchange_draw"]]


def draw_universe(seed: int, n: int) -> Universe:
    """Static parameters of ``n`` underlyings."""
    cols: dict[str, list[float]] = {name: [] for name, _, _ in _UNIFORMS}
    cols.update({name: [] for name, _ in _LOGNORMALS})
    cols["s0"] = []
    sector_idx = np.zeros(n, dtype=np.int64)
    jumps = np.zeros((n, N_EARNINGS_DRAWS))
    for k in range(n):  # one small stream per underlying (n <= a few thousand)
        g = streams.rng(seed, streams.PARAMS, k)
        sector_idx[k] = g.integers(0, len(SECTORS))
        cols["s0"].append(round(float(np.exp(g.uniform(np.log(40.0), np.log(400.0)))), 2))
        for name, lo, hi in _UNIFORMS:
            cols[name].append(float(g.uniform(lo, hi)))
        for name, sd in _LOGNORMALS:
            cols[name].append(float(np.exp(g.normal(-0.5 * sd * sd, sd))))
        jumps[k] = g.standard_normal(N_EARNINGS_DRAWS)
    p = {name: np.asarray(v, dtype=np.float64) for name, v in cols.items()}
    p["beta_idio"] = np.sqrt(1.0 - p["beta_market"] ** 2 - p["beta_sector"] ** 2)
    p["heston_theta"] = p["vol_long"] ** 2
    p["heston_xi"] = p["xi_frac"] * np.sqrt(2.0 * p["heston_kappa"] * p["heston_theta"])
    p["heston_v0"] = p["heston_theta"] * p["v0_mult"]
    p["ssvi_eta"] = p["eta_frac"] * 2.0 / (1.0 + np.abs(p["ssvi_rho"]))
    p["noise_var"] = p["quote_half_spread"] ** 2 + p["trade_noise_std"] ** 2
    p["dividend_yield"] = np.where(p["dividend_draw"] < 0.3, 0.0, p["dividend_yield_raw"])
    p["dividend_amount"] = np.round(p["s0"] * p["dividend_yield"] / 4.0, 2)
    # jump compensator: E[exp(J)] - 1
    p["jump_kbar"] = np.exp(p["jump_mean"] + 0.5 * p["jump_std"] ** 2) - 1.0
    return Universe(
        symbols=[symbol_for(k) for k in range(n)],
        sector_idx=sector_idx,
        p=p,
        earnings_jump_draws=jumps,
    )


def add_schedules(u: Universe, sessions: Sessions, first: int, n_days: int) -> None:
    """Dividend ex-dates and earnings events over the whole session window.

    Ex-dates: quarterly from an underlying-specific phase, snapped forward to a session.
    Earnings: every ``EARNINGS_SPACING`` sessions; the first event after the run start lies
    ``n_days // 4 + phase * 63`` sessions after the first simulated session, so multi-day runs
    see run-up and crush. BMO events move the price at that session's open, AMC events at the
    next session's open.
    """
    dates = sessions.dates
    n_s = len(dates)
    start = dates[first]
    div_rows: list[tuple[int, date, date, float, int]] = []
    ev_rows: list[tuple[int, int, int, float]] = []
    date_index = {d: i for i, d in enumerate(dates)}
    for k in range(u.n):
        amount = float(u.p["dividend_amount"][k])
        if amount > 0:
            anchor = (
                start
                - timedelta(days=120)
                + timedelta(days=int(u.p["dividend_phase"][k] * DIVIDEND_SPACING_DAYS))
            )
            ex = anchor
            while ex <= dates[-1]:
                d = ex
                while d not in date_index and d <= dates[-1]:
                    d += timedelta(days=1)
                if d in date_index and d >= dates[0]:
                    div_rows.append((k, d, d + timedelta(days=21), amount, date_index[d]))
                ex += timedelta(days=DIVIDEND_SPACING_DAYS)
        e0 = first + n_days // 4 + int(u.p["earnings_phase"][k] * EARNINGS_SPACING)
        timing_amc = u.p["timing_draw"][k] >= 0.4
        for j in range(-1, N_EARNINGS_DRAWS - 1):
            s = e0 + j * EARNINGS_SPACING
            if s < 0:
                continue
            jump_s = s + 1 if timing_amc else s
            if jump_s >= n_s:
                break
            jump = float(u.earnings_jump_draws[k, j + 1] * u.p["earnings_std"][k])
            ev_rows.append((k, s, jump_s, jump))
    u.div_u = np.array([r[0] for r in div_rows], dtype=np.int64)
    u.div_ex = [r[1] for r in div_rows]
    u.div_pay = [r[2] for r in div_rows]
    u.div_amount = np.array([r[3] for r in div_rows], dtype=np.float64)
    u.div_session = np.array([r[4] for r in div_rows], dtype=np.int64)
    u.ev_u = np.array([r[0] for r in ev_rows], dtype=np.int64)
    u.ev_session = np.array([r[1] for r in ev_rows], dtype=np.int64)
    u.ev_date = [dates[r[1]] for r in ev_rows]
    u.ev_jump_session = np.array([r[2] for r in ev_rows], dtype=np.int64)
    u.ev_jump = np.array([r[3] for r in ev_rows], dtype=np.float64)
