"""Zero-curve interpolation: the warehouse's one convention for reading ``ref.rates``.

Rates are continuously compounded zero rates (decimal), tenors in calendar days (ACT/365).
The rate at a maturity is linear in tenor days between published tenors and flat beyond
the first and the last one. The simulator prices with exactly this rule, so the rate a
downstream model reads back from ``ref.rates`` is the rate the truth used.
"""

from __future__ import annotations

import numpy as np

__all__ = ["discount_factor", "zero_rate"]


def zero_rate(tenor_days, rates, t_years) -> np.ndarray:
    """Zero rate (decimal, continuous) at ``t_years`` from one curve.

    ``tenor_days``: increasing tenors of the published curve, days; ``rates``: the zero rate
    at each tenor; ``t_years``: maturities in years (ACT/365), any shape.
    """
    tenors = np.asarray(tenor_days, dtype=np.float64)
    values = np.asarray(rates, dtype=np.float64)
    if tenors.ndim != 1 or tenors.shape != values.shape or tenors.size == 0:
        raise ValueError("tenor_days and rates must be equal-length, non-empty 1-D arrays")
    order = np.argsort(tenors, kind="stable")
    return np.interp(np.asarray(t_years, dtype=np.float64) * 365.0, tenors[order], values[order])


def discount_factor(tenor_days, rates, t_years) -> np.ndarray:
    """exp(-r(t) t) with r from ``zero_rate`` (t in years)."""
    t = np.asarray(t_years, dtype=np.float64)
    return np.exp(-zero_rate(tenor_days, rates, t) * t)
