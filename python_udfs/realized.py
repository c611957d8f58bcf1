"""Realized-volatility estimators, intraday realized variance / noise, rolling moments.

Pure numpy, vectorised. Daily estimators are rolling-window functions over one underlying's
daily arrays, in trading-day order, returning an array aligned with the input: element i uses
days i - window + 1 .. i and is NaN until the window is full or when any input in the window
is NaN / non-positive. Prices are per share (any currency unit, > 0); returns are log returns.

Annualisation: every daily volatility estimator returns an annualised volatility (decimal,
0.20 = 20 %) = sqrt(252 * daily variance), i.e. 252 trading days per year
(``TRADING_DAYS``; pass ``periods_per_year`` to change it). Windows are counted in trading
days (``DEFAULT_WINDOWS`` = 10, 14, 30, 60, 91, 122, 152, 182, 273, 365).

Daily estimators (o, h, l, c = ln of open, high, low, close; c_prev = ln of the previous close):

- close-to-close: sample standard deviation (ddof 1) of r = c - c_prev (mean removed);
- Parkinson (1980): var = mean((h - l)^2) / (4 ln 2);
- Garman-Klass (1980): var = mean(0.5 (h - l)^2 - (2 ln 2 - 1) (c - o)^2) (open-to-close; with
  ``prev_close`` the overnight term (o - c_prev)^2 is added: Yang-Zhang's extension);
- Rogers-Satchell (1991): var = mean((h - c)(h - o) + (l - c)(l - o)) (drift-independent);
- Yang-Zhang (2000): var = var_overnight + k var_open_to_close + (1 - k) var_RS with the
  overnight and open-to-close sample variances (ddof 1) and k = 0.34 / (1.34 + (n + 1)/(n - 1)),
  n = window (the value minimising the estimator's variance, Yang & Zhang 2000, eq. (10)).

Intraday (one day's log prices at successive times, or a 2-d array of days x times with
``axis=-1``; results are NOT annualised, they are the day's integrated variance, in decimal^2):

- ``realized_variance``: RV = sum of squared log returns;
- ``noise_variance``: microstructure-noise variance estimate RV / (2 n), n returns (Bandi &
  Russell 2008; Zhang, Mykland & Ait-Sahalia 2005, eq. (7));
- ``tsrv``: two-scales realized variance (Zhang, Mykland & Ait-Sahalia 2005): with K
  sub-grids, RV_avg = mean of the K sparse RVs, n_bar = (n - K + 1) / K,
  TSRV = (RV_avg - (n_bar / n) RV) / (1 - n_bar / n) (their small-sample adjustment).

Rolling moments of returns: ``rolling_skewness`` and ``rolling_kurtosis`` (bias-corrected
sample skewness G1 and excess kurtosis G2, the definitions used by pandas' rolling skew/kurt
and Excel's SKEW/KURT).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "DEFAULT_WINDOWS",
    "TRADING_DAYS",
    "close_to_close_vol",
    "garman_klass_vol",
    "log_returns",
    "noise_variance",
    "parkinson_vol",
    "realized_variance",
    "rogers_satchell_vol",
    "rolling_kurtosis",
    "rolling_mean",
    "rolling_skewness",
    "tsrv",
    "yang_zhang_k",
    "yang_zhang_vol",
]

TRADING_DAYS = 252.0
DEFAULT_WINDOWS = (10, 14, 30, 60, 91, 122, 152, 182, 273, 365)
_LN2 = math.log(2.0)


def _as_float(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _log_price(x) -> np.ndarray:
    """ln of a price array, NaN where the price is not positive."""
    x = _as_float(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0.0, np.log(np.where(x > 0.0, x, 1.0)), np.nan)


def _windows(x: np.ndarray, window: int) -> np.ndarray:
    """(n - window + 1, window) read-only view of the trailing windows of a 1-d array."""
    return sliding_window_view(x, int(window))


def _aligned(values: np.ndarray, n: int, window: int) -> np.ndarray:
    """Place per-window results (n - window + 1) at the windows' last index; NaN before."""
    out = np.full(n, np.nan)
    if values.size:
        out[window - 1 :] = values
    return out


def _check_window(window: int, minimum: int = 1) -> int:
    window = int(window)
    if window < minimum:
        raise ValueError(f"window must be >= {minimum}, got {window}")
    return window


def rolling_mean(x, window: int) -> np.ndarray:
    """Trailing mean over ``window`` observations, aligned with ``x`` (NaN if any NaN inside)."""
    x = _as_float(x).ravel()
    window = _check_window(window)
    if x.size < window:
        return np.full(x.size, np.nan)
    return _aligned(_windows(x, window).mean(axis=1), x.size, window)


def _rolling_var(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing sample variance (ddof 1), aligned."""
    if x.size < window:
        return np.full(x.size, np.nan)
    return _aligned(_windows(x, window).var(axis=1, ddof=1), x.size, window)


def _annualised(var: np.ndarray, periods_per_year: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.maximum(var, 0.0) * periods_per_year)


def log_returns(close, prev_close=None) -> np.ndarray:
    """Daily log returns ln(close / prev_close); without ``prev_close``, ln(c_t / c_{t-1}) with
    NaN at index 0. Aligned with ``close``."""
    c = _log_price(close).ravel()
    if prev_close is None:
        out = np.full(c.size, np.nan)
        out[1:] = np.diff(c)
        return out
    return c - _log_price(prev_close).ravel()


def close_to_close_vol(
    close, window: int, prev_close=None, periods_per_year: float = TRADING_DAYS
) -> np.ndarray:
    """Annualised close-to-close volatility: sqrt(252 * sample variance of log returns).

    The sample variance (ddof 1, mean removed) of the ``window`` log returns ending at each
    day. Without ``prev_close`` the first return is at index 1, so the first value is at
    index ``window``.
    """
    window = _check_window(window, 2)
    r = log_returns(close, prev_close)
    return _annualised(_rolling_var(r, window), periods_per_year)


def parkinson_vol(high, low, window: int, periods_per_year: float = TRADING_DAYS) -> np.ndarray:
    """Annualised Parkinson (1980) high-low volatility: var = mean(ln(H/L)^2) / (4 ln 2)."""
    window = _check_window(window)
    hl = _log_price(high).ravel() - _log_price(low).ravel()
    return _annualised(rolling_mean(hl * hl / (4.0 * _LN2), window), periods_per_year)


def garman_klass_vol(
    open_,
    high,
    low,
    close,
    window: int,
    prev_close=None,
    periods_per_year: float = TRADING_DAYS,
) -> np.ndarray:
    """Annualised Garman-Klass (1980) volatility.

    Daily variance 0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2, averaged over the window; with
    ``prev_close`` the overnight jump ln(O / C_prev)^2 is added (Yang-Zhang's extension, for
    markets that do not trade overnight).
    """
    window = _check_window(window)
    o, h, lo, c = (_log_price(a).ravel() for a in (open_, high, low, close))
    daily = 0.5 * (h - lo) ** 2 - (2.0 * _LN2 - 1.0) * (c - o) ** 2
    if prev_close is not None:
        daily = daily + (o - _log_price(prev_close).ravel()) ** 2
    return _annualised(rolling_mean(daily, window), periods_per_year)


def _rs_daily(o, h, lo, c) -> np.ndarray:
    return (h - c) * (h - o) + (lo - c) * (lo - o)


def rogers_satchell_vol(
    open_, high, low, close, window: int, periods_per_year: float = TRADING_DAYS
) -> np.ndarray:
    """Annualised Rogers-Satchell (1991) volatility (unbiased under any drift):
    var = mean(ln(H/C) ln(H/O) + ln(L/C) ln(L/O))."""
    window = _check_window(window)
    o, h, lo, c = (_log_price(a).ravel() for a in (open_, high, low, close))
    return _annualised(rolling_mean(_rs_daily(o, h, lo, c), window), periods_per_year)


def yang_zhang_k(window: int) -> np.float64:
    """Yang & Zhang (2000) weight k = 0.34 / (1.34 + (n + 1) / (n - 1)) for n = window."""
    n = _check_window(window, 2)
    return np.float64(0.34 / (1.34 + (n + 1.0) / (n - 1.0)))


def yang_zhang_vol(
    open_,
    high,
    low,
    close,
    prev_close,
    window: int,
    periods_per_year: float = TRADING_DAYS,
) -> np.ndarray:
    """Annualised Yang-Zhang (2000) volatility (drift-independent, handles opening jumps).

    var = var_overnight + k var_open_to_close + (1 - k) var_RS with var_overnight and
    var_open_to_close the sample variances (ddof 1) of ln(O / C_prev) and ln(C / O) over the
    window, var_RS the Rogers-Satchell mean and k = ``yang_zhang_k(window)``.
    """
    window = _check_window(window, 2)
    o, h, lo, c = (_log_price(a).ravel() for a in (open_, high, low, close))
    overnight = o - _log_price(prev_close).ravel()
    open_close = c - o
    k = yang_zhang_k(window)
    var = (
        _rolling_var(overnight, window)
        + k * _rolling_var(open_close, window)
        + (1.0 - k) * rolling_mean(_rs_daily(o, h, lo, c), window)
    )
    return _annualised(var, periods_per_year)


def rolling_skewness(returns, window: int) -> np.ndarray:
    """Trailing bias-corrected sample skewness G1 = sqrt(n(n-1))/(n-2) * m3 / m2^1.5.

    m2, m3 are the central moments (divisor n) of the ``window`` returns ending at each index;
    NaN until the window is full, for a constant window, or with NaN inside.
    """
    x = _as_float(returns).ravel()
    n = _check_window(window, 3)
    if x.size < n:
        return np.full(x.size, np.nan)
    w = _windows(x, n)
    dev = w - w.mean(axis=1, keepdims=True)
    m2 = np.mean(dev * dev, axis=1)
    m3 = np.mean(dev * dev * dev, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g1 = m3 / m2**1.5
        skew = np.where(m2 > 0.0, math.sqrt(n * (n - 1.0)) / (n - 2.0) * g1, np.nan)
    return _aligned(skew, x.size, n)


def rolling_kurtosis(returns, window: int, excess: bool = True) -> np.ndarray:
    """Trailing bias-corrected sample excess kurtosis G2 (0 for a normal sample).

    G2 = (n - 1) / ((n - 2)(n - 3)) * ((n + 1) m4 / m2^2 - 3 (n - 1)); ``excess=False`` adds 3.
    """
    x = _as_float(returns).ravel()
    n = _check_window(window, 4)
    if x.size < n:
        return np.full(x.size, np.nan)
    w = _windows(x, n)
    dev = w - w.mean(axis=1, keepdims=True)
    d2 = dev * dev
    m2 = np.mean(d2, axis=1)
    m4 = np.mean(d2 * d2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g2 = (n - 1.0) / ((n - 2.0) * (n - 3.0)) * ((n + 1.0) * m4 / (m2 * m2) - 3.0 * (n - 1.0))
        kurt = np.where(m2 > 0.0, g2 + (0.0 if excess else 3.0), np.nan)
    return _aligned(kurt, x.size, n)


def realized_variance(log_prices, axis: int = -1) -> np.ndarray:
    """Realized variance: sum of squared successive log-price differences (decimal^2, per
    sample period, not annualised). NaN-free input expected; reduces along ``axis``."""
    dp = np.diff(_as_float(log_prices), axis=axis)
    return np.sum(dp * dp, axis=axis)


def noise_variance(log_prices, axis: int = -1) -> np.ndarray:
    """Microstructure-noise variance estimate RV / (2 n) (n = number of returns), decimal^2.

    Consistent for the variance of i.i.d. noise added to the efficient log price as the
    sampling gets dense (Bandi & Russell 2008; Zhang, Mykland & Ait-Sahalia 2005); its
    finite-n bias is IV / (2 n) (IV = integrated variance of the efficient price).
    """
    lp = _as_float(log_prices)
    n = lp.shape[axis] - 1
    return realized_variance(lp, axis=axis) / (2.0 * n)


def tsrv(log_prices, k: int | None = None, axis: int = -1) -> np.ndarray:
    """Two-scales realized variance (Zhang, Mykland & Ait-Sahalia 2005), decimal^2.

    ``k``: number of sub-grids (slow time scale, every k-th observation with offsets 0..k-1);
    default round(n^(2/3)) with n returns (the rate-optimal order). Small-sample adjusted:
    TSRV = (RV_avg - (n_bar/n) RV_all) / (1 - n_bar/n), n_bar = (n - k + 1) / k.
    """
    lp = np.moveaxis(_as_float(log_prices), axis, -1)
    n = lp.shape[-1] - 1
    if k is None:
        k = max(2, round(n ** (2.0 / 3.0)))
    k = int(k)
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, n) with n = {n} returns, got {k}")
    rv_all = realized_variance(lp, axis=-1)
    # sub-grid j uses observations j, j + k, j + 2k, ...; sum of squared k-step differences
    dk = lp[..., k:] - lp[..., :-k]
    rv_avg = np.sum(dk * dk, axis=-1) / k
    n_bar = (n - k + 1.0) / k
    return (rv_avg - (n_bar / n) * rv_all) / (1.0 - n_bar / n)
