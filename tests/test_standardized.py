"""Tests of python_udfs.standardized: the IvyDB-style kernel-smoothed standardized surface
(flat and skewed surfaces, kernel bias, implied strikes and premiums, put-call consistency),
the ATM-forward standardized options, constant-maturity ATM vols and forward vols."""

from __future__ import annotations

import math

import numpy as np
import pytest

import python_udfs.standardized as std
from python_udfs.black_scholes import bs_greeks, bs_price, forward_price
from python_udfs.localvol import ssvi_surface, surface_implied_vol, svi_surface
from python_udfs.standardized import (
    DEFAULT_GRID_DAYS,
    DEFAULT_GRID_DELTAS,
    atm_forward_options,
    atm_term_structure,
    constant_maturity_atm_iv,
    forward_vol,
    kernel_smoothed_iv,
    standardized_surface,
    strike_from_delta,
)

SPOT, R, Q = 100.0, 0.03, 0.01
CURVE_DAYS, CURVE_RATES = [1.0, 3650.0], [R, R]
SLICES = np.array([0.1, 0.25, 0.5, 1.0, 2.0])
ATM_VOL = np.array([0.24, 0.22, 0.21, 0.20, 0.195])
# listed expiries of the day (days): weeklies, monthlies, quarterlies, LEAPS
LISTED_DAYS = np.array([
    3, 7, 14, 21, 28, 35, 45, 59, 73, 91, 108, 136, 164, 199, 227, 262, 290, 353, 444, 535, 626,
    717, 808, 900,
])  # fmt: skip


def skew_surface():
    return ssvi_surface(SLICES, ATM_VOL**2 * SLICES, rho=-0.6, eta=1.0, gamma=0.45)


def flat_svi(vol: float, t=SLICES):
    n = len(t)
    return svi_surface(t, vol**2 * np.asarray(t), np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n))


def chain(surface, q: float = Q, days=LISTED_DAYS):
    """A day's listed calls and puts: every expiry x 61 strikes from -4 to +3.5 sd (0.22 vol),
    IVs from ``surface``; returns the observation arrays of ``standardized_surface``."""
    d, z = np.meshgrid(days, np.linspace(-4.0, 3.5, 61), indexing="ij")
    t = d / 365.0
    k = z * 0.22 * np.sqrt(t)
    strike = forward_price(SPOT, t, R, q) * np.exp(k)
    iv = surface_implied_vol(surface, k, t)
    cols = []
    for is_call in (True, False):
        g = bs_greeks(SPOT, strike, t, R, q, iv, is_call)
        cols.append(
            (d.ravel(), g["delta"].ravel(), np.full(d.size, is_call), iv.ravel(), g["vega"].ravel())
        )
    return tuple(np.concatenate(c) for c in zip(*cols, strict=True))


def true_iv_at_delta(surface, days, delta, q: float = Q):
    """The surface's IV at the strike where BSM delta(K, iv(K)) equals ``delta`` (bisection in
    standardised moneyness; both call and put deltas decrease with the strike)."""
    t = np.asarray(days, dtype=float) / 365.0
    fwd = forward_price(SPOT, t, R, q)
    lo, hi = np.full(t.shape, -4.0), np.full(t.shape, 4.0)
    for _ in range(70):
        mid = 0.5 * (lo + hi)
        k = mid * np.sqrt(t)
        d = bs_greeks(
            SPOT, fwd * np.exp(k), t, R, q, surface_implied_vol(surface, k, t), delta > 0
        )["delta"]
        lo, hi = np.where(d > delta, mid, lo), np.where(d > delta, hi, mid)
    return surface_implied_vol(surface, 0.5 * (lo + hi) * np.sqrt(t), t)


def test_grid_constants() -> None:
    assert DEFAULT_GRID_DAYS == (10, 30, 60, 91, 122, 152, 182, 273, 365, 547, 730)
    assert len(DEFAULT_GRID_DELTAS) == 34
    assert DEFAULT_GRID_DELTAS[:3] == (0.1, 0.15, 0.2) and DEFAULT_GRID_DELTAS[16] == 0.9
    assert DEFAULT_GRID_DELTAS[17] == -0.1 and DEFAULT_GRID_DELTAS[-1] == -0.9
    assert std.IVYDB_BANDWIDTHS == (0.05, 0.005, 0.001)


def test_flat_surface_is_reproduced_exactly() -> None:
    res = standardized_surface(*chain(flat_svi(0.27)), SPOT, CURVE_DAYS, CURVE_RATES, Q)
    assert res["iv"].shape == (374,)
    np.testing.assert_allclose(res["iv"], 0.27, rtol=1e-14)
    np.testing.assert_allclose(res["dispersion"], 0.0, atol=1e-12)
    assert np.all(res["n_effective"] > 5.0) and np.all(res["weight_sum"] > 1.0)
    np.testing.assert_array_equal(res["days"], np.repeat(DEFAULT_GRID_DAYS, 34))
    np.testing.assert_array_equal(res["delta"], np.tile(DEFAULT_GRID_DELTAS, 11))
    np.testing.assert_array_equal(res["is_call"], res["delta"] > 0)


def test_skewed_surface_kernel_bias() -> None:
    """Kernel bias on an equity skew (SSVI rho -0.6, 20-24 % ATM): the smoother averages over
    ~0.07 of delta towards the higher-vega side, so it overstates the vol where the smile is
    convex in delta. Measured: median |bias| 0.11 vol points, at most 0.3 vol points for
    call-equivalent deltas <= 0.6 (strikes above ~the forward) and 1.25 vol points overall,
    the worst at call delta 0.85-0.9 / put delta -0.1 to -0.15 of the 2-year expiry."""
    surface = skew_surface()
    res = standardized_surface(*chain(surface), SPOT, CURVE_DAYS, CURVE_RATES, Q)
    bias = res["iv"] - true_iv_at_delta(surface, res["days"], res["delta"])
    assert np.all(np.isfinite(bias))
    ce = np.where(res["is_call"], res["delta"], 1.0 + res["delta"])
    assert np.median(np.abs(bias)) < 0.0015
    assert np.max(np.abs(bias[ce <= 0.6])) < 0.003
    assert np.max(np.abs(bias)) < 0.0135
    assert np.max(res["dispersion"]) < 0.04  # the spread of the vols inside the window


def test_implied_strike_and_premium_round_trip() -> None:
    surface = skew_surface()
    res = standardized_surface(*chain(surface), SPOT, [7.0, 365.0, 730.0], [0.02, 0.03, 0.04], Q)
    r = np.interp(res["days"], [7.0, 365.0, 730.0], [0.02, 0.03, 0.04])
    np.testing.assert_array_equal(res["rate"], r)
    g = bs_greeks(SPOT, res["strike"], res["t"], r, Q, res["iv"], res["is_call"])
    np.testing.assert_allclose(g["delta"], res["delta"], rtol=0, atol=1e-10)
    price = bs_price(SPOT, res["strike"], res["t"], r, Q, res["iv"], res["is_call"])
    np.testing.assert_array_equal(res["premium"], price)
    # strikes fall as call deltas rise (0.10 -> 0.90) and rise as put deltas fall (-0.10 -> -0.90)
    k = res["strike"].reshape(11, 34)
    assert np.all(np.diff(k[:, :17], axis=1) < 0) and np.all(np.diff(k[:, 17:], axis=1) > 0)


def test_put_call_consistency_at_the_same_strike() -> None:
    """With q = 0 a put of delta -d and a call of delta 1 - d share the strike and, since calls
    and puts at a strike share IV, vega and call-equivalent delta, the smoothed IV too; the
    premiums then obey parity C - P = S - K e^{-rT}."""
    res = standardized_surface(*chain(skew_surface(), q=0.0), SPOT, CURVE_DAYS, CURVE_RATES, 0.0)
    days, delta = res["days"].reshape(11, 34), res["delta"].reshape(11, 34)
    calls = {name: res[name].reshape(11, 34)[:, :17] for name in ("iv", "strike", "premium")}
    # the put of delta -(1 - c) sits at column 17 + index of (1 - c) among the put deltas
    puts = {
        name: res[name].reshape(11, 34)[:, 17:][:, ::-1] for name in ("iv", "strike", "premium")
    }
    np.testing.assert_allclose(1.0 - delta[:, :17], -delta[:, 17:][:, ::-1], atol=1e-15)
    np.testing.assert_allclose(calls["iv"], puts["iv"], rtol=1e-12)
    np.testing.assert_allclose(calls["strike"], puts["strike"], rtol=1e-12)
    t = days[:, :17] / 365.0
    np.testing.assert_allclose(
        calls["premium"] - puts["premium"],
        SPOT - calls["strike"] * np.exp(-R * t),
        rtol=1e-10,
        atol=1e-10,
    )
    # with q > 0: the call at the put's strike and IV has delta = put delta + e^{-qT}
    res = standardized_surface(*chain(skew_surface()), SPOT, CURVE_DAYS, CURVE_RATES, Q)
    put = ~res["is_call"]
    g = bs_greeks(SPOT, res["strike"][put], res["t"][put], R, Q, res["iv"][put], True)
    np.testing.assert_allclose(
        g["delta"], res["delta"][put] + np.exp(-Q * res["t"][put]), atol=1e-10
    )


def test_strike_from_delta_closed_form() -> None:
    t, vol = 0.5, 0.3
    fwd = forward_price(SPOT, t, R, Q)
    # call delta e^{-qt} N(d1) at the forward: d1 = vol sqrt(t) / 2
    d_atm = math.exp(-Q * t) * 0.5 * (1.0 + math.erf(vol * math.sqrt(t) / 2 / math.sqrt(2)))
    assert strike_from_delta(d_atm, vol, t, SPOT, R, Q) == pytest.approx(fwd, rel=1e-13)
    assert strike_from_delta(d_atm - math.exp(-Q * t), vol, t, SPOT, R, Q) == pytest.approx(
        fwd, rel=1e-12
    )
    out = strike_from_delta([0.0, 1.0, -1.0, 0.5], [0.3, 0.3, 0.3, 0.0], t, SPOT, R, Q)
    assert np.all(np.isnan(out))


def test_kernel_weights_and_filters() -> None:
    # two calls at the grid point's delta, 30 and 60 days: weights vega * exp(-ln(2)^2 / 0.1)
    res = kernel_smoothed_iv(
        [30.0, 60.0], [0.5, 0.5], [True, True], [0.2, 0.3], [10.0, 20.0], 30.0, 0.5, True
    )
    w2 = 20.0 * math.exp(-(math.log(2.0) ** 2) / 0.1)
    expect = (10.0 * 0.2 + w2 * 0.3) / (10.0 + w2)
    assert float(res["iv"]) == pytest.approx(expect, rel=1e-14)
    disp = math.sqrt((10.0 * (0.2 - expect) ** 2 + w2 * (0.3 - expect) ** 2) / (10.0 + w2))
    assert float(res["dispersion"]) == pytest.approx(disp, rel=1e-12)
    assert float(res["weight_sum"]) == pytest.approx(1.0 + w2 / 20.0, rel=1e-14)
    assert float(res["n_effective"]) == pytest.approx((10 + w2) ** 2 / (100 + w2 * w2))
    # a put of delta -0.5 is call-equivalent 0.5 but of the other type: weight e^-500
    res = kernel_smoothed_iv(
        [30.0, 30.0], [0.5, -0.5], [True, False], [0.2, 0.9], [10.0, 10.0], 30.0, 0.5, True
    )
    assert float(res["iv"]) == pytest.approx(0.2, rel=1e-14)
    # only calls observed: put grid points have no data; low-vega options are dropped
    res = kernel_smoothed_iv(
        [30.0, 30.0],
        [0.5, 0.45],
        [True, True],
        [0.2, 0.9],
        [10.0, 0.4],
        30.0,
        [0.5, -0.5],
        [True, False],
    )
    assert res["n_used"] == 1
    assert float(res["iv"][0]) == 0.2 and np.isnan(res["iv"][1])
    assert res["weight_sum"][1] < 1e-200


def test_kernel_chunking_is_invisible(monkeypatch: pytest.MonkeyPatch) -> None:
    obs = chain(skew_surface(), days=LISTED_DAYS[::3])
    full = standardized_surface(*obs, SPOT, CURVE_DAYS, CURVE_RATES, Q)
    monkeypatch.setattr(std, "_CHUNK_ELEMENTS", 1000)
    chunked = standardized_surface(*obs, SPOT, CURVE_DAYS, CURVE_RATES, Q)
    for name in ("iv", "dispersion", "weight_sum", "n_effective", "strike", "premium"):
        np.testing.assert_allclose(chunked[name], full[name], rtol=1e-13)


def test_constant_maturity_atm_iv_flat_term_structure() -> None:
    cm = constant_maturity_atm_iv(flat_svi(0.25, t=[20 / 365, 90 / 365, 0.5]))
    np.testing.assert_allclose(cm["atm_iv"], 0.25, rtol=1e-14)
    np.testing.assert_array_equal(cm["days"], [10, 20, 30, 60, 90, 180, 365])
    np.testing.assert_array_equal(cm["extrapolated"], [True] + [False] * 5 + [True])
    # a smile whose ATM vol is flat across expiries (SSVI with theta = 0.25^2 t): same answer
    s = ssvi_surface(SLICES, 0.0625 * SLICES, rho=-0.5, eta=1.2, gamma=0.4)
    np.testing.assert_allclose(constant_maturity_atm_iv(s, [5, 45, 500, 1000])["atm_iv"], 0.25)


def test_constant_maturity_interpolates_total_variance() -> None:
    s = flat_svi(0.2, t=[30 / 365, 60 / 365])._replace(a=np.array([0.2**2 * 30, 0.3**2 * 60]) / 365)
    cm = constant_maturity_atm_iv(s, [45])
    w45 = 0.5 * (0.04 * 30 + 0.09 * 60) / 365
    assert float(cm["atm_total_variance"][0]) == pytest.approx(w45, rel=1e-14)
    assert float(cm["atm_iv"][0]) == pytest.approx(math.sqrt(w45 * 365 / 45), rel=1e-14)


def test_forward_vols_hand_computed() -> None:
    days = np.array([20, 30, 60, 90, 180])
    vols = np.array([0.30, 0.28, 0.25, 0.24, 0.22])
    n = days.size
    s = svi_surface(
        days / 365, vols**2 * days / 365, np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n)
    )
    ts = atm_term_structure(s)
    # (sigma2^2 d2 - sigma1^2 d1) / (d2 - d1): 30/20 (0.0784*30 - 0.09*20)/10 = 0.0552,
    # 60/30 (3.75 - 2.352)/30 = 0.0466, 90/60 (5.184 - 3.75)/30 = 0.0478,
    # 180/90 (8.712 - 5.184)/90 = 0.0392
    expect = [math.sqrt(0.0552), math.sqrt(0.0466), math.sqrt(0.0478), math.sqrt(0.0392)]
    np.testing.assert_allclose(ts["forward_vol"], expect, rtol=1e-12)
    assert ts["forward_start_days"] == [20, 30, 60, 90]
    assert ts["forward_end_days"] == [30, 60, 90, 180]
    assert ts["forward_negative_variance"] == [False] * 4
    assert ts["n_negative_forward_variance"] == 0
    np.testing.assert_allclose(ts["atm_iv"][1:6], [0.30, 0.28, 0.25, 0.24, 0.22], rtol=1e-14)
    assert ts["atm_iv"][0] == pytest.approx(0.30) and ts["atm_iv"][6] == pytest.approx(0.22)
    assert all(type(v) is float for v in ts["atm_iv"] + ts["forward_vol"])
    assert all(type(v) is int for v in ts["days"])
    # inverted total variance between 60 and 90 days: NaN and a flag
    s2 = s._replace(a=s.a * np.array([1, 1, 1, 0.6, 1]))
    ts2 = atm_term_structure(s2)
    assert ts2["forward_negative_variance"] == [False, False, True, False]
    assert math.isnan(ts2["forward_vol"][2]) and ts2["n_negative_forward_variance"] == 1
    assert math.isnan(float(forward_vol(0.1, 0.01, 0.1, 0.02)))
    assert float(forward_vol(0.1, 0.004, 0.2, 0.01)) == pytest.approx(math.sqrt(0.06))


def test_atm_forward_options() -> None:
    surface = skew_surface()
    curve_days, curve_rates = [30.0, 365.0, 730.0], [0.02, 0.03, 0.035]
    out = atm_forward_options(surface, SPOT, curve_days, curve_rates, Q)
    assert out["days"].size == 22
    r = np.interp(out["days"], curve_days, curve_rates)
    np.testing.assert_array_equal(out["rate"], r)
    fwd = forward_price(SPOT, out["t"], r, Q)
    np.testing.assert_allclose(out["strike"], fwd, rtol=1e-15)
    atm = constant_maturity_atm_iv(surface, DEFAULT_GRID_DAYS)["atm_iv"]
    np.testing.assert_array_equal(out["iv"], np.repeat(atm, 2))
    # at the forward a call and a put are worth the same
    np.testing.assert_allclose(out["premium"][0::2], out["premium"][1::2], rtol=1e-12)
    g = bs_greeks(SPOT, fwd, out["t"], r, Q, out["iv"], out["is_call"])
    for name, value in g.items():
        np.testing.assert_array_equal(out[name], value)
    np.testing.assert_array_equal(out["extrapolated"], np.repeat([True] * 2 + [False] * 9, 2))
