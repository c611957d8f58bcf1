"""Tests of python_udfs.implied_vol (and the wing accuracy of python_udfs.black_scholes).

Independent references: the normalised Black price evaluated in 80-digit decimal arithmetic
(Python's ``decimal``; the normal CDF by its Taylor series / Laplace continued fraction, written
here without any project code) and Hull's textbook implied-volatility example. The round trip
runs on a dense grid covering deep ITM to deep OTM (up to 40 sd, as far as prices stay above
1e-300), one day to five years and vols from 0.5 % to 500 %.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import numpy as np
import pytest

from python_udfs.black_scholes import black76_price, bs_price, normalised_black_otm
from python_udfs.implied_vol import (
    STATUS_CODES,
    implied_total_sd,
    implied_vol,
    implied_vol_black,
    implied_vol_black_status,
    implied_vol_status,
    implied_vol_with_status,
)

_CTX = decimal.Context(prec=80, Emin=-9999, Emax=9999)
_PI = Decimal(
    "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899863"
)


def _dec_norm_cdf(z: Decimal) -> Decimal:
    """N(z) to ~70 digits: Taylor series of the integral for |z| <= 8, Laplace's continued
    fraction for the tail beyond. Call inside ``decimal.localcontext(_CTX)``."""
    pdf = (-z * z / 2).exp() / (2 * _PI).sqrt()
    if abs(z) <= 8:
        # N(z) = 1/2 + pdf(z) * sum_n z^(2n+1) / (1 * 3 * ... * (2n+1))
        term = z
        total = z
        n = 0
        while abs(term) > Decimal("1e-90"):
            n += 1
            term = term * z * z / (2 * n + 1)
            total += term
        return Decimal("0.5") + pdf * total
    x = abs(z)
    # Mills ratio R(x) = 1/(x + 1/(x + 2/(x + 3/(x + ...)))), evaluated bottom-up
    tail = x
    for k in range(400, 0, -1):
        tail = x + k / tail
    upper = pdf / tail  # N(-x)
    return upper if z < 0 else 1 - upper


def _dec_normalised_black(x: float, s: float) -> Decimal:
    """b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2) in 80-digit arithmetic."""
    with decimal.localcontext(_CTX):
        xd, sd = Decimal(x), Decimal(s)
        h = xd / sd
        t = sd / 2
        return (xd / 2).exp() * _dec_norm_cdf(h + t) - (-xd / 2).exp() * _dec_norm_cdf(h - t)


def _wing_cases() -> tuple[np.ndarray, np.ndarray]:
    g = np.random.Generator(np.random.PCG64(20240611))
    s = np.exp(g.uniform(np.log(0.005 * np.sqrt(1 / 365)), np.log(5 * np.sqrt(5)), 120))
    m = np.concatenate([g.uniform(0, 2, 30), g.uniform(2, 12, 50), g.uniform(12, 36, 40)])
    x = -m * s
    fixed_x = np.array([0.0, -1e-10, -1e-4, -0.3, -2.0, -12.0, -40.0, -0.02, -5.0])
    fixed_s = np.array([1e-4, 1e-3, 2e-4, 0.01, 0.3, 1.0, 3.0, 1e-3, 9.0])
    return np.concatenate([x, fixed_x]), np.concatenate([s, fixed_s])


def test_normalised_black_matches_80_digit_reference() -> None:
    x, s = _wing_cases()
    b = normalised_black_otm(x, s)
    worst = 0.0
    for xi, si, bi in zip(x, s, b, strict=True):
        ref = _dec_normalised_black(float(xi), float(si))
        if ref < Decimal("1e-300"):
            continue
        with decimal.localcontext(_CTX):
            rel = abs((Decimal(float(bi)) - ref) / ref)
        worst = max(worst, float(rel))
    assert worst < 2e-14


def test_round_trip_against_80_digit_reference() -> None:
    # solve for s at the decimal-reference price, reprice in decimal: independent round trip
    x, s = _wing_cases()
    beta = np.array(
        [float(_dec_normalised_black(float(a), float(b))) for a, b in zip(x, s, strict=True)]
    )
    keep = beta > 1e-300
    s_hat = implied_total_sd(beta[keep], x[keep])
    assert np.all(np.isfinite(s_hat))
    for xi, si, bi in zip(x[keep], s_hat, beta[keep], strict=True):
        repriced = _dec_normalised_black(float(xi), float(si))
        with decimal.localcontext(_CTX):
            assert abs(float(repriced / Decimal(float(bi))) - 1) <= 1e-12


def _dense_grid():
    sd_mult = np.concatenate([-np.linspace(40, 0, 81), np.linspace(0, 40, 81)[1:]])
    t = np.array([1 / 365, 2 / 365, 7 / 365, 30 / 365, 0.25, 1.0, 2.0, 5.0])
    vol = np.array([0.005, 0.01, 0.03, 0.1, 0.2, 0.5, 1.0, 2.0, 3.0, 5.0])
    m, tt, vv, cp = (a.ravel() for a in np.meshgrid(sd_mult, t, vol, [True, False]))
    spot, r, q = 100.0, 0.03, 0.01
    fwd = spot * np.exp((r - q) * tt)
    strike = fwd * np.exp(m * vv * np.sqrt(tt))
    return m, spot, strike, tt, r, q, vv, cp


def test_dense_grid_round_trip_to_1e12_relative() -> None:
    m, spot, strike, t, r, q, vol, is_call = _dense_grid()
    price = bs_price(spot, strike, t, r, q, vol, is_call)
    iv, status = implied_vol_with_status(price, spot, strike, t, r, q, is_call)
    ok = status == "ok"
    inside = ok & (price > 1e-300)
    # the grid really reaches the wings: ITM and OTM beyond 10 sd, and tiny prices
    assert np.sum(inside & (np.abs(m) >= 10)) > 1500
    assert np.sum(inside & (price < 1e-200)) > 100
    assert np.all(np.isfinite(iv[ok])), "no misses"
    repriced = bs_price(spot, strike, t, r, q, iv, is_call)
    rel = np.abs(repriced[inside] / price[inside] - 1.0)
    assert rel.max() <= 1e-12
    # out of the money within 3 sd the vol is well determined and recovered too
    otm = np.where(is_call, m >= 0, m <= 0)
    vega_ok = inside & otm & (np.abs(m) <= 3)
    np.testing.assert_allclose(iv[vega_ok], vol[vega_ok], rtol=1e-9)
    # everything not ok is at a bound in floating point: deep ITM time value below one ulp,
    # a price equal to the discounted forward / strike, or a price that underflowed to 0
    assert set(np.unique(status[~ok & (price > 0)])) <= {"below_intrinsic", "above_upper_bound"}
    assert np.all(status[price == 0] == "nonpositive_input")


def test_random_round_trip_normalised() -> None:
    g = np.random.Generator(np.random.PCG64(7))
    n = 50_000
    s = np.exp(g.uniform(np.log(0.005 * np.sqrt(1 / 365)), np.log(5 * np.sqrt(5)), n))
    x = -g.uniform(0, 38, n) * s * g.choice([0.0, 1.0], n, p=[0.02, 0.98])
    beta = normalised_black_otm(x, s)
    keep = (beta > 1e-300) & (beta < np.exp(0.5 * x))
    s_hat = implied_total_sd(beta[keep], x[keep])
    assert np.all(np.isfinite(s_hat))
    rel = np.abs(normalised_black_otm(x[keep], s_hat) / beta[keep] - 1.0)
    assert rel.max() <= 1e-12


def test_fast_path_and_safeguarded_loop_agree() -> None:
    """The fast path (cheap evaluations, one accurate polish step) and the safeguarded loop
    it falls back to (started from the initial guess) both re-price to 1e-12 relative."""
    from python_udfs.implied_vol import _solve, _solve_robust

    g = np.random.Generator(np.random.PCG64(11))
    n = 20_000
    s = np.exp(g.uniform(np.log(0.005 * np.sqrt(1 / 365)), np.log(5 * np.sqrt(5)), n))
    x = -g.uniform(0, 38, n) * s * g.choice([0.0, 1.0], n, p=[0.02, 0.98])
    beta = normalised_black_otm(x, s)
    keep = (beta > 1e-300) & (beta < np.exp(0.5 * x))
    x, beta = x[keep], beta[keep]
    cbeta = np.exp(0.5 * x) - beta
    with np.errstate(all="ignore"):
        robust = _solve_robust(x, beta, cbeta, np.full(x.size, np.nan))
    for s_hat in (_solve(x, beta, cbeta), robust):
        assert np.all(np.isfinite(s_hat))
        rel = np.abs(normalised_black_otm(x, s_hat) / beta - 1.0)
        assert rel.max() <= 1e-12


def test_hull_implied_vol_example() -> None:
    # Hull: European call, S=21, K=20, r=10 %, T=0.25, price 1.875 -> implied vol 23.5 %
    iv = implied_vol(1.875, 21.0, 20.0, 0.25, 0.10, 0.0, True)
    assert round(float(iv), 3) == 0.235
    assert isinstance(iv, np.ndarray)


def test_black76_round_trip_and_status() -> None:
    fwd = np.array([20.0, 20.0, 20.0, 20.0])
    strike = np.array([15.0, 20.0, 25.0, 20.0])
    vol = np.array([0.25, 0.4, 0.8, 0.01])
    is_call = np.array([True, False, True, True])
    price = black76_price(fwd, strike, 4 / 12, 0.09, vol, is_call)
    iv = implied_vol_black(price, fwd, strike, 4 / 12, 0.09, is_call)
    np.testing.assert_allclose(iv, vol, rtol=1e-10)
    assert list(implied_vol_black_status(price, fwd, strike, 4 / 12, 0.09, is_call)) == ["ok"] * 4


def test_bounds_give_nan_and_status() -> None:
    spot, strike, t, r, q = 100.0, 90.0, 0.5, 0.05, 0.02
    df_s, df_k = spot * np.exp(-q * t), strike * np.exp(-r * t)
    intrinsic = df_s - df_k
    cases = [
        # price, is_call, expected status
        (intrinsic - 1e-9, True, "below_intrinsic"),
        (intrinsic * 0.99, True, "below_intrinsic"),
        (intrinsic + 1e-9, True, "ok"),
        (df_s * (1 + 1e-12), True, "above_upper_bound"),
        (df_s * 1.01, True, "above_upper_bound"),
        (df_s * (1 - 1e-9), True, "ok"),
        (df_k * (1 + 1e-12), False, "above_upper_bound"),
        (1e-3, False, "ok"),
        (0.0, True, "nonpositive_input"),
        (-1.0, False, "nonpositive_input"),
        (np.nan, True, "nonpositive_input"),
    ]
    price = np.array([c[0] for c in cases])
    is_call = np.array([c[1] for c in cases])
    status = implied_vol_status(price, spot, strike, t, r, q, is_call)
    assert list(status) == [c[2] for c in cases]
    iv = implied_vol(price, spot, strike, t, r, q, is_call)
    assert np.isnan(iv[status != "ok"]).all()
    assert np.isfinite(iv[status == "ok"]).all()
    # non-positive spot, strike or time
    bad = implied_vol_status(
        5.0, [0.0, 100.0, 100.0], [90.0, -1.0, 90.0], [0.5, 0.5, 0.0], r, q, True
    )
    assert list(bad) == ["nonpositive_input"] * 3
    assert set(STATUS_CODES) == {"ok", "nonpositive_input", "below_intrinsic", "above_upper_bound"}


def test_broadcasting_and_types() -> None:
    strikes = np.linspace(80, 120, 9).reshape(3, 3)
    price = bs_price(100.0, strikes, 0.5, 0.02, 0.0, 0.3, strikes > 100)
    iv = implied_vol(price, 100.0, strikes, 0.5, 0.02, 0.0, strikes > 100)
    assert iv.shape == (3, 3)
    np.testing.assert_allclose(iv, 0.3, rtol=1e-10)
    status = implied_vol_status(price, 100.0, strikes, 0.5, 0.02, 0.0, strikes > 100)
    assert status.shape == (3, 3) and status.dtype.kind == "U"
    assert implied_vol(2.0, 100.0, 100.0, 0.5, 0.02, 0.0, True).shape == ()


@pytest.mark.parametrize("vol", [0.005, 0.2, 5.0])
def test_extreme_maturities_atm_and_wings(vol: float) -> None:
    t = np.array([1 / 365, 5.0])[:, None]
    strike = 100.0 * np.exp(np.array([-8.0, -1.0, 0.0, 1.0, 8.0]) * vol * np.sqrt(t))
    for is_call in (True, False):
        price = bs_price(100.0, strike, t, 0.04, 0.0, vol, is_call)
        iv, status = implied_vol_with_status(price, 100.0, strike, t, 0.04, 0.0, is_call)
        ok = (status == "ok") & (price > 1e-300)
        rel = np.abs(bs_price(100.0, strike, t, 0.04, 0.0, iv, is_call)[ok] / price[ok] - 1)
        assert rel.max() <= 1e-12


def test_option_quote_slice_matches_the_chained_batch_functions() -> None:
    """quant.option_quote_slice_batch's Python side gives the results of the batch chain it
    replaced in int_option_quotes_iv (zero rate -> parity fit -> European IV + greeks, bid/ask
    IVs, status; American IVs, status and greeks at the American mid vol)."""
    from python_udfs.american import american_implied_vol, american_implied_vol_status
    from python_udfs.black_scholes import bs_greeks
    from python_udfs.iv_greeks import implied_vol_and_greeks
    from python_udfs.parity import implied_forward_groups
    from python_udfs.quote_slice import GREEK_FIELDS, option_quote_slice
    from python_udfs.rates import zero_rate

    rng = np.random.default_rng(7)
    spot, q_true = 100.0, 0.01
    expiry = np.repeat([30.0, 60.0, 180.0], 22)
    strike = np.tile(np.repeat(np.linspace(80.0, 120.0, 11), 2), 3)
    is_call = np.tile([True, False], 33)
    is_american = np.zeros(66, dtype=bool)
    is_american[44:] = True  # the longest expiry American
    t = expiry / 365.0
    tenors, rates = np.array([1.0, 90.0, 365.0]), np.array([0.03, 0.035, 0.04])
    r = zero_rate(tenors, rates, t)
    mid = bs_price(spot, strike, t, r, q_true, 0.2 + 0.1 * rng.random(66), is_call)
    half = 0.01 + 0.02 * rng.random(66)
    bid, ask = np.maximum(mid - half, 0.0), mid + half
    bid[[3, 50]] = 0.0  # no bid: no bid vol
    mid = 0.5 * (bid + ask)
    spread = ask - bid
    mid[7] = bid[7] = ask[7] = spread[7] = np.nan  # no quote
    out = option_quote_slice(
        ["X"], expiry, strike, is_call, is_american, bid, ask, mid, spread, t, [spot], tenors, rates
    )
    np.testing.assert_array_equal(out["rate"], r)
    fit_price = np.where((bid > 0) & (ask > 0), mid, np.nan)
    pf = implied_forward_groups(expiry, strike, is_call, fit_price, spread, [spot], t, r)
    for name in ("forward", "implied_q", "n_pairs"):
        np.testing.assert_array_equal(out[name], pf[name])
    q = pf["implied_q"]
    eu, am = ~is_american, is_american
    ref = implied_vol_and_greeks(mid[eu], spot, strike[eu], t[eu], r[eu], q[eu], is_call[eu])
    np.testing.assert_array_equal(out["iv_mid"][eu], ref["iv"])
    for name in GREEK_FIELDS:
        np.testing.assert_array_equal(out[name][eu], ref[name])
    status = implied_vol_status(mid[eu], spot, strike[eu], t[eu], r[eu], q[eu], is_call[eu])
    assert [STATUS_CODES[int(c)] for c in out["iv_status"][eu]] == list(status)
    for field, price in (("iv_bid", bid), ("iv_ask", ask)):
        want = implied_vol(price[eu], spot, strike[eu], t[eu], r[eu], q[eu], is_call[eu])
        np.testing.assert_allclose(out[field][eu], want, rtol=1e-14, atol=0)
    assert np.isnan(out["iv_bid"][3])
    am_args = (spot, strike[am], t[am], r[am], q[am], is_call[am])
    am_iv = american_implied_vol(mid[am], *am_args)
    np.testing.assert_allclose(out["iv_mid"][am], am_iv, rtol=1e-12)
    for field, price in (("iv_bid", bid), ("iv_ask", ask)):
        np.testing.assert_allclose(
            out[field][am], american_implied_vol(price[am], *am_args), rtol=1e-12
        )
    am_status = american_implied_vol_status(mid[am], *am_args)
    assert [STATUS_CODES[int(c)] for c in out["iv_status"][am]] == list(am_status)
    # the chain's bs_greeks_batch left options without an American mid vol (NULL) out
    am_mid = out["iv_mid"][am]
    greeks = bs_greeks(spot, strike[am], t[am], r[am], q[am], am_mid, is_call[am])
    for name in GREEK_FIELDS:
        np.testing.assert_array_equal(
            out[name][am], np.where(np.isnan(am_mid), np.nan, greeks[name])
        )


def test_option_quote_slice_of_several_underlyings_equals_one_call_each() -> None:
    """int_option_quotes_iv passes all of a quote time's underlyings in one call (parity
    groups per underlying and expiry, spot per option): the results equal one call per
    underlying, although both underlyings list the same expiries."""
    from python_udfs.quote_slice import SLICE_FIELDS, option_quote_slice
    from python_udfs.rates import zero_rate

    rng = np.random.default_rng(11)
    tenors, rates = np.array([1.0, 90.0, 365.0]), np.array([0.03, 0.035, 0.04])
    per_underlying = []
    for spot, q in ((100.0, 0.01), (250.0, 0.03)):
        expiry = np.repeat([30.0, 90.0], 22)
        strike = np.tile(np.repeat(spot * np.linspace(0.8, 1.2, 11), 2), 2)
        is_call = np.tile([True, False], 22)
        t = expiry / 365.0
        r = zero_rate(tenors, rates, t)
        vol = np.repeat(0.2 + 0.1 * rng.random(22), 2)  # a call and its put: one vol (parity)
        mid = bs_price(spot, strike, t, r, q, vol, is_call)
        bid, ask = np.maximum(mid - 0.02, 0.0), mid + 0.02
        args = (expiry, strike, is_call, np.zeros(44, bool), bid, ask, 0.5 * (bid + ask), ask - bid)
        per_underlying.append((args, t, spot))
    separate = [
        option_quote_slice([name], *args, t, [spot], tenors, rates)
        for name, (args, t, spot) in zip("AB", per_underlying, strict=True)
    ]
    joined_args = [np.concatenate([a[i] for a, _, _ in per_underlying]) for i in range(8)]
    t_all = np.concatenate([t for _, t, _ in per_underlying])
    spot_all = np.repeat([spot for _, _, spot in per_underlying], 44)
    names = np.repeat(["A", "B"], 44)
    joined = option_quote_slice(names, *joined_args, t_all, spot_all, tenors, rates)
    for name in SLICE_FIELDS:
        want = np.concatenate([s[name] for s in separate])
        np.testing.assert_allclose(joined[name], want, rtol=1e-14, atol=0, err_msg=name)
    assert np.all(np.abs(joined["implied_q"][:44] - 0.01) < 1e-6)
    assert np.all(np.abs(joined["implied_q"][44:] - 0.03) < 1e-6)
