"""Tests of python_udfs.parity: forward and implied yield recovered from chains priced with
bs_price at a known dividend yield, with quote noise, outliers and spread weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from python_udfs.black_scholes import bs_price
from python_udfs.parity import implied_forward, per_strike_forward, weighted_median

S, R = 250.0, 0.045


def chain(t: float, q: float, vol_atm: float = 0.3, n: int = 41):
    strikes = S * np.exp(np.linspace(-0.4, 0.4, n) * math.sqrt(t) + (R - q) * t)
    strikes = np.round(strikes, 1)
    vol = vol_atm - 0.15 * np.log(strikes / S)  # a skew: parity holds strike by strike
    call = bs_price(S, strikes, t, R, q, vol, True)
    put = bs_price(S, strikes, t, R, q, vol, False)
    return strikes, call, put


@pytest.mark.parametrize("t, q", [(0.1, 0.0), (0.5, 0.02), (2.0, 0.035)])
def test_exact_chain_recovers_forward_and_yield(t: float, q: float) -> None:
    k, c, p = chain(t, q)
    out = implied_forward(k, c, p, R, t, spot=S)
    assert out["forward"] == pytest.approx(S * math.exp((R - q) * t), rel=1e-12)
    assert out["implied_q"] == pytest.approx(q, abs=1e-10)
    assert int(out["n_pairs"]) == 8  # exact chain: every near-the-money pair agrees
    np.testing.assert_allclose(per_strike_forward(k, c, p, R, t), S * math.exp((R - q) * t))


def test_noisy_chain_with_outliers_and_spread_weights() -> None:
    g = np.random.Generator(np.random.PCG64(8))
    t, q = 0.5, 0.02
    k, c, p = chain(t, q)
    spread_c = 0.02 + 0.01 * c
    spread_p = 0.02 + 0.01 * p
    errs = {8: [], 16: []}
    for _ in range(60):
        cn = c + g.normal(0.0, 0.25 * spread_c)
        pn = p + g.normal(0.0, 0.25 * spread_p)
        pn[20] += 1.0  # bad quotes at the money
        cn[18] -= 0.7
        for n_near, e in errs.items():
            out = implied_forward(
                k, cn, pn, R, t, spot=S, call_spread=spread_c, put_spread=spread_p, n_near=n_near
            )
            e.append(abs(float(out["implied_q"]) - q))
    # per-strike forward noise ~ sqrt(2) 0.25 spread ~ 0.08 at the money; 6 good pairs of 8:
    # F error ~ 0.035, q error ~ 0.035 / (253 * 0.5) ~ 2.7e-4 (1 sd)
    e8, e16 = np.array(errs[8]), np.array(errs[16])
    assert np.median(e8) < 4e-4 and e8.max() < 1.5e-3
    assert np.median(e16) < np.median(e8)
    # a plain mean of the per-strike forwards is dragged by the outliers
    cn = c + 0.0
    pn = p + 0.0
    pn[20] += 1.0
    cn[18] -= 0.7
    naive = float(np.mean(per_strike_forward(k, cn, pn, R, t)[16:24]))
    robust = float(implied_forward(k, cn, pn, R, t, spot=S)["forward"])
    true_f = S * math.exp((R - q) * t)
    assert abs(robust - true_f) < 0.2 * abs(naive - true_f)


def test_invalid_inputs_and_helpers() -> None:
    out = implied_forward([100.0], [np.nan], [1.0], R, 0.5, spot=S)
    assert np.isnan(out["forward"]) and int(out["n_pairs"]) == 0
    out = implied_forward([100.0, 105.0], [5.0, 2.0], [3.0, 5.0], R, 0.5)
    assert np.isnan(out["implied_q"]) and np.isfinite(out["forward"])
    assert weighted_median([1.0, 2.0, 10.0], [1.0, 1.0, 1.0]) == 2.0
    assert weighted_median([1.0, 2.0, 10.0], [1.0, 1.0, 5.0]) == 10.0
