"""Tests of python_udfs.american (BBS-Richardson lattice, escrowed discrete dividends, IV).

Independent reference: a plain scalar Cox-Ross-Rubinstein tree written here (escrowed-dividend
variant as in Hull), first checked against Hull's published five-step values (American put
S=50, K=50, r=10 %, sigma=40 %, 5 months: 4.49; with a 2.06 dividend in 3.5 months and S=52:
4.44), then run with 2000/2001 steps (averaged, which cancels CRR's odd-even oscillation) as the
converged reference (4000/4001 with discrete dividends). Accuracy target: 0.002 on a spot of
100.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from python_udfs.american import (
    american_implied_vol,
    american_implied_vol_dividends,
    american_implied_vol_dividends_status,
    american_implied_vol_status,
    american_price,
    american_price_dividends,
)
from python_udfs.black_scholes import bs_price


def crr(s, k, t, r, sigma, n, is_call, q=0.0, divs=()) -> float:
    """Scalar CRR American price; ``divs`` = ((ex_time, amount), ...) in the escrowed model."""
    dt = t / n
    u = math.exp(sigma * math.sqrt(dt))
    d = 1.0 / u
    p = (math.exp((r - q) * dt) - d) / (u - d)
    disc = math.exp(-r * dt)

    def pv(t0: float) -> float:
        return sum(a * math.exp(-r * (td - t0)) for td, a in divs if t0 < td <= t)

    s_star = s - pv(0.0)
    sign = 1.0 if is_call else -1.0
    j = np.arange(n + 1)
    values = np.maximum(sign * (s_star * u**j * d ** (n - j) + pv(t) - k), 0.0)
    for i in range(n - 1, -1, -1):
        j = np.arange(i + 1)
        node = s_star * u**j * d ** (i - j) + pv(i * dt)
        values = np.maximum(disc * (p * values[1:] + (1 - p) * values[:-1]), sign * (node - k))
    return float(values[0])


def crr_converged(s, k, t, r, sigma, is_call, q=0.0, divs=(), n=2000) -> float:
    """Average of the n- and (n+1)-step CRR prices (cancels the odd-even oscillation)."""
    return 0.5 * (
        crr(s, k, t, r, sigma, n, is_call, q, divs)
        + crr(s, k, t, r, sigma, n + 1, is_call, q, divs)
    )


def test_reference_tree_reproduces_hull() -> None:
    assert round(crr(50.0, 50.0, 5 / 12, 0.10, 0.40, 5, False), 2) == 4.49
    divs = ((3.5 / 12, 2.06),)
    assert round(crr(52.0, 50.0, 5 / 12, 0.10, 0.40, 5, False, divs=divs), 2) == 4.44


def test_hull_put_converged() -> None:
    ref = crr_converged(50.0, 50.0, 5 / 12, 0.10, 0.40, False)
    assert abs(ref - 4.284) < 1e-3  # Hull quotes 4.283 for 500 CRR steps
    # spot 50: half the 0.002-at-100 tolerance
    assert abs(float(american_price(50.0, 50.0, 5 / 12, 0.10, 0.0, 0.40, False)) - ref) < 1e-3


CASES = [
    # strike, t, r, q, vol, is_call
    (100.0, 1.0, 0.05, 0.0, 0.20, False),
    (110.0, 0.5, 0.08, 0.0, 0.30, False),
    (90.0, 2.0, 0.03, 0.0, 0.25, False),
    (120.0, 1.0, 0.06, 0.02, 0.35, False),
    (80.0, 1.0, 0.02, 0.06, 0.25, True),
    (100.0, 3.0, 0.01, 0.04, 0.30, True),
    (95.0, 0.1, 0.05, 0.10, 0.40, True),
    (100.0, 5.0, 0.07, 0.03, 0.45, False),
    (70.0, 2.0, 0.01, 0.05, 0.60, True),
    (100.0, 0.05, 0.05, 0.0, 0.15, False),
]


@pytest.mark.parametrize("case", CASES)
def test_accuracy_against_converged_crr(case) -> None:
    k, t, r, q, vol, is_call = case
    ref = crr_converged(100.0, k, t, r, vol, is_call, q)
    got = float(american_price(100.0, k, t, r, q, vol, is_call))
    assert abs(got - ref) < 2e-3


def test_bounds_and_european_relations() -> None:
    g = np.random.Generator(np.random.PCG64(11))
    n = 400
    k = g.uniform(60, 140, n)
    t = np.exp(g.uniform(np.log(2 / 365), np.log(3), n))
    vol = g.uniform(0.05, 0.9, n)
    r = g.uniform(0.0, 0.08, n)
    q = g.uniform(0.0, 0.06, n)
    is_call = g.random(n) < 0.5
    am = american_price(100.0, k, t, r, q, vol, is_call)
    eu = bs_price(100.0, k, t, r, q, vol, is_call)
    intrinsic = np.maximum(np.where(is_call, 100.0 - k, k - 100.0), 0.0)
    assert np.all(am >= eu) and np.all(am >= intrinsic)
    assert np.all(am <= np.where(is_call, 100.0, k))
    # no dividends, r >= 0: the American call is the European call
    calls = american_price(100.0, k, t, r, 0.0, vol, True)
    np.testing.assert_allclose(calls, bs_price(100.0, k, t, r, 0.0, vol, True), rtol=1e-14)
    # deep ITM put with positive rate carries an early-exercise premium
    assert (
        american_price(100.0, 150.0, 1.0, 0.05, 0.0, 0.2, False)
        > bs_price(100.0, 150.0, 1.0, 0.05, 0.0, 0.2, False) + 1.0
    )
    # monotone in vol
    vols = np.linspace(0.05, 1.0, 20)
    prices = american_price(100.0, 105.0, 0.7, 0.04, 0.01, vols, False)
    assert np.all(np.diff(prices) > 0)
    # degenerate inputs
    assert float(american_price(100.0, 90.0, 0.0, 0.05, 0.0, 0.3, True)) == 10.0
    assert np.isnan(american_price(np.nan, 90.0, 1.0, 0.05, 0.0, 0.3, True))


DIVS = ((0.15, 1.0), (0.40, 1.0), (0.65, 1.0), (0.90, 1.0))


@pytest.mark.parametrize(
    "k, is_call", [(100.0, True), (90.0, True), (110.0, False), (100.0, False)]
)
def test_discrete_dividends_against_converged_crr(k: float, is_call: bool) -> None:
    times = np.array([d[0] for d in DIVS])
    amounts = np.array([d[1] for d in DIVS])
    # discrete dividends slow CRR down: 4000 steps for a ~3e-4 reference
    ref = crr_converged(100.0, k, 1.0, 0.05, 0.3, is_call, divs=DIVS, n=4000)
    got = float(american_price_dividends(100.0, k, 1.0, 0.05, 0.3, is_call, times, amounts))
    assert abs(got - ref) < 2e-3
    # the American call on a dividend payer is worth more than the European call (escrowed)
    if is_call:
        pv = sum(a * math.exp(-0.05 * td) for td, a in DIVS)
        assert got > float(bs_price(100.0 - pv, k, 1.0, 0.05, 0.0, 0.3, True)) + 1e-3


def test_dividend_schedule_handling() -> None:
    k = np.array([90.0, 100.0, 110.0])
    no_div = american_price_dividends(100.0, k, 1.0, 0.05, 0.3, False, [], [])
    np.testing.assert_allclose(no_div, american_price(100.0, k, 1.0, 0.05, 0.0, 0.3, False))
    # ex-dates after expiry or before today, NaN padding, are ignored
    padded = american_price_dividends(
        100.0, k, 0.5, 0.05, 0.3, True, [[0.2, 0.7, -0.1, np.nan]], [[1.5, 1.5, 1.5, np.nan]]
    )
    single = american_price_dividends(100.0, k, 0.5, 0.05, 0.3, True, [0.2], [1.5])
    np.testing.assert_allclose(padded, single)
    # dividends worth more than the stock: NaN
    assert np.isnan(american_price_dividends(10.0, 10.0, 1.0, 0.05, 0.3, True, [0.5], [20.0]))


def test_implied_vol_round_trip() -> None:
    g = np.random.Generator(np.random.PCG64(5))
    n = 120
    k = g.uniform(70, 130, n)
    t = np.exp(g.uniform(np.log(7 / 365), np.log(3), n))
    vol = g.uniform(0.08, 1.0, n)
    r = g.uniform(0.0, 0.08, n)
    q = g.uniform(0.0, 0.06, n)
    is_call = g.random(n) < 0.5
    price = american_price(100.0, k, t, r, q, vol, is_call)
    iv = american_implied_vol(price, 100.0, k, t, r, q, is_call)
    status = american_implied_vol_status(price, 100.0, k, t, r, q, is_call)
    intrinsic = np.maximum(np.where(is_call, 100.0 - k, k - 100.0), 0.0)
    informative = price - intrinsic > 0.05
    assert np.all(status[informative] == "ok")
    np.testing.assert_allclose(iv[informative], vol[informative], rtol=1e-6)
    repriced = american_price(100.0, k, t, r, q, iv, is_call)
    ok = status == "ok"
    np.testing.assert_allclose(repriced[ok], price[ok], rtol=1e-9, atol=1e-9)


def test_implied_vol_dividends_round_trip() -> None:
    times = np.array([d[0] for d in DIVS])
    amounts = np.array([d[1] for d in DIVS])
    k = np.array([85.0, 95.0, 100.0, 105.0, 115.0, 85.0, 100.0, 115.0])
    is_call = np.array([True, True, True, True, True, False, False, False])
    vol = np.array([0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.3, 0.22])
    price = american_price_dividends(100.0, k, 1.0, 0.04, vol, is_call, times, amounts)
    iv = american_implied_vol_dividends(price, 100.0, k, 1.0, 0.04, is_call, times, amounts)
    np.testing.assert_allclose(iv, vol, rtol=1e-6)
    status = american_implied_vol_dividends_status(
        price, 100.0, k, 1.0, 0.04, is_call, times, amounts
    )
    assert list(status) == ["ok"] * k.size


def test_implied_vol_status_outside_bounds() -> None:
    price = np.array([5.0, 101.0, np.nan, 0.0, 3.0])
    k = np.array([110.0, 100.0, 100.0, 100.0, 100.0])
    is_call = np.array([False, True, True, True, True])
    status = american_implied_vol_status(price, 100.0, k, 0.5, 0.03, 0.0, is_call)
    assert list(status) == [
        "below_intrinsic",  # put intrinsic 10 > 5
        "above_upper_bound",  # call above the spot
        "nonpositive_input",
        "nonpositive_input",
        "ok",
    ]
    iv = american_implied_vol(price, 100.0, k, 0.5, 0.03, 0.0, is_call)
    assert np.isnan(iv[:4]).all() and np.isfinite(iv[4])
