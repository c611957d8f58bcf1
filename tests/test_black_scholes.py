"""Known-answer and consistency tests of python_udfs.black_scholes and python_udfs.svi.

Reference values are textbook ones (Hull, Options, Futures and Other Derivatives), checked to
the precision the book prints; the rest are model-free identities (put-call parity, finite
differences).
"""

from __future__ import annotations

import numpy as np
import pytest

from python_udfs.black_scholes import black76_price, bs_greeks, bs_price
from python_udfs.svi import (
    ssvi_power_law_phi,
    ssvi_to_raw,
    svi_durrleman_g,
    svi_total_variance,
)


def test_hull_stock_option() -> None:
    # Hull: S=42, K=40, r=10 %, sigma=20 %, T=0.5 -> c = 4.76, p = 0.81
    call = bs_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, True)
    put = bs_price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, False)
    assert round(float(call), 2) == 4.76
    assert round(float(put), 2) == 0.81


def test_hull_index_option_with_yield() -> None:
    # Hull: index 930, K=900, r=8 %, q=3 %, sigma=20 %, T=2/12 -> c = 51.83
    call = bs_price(930.0, 900.0, 2.0 / 12.0, 0.08, 0.03, 0.20, True)
    assert round(float(call), 2) == 51.83


def test_hull_black76_futures_put() -> None:
    # Hull: futures 20, K=20, r=9 %, sigma=25 %, T=4/12 -> p = 1.12
    put = black76_price(20.0, 20.0, 4.0 / 12.0, 0.09, 0.25, False)
    assert round(float(put), 2) == 1.12


def test_hull_greeks() -> None:
    # Hull: S=49, K=50, r=5 %, sigma=20 %, T=20 weeks: delta 0.522, gamma 0.066,
    # vega 12.1 (per 1.00 vol), theta -4.31 (per year), rho 8.91 (per 1.00 rate)
    g = bs_greeks(49.0, 50.0, 0.3846, 0.05, 0.0, 0.20, True)
    assert round(float(g["delta"]), 3) == 0.522
    assert round(float(g["gamma"]), 3) == 0.066
    assert round(float(g["vega"]), 1) == 12.1
    assert round(float(g["theta"]), 2) == -4.31
    assert round(float(g["rho"]), 2) == 8.91


def _random_inputs(n: int = 500, seed: int = 7):
    g = np.random.default_rng(seed)
    spot = g.uniform(10, 500, n)
    strike = spot * np.exp(g.normal(0, 0.3, n))
    t = g.uniform(0.01, 2.0, n)
    r = g.uniform(-0.01, 0.08, n)
    q = g.uniform(0.0, 0.05, n)
    vol = g.uniform(0.05, 1.0, n)
    return spot, strike, t, r, q, vol


def test_put_call_parity() -> None:
    spot, strike, t, r, q, vol = _random_inputs()
    c = bs_price(spot, strike, t, r, q, vol, np.ones_like(spot, bool))
    p = bs_price(spot, strike, t, r, q, vol, np.zeros_like(spot, bool))
    parity = spot * np.exp(-q * t) - strike * np.exp(-r * t)
    np.testing.assert_allclose(c - p, parity, rtol=0, atol=1e-9 * spot.max())


def test_black76_matches_bsm_on_forward() -> None:
    spot, strike, t, r, q, vol = _random_inputs()
    fwd = spot * np.exp((r - q) * t)
    for is_call in (True, False):
        np.testing.assert_allclose(
            black76_price(fwd, strike, t, r, vol, is_call),
            bs_price(spot, strike, t, r, q, vol, is_call),
            rtol=1e-12,
            atol=1e-12,
        )


@pytest.mark.parametrize("is_call", [True, False])
def test_greeks_match_finite_differences(is_call: bool) -> None:
    spot, strike, t, r, q, vol = _random_inputs(200, seed=11)
    g = bs_greeks(spot, strike, t, r, q, vol, is_call)

    def price(s=spot, k=strike, tt=t, rr=r, vv=vol):
        return bs_price(s, k, tt, rr, q, vv, is_call)

    hs = 1e-4 * spot
    fd_delta = (price(s=spot + hs) - price(s=spot - hs)) / (2 * hs)
    fd_gamma = (price(s=spot + hs) - 2 * price() + price(s=spot - hs)) / hs**2
    hv, ht, hr = 1e-5, 1e-6, 1e-6
    fd_vega = (price(vv=vol + hv) - price(vv=vol - hv)) / (2 * hv)
    fd_theta = -(price(tt=t + ht) - price(tt=t - ht)) / (2 * ht)
    fd_rho = (price(rr=r + hr) - price(rr=r - hr)) / (2 * hr)
    np.testing.assert_allclose(g["delta"], fd_delta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g["gamma"], fd_gamma, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(g["vega"], fd_vega, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g["theta"], fd_theta, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(g["rho"], fd_rho, rtol=1e-5, atol=1e-5)


def test_greek_ranges_and_broadcasting() -> None:
    strikes = np.linspace(50, 150, 21)
    g = bs_greeks(100.0, strikes, 0.5, 0.03, 0.01, 0.25, strikes > 100)
    assert g["delta"].shape == strikes.shape
    assert np.all(np.abs(g["delta"]) <= 1)
    assert np.all(g["gamma"] >= 0) and np.all(g["vega"] >= 0)


def test_degenerate_inputs_give_intrinsic() -> None:
    # expiry now: undiscounted intrinsic; zero vol: discounted intrinsic of the forward
    assert float(bs_price(110.0, 100.0, 0.0, 0.05, 0.0, 0.3, True)) == pytest.approx(10.0)
    assert float(bs_price(90.0, 100.0, 0.0, 0.05, 0.0, 0.3, True)) == 0.0
    fwd = 100.0 * np.exp(0.05)
    assert float(bs_price(100.0, 100.0, 1.0, 0.05, 0.0, 0.0, True)) == pytest.approx(
        np.exp(-0.05) * (fwd - 100.0)
    )
    g = bs_greeks(110.0, 100.0, 0.0, 0.05, 0.0, 0.3, False)
    assert float(g["delta"]) == 0.0 and float(g["gamma"]) == 0.0


def test_prices_monotone_and_convex_in_strike() -> None:
    k = np.linspace(60, 140, 81)
    c = bs_price(100.0, k, 0.75, 0.04, 0.02, 0.3, True)
    assert np.all(np.diff(c) < 0)
    assert np.all(np.diff(c, 2) > 0)


def test_svi_formula_and_ssvi_mapping() -> None:
    k = np.linspace(-1.5, 1.5, 31)
    theta, rho, eta, gamma = 0.04, -0.6, 1.1, 0.4
    phi = ssvi_power_law_phi(theta, eta, gamma)
    a, b, r, m, s = ssvi_to_raw(theta, phi, rho)
    ssvi = theta / 2 * (1 + rho * phi * k + np.sqrt((phi * k + rho) ** 2 + 1 - rho**2))
    np.testing.assert_allclose(svi_total_variance(k, a, b, r, m, s), ssvi, rtol=1e-12)
    assert float(svi_total_variance(0.0, a, b, r, m, s)) == pytest.approx(theta)


def test_durrleman_g_flags_known_butterfly_arbitrage() -> None:
    # Axel Vogt's raw SVI slice (Gatheral & Jacquier 2014): arbitrage, g < 0 near k ~ 1
    k = np.linspace(-1.5, 1.5, 301)
    g_bad = svi_durrleman_g(k, -0.0410, 0.1331, 0.3060, 0.3586, 0.4153)
    assert g_bad.min() < 0
    # an SSVI slice with eta (1 + |rho|) <= 2 is arbitrage-free
    phi = ssvi_power_law_phi(0.09, 1.2, 0.5)
    g_ok = svi_durrleman_g(k, *ssvi_to_raw(0.09, phi, -0.6))
    assert g_ok.min() >= 0
