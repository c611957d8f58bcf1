"""Dealer-positioning numbers on hand-made chains (known answers computed by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from python_udfs.black_scholes import bs_greeks
from python_udfs.positioning import (
    dollar_delta_exposure,
    dollar_gamma_exposure,
    gamma_flip,
    gex_profile,
    max_pain,
)


def test_max_pain_minimises_the_holders_payout():
    # payout per contract share at S=90: puts (100-90)*50 + (110-90)*10 = 700
    #                       at S=100: calls 10*10 + puts 10*10 = 200
    #                       at S=110: calls 20*10 + 10*50 = 700
    strikes = [90, 100, 110, 90, 100, 110]
    calls = [True, True, True, False, False, False]
    oi = [10, 50, 100, 100, 50, 10]
    result = max_pain(strikes, calls, oi, contract_size=100)
    assert result == {"strike": 100.0, "payout": 20000.0}
    # heavier call OI at 110 and above pulls it down: the strike with the largest |GEX| is a
    # different concept and is not what max_pain returns
    assert max_pain([100, 110], [True, True], [1, 1000])["strike"] == 100.0
    assert np.isnan(max_pain([100], [True], [0])["strike"])


def test_gamma_flip_is_the_interpolated_zero_crossing_nearest_spot():
    grid = [90.0, 95.0, 100.0, 105.0, 110.0]
    assert gamma_flip(grid, [-3.0, -1.0, 1.0, 3.0, 5.0], 101.0) == pytest.approx(97.5)
    # two crossings: the one nearer spot wins
    assert gamma_flip(grid, [1.0, -1.0, -1.0, -1.0, 1.0], 108.0) == pytest.approx(107.5)
    assert gamma_flip(grid, [1.0, -1.0, -1.0, -1.0, 1.0], 91.0) == pytest.approx(92.5)
    assert np.isnan(gamma_flip(grid, [1.0, 2.0, 3.0, 4.0, 5.0], 100.0))


def test_dollar_gamma_is_the_delta_exposure_change_for_a_one_percent_move():
    spot, k, t, r, q, vol, oi = 100.0, 105.0, 0.25, 0.03, 0.01, 0.25, 1234.0
    g = bs_greeks(spot, k, t, r, q, vol, True)
    gex = dollar_gamma_exposure(g["gamma"], oi, 100, spot, True)
    # finite difference of the dollar delta exposure (delta * oi * size * S) over +-0.01 %,
    # holding the share count delta*oi*size fixed at each end: d(delta)/dS * S * 0.01 * S
    h = 1e-4
    up = bs_greeks(spot * (1 + h), k, t, r, q, vol, True)["delta"]
    dn = bs_greeks(spot * (1 - h), k, t, r, q, vol, True)["delta"]
    fd = (up - dn) / (2 * h * spot) * oi * 100 * spot * spot * 0.01
    assert float(gex) == pytest.approx(float(fd), rel=1e-6)
    # puts count negative, deltas keep their own sign
    assert float(dollar_gamma_exposure(g["gamma"], oi, 100, spot, False)) == -float(gex)
    pd = bs_greeks(spot, k, t, r, q, vol, False)["delta"]
    assert float(dollar_delta_exposure(pd, oi, 100, spot)) < 0


def test_gex_profile_matches_per_contract_sums_and_cancels_for_matched_put_call():
    grid = np.array([90.0, 100.0, 110.0])
    profile = gex_profile(grid, [100.0, 100.0], 0.1, 0.02, 0.0, 0.2, [True, False], [500, 500])
    assert np.allclose(profile, 0.0)
    one = gex_profile(grid, [100.0], 0.1, 0.02, 0.0, 0.2, [True], [500])
    expected = [
        float(
            dollar_gamma_exposure(
                bs_greeks(s, 100.0, 0.1, 0.02, 0.0, 0.2, True)["gamma"], 500, 100, s, True
            )
        )
        for s in grid
    ]
    assert np.allclose(one, expected, rtol=1e-12)
    assert one[1] > one[0] > 0 and one[1] > one[2] > 0
