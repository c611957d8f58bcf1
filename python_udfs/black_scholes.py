"""Black-Scholes-Merton and Black-76 prices and greeks, vectorised over numpy arrays.

The one copy of the option-pricing math in the project: the simulator, the loaders' checks and
the PL/Python functions in the database all call these. Pure functions, no I/O.

Units (all inputs broadcast against each other):

- ``spot``, ``forward``, ``strike``: price per share (same currency unit).
- ``t``: time to expiry in years (ACT/365 in this project). ``t <= 0`` gives intrinsic value.
- ``r``: continuously compounded risk-free rate, decimal per year (0.05 = 5 %).
- ``q``: continuous dividend yield, decimal per year.
- ``vol``: Black volatility, decimal per sqrt(year) (0.20 = 20 %). ``vol <= 0`` gives the
  discounted intrinsic value of the forward.
- ``is_call``: boolean (array); False means put.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

__all__ = ["black76_price", "bs_greeks", "bs_price", "norm_pdf"]

_INV_SQRT_2PI = 0.3989422804014327


def norm_pdf(x: np.ndarray) -> np.ndarray:
    """Standard normal density."""
    x = np.asarray(x, dtype=np.float64)
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _d1_d2(forward, strike, t, vol):
    """d1, d2 of Black-76 and a mask of the well-defined entries (t > 0, vol > 0)."""
    total_sd = vol * np.sqrt(np.maximum(t, 0.0))
    ok = total_sd > 0.0
    safe_sd = np.where(ok, total_sd, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (np.log(forward / strike) + 0.5 * safe_sd * safe_sd) / safe_sd
    d2 = d1 - safe_sd
    return d1, d2, ok, total_sd


def black76_price(forward, strike, t, r, vol, is_call) -> np.ndarray:
    """Black-76 price of a European option on a forward, discounted at ``r``.

    price = exp(-r t) * (F N(d1) - K N(d2)) for a call, exp(-r t) * (K N(-d2) - F N(-d1))
    for a put, with d1 = (ln(F/K) + vol^2 t / 2) / (vol sqrt(t)). Returns price per share.
    """
    forward, strike, t, r, vol, is_call = np.broadcast_arrays(
        np.asarray(forward, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t, dtype=np.float64),
        np.asarray(r, dtype=np.float64),
        np.asarray(vol, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
    )
    df = np.exp(-r * np.maximum(t, 0.0))
    d1, d2, ok, _ = _d1_d2(forward, strike, t, vol)
    sign = np.where(is_call, 1.0, -1.0)
    price = df * sign * (forward * ndtr(sign * d1) - strike * ndtr(sign * d2))
    intrinsic = df * np.maximum(sign * (forward - strike), 0.0)
    return np.where(ok, np.maximum(price, 0.0), intrinsic)


def bs_price(spot, strike, t, r, q, vol, is_call) -> np.ndarray:
    """Black-Scholes-Merton price of a European option with continuous dividend yield ``q``.

    Equivalent to Black-76 on the forward F = spot * exp((r - q) t). Returns price per share.
    """
    spot = np.asarray(spot, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    forward = spot * np.exp(
        (np.asarray(r, dtype=np.float64) - np.asarray(q, dtype=np.float64)) * np.maximum(t, 0.0)
    )
    return black76_price(forward, strike, t, r, vol, is_call)


def bs_greeks(spot, strike, t, r, q, vol, is_call) -> dict[str, np.ndarray]:
    """Black-Scholes-Merton greeks with continuous dividend yield ``q``.

    Returns a dict of arrays (per share, per unit of the variable, not per percent):

    - ``delta``: dV/dS (call in [0, 1], put in [-1, 0]).
    - ``gamma``: d2V/dS2, per (price unit)^-1.
    - ``vega``: dV/dvol per 1.00 of vol (divide by 100 for "per vol point").
    - ``theta``: dV/dt as calendar time passes, per year (negative for a long option in
      most cases; divide by 365 for per day).
    - ``rho``: dV/dr per 1.00 of rate (divide by 100 for per percentage point).

    Where t <= 0 or vol <= 0 the greeks are those of the intrinsic payoff: delta is the
    discounted exercise indicator, the others are 0.
    """
    spot, strike, t, r, q, vol, is_call = np.broadcast_arrays(
        np.asarray(spot, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t, dtype=np.float64),
        np.asarray(r, dtype=np.float64),
        np.asarray(q, dtype=np.float64),
        np.asarray(vol, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
    )
    tt = np.maximum(t, 0.0)
    forward = spot * np.exp((r - q) * tt)
    d1, d2, ok, total_sd = _d1_d2(forward, strike, tt, vol)
    sqrt_t = np.sqrt(tt)
    dq = np.exp(-q * tt)
    dr = np.exp(-r * tt)
    sign = np.where(is_call, 1.0, -1.0)
    pdf1 = norm_pdf(d1)
    nd1 = ndtr(sign * d1)
    nd2 = ndtr(sign * d2)
    safe_sd = np.where(ok, total_sd, 1.0)
    safe_sqrt_t = np.where(ok, sqrt_t, 1.0)

    delta = sign * dq * nd1
    gamma = dq * pdf1 / (spot * safe_sd)
    vega = spot * dq * pdf1 * sqrt_t
    theta = (
        -spot * dq * pdf1 * vol / (2.0 * safe_sqrt_t)
        - sign * r * strike * dr * nd2
        + sign * q * spot * dq * nd1
    )
    rho = sign * strike * tt * dr * nd2

    itm = sign * (forward - strike) > 0.0
    zero = np.zeros_like(delta)
    return {
        "delta": np.where(ok, delta, np.where(itm, sign * dq, 0.0)),
        "gamma": np.where(ok, gamma, zero),
        "vega": np.where(ok, vega, zero),
        "theta": np.where(ok, theta, zero),
        "rho": np.where(ok, rho, zero),
    }
