"""Known answers for ``python_udfs.features`` (pure Python, no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from python_udfs import features, garch, realized

NAN = np.nan


def _eq(a, b, tol: float = 1e-12) -> None:
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=tol, atol=tol)


def test_sma_hand_computed():
    _eq(features.sma([1.0, 2.0, 3.0, 4.0, 5.0], 3), [NAN, NAN, 2.0, 3.0, 4.0])


def test_ewma_span_3_is_alpha_one_half():
    # alpha = 2 / (3 + 1) = 0.5: m = 2, 3, 4.5, 6.25; the first span - 1 = 2 values are warm-up
    _eq(features.ewma([2.0, 4.0, 6.0, 8.0], 3), [NAN, NAN, 4.5, 6.25])
    _eq(features.ewma([2.0, 4.0, 6.0, 8.0], 3, min_periods=1), [2.0, 3.0, 4.5, 6.25])


def test_macd_hand_computed():
    # fast span 1 (EMA = close), slow span 3 (alpha 0.5), signal span 3 (alpha 0.5)
    close = [2.0, 4.0, 6.0, 8.0, 10.0]
    # slow EMA 2, 3, 4.5, 6.25, 8.125 -> line 0, 1, 1.5, 1.75, 1.875 (first slow - 1 masked)
    # signal seeded at line[2] = 1.5: 1.5, 1.625, 1.75 (first slow + signal - 2 = 4 masked)
    line, sig, hist = features.macd(close, fast=1, slow=3, signal=3)
    _eq(line, [NAN, NAN, 1.5, 1.75, 1.875])
    _eq(sig, [NAN, NAN, NAN, NAN, 1.75])
    _eq(hist, [NAN, NAN, NAN, NAN, 0.125])


# Wilder RSI, the classic StockCharts example (14 periods); its published table rounds the
# intermediate averages, so it agrees to ~0.1
RSI_CLOSES = [
    44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89, 46.03,
    45.61, 46.28, 46.28, 46.00, 46.03, 46.41, 46.22, 45.64, 46.21, 46.25, 45.71, 46.45,
    45.78, 45.35, 44.03, 44.18, 44.22, 44.57, 43.42, 42.66, 43.13,
]  # fmt: skip
RSI_TEXTBOOK = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42,
    39.99, 41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip


def test_rsi_textbook_example():
    rsi = features.rsi_wilder(RSI_CLOSES)
    assert np.isnan(rsi[:14]).all()
    np.testing.assert_allclose(rsi[14:], RSI_TEXTBOOK, atol=0.1)


def test_rsi_exact_first_values():
    d = np.diff(RSI_CLOSES)
    gain = np.maximum(d, 0.0)
    loss = np.maximum(-d, 0.0)
    g, lo = gain[:14].sum() / 14.0, loss[:14].sum() / 14.0  # 3.35 / 14 and 1.42 / 14 ...
    first = 100.0 - 100.0 / (1.0 + g / lo)
    g2 = (13.0 * g + gain[14]) / 14.0
    l2 = (13.0 * lo + loss[14]) / 14.0
    second = 100.0 - 100.0 / (1.0 + g2 / l2)
    rsi = features.rsi_wilder(RSI_CLOSES)
    assert rsi[14] == pytest.approx(first, rel=1e-13)
    assert rsi[15] == pytest.approx(second, rel=1e-13)


def test_rsi_edge_cases():
    up = np.arange(1.0, 21.0)
    assert features.rsi_wilder(up)[14:].tolist() == [100.0] * 6
    assert features.rsi_wilder(np.full(20, 5.0))[14:].tolist() == [50.0] * 6
    assert np.isnan(features.rsi_wilder(up[:14])).all()  # 13 changes: never a full period


def _random_bars(n: int, seed: int = 5):
    rng = np.random.default_rng(seed)
    vol = 0.01 * np.exp(np.cumsum(rng.standard_normal(n) * 0.05))  # slowly varying vol
    r = rng.standard_normal(n) * vol
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = close * np.exp(rng.standard_normal(n) * 0.003)
    high = np.maximum(open_, close) * np.exp(np.abs(rng.standard_normal(n)) * 0.004)
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.standard_normal(n)) * 0.004)
    volume = rng.uniform(1e5, 3e5, n)
    return open_, high, low, close, volume


def test_daily_features_shape_and_reuse_of_realized():
    o, h, lo, c, v = _random_bars(300)
    out = features.daily_features(o, h, lo, c, v)
    assert tuple(out) == features.DAILY_FEATURES
    assert all(a.shape == (300,) and a.dtype == np.float64 for a in out.values())
    _eq(out["ret_1d"][1:], np.log(c[1:] / c[:-1]))
    _eq(out["ret_20d"][20:], np.log(c[20:] / c[:-20]))
    assert np.isnan(out["ret_20d"][:20]).all()
    _eq(out["sma_200"][199], c[:200].mean())
    _eq(out["volume_sma_20"][19], v[:20].mean())
    _eq(out["rv_cc_30"], realized.close_to_close_vol(c, 30))
    _eq(out["rv_pk_14"], realized.parkinson_vol(h, lo, 14))
    _eq(out["rv_gk_91"], realized.garman_klass_vol(o, h, lo, c, 91))
    _eq(out["rv_rs_10"], realized.rogers_satchell_vol(o, h, lo, c, 10))
    prev = np.r_[NAN, c[:-1]]
    _eq(out["rv_yz_60"], realized.yang_zhang_vol(o, h, lo, c, prev, 60))
    # close-to-close over 10 days by hand: sample sd of the 10 returns ending on day 10
    r = np.diff(np.log(c[:11]))
    assert out["rv_cc_10"][10] == pytest.approx(math.sqrt(252.0 * r.var(ddof=1)), rel=1e-12)
    assert np.isnan(out["rv_cc_10"][:10]).all()
    _eq(out["skew_20"], realized.rolling_skewness(out["ret_1d"], 20))
    _eq(out["kurt_60"], realized.rolling_kurtosis(out["ret_1d"], 60))
    assert np.isnan(out["rv_cc_365"]).all()  # window longer than the history


def test_one_element_arrays_broadcast():
    o, h, lo, c, v = _random_bars(40)
    a = features.daily_features(o, h, lo, c, np.array([7.0]))
    assert a["volume_sma_20"][19:].tolist() == [7.0] * 21
    with pytest.raises(ValueError, match="elements"):
        features.daily_features(o[:3], h, lo, c, v)


def test_garch_first_block_by_hand():
    """Day 251 (250 returns before it) uses a fit on exactly those returns, the recursion
    started at their mean squared residual; the forecast adds day 251's return."""
    c = _random_bars(300)[3]
    r = np.r_[NAN, np.diff(np.log(c))]
    vol, fc = features.garch_point_in_time(r)
    assert np.isnan(vol[:251]).all() and np.isfinite(vol[251:]).all()
    fit = garch.garch11_fit(r[1:251])
    om, a, b, mu = (float(fit[k]) for k in ("omega", "alpha", "beta", "mu"))
    e = r[1:251] - mu
    s2 = garch.garch11_conditional_variance(e, om, a, b)  # s0 = mean(e^2) of the fit sample
    assert vol[251] == pytest.approx(math.sqrt(252.0 * s2[-1]), rel=1e-12)
    s2_next = om + a * (r[251] - mu) ** 2 + b * s2[-1]
    assert fc[251] == pytest.approx(math.sqrt(252.0 * s2_next), rel=1e-12)
    # the next block (from day 272) uses a refit on 271 returns, warm-started from the first
    assert bool(fit["converged"])
    fit2 = garch.garch11_fit(r[1:272], start=(om, a, b))
    assert (fit2["omega"], fit2["alpha"]) != (fit["omega"], fit["alpha"])
    e2 = r[1:272] - float(fit2["mu"])
    s2b = garch.garch11_conditional_variance(
        e2, float(fit2["omega"]), float(fit2["alpha"]), float(fit2["beta"])
    )
    assert vol[272] == pytest.approx(math.sqrt(252.0 * s2b[-1]), rel=1e-12)
    # the forecast is the next day's conditional vol inside a block
    _eq(fc[251:271], vol[252:272])


@pytest.mark.parametrize("cut", [30, 251, 252, 262, 272, 290])
def test_daily_features_have_no_look_ahead(cut):
    o, h, lo, c, v = _random_bars(320)
    full = features.daily_features(o, h, lo, c, v)
    part = features.daily_features(o[:cut], h[:cut], lo[:cut], c[:cut], v[:cut])
    bumped = [a.copy() for a in (o, h, lo, c, v)]
    for a in bumped:
        a[cut:] *= 1.5
    later = features.daily_features(*bumped)
    for name in features.DAILY_FEATURES:
        assert np.array_equal(full[name][:cut], part[name], equal_nan=True), name
        assert np.array_equal(full[name][:cut], later[name][:cut], equal_nan=True), name


def test_intraday_rv_hand_computed():
    day1 = np.array([100.0, 101.0, 100.0, 102.0, 101.0])
    bars1 = np.array([100.0, 102.0, 101.0])
    day2_ticks = np.array([50.0])  # one trade: nothing to measure
    out = features.intraday_rv([3, 0], [5, 1], bars1, np.r_[day1, day2_ticks])
    lr = np.diff(np.log(day1))
    rv = float(np.sum(lr * lr))
    _eq(out["rv_tick"], [rv, NAN])
    _eq(out["noise_var"], [rv / 8.0, NAN])  # 4 returns: RV / (2 n)
    _eq(out["rv_1m"], [np.log(1.02) ** 2 + np.log(101.0 / 102.0) ** 2, NAN])
    # TSRV with K = max(2, round(4^(2/3))) = 3 sub-grids: n_bar = (4 - 3 + 1) / 3
    x = np.log(day1)
    rv_avg = (
        (x[3] - x[0]) ** 2 + (x[4] - x[1]) ** 2
    ) / 3.0  # every k-th observation from offsets 0..2 (offset 2 has one point)
    n_bar = 2.0 / 3.0
    tsrv = (rv_avg - n_bar / 4.0 * rv) / (1.0 - n_bar / 4.0)
    _eq(out["tsrv"], [tsrv, NAN])
    _eq(out["noise_var_bc"], [(rv - tsrv) / 8.0, NAN])
    _eq(out["tsrv"][:1], [realized.tsrv(x)])


def test_intraday_rv_validates_counts():
    with pytest.raises(ValueError, match="sum to"):
        features.intraday_rv([2], [3], [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="one element per day"):
        features.intraday_rv([2, 0], [2], [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative integers"):
        features.intraday_rv([1.5], [2], [1.0, 2.0], [1.0, 2.0])
    empty = features.intraday_rv([], [], [], [])
    assert all(v.size == 0 for v in empty.values())


def test_tsrv_and_noise_recover_a_simulated_truth():
    """Brownian log price (IV = 1e-4 per session) observed through i.i.d. noise
    (omega^2 = 1e-7) at 20000 ticks a day, 50 days: TSRV ~ IV, (RV - TSRV) / 2n ~ omega^2.

    TSRV's error per session is ~n^(-1/6) ~ 20 % here, so ~3 % for the mean of 50 sessions
    (measured over seeds): 15 % is a 5-sigma bound; the noise estimate is far tighter."""
    rng = np.random.default_rng(3)
    n, days = 20000, 50
    iv, omega2 = 1e-4, 1e-7
    x = np.cumsum(rng.standard_normal((days, n)) * math.sqrt(iv / n), axis=1)
    p = 100.0 * np.exp(x + rng.standard_normal((days, n)) * math.sqrt(omega2))
    out = features.intraday_rv(np.zeros(days), np.full(days, n), [], p.ravel())
    assert out["tsrv"].mean() == pytest.approx(iv, rel=0.15)
    assert out["noise_var_bc"].mean() == pytest.approx(omega2, rel=0.01)
    assert np.isnan(out["rv_1m"]).all()
