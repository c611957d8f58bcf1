"""Tests of python_udfs.realized on simulated paths with known volatility.

Daily bars come from a simulated GBM with an overnight jump: the intraday log price is a
Brownian motion sampled at 20 steps per session, and each step's high and low are drawn from
the exact distribution of a Brownian bridge's maximum / minimum, so the bars have the
continuous-path high and low the range estimators assume. Tolerances are a few sampling
standard errors. Intraday noise tests add i.i.d. Gaussian noise of known variance to a
Brownian path. Rolling moments are checked against pandas' independent implementation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from python_udfs.realized import (
    DEFAULT_WINDOWS,
    close_to_close_vol,
    garman_klass_vol,
    log_returns,
    noise_variance,
    parkinson_vol,
    realized_variance,
    rogers_satchell_vol,
    rolling_kurtosis,
    rolling_skewness,
    tsrv,
    yang_zhang_k,
    yang_zhang_vol,
)

SIGMA_DAY = 0.25  # annualised vol of the session (open to close)
SIGMA_NIGHT = 0.10  # annualised vol of the overnight jump (close to next open)
N_DAYS = 3000


def simulate_bars(seed: int, drift: float = 0.0, n_days: int = N_DAYS, steps: int = 20):
    """(open, high, low, close, prev_close) of a GBM with overnight jumps; drift per year."""
    g = np.random.Generator(np.random.PCG64(seed))
    dt = 1.0 / 252.0 / steps
    var_step = SIGMA_DAY**2 * dt
    night = g.normal(0.0, SIGMA_NIGHT / math.sqrt(252.0), n_days)
    incr = g.normal(drift * dt - 0.5 * var_step, math.sqrt(var_step), (n_days, steps))
    log_prev_close = np.empty(n_days)
    path = np.empty((n_days, steps + 1))
    level = math.log(100.0)
    for d in range(n_days):
        log_prev_close[d] = level
        path[d, 0] = level + night[d]
        path[d, 1:] = path[d, 0] + np.cumsum(incr[d])
        level = path[d, -1]
    a, b = path[:, :-1], path[:, 1:]
    u1, u2 = g.random((n_days, steps)), g.random((n_days, steps))
    spread = (b - a) ** 2
    step_max = 0.5 * (a + b + np.sqrt(spread - 2.0 * var_step * np.log(u1)))
    step_min = 0.5 * (a + b - np.sqrt(spread - 2.0 * var_step * np.log(u2)))
    return (
        np.exp(path[:, 0]),
        np.exp(step_max.max(axis=1)),
        np.exp(step_min.min(axis=1)),
        np.exp(path[:, -1]),
        np.exp(log_prev_close),
    )


@pytest.fixture(scope="module")
def bars():
    return simulate_bars(seed=42)


def _last(x: np.ndarray) -> float:
    return float(x[-1])


def test_estimators_recover_known_vol(bars) -> None:
    o, h, lo, c, pc = bars
    total = math.sqrt(SIGMA_DAY**2 + SIGMA_NIGHT**2)
    n = N_DAYS - 1
    # relative standard errors: ~1/sqrt(2n) for close-to-close, smaller for range estimators
    assert _last(close_to_close_vol(c, n)) == pytest.approx(total, rel=0.05)
    assert _last(close_to_close_vol(c, N_DAYS, prev_close=pc)) == pytest.approx(total, rel=0.05)
    assert _last(parkinson_vol(h, lo, N_DAYS)) == pytest.approx(SIGMA_DAY, rel=0.03)
    assert _last(garman_klass_vol(o, h, lo, c, N_DAYS)) == pytest.approx(SIGMA_DAY, rel=0.03)
    gk_yz = _last(garman_klass_vol(o, h, lo, c, N_DAYS, prev_close=pc))
    assert gk_yz == pytest.approx(total, rel=0.03)
    assert _last(rogers_satchell_vol(o, h, lo, c, N_DAYS)) == pytest.approx(SIGMA_DAY, rel=0.03)
    assert _last(yang_zhang_vol(o, h, lo, c, pc, N_DAYS)) == pytest.approx(total, rel=0.03)


def test_short_windows_are_unbiased_on_average(bars) -> None:
    o, h, lo, c, pc = bars
    total = math.sqrt(SIGMA_DAY**2 + SIGMA_NIGHT**2)
    for window in (10, 30, 91):
        yz = yang_zhang_vol(o, h, lo, c, pc, window)
        # variance estimators are unbiased: mean of the rolling variance ~ true variance
        assert np.nanmean(yz**2) == pytest.approx(total**2, rel=0.05)
        rs = rogers_satchell_vol(o, h, lo, c, window)
        assert np.nanmean(rs**2) == pytest.approx(SIGMA_DAY**2, rel=0.05)


def test_rogers_satchell_and_yang_zhang_are_drift_independent() -> None:
    o, h, lo, c, pc = simulate_bars(seed=7, drift=3.0, n_days=2000)
    total = math.sqrt(SIGMA_DAY**2 + SIGMA_NIGHT**2)
    assert _last(rogers_satchell_vol(o, h, lo, c, 2000)) == pytest.approx(SIGMA_DAY, rel=0.03)
    assert _last(yang_zhang_vol(o, h, lo, c, pc, 2000)) == pytest.approx(total, rel=0.03)
    # Parkinson assumes no drift and overstates the vol under a strong one
    assert _last(parkinson_vol(h, lo, 2000)) > 1.02 * SIGMA_DAY


def test_alignment_windows_and_k(bars) -> None:
    o, h, lo, c, pc = bars
    window = 30
    yz = yang_zhang_vol(o, h, lo, c, pc, window)
    assert yz.shape == c.shape
    assert np.isnan(yz[: window - 1]).all() and np.isfinite(yz[window - 1 :]).all()
    # the value at index i uses days i - window + 1 .. i only
    i = 500
    sl = slice(i - window + 1, i + 1)
    k = yang_zhang_k(window)
    assert k == pytest.approx(0.34 / (1.34 + 31 / 29))
    on = np.log(o[sl] / pc[sl])
    oc = np.log(c[sl] / o[sl])
    hh, ll, oo, cc = np.log(h[sl]), np.log(lo[sl]), np.log(o[sl]), np.log(c[sl])
    rs = np.mean((hh - cc) * (hh - oo) + (ll - cc) * (ll - oo))
    direct = math.sqrt(252 * (np.var(on, ddof=1) + k * np.var(oc, ddof=1) + (1 - k) * rs))
    assert yz[i] == pytest.approx(direct, rel=1e-12)
    cc_vol = close_to_close_vol(c, window)
    assert np.isnan(cc_vol[:window]).all() and np.isfinite(cc_vol[window])
    r = log_returns(c)
    assert cc_vol[i] == pytest.approx(math.sqrt(252) * np.std(r[sl], ddof=1), rel=1e-12)
    for w in DEFAULT_WINDOWS:
        assert np.isfinite(parkinson_vol(h, lo, w)[w - 1])
    # a NaN in the window poisons only the windows containing it
    c_nan = c.copy()
    c_nan[100] = np.nan
    v = close_to_close_vol(c_nan, 10)
    assert np.isnan(v[100:111]).all() and np.isfinite(v[99]) and np.isfinite(v[112])


def test_rolling_moments_match_pandas() -> None:
    g = np.random.Generator(np.random.PCG64(3))
    x = g.standard_t(4, 800) * 0.01
    for window in (14, 60):
        expected_skew = pd.Series(x).rolling(window).skew().to_numpy()
        expected_kurt = pd.Series(x).rolling(window).kurt().to_numpy()
        np.testing.assert_allclose(rolling_skewness(x, window), expected_skew, rtol=1e-9)
        np.testing.assert_allclose(rolling_kurtosis(x, window), expected_kurt, rtol=1e-9)
    normal = g.standard_normal(20000)
    assert abs(rolling_skewness(normal, 20000)[-1]) < 0.1
    assert abs(rolling_kurtosis(normal, 20000)[-1]) < 0.15
    assert rolling_kurtosis(normal, 20000, excess=False)[-1] == pytest.approx(3.0, abs=0.15)


def test_tsrv_and_noise_variance_recover_truth() -> None:
    g = np.random.Generator(np.random.PCG64(11))
    days, n = 20, 23400  # one observation per second over a 6.5-hour session
    iv_day = 0.3**2 / 252.0  # integrated variance per day
    noise_sd = 5e-4
    efficient = np.cumsum(g.normal(0.0, math.sqrt(iv_day / n), (days, n + 1)), axis=1)
    observed = efficient + g.normal(0.0, noise_sd, (days, n + 1))
    rv = realized_variance(observed)
    assert rv.shape == (days,)
    # the raw RV is swamped by noise (2 n noise_var >> IV)
    assert rv.mean() > 20 * iv_day
    # E[RV / 2n] = noise_var + IV / 2n: consistent, with a small finite-n bias
    nv = noise_variance(observed).mean()
    assert nv == pytest.approx(noise_sd**2 + iv_day / (2 * n), rel=0.01)
    assert nv == pytest.approx(noise_sd**2, rel=0.05)
    est = tsrv(observed)
    assert est.mean() == pytest.approx(iv_day, rel=0.10)
    assert tsrv(observed, k=300).mean() == pytest.approx(iv_day, rel=0.10)
    # without noise, RV and TSRV agree with the integrated variance
    clean_rv = realized_variance(efficient)
    assert clean_rv.mean() == pytest.approx(iv_day, rel=0.03)
    assert tsrv(efficient[0]).shape == ()
