"""Daily option chains priced from the known surface (snapshot 15 minutes before the close).

Per underlying and expiry: forward F = S exp((r - q) T) where r is the published zero rate
interpolated at T and q is the continuous yield equivalent to the discrete dividends going ex
in (today, expiry]: q = -ln(1 - PV(dividends) / S) / T (escrowed-dividend forward, matching
the ex-date price drops of the simulated path). Options are European, priced with
Black-Scholes-Merton (``python_udfs.black_scholes``) at the SVI vol of k = ln(K / F).

Strikes: multiples of an increment from {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250} (at least 0.5
below $50, 1 below $100, 2.5 below $250, else 5) covering F exp(+-4 sqrt(theta)); the
smallest increment that lists at most ``max_strikes`` strikes.

Quotes: half-spread h = (base_i + 0.01 theo) (1 + 0.1 z^2), z = k / sqrt(theta); tick 0.01
below $3 and 0.05 from $3; bid = floor_tick(theo - h) >= 0, ask = ceil_tick(theo + h) >= one
tick, so bid <= theo < ask: never crossed, never negative, no zero ask. Vendor columns hold
the truth: vendor_iv = SVI vol (decimal; the quoted vol for mispriced quotes), vendor_delta/gamma
from BSM, vendor_vega per 1.00 of vol and vendor_theta per calendar day (``bs_greeks`` theta /
365), as iVolatility delivers.

Mispriced quotes (``mispriced`` = (generator, share); only when a preset sets a share): among
the out-of-the-money quotes with |z| <= 1, 14..120 days to expiry and a value of roughly 0.5
or more, a random subset (``share`` x all quotes of the day in expectation) is priced at the
surface vol x (1 +- U(MISPRICE_LO, MISPRICE_HI)), sign +- with equal odds: a Black-Scholes
price, so inside the no-arbitrage bounds, with the usual spread rule and sizes.
``DayChain.mispriced`` lists them (row, surface vol, quoted vol, relative shift).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from python_udfs.black_scholes import bs_greeks, bs_price
from python_udfs.svi import svi_total_variance
from warehouse.sim import rates as rates_mod
from warehouse.sim import surface
from warehouse.sim.calendar import US_PER_YEAR
from warehouse.sim.microstructure import quote_prices
from warehouse.sim.universe import Universe

MISPRICE_LO, MISPRICE_HI = 0.15, 0.25
LADDER = np.array([0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0])
N_SD = 4.0


@dataclass
class DayChain:
    quotes: dict[str, object]  # canonical raw.option_quotes columns (arrays)
    truth: dict[str, np.ndarray]  # one row per (underlying, expiry): sim.surface_params
    mispriced: dict[str, np.ndarray] | None = None  # row, surface_iv, quoted_iv, shift


def _min_increment(spot: np.ndarray) -> np.ndarray:
    return np.select([spot < 50, spot < 100, spot < 250], [0.5, 1.0, 2.5], 5.0)


def strike_grid(forward: np.ndarray, sd: np.ndarray, spot: np.ndarray, max_strikes: int):
    """(increment, first multiple, count) per slice."""
    lo_p = forward * np.exp(-N_SD * sd)
    hi_p = forward * np.exp(N_SD * sd)
    lo_n = np.maximum(np.ceil(lo_p[:, None] / LADDER - 1e-9), 1.0)
    hi_n = np.floor(hi_p[:, None] / LADDER + 1e-9)
    cnt = hi_n - lo_n + 1
    ok = (_min_increment(spot)[:, None] <= LADDER) & (cnt <= max_strikes) & (cnt >= 3)
    any_ok = ok.any(axis=1)
    j = np.argmax(ok, axis=1)
    rows = np.arange(len(forward))
    inc, lo, n = LADDER[j], lo_n[rows, j], cnt[rows, j]
    # fallback (range too narrow for 3 strikes): the minimum increment around the forward
    j0 = np.argmax(_min_increment(spot)[:, None] <= LADDER, axis=1)
    inc0 = LADDER[j0]
    lo0 = np.maximum(np.round(forward / inc0) - 1, 1.0)
    inc = np.where(any_ok, inc, inc0)
    lo = np.where(any_ok, lo, lo0)
    n = np.where(any_ok, n, 3)
    return inc, lo.astype(np.int64), n.astype(np.int64)


def _ticks(x: np.ndarray, tick: np.ndarray, up: bool) -> np.ndarray:
    f = np.ceil(x / tick - 1e-9) if up else np.floor(x / tick + 1e-9)
    return np.round(f * tick, 2)


def build_chain(
    u: Universe,
    g: np.random.Generator,
    *,
    today: date,
    ext_index: int,
    snap_us: int,
    spot: np.ndarray,
    v_snap: np.ndarray,
    expiry_dates: list[date],
    expiry_close_us: np.ndarray,
    session_open_us: np.ndarray,
    curve: np.ndarray,
    max_strikes: int,
    underlying_last: np.ndarray,
    mispriced: tuple[np.random.Generator, float] | None = None,
) -> DayChain:
    """Option quotes of every underlying at the snapshot ``snap_us`` of session ``today``."""
    p = u.p
    n_u, n_e = u.n, len(expiry_dates)
    t_e = (expiry_close_us - snap_us) / US_PER_YEAR
    r_e = rates_mod.interpolate(curve, t_e)
    su = np.repeat(np.arange(n_u), n_e)  # slice -> underlying
    se = np.tile(np.arange(n_e), n_u)  # slice -> expiry
    t, r = t_e[se], r_e[se]
    exp_ord = np.array([d.toordinal() for d in expiry_dates])

    # dividends going ex after today and on/before the expiry
    pv = np.zeros((n_u, n_e))
    fut = np.flatnonzero(u.div_session > ext_index)
    if len(fut):
        t_ex = (session_open_us[u.div_session[fut]] - snap_us) / US_PER_YEAR
        ex_ord = np.array([u.div_ex[i].toordinal() for i in fut])
        disc = u.div_amount[fut] * np.exp(-rates_mod.interpolate(curve, t_ex) * t_ex)
        inside = ex_ord[:, None] <= exp_ord[None, :]
        np.add.at(pv, u.div_u[fut], np.where(inside, disc[:, None], 0.0))
    pv_s = pv.ravel()
    s = spot[su]
    q = -np.log1p(-pv_s / s) / t + 0.0  # + 0.0: no negative zero
    fwd = s * np.exp((r - q) * t)

    # earnings moves still to come before each expiry
    ev_var = np.zeros((n_u, n_e))
    pend = np.flatnonzero(session_open_us[u.ev_jump_session] > snap_us)
    if len(pend):
        jump_us = session_open_us[u.ev_jump_session[pend]]
        spans = jump_us[:, None] <= expiry_close_us[None, :]
        var = p["earnings_std"][u.ev_u[pend]] ** 2
        np.add.at(ev_var, u.ev_u[pend], np.where(spans, var[:, None], 0.0))
    ev_s = ev_var.ravel()

    v_eff = np.maximum(v_snap, 0.05 * p["heston_theta"])[su]
    jump_rate = p["jump_intensity"] * (p["jump_mean"] ** 2 + p["jump_std"] ** 2)
    theta = surface.atm_total_variance(
        t,
        v_eff,
        p["heston_kappa"][su],
        p["heston_theta"][su],
        p["variance_risk_premium"][su],
        jump_rate[su],
        ev_s,
    )
    sv = surface.slices(theta, p["ssvi_eta"][su], p["ssvi_gamma"][su], p["ssvi_rho"][su])
    surface.check_no_arbitrage(sv, su, t)

    inc, lo, cnt = strike_grid(fwd, np.sqrt(theta), s, max_strikes)
    sl = np.repeat(np.arange(len(su)), cnt)  # strike row -> slice
    first = np.repeat(np.cumsum(cnt) - cnt, cnt)
    strike = np.round((lo[sl] + np.arange(len(sl)) - first) * inc[sl], 3)
    # two rights per strike, calls first
    row_sl = np.repeat(sl, 2)
    k_strike = np.repeat(strike, 2)
    is_call = np.tile(np.array([True, False]), len(sl))
    uu, ee = su[row_sl], se[row_sl]
    kk = np.log(k_strike / fwd[row_sl])
    w = svi_total_variance(
        kk,
        sv["a"][row_sl],
        sv["b"][row_sl],
        sv["rho"][row_sl],
        sv["m"][row_sl],
        sv["sigma"][row_sl],
    )
    tt = t[row_sl]
    vol = np.sqrt(w / tt)
    mis = None
    if mispriced is not None and mispriced[1] > 0:
        g_mis, share = mispriced
        mis = _mispricing(g_mis, share, vol, kk, theta[row_sl], tt, is_call, s[row_sl])
        vol = vol.copy()
        vol[mis["row"]] = mis["quoted_iv"]
    args = (s[row_sl], k_strike, tt, r[row_sl], q[row_sl], vol, is_call)
    theo = bs_price(*args)
    greeks = bs_greeks(*args)

    n = len(row_sl)
    z = kk / np.sqrt(theta[row_sl])
    half = (p["option_half_spread_base"][uu] + 0.01 * theo) * (1.0 + 0.1 * z * z)
    tick = np.where(theo < 3.0, 0.01, 0.05)
    bid = np.maximum(_ticks(theo - half, tick, up=False), 0.0)
    ask = np.maximum(_ticks(theo + half, tick, up=True), tick)
    pop = p["option_popularity"][uu]
    volume = g.poisson(400.0 * pop * np.exp(-0.5 * z * z) / (1.0 + 10.0 * tt))
    oi = g.poisson(
        3000.0 * pop * np.exp(-z * z / 4.5) / (1.0 + 3.0 * tt) * np.exp(g.normal(-0.045, 0.3, n))
    )
    bid_size = 1.0 + g.poisson(30.0 * np.exp(-z * z / 8.0))
    ask_size = 1.0 + g.poisson(30.0 * np.exp(-z * z / 8.0))
    last_raw = _ticks(theo * np.exp(g.normal(0.0, 0.02, n)), tick, up=False)
    last = np.where(volume > 0, np.clip(last_raw, np.maximum(bid, tick), ask), np.nan)

    und_bid, und_ask = quote_prices(np.log(spot), p["quote_half_spread"])
    und_last = np.where(np.isnan(underlying_last), np.round(spot, 2), underlying_last)

    roots = np.array([sym.ljust(6) for sym in u.symbols])
    ymd = np.array([d.strftime("%y%m%d") for d in expiry_dates])
    strike_txt = pc.utf8_lpad(
        pc.cast(pa.array(np.round(k_strike * 1000).astype(np.int64)), pa.string()), 8, "0"
    )
    right = np.where(is_call, "C", "P")
    occ = pc.binary_join_element_wise(
        pa.array(roots[uu]), pa.array(ymd[ee]), pa.array(right), strike_txt, ""
    )
    sym_arr = np.array(u.symbols)
    quotes = {
        "quote_ts_us": np.full(n, snap_us, dtype=np.int64),
        "underlying": sym_arr[uu],
        "contract_symbol": occ,
        "expiration": np.array(expiry_dates, dtype="datetime64[D]")[ee],
        "strike": k_strike,
        "option_right": right,
        "bid": bid,
        "ask": ask,
        "bid_size": bid_size,
        "ask_size": ask_size,
        "last": last,
        "volume": volume.astype(np.int64),
        "open_interest": oi.astype(np.int64),
        "underlying_bid": und_bid[uu],
        "underlying_ask": und_ask[uu],
        "underlying_last": und_last[uu],
        "vendor_iv": vol,
        "vendor_delta": greeks["delta"],
        "vendor_gamma": greeks["gamma"],
        "vendor_vega": greeks["vega"],
        "vendor_theta": greeks["theta"] / 365.0,
    }
    truth = {
        "u": su,
        "expiration": np.array(expiry_dates, dtype="datetime64[D]")[se],
        "t_years": t,
        "spot": s,
        "forward": fwd,
        "rate": r,
        "div_yield": q,
        "pv_dividends": pv_s,
        "atm_total_variance": theta,
        "atm_vol": np.sqrt(theta / t),
        "event_variance": ev_s,
        "ssvi_phi": sv["phi"],
        "ssvi_rho": sv["rho"],
        "svi_a": sv["a"],
        "svi_b": sv["b"],
        "svi_rho": sv["rho"],
        "svi_m": sv["m"],
        "svi_sigma": sv["sigma"],
        "strike_increment": inc,
        "n_strikes": cnt,
    }
    return DayChain(quotes=quotes, truth=truth, mispriced=mis)


def _mispricing(g, share, vol, kk, theta, tt, is_call, spot) -> dict[str, np.ndarray]:
    """Rows of the quotes to misprice (see the module docstring) and their vols."""
    n = len(vol)
    z = kk / np.sqrt(theta)
    otm = np.where(is_call, kk >= 0.0, kk < 0.0)
    days = tt * 365.0
    # theo >= 0.5 approximated by the ATM value 0.4 S vol sqrt(T) e^{-z^2/2} (cheap filter)
    big = 0.4 * spot * vol * np.sqrt(tt) * np.exp(-0.5 * z * z) >= 0.5
    ok = otm & (np.abs(z) <= 1.0) & (days >= 14.0) & (days <= 120.0) & big
    u = g.random(n)
    sign = np.where(g.random(n) < 0.5, -1.0, 1.0)
    size = g.uniform(MISPRICE_LO, MISPRICE_HI, n)
    prob = min(1.0, share * n / max(int(ok.sum()), 1))
    row = np.flatnonzero(ok & (u < prob))
    shift = sign[row] * size[row]
    return {
        "row": row,
        "surface_iv": vol[row],
        "quoted_iv": vol[row] * (1.0 + shift),
        "shift": shift,
    }
