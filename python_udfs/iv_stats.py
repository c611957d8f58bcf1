"""Implied-volatility rank and percentile: rolling, point in time, NaN-safe.

Pure numpy. Input: one underlying's daily implied-volatility series (any consistent unit,
typically the 30-day ATM IV in decimal), in trading-day order; outputs are arrays aligned
with the input, as fractions in [0, 1] (multiply by 100 for the vendors' 0-100 scale).

Definitions (the vendors' usage; the vol-trading seed swaps the names, see
``../shared/reference/README.md``):

- ``iv_rank`` at day i = (IV_i - min) / (max - min), min and max over the trailing window of
  ``window`` trading days INCLUDING today, i.e. days i - window + 1 .. i. It is where today's IV
  sits in the window's range (1 at a new high, 0 at a new low). NaN when the window's range is
  zero (max == min).
- ``iv_percentile`` at day i = (number of days j in i - window .. i - 1 with IV_j < IV_i) /
  (number of days j in i - window .. i - 1 with a finite IV_j): the share of the PREVIOUS
  ``window`` trading days (today excluded, so the denominator never counts today) on which
  the IV was strictly below today's. Ties count as not below.

Point in time: element i uses IV values of days <= i only, so appending later days never
changes an earlier element. Missing values (NaN or +-inf) are skipped inside a window: the
statistics use the finite values present, and are NaN when today's IV is missing or when the
window holds fewer than ``min_periods`` finite values (default: ``window``, i.e. a full
window; today is counted for the rank, not for the percentile). Windows are counted in
trading days (rows), not calendar days: 21 ~ 1 month, 252 ~ 1 year (``WINDOWS``).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["WINDOWS", "iv_percentile", "iv_rank", "iv_rank_percentile"]

WINDOWS = (21, 252)  # 1 month, 1 year of trading days


def _trailing(x: np.ndarray, window: int) -> np.ndarray:
    """(n, window) view: row i holds days i - window + 1 .. i, NaN-padded before day 0."""
    padded = np.concatenate((np.full(window - 1, np.nan), x))
    return sliding_window_view(padded, window)


def _checked(iv, window: int, min_periods: int | None) -> tuple[np.ndarray, int, int]:
    x = np.asarray(iv, dtype=np.float64).ravel()
    window = int(window)
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    mp = window if min_periods is None else int(min_periods)
    if not 1 <= mp <= window:
        raise ValueError(f"min_periods must be in 1..{window}, got {mp}")
    return np.where(np.isfinite(x), x, np.nan), window, mp


def iv_rank(iv, window: int = 252, min_periods: int | None = None) -> np.ndarray:
    """IV rank (IV_i - min) / (max - min) over days i - window + 1 .. i (today included).

    Returns a float array aligned with ``iv``, in [0, 1]; NaN when IV_i is missing, when the
    window holds fewer than ``min_periods`` finite values (default ``window``) or when
    max == min.
    """
    x, window, mp = _checked(iv, window, min_periods)
    if x.size == 0:
        return x.copy()
    w = _trailing(x, window)
    ok = ~np.isnan(w)
    count = ok.sum(axis=1)
    lo = np.where(ok, w, np.inf).min(axis=1)
    hi = np.where(ok, w, -np.inf).max(axis=1)
    rng = hi - lo
    good = (count >= mp) & ~np.isnan(x) & (rng > 0.0)
    out = np.full(x.size, np.nan)
    out[good] = (x[good] - lo[good]) / rng[good]
    return out


def iv_percentile(iv, window: int = 252, min_periods: int | None = None) -> np.ndarray:
    """IV percentile: share of the previous ``window`` days (i - window .. i - 1, today
    excluded) whose IV is strictly below IV_i.

    Denominator: the number of finite IVs among those ``window`` previous days. Returns a
    float array aligned with ``iv``, in [0, 1]; NaN when IV_i is missing or fewer than
    ``min_periods`` (default ``window``) previous days have a finite IV, so the first value
    with the default is at index ``window``.
    """
    x, window, mp = _checked(iv, window, min_periods)
    if x.size == 0:
        return x.copy()
    prev = _trailing(x, window + 1)[:, :-1]  # days i - window .. i - 1
    count = (~np.isnan(prev)).sum(axis=1)
    below = (prev < x[:, None]).sum(axis=1)  # NaN compares False on both sides
    good = (count >= mp) & ~np.isnan(x)
    out = np.full(x.size, np.nan)
    out[good] = below[good] / count[good]
    return out


def iv_rank_percentile(
    iv, windows: tuple[int, ...] = WINDOWS, min_periods: int | None = None
) -> dict[str, np.ndarray]:
    """``iv_rank_<w>`` and ``iv_percentile_<w>`` for each window w (default 21 and 252).

    ``min_periods`` (default: each window's length) is capped at each window's length.
    """
    out: dict[str, np.ndarray] = {}
    for w in windows:
        mp = None if min_periods is None else min(int(min_periods), int(w))
        out[f"iv_rank_{w}"] = iv_rank(iv, w, mp)
        out[f"iv_percentile_{w}"] = iv_percentile(iv, w, mp)
    return out
