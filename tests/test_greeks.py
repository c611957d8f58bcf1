"""Analytic BSM greeks (python_udfs.black_scholes.bs_greeks) against central finite
differences of bs_price, and the put-call-parity identities between call and put greeks.

Conventions checked: vega/vanna/volga per 1.00 vol, rho per 1.00 rate, theta and charm per
year of calendar time passing (= -d/dT), vanna = d delta / d vol, volga = d vega / d vol.
"""

from __future__ import annotations

import numpy as np
import pytest

from python_udfs.black_scholes import bs_greeks, bs_price

KEYS = ("delta", "gamma", "vega", "theta", "rho", "vanna", "volga", "charm")


def _inputs(n: int = 300, seed: int = 3):
    g = np.random.Generator(np.random.PCG64(seed))
    spot = g.uniform(20, 400, n)
    t = g.uniform(0.05, 3.0, n)
    vol = g.uniform(0.08, 0.9, n)
    strike = spot * np.exp(g.normal(0.0, 1.0, n) * vol * np.sqrt(t))
    r = g.uniform(-0.01, 0.08, n)
    q = g.uniform(0.0, 0.06, n)
    return spot, strike, t, r, q, vol


@pytest.mark.parametrize("is_call", [True, False])
def test_greeks_match_central_differences(is_call: bool) -> None:
    spot, strike, t, r, q, vol = _inputs()
    g = bs_greeks(spot, strike, t, r, q, vol, is_call)

    def v(s=spot, tt=t, rr=r, vv=vol):
        return bs_price(s, strike, tt, rr, q, vv, is_call)

    hs, hv, ht, hr = 1e-4 * spot, 1e-4, 1e-5, 1e-5
    fd = {
        "delta": (v(s=spot + hs) - v(s=spot - hs)) / (2 * hs),
        "gamma": (v(s=spot + hs) - 2 * v() + v(s=spot - hs)) / hs**2,
        "vega": (v(vv=vol + hv) - v(vv=vol - hv)) / (2 * hv),
        "theta": -(v(tt=t + ht) - v(tt=t - ht)) / (2 * ht),
        "rho": (v(rr=r + hr) - v(rr=r - hr)) / (2 * hr),
        "vanna": (
            v(s=spot + hs, vv=vol + hv)
            - v(s=spot + hs, vv=vol - hv)
            - v(s=spot - hs, vv=vol + hv)
            + v(s=spot - hs, vv=vol - hv)
        )
        / (4 * hs * hv),
        "volga": (v(vv=vol + hv) - 2 * v() + v(vv=vol - hv)) / hv**2,
        "charm": -(
            v(s=spot + hs, tt=t + ht)
            - v(s=spot + hs, tt=t - ht)
            - v(s=spot - hs, tt=t + ht)
            + v(s=spot - hs, tt=t - ht)
        )
        / (4 * hs * ht),
    }
    tol = {
        "delta": (1e-5, 1e-8),
        "gamma": (1e-4, 1e-7),
        "vega": (1e-5, 1e-6),
        "theta": (1e-5, 1e-5),
        "rho": (1e-5, 1e-6),
        "vanna": (1e-4, 1e-5),
        "volga": (1e-3, 2e-3),
        "charm": (1e-3, 1e-4),
    }
    for key in KEYS:
        rtol, atol = tol[key]
        np.testing.assert_allclose(g[key], fd[key], rtol=rtol, atol=atol, err_msg=key)


def test_put_call_parity_of_greeks() -> None:
    spot, strike, t, r, q, vol = _inputs(seed=9)
    c = bs_greeks(spot, strike, t, r, q, vol, True)
    p = bs_greeks(spot, strike, t, r, q, vol, False)
    dq, dr = np.exp(-q * t), np.exp(-r * t)
    # C - P = S e^{-qT} - K e^{-rT}, differentiated
    np.testing.assert_allclose(c["delta"] - p["delta"], dq, rtol=1e-12, atol=1e-14)
    for key in ("gamma", "vega", "vanna", "volga"):
        np.testing.assert_allclose(c[key], p[key], rtol=1e-10, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(
        c["theta"] - p["theta"], q * spot * dq - r * strike * dr, rtol=1e-10, atol=1e-10
    )
    np.testing.assert_allclose(c["rho"] - p["rho"], strike * t * dr, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(c["charm"] - p["charm"], q * dq, rtol=1e-9, atol=1e-12)


def test_known_values_and_signs() -> None:
    # Hull: S=49, K=50, r=5 %, sigma=20 %, T=20 weeks (0.3846): theta -4.31 per year
    g = bs_greeks(49.0, 50.0, 0.3846, 0.05, 0.0, 0.20, True)
    assert round(float(g["theta"]), 2) == -4.31
    # ATM-forward straddle: vanna ~ 0 near d2 = 0; volga > 0 in the wings
    wings = bs_greeks(100.0, [60.0, 160.0], 1.0, 0.0, 0.0, 0.3, [False, True])
    assert np.all(wings["volga"] > 0)
    # OTM call: vanna > 0 (delta rises with vol); OTM put: delta falls (more negative)
    otm = bs_greeks(100.0, [130.0, 70.0], 0.5, 0.0, 0.0, 0.25, [True, False])
    assert otm["vanna"][0] > 0 and otm["vanna"][1] < 0


def test_degenerate_greeks_are_zero() -> None:
    g = bs_greeks(110.0, 100.0, 0.0, 0.05, 0.0, 0.3, True)
    for key in KEYS:
        expected = 1.0 if key == "delta" else 0.0
        assert float(g[key]) == expected, key
    assert set(g) == set(KEYS)
