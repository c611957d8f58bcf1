"""The simulated zero curve: Nelson-Siegel level/slope/curvature drifting slowly.

Published per session at tenors ``TENORS`` (days) as continuously compounded ACT/365 zero
rates (decimal), rounded to 1e-6. Pricing interpolates the *published* curve linearly in
tenor days with flat extrapolation (``interpolate``), so the truth uses exactly the rates a
downstream model can read from ``ref.rates``.
"""

from __future__ import annotations

import numpy as np

from python_udfs.rates import zero_rate
from warehouse.sim import streams

TENORS = np.array([1, 7, 30, 91, 182, 365, 730], dtype=np.int64)
_BASE = np.array([0.040, 0.013, -0.006])  # level, slope, curvature (early-2024-like)
_DAILY_SD = np.array([0.00020, 0.00015, 0.00025])  # about 2.5 bp a day at the short end
_MEAN_REVERSION = 0.01  # per session, towards the base
_NS_LAMBDA_YEARS = 1.5


def _ns_loadings(tenor_days: np.ndarray) -> np.ndarray:
    x = tenor_days / 365.0 / _NS_LAMBDA_YEARS
    f1 = (1.0 - np.exp(-x)) / x
    return np.stack([np.ones_like(x), f1, f1 - np.exp(-x)], axis=-1)


def simulate_curves(seed: int, n_sessions: int) -> np.ndarray:
    """(n_sessions, len(TENORS)) zero rates, decimal, continuously compounded."""
    g = streams.rng(seed, streams.RATES)
    shocks = g.standard_normal((n_sessions, 3)) * _DAILY_SD
    state = np.empty((n_sessions, 3))
    x = _BASE + g.standard_normal(3) * _DAILY_SD * 5
    for i in range(n_sessions):
        x = x + _MEAN_REVERSION * (_BASE - x) + shocks[i]
        state[i] = x
    curves = state @ _ns_loadings(TENORS.astype(np.float64)).T
    return np.round(np.maximum(curves, 0.0001), 6)


def interpolate(curve: np.ndarray, t_years: np.ndarray) -> np.ndarray:
    """Zero rate at ``t_years`` from one published curve, by the warehouse's convention
    (``python_udfs.rates.zero_rate``: linear in tenor days, flat beyond the ends)."""
    return zero_rate(TENORS, curve, t_years)
