"""Dealer positioning from open interest: dollar gamma/delta exposure, GEX profile, flip, max pain.

Pure numpy functions over one underlying's option chain at one as-of time (one element per
contract). Conventions:

- ``oi``: open interest in contracts; ``contract_size``: shares per contract (100 for US
  equity options);
- ``gamma``: per share per 1 unit of spot; ``delta``: per share (Black-Scholes-Merton, from
  ``python_udfs.black_scholes``);
- dollar gamma exposure (GEX) of a contract: gamma x OI x contract_size x S^2 x 0.01, i.e. the
  dollar change of the delta exposure for a 1 % move in spot, *puts negative* (the usual
  dealer convention: dealers long calls sold by customers and short puts bought by them);
- dollar delta exposure: delta x OI x contract_size x S (delta already negative for puts,
  so it is not sign-flipped again: the seed's "net delta adds put exposure with the wrong
  sign" defect is not reproduced);
- max pain: the settlement price, among the listed strikes, that minimises the total intrinsic
  value paid to option holders at expiry: sum over calls OI max(S - K, 0) + puts OI max(K - S, 0)
  (times contract size). This is its market meaning; the strike with the largest |GEX| is a
  different quantity, reported separately as ``largest_gex_strike``.
"""

from __future__ import annotations

import numpy as np

from python_udfs.black_scholes import bs_greeks

__all__ = [
    "dollar_delta_exposure",
    "dollar_gamma_exposure",
    "gamma_flip",
    "gex_profile",
    "max_pain",
]


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def dollar_gamma_exposure(gamma, oi, contract_size, spot, is_call) -> np.ndarray:
    """Dollar GEX per contract line: gamma * oi * contract_size * spot^2 * 0.01, puts negative.

    Units: currency per 1 % move of spot. ``is_call`` true for calls (positive sign).
    """
    sign = np.where(np.asarray(is_call, dtype=bool), 1.0, -1.0)
    s = _f64(spot)
    return sign * _f64(gamma) * _f64(oi) * _f64(contract_size) * s * s * 0.01


def dollar_delta_exposure(delta, oi, contract_size, spot) -> np.ndarray:
    """Dollar delta exposure per contract line: delta * oi * contract_size * spot (currency)."""
    return _f64(delta) * _f64(oi) * _f64(contract_size) * _f64(spot)


def gex_profile(spot_grid, strike, t, r, q, vol, is_call, oi, contract_size=100.0) -> np.ndarray:
    """Total dollar GEX of the chain if spot were at each value of ``spot_grid``.

    Each contract keeps its own implied vol ``vol`` (sticky strike), time ``t`` (years), rate
    ``r`` and yield ``q`` (continuous decimals); gamma is recomputed at each grid spot with
    ``python_udfs.black_scholes.bs_greeks``. Returns one total per grid point (currency per
    1 % move), puts negative.
    """
    grid = _f64(spot_grid).reshape(-1, 1)
    k, tt, rr, qq, vv = (
        np.broadcast_to(_f64(a), _f64(strike).shape) for a in (strike, t, r, q, vol)
    )
    calls = np.broadcast_to(np.asarray(is_call, dtype=bool), k.shape)
    gamma = bs_greeks(
        grid, k[None, :], tt[None, :], rr[None, :], qq[None, :], vv[None, :], calls[None, :]
    )["gamma"]
    gamma = np.where(np.isfinite(gamma), gamma, 0.0)
    per_line = dollar_gamma_exposure(gamma, _f64(oi)[None, :], contract_size, grid, calls[None, :])
    return per_line.sum(axis=1)


def gamma_flip(spot_grid, gex, spot: float) -> float:
    """The gamma flip level: the zero crossing of the GEX profile nearest to ``spot``.

    ``gex`` is the profile over the increasing ``spot_grid``; between two grid points where
    the profile changes sign, the crossing is interpolated linearly. NaN when the profile
    never changes sign over the grid (no flip within range).
    """
    x, y = _f64(spot_grid), _f64(gex)
    if x.size < 2:
        return float("nan")
    sign = np.sign(y)
    idx = np.nonzero(sign[:-1] * sign[1:] < 0)[0]
    exact = np.nonzero(y == 0.0)[0]
    crossings = [x[i] - y[i] * (x[i + 1] - x[i]) / (y[i + 1] - y[i]) for i in idx]
    crossings += [x[i] for i in exact]
    if not crossings:
        return float("nan")
    c = np.asarray(crossings)
    return float(c[np.argmin(np.abs(c - spot))])


def max_pain(strike, is_call, oi, contract_size=100.0) -> dict[str, float]:
    """Max pain of one expiry: the listed strike minimising the holders' total payout.

    Payout at settlement S: sum_calls oi * max(S - K, 0) + sum_puts oi * max(K - S, 0), times
    ``contract_size`` (currency). Candidates are the distinct listed strikes. Returns
    ``{"strike": ..., "payout": ...}`` (NaN when there is no open interest).
    """
    k, o = _f64(strike), _f64(oi)
    calls = np.broadcast_to(np.asarray(is_call, dtype=bool), k.shape)
    ok = np.isfinite(k) & np.isfinite(o) & (o > 0)
    if not ok.any():
        return {"strike": float("nan"), "payout": float("nan")}
    k, o, calls = k[ok], o[ok], calls[ok]
    candidates = np.unique(k).reshape(-1, 1)
    intrinsic = np.where(calls, np.maximum(candidates - k, 0.0), np.maximum(k - candidates, 0.0))
    payout = (intrinsic * o).sum(axis=1) * float(contract_size)
    best = int(np.argmin(payout))
    return {"strike": float(candidates[best, 0]), "payout": float(payout[best])}
