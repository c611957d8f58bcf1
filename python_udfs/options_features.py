"""Per-day options features of one underlying: dealer positioning and the earnings event.

Pure numpy; every formula of the options-features dbt models (``int_options_chain_daily``,
``fct_options_features``) that is more than a ratio or a rolling window lives here (or in the
modules it calls), and the models call these functions once per (underlying, trade date).

``chain_positioning(...)``: one underlying's closing snapshot (one element per contract line)
-> total dollar gamma and delta exposure, the gamma flip, the concentration of GEX across
strikes, the strike with the largest |GEX| and max pain, all through
``python_udfs.positioning`` (dealer convention: puts negative; see there). Definitions:

- ``gex_total``: sum over lines of gamma x OI x contract size x S^2 x 0.01 (calls +, puts -),
  currency per 1 % move of spot; lines without a gamma (no implied vol) count 0;
- ``dex_total``: sum of delta x OI x contract size x S (delta negative for puts), currency;
- ``gamma_flip``: the zero crossing nearest to spot of the GEX profile recomputed (each line at
  its own implied vol, time, rate and yield: sticky strike) on ``GEX_GRID_POINTS`` spots from
  ``GEX_GRID_LOW`` S to ``GEX_GRID_HIGH`` S (0.25 % steps); NaN when the profile keeps one sign
  over the grid (no flip within +-20 %);
- per-strike net GEX g_K = sum of the GEX of every line (calls and puts, all expiries) at
  strike K. ``gex_top3_share`` = (sum of the 3 largest |g_K|) / sum |g_K| (1 = all in three
  strikes); ``gex_herfindahl`` = sum (|g_K| / sum |g_K|)^2 (1 / number of strikes for an even
  spread, 1 for one strike); ``largest_gex_strike`` = argmax |g_K| and ``largest_gex`` its
  signed g_K (what the swing-trading seed wrongly calls max pain);
- ``max_pain_strike`` / ``max_pain_payout``: ``positioning.max_pain`` of the lines flagged
  ``in_max_pain_expiry`` (one expiry: the models pass the nearest monthly), OI weighted by each
  line's contract size, payout in currency;
- ``n_gex_lines``: lines with a finite gamma and positive OI.

``earnings_move(t, log_moneyness, iv, after_event)``: the implied earnings move from the ATM
term structure around the event, with the actual times to the expiries:

- per expiry (quotes grouped by ``t``), the ATM total variance w(T) = iv(k=0)^2 T, with iv(k=0)
  linear interpolation in k = ln(K/F) between the quotes bracketing k = 0 (no extrapolation;
  quotes at one k are averaged);
- ``bracket`` method (an expiry T_b before the event exists): the diffusive variance rate is
  that of the last expiry before the event, s^2 = w(T_b) / T_b, and the event variance is what
  the first expiry after it holds beyond diffusion: E = w(T_a) - s^2 T_a;
- ``two_after`` method (the event falls before the first expiry): a flat diffusive vol between
  the first two expiries after the event, s^2 = (w(T_2) - w(T_1)) / (T_2 - T_1),
  E = w(T_1) - s^2 T_1 = (w(T_1) T_2 - w(T_2) T_1) / (T_2 - T_1);
- ``implied_move`` = sqrt(max(E, 0)): the standard deviation of the event's log return
  (decimal, not annualised); ``implied_move_abs`` = sqrt(2 / pi) x implied_move, the expected
  absolute log move for a normal jump; ``diffusive_vol`` = s (annualised decimal); ``method`` 1
  (bracket) or 2 (two_after); E is reported as estimated (it can be slightly negative when the
  market prices no event premium).

``ex_event_vol(iv, t, event_variance)``: the implied vol of maturity t (years) with the event
variance removed: sqrt(max(iv^2 t - E, 0) / t).

``close_to_close_vol_window(close, window_days)``: ``python_udfs.realized.close_to_close_vol``
with an integer window, for windows the daily-features model does not carry (20 days).
"""

from __future__ import annotations

import math

import numpy as np

from python_udfs import positioning, realized

__all__ = [
    "EARNINGS_FIELDS",
    "GEX_GRID_HIGH",
    "GEX_GRID_LOW",
    "GEX_GRID_POINTS",
    "POSITIONING_FIELDS",
    "atm_total_variance_by_expiry",
    "chain_positioning",
    "close_to_close_vol_window",
    "earnings_event_variance",
    "earnings_move",
    "ex_event_vol",
]

GEX_GRID_LOW, GEX_GRID_HIGH, GEX_GRID_POINTS = 0.8, 1.2, 161
TOP_STRIKES = 3

POSITIONING_FIELDS: tuple[str, ...] = (
    "gex_total",
    "dex_total",
    "gamma_flip",
    "gex_top3_share",
    "gex_herfindahl",
    "largest_gex_strike",
    "largest_gex",
    "max_pain_strike",
    "max_pain_payout",
    "n_gex_lines",
)

EARNINGS_FIELDS: tuple[str, ...] = (
    "event_variance",
    "implied_move",
    "implied_move_abs",
    "diffusive_vol",
    "t_before",
    "t_after",
    "method",
)


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1)


def _scalar(x) -> float:
    return float(np.asarray(x, dtype=np.float64).reshape(-1)[0])


def chain_positioning(
    spot, strike, t, r, q, vol, is_call, oi, gamma, delta, contract_size, in_max_pain_expiry
) -> dict[str, float]:
    """Dealer-positioning summary of one chain snapshot (see the module docstring).

    ``spot`` one value; the others one element per contract line: ``strike``, ``t`` (years),
    ``r``/``q`` (continuous decimals), ``vol`` (implied, decimal; NaN where unknown),
    ``is_call``, ``oi`` (contracts), ``gamma``/``delta`` (per share; NaN where unknown),
    ``contract_size`` (shares per contract), ``in_max_pain_expiry`` (lines of the max-pain
    expiry). Returns a dict of floats (NaN where undefined).
    """
    s = _scalar(spot)
    k = _f64(strike)
    n = k.size
    calls = np.broadcast_to(np.asarray(is_call, dtype=bool).reshape(-1), (n,))
    size = np.broadcast_to(_f64(contract_size), (n,))
    o = _f64(oi)
    o = np.where(np.isfinite(o) & (o > 0), o, 0.0)
    g = _f64(gamma)
    d = _f64(delta)
    has_g = np.isfinite(g) & (o > 0)
    out = dict.fromkeys(POSITIONING_FIELDS, math.nan)
    out["n_gex_lines"] = float(np.count_nonzero(has_g))
    if n == 0 or not np.isfinite(s) or s <= 0:
        return out

    line_gex = positioning.dollar_gamma_exposure(np.where(has_g, g, 0.0), o, size, s, calls)
    line_dex = positioning.dollar_delta_exposure(np.where(np.isfinite(d), d, 0.0), o, size, s)
    out["gex_total"] = float(line_gex.sum())
    out["dex_total"] = float(line_dex.sum())

    strikes, idx = np.unique(k, return_inverse=True)
    by_strike = np.bincount(idx, weights=line_gex, minlength=strikes.size)
    mag = np.abs(by_strike)
    total = mag.sum()
    if total > 0:
        share = mag / total
        out["gex_top3_share"] = float(np.sort(share)[::-1][:TOP_STRIKES].sum())
        out["gex_herfindahl"] = float((share * share).sum())
        top = int(np.argmax(mag))
        out["largest_gex_strike"] = float(strikes[top])
        out["largest_gex"] = float(by_strike[top])

    vv = _f64(vol)
    tt = np.broadcast_to(_f64(t), (n,))
    ok = np.isfinite(vv) & (vv > 0) & np.isfinite(tt) & (tt > 0) & (o > 0)
    if ok.any():
        grid = s * np.linspace(GEX_GRID_LOW, GEX_GRID_HIGH, GEX_GRID_POINTS)
        rr = np.broadcast_to(_f64(r), (n,))
        qq = np.broadcast_to(_f64(q), (n,))
        profile = positioning.gex_profile(
            grid,
            k[ok],
            tt[ok],
            np.where(np.isfinite(rr[ok]), rr[ok], 0.0),
            np.where(np.isfinite(qq[ok]), qq[ok], 0.0),
            vv[ok],
            calls[ok],
            o[ok],
            size[ok],
        )
        out["gamma_flip"] = positioning.gamma_flip(grid, profile, s)

    mp = np.broadcast_to(np.asarray(in_max_pain_expiry, dtype=bool).reshape(-1), (n,))
    if mp.any():
        pain = positioning.max_pain(k[mp], calls[mp], o[mp] * size[mp], contract_size=1.0)
        out["max_pain_strike"] = pain["strike"]
        out["max_pain_payout"] = pain["payout"]
    return out


def atm_total_variance_by_expiry(t, log_moneyness, iv) -> tuple[np.ndarray, np.ndarray]:
    """(expiry times ascending, ATM total variance of each): iv at k = 0 by linear
    interpolation in k between the quotes bracketing it (quotes at the same k averaged),
    w = iv^2 t; NaN where the quotes do not bracket k = 0."""
    tt, kk, vv = _f64(t), _f64(log_moneyness), _f64(iv)
    good = np.isfinite(tt) & (tt > 0) & np.isfinite(kk) & np.isfinite(vv) & (vv > 0)
    tt, kk, vv = tt[good], kk[good], vv[good]
    times = np.unique(tt)
    w = np.full(times.size, np.nan)
    for j, tj in enumerate(times):
        sel = tt == tj
        ks, inv = np.unique(kk[sel], return_inverse=True)
        ivs = np.bincount(inv, weights=vv[sel]) / np.bincount(inv)
        if ks[0] <= 0.0 <= ks[-1]:
            atm = float(np.interp(0.0, ks, ivs))
            w[j] = atm * atm * tj
    return times, w


def earnings_event_variance(t, w, after_event) -> dict[str, float]:
    """Event variance from per-expiry ATM total variances (``t`` years, ``w`` decimal^2 years,
    ``after_event`` true for the expiries settling after the event); see the module
    docstring for the bracket / two_after methods. Returns a dict of floats."""
    tt, ww = _f64(t), _f64(w)
    after = np.broadcast_to(np.asarray(after_event, dtype=bool).reshape(-1), tt.shape)
    out = dict.fromkeys(EARNINGS_FIELDS, math.nan)
    ok = np.isfinite(tt) & np.isfinite(ww) & (tt > 0)
    order = np.argsort(tt, kind="stable")
    tt, ww, after, ok = tt[order], ww[order], after[order], ok[order]
    pre = np.flatnonzero(ok & ~after)
    post = np.flatnonzero(ok & after)
    if pre.size and post.size:
        b, a = pre[-1], post[0]
        s2 = ww[b] / tt[b]
        event = ww[a] - s2 * tt[a]
        out.update(t_before=float(tt[b]), t_after=float(tt[a]), method=1.0)
    elif post.size >= 2:
        a1, a2 = post[0], post[1]
        s2 = (ww[a2] - ww[a1]) / (tt[a2] - tt[a1])
        if s2 < 0:  # calendar arbitrage between the two expiries: no diffusive rate
            return out
        event = ww[a1] - s2 * tt[a1]
        out.update(t_before=math.nan, t_after=float(tt[a1]), method=2.0)
    else:
        return out
    move = math.sqrt(max(event, 0.0))
    out.update(
        event_variance=float(event),
        implied_move=move,
        implied_move_abs=math.sqrt(2.0 / math.pi) * move,
        diffusive_vol=math.sqrt(s2),
    )
    return out


def earnings_move(t, log_moneyness, iv, after_event) -> dict[str, float]:
    """``earnings_event_variance`` of the ATM term structure of one snapshot's quotes (one
    element per quote: ``t`` years to its expiry, ``log_moneyness`` ln(K/F), ``iv`` decimal,
    ``after_event`` true when its expiry settles after the event)."""
    tt = _f64(t)
    after = np.broadcast_to(np.asarray(after_event, dtype=bool).reshape(-1), tt.shape)
    times, w = atm_total_variance_by_expiry(tt, log_moneyness, iv)
    after_by_expiry = np.array([bool(after[tt == tj].any()) for tj in times], dtype=bool)
    return earnings_event_variance(times, w, after_by_expiry)


def ex_event_vol(iv, t, event_variance) -> np.ndarray:
    """Implied vol of maturity ``t`` (years) without the event: sqrt(max(iv^2 t - E, 0) / t)."""
    v, tt, e = _f64(iv), _f64(t), _f64(event_variance)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.maximum(v * v * tt - e, 0.0) / tt)


def close_to_close_vol_window(close, window_days) -> np.ndarray:
    """``realized.close_to_close_vol(close, window)``: annualised (252 days) close-to-close vol
    of the trailing ``window_days`` log returns, aligned with ``close`` (NaN during warm-up)."""
    return realized.close_to_close_vol(_f64(close), int(window_days))
