"""Tests of python_udfs.iv_stats: hand-computed IV rank / percentile values, NaN handling,
point-in-time property and a brute-force loop for the 21- and 252-day windows."""

from __future__ import annotations

import numpy as np
import pytest

from python_udfs.iv_stats import iv_percentile, iv_rank, iv_rank_percentile

NAN = np.nan
# window 4 (hand-computed below)
IV = [10.0, 12.0, 11.0, 15.0, 13.0, 20.0, 14.0]


def test_rank_hand_computed() -> None:
    # i=3: [10,12,11,15] -> (15-10)/5; i=4: [12,11,15,13] -> (13-11)/4;
    # i=5: [11,15,13,20] -> (20-11)/9; i=6: [15,13,20,14] -> (14-13)/7
    expected = [NAN, NAN, NAN, 1.0, 0.5, 1.0, 1.0 / 7.0]
    np.testing.assert_allclose(iv_rank(IV, window=4), expected, rtol=0, atol=1e-15)


def test_percentile_hand_computed() -> None:
    # previous 4 days, today excluded: i=4: [10,12,11,15] < 13 -> 3/4;
    # i=5: [12,11,15,13] < 20 -> 4/4; i=6: [11,15,13,20] < 14 -> 2/4
    expected = [NAN, NAN, NAN, NAN, 0.75, 1.0, 0.5]
    np.testing.assert_allclose(iv_percentile(IV, window=4), expected, rtol=0, atol=1e-15)


def test_rank_differs_from_percentile_on_a_spike() -> None:
    # one spike to 40 stretches the range: today's 11.5 is low in the range (rank 0.04) but
    # above 4 of the previous 5 days (percentile 0.8)
    iv = [10.0, 10.5, 11.0, 10.2, 40.0, 11.5]
    rank = iv_rank(iv, window=5)
    pct = iv_percentile(iv, window=5)
    assert rank[5] == pytest.approx((11.5 - 10.2) / (40.0 - 10.2), abs=1e-15)
    assert pct[5] == pytest.approx(0.8, abs=1e-15)
    assert rank[4] == pytest.approx(1.0)  # the spike day itself
    assert np.isnan(pct[4])  # only 4 previous days < window 5


def test_ties_and_flat_window() -> None:
    iv = [10.0, 10.0, 10.0, 10.0, 10.0]
    assert np.isnan(iv_rank(iv, window=3)).all()  # max == min: undefined
    pct = iv_percentile(iv, window=3)
    assert pct[3] == 0.0 and pct[4] == 0.0  # equal is not below


def test_nan_handling_and_min_periods() -> None:
    iv = [10.0, NAN, 12.0, 11.0, NAN, 15.0]
    rank = iv_rank(iv, window=4, min_periods=3)
    # i=2: 2 finite values < 3; i=3: [10, nan, 12, 11] -> (11-10)/2; i=4: today missing;
    # i=5: [12, 11, nan, 15] -> (15-11)/4
    np.testing.assert_allclose(rank, [NAN, NAN, NAN, 0.5, NAN, 1.0], atol=1e-15)
    pct = iv_percentile(iv, window=4, min_periods=2)
    # i=3: previous [-, 10, nan, 12] -> 1 of 2 below 11; i=5: previous [nan, 12, 11, nan] -> 2/2
    np.testing.assert_allclose(pct, [NAN, NAN, NAN, 0.5, NAN, 1.0], atol=1e-15)
    assert np.isnan(iv_percentile(iv, window=4, min_periods=3)[5])
    assert np.isnan(iv_rank([10.0, np.inf, 11.0], window=2)[1])
    with pytest.raises(ValueError):
        iv_rank(iv, window=4, min_periods=5)


def _loop_rank(x: np.ndarray, w: int, mp: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    for i in range(x.size):
        win = x[max(0, i - w + 1) : i + 1]
        win = win[np.isfinite(win)]
        if np.isfinite(x[i]) and win.size >= mp and win.max() > win.min():
            out[i] = (x[i] - win.min()) / (win.max() - win.min())
    return out


def _loop_pct(x: np.ndarray, w: int, mp: int) -> np.ndarray:
    out = np.full(x.size, np.nan)
    for i in range(x.size):
        prev = x[max(0, i - w) : i]
        prev = prev[np.isfinite(prev)]
        if np.isfinite(x[i]) and prev.size >= mp:
            out[i] = np.mean(prev < x[i])
    return out


@pytest.mark.parametrize(("window", "min_periods"), [(21, None), (252, None), (252, 200)])
def test_against_loop_and_point_in_time(window: int, min_periods: int | None) -> None:
    g = np.random.Generator(np.random.PCG64(7))
    x = np.exp(g.normal(np.log(0.2), 0.3, 700)).round(3)  # rounding creates ties
    x[g.choice(700, 40, replace=False)] = np.nan
    mp = window if min_periods is None else min_periods
    rank = iv_rank(x, window, min_periods)
    pct = iv_percentile(x, window, min_periods)
    np.testing.assert_allclose(rank, _loop_rank(x, window, mp), atol=1e-14)
    np.testing.assert_allclose(pct, _loop_pct(x, window, mp), atol=1e-14)
    # point in time: a prefix gives the same values
    np.testing.assert_array_equal(iv_rank(x[:400], window, min_periods), rank[:400])
    np.testing.assert_array_equal(iv_percentile(x[:400], window, min_periods), pct[:400])
    both = iv_rank_percentile(x, windows=(window,), min_periods=min_periods)
    np.testing.assert_array_equal(both[f"iv_rank_{window}"], rank)
    np.testing.assert_array_equal(both[f"iv_percentile_{window}"], pct)


def test_defaults_and_empty() -> None:
    x = np.linspace(0.1, 0.5, 300)
    out = iv_rank_percentile(x)
    assert set(out) == {"iv_rank_21", "iv_percentile_21", "iv_rank_252", "iv_percentile_252"}
    assert np.isnan(out["iv_rank_252"][250]) and out["iv_rank_252"][251] == 1.0
    assert np.isnan(out["iv_percentile_252"][251]) and out["iv_percentile_252"][252] == 1.0
    assert iv_rank([], 21).size == 0 and iv_percentile([], 21).size == 0
