"""Zero-curve interpolation convention (linear in tenor days, flat extrapolation)."""

from __future__ import annotations

import numpy as np
import pytest

from python_udfs.rates import discount_factor, zero_rate

TENORS = [1, 30, 365]
RATES = [0.01, 0.02, 0.05]


def test_hits_the_published_points():
    assert np.allclose(zero_rate(TENORS, RATES, np.array(TENORS) / 365.0), RATES)


def test_linear_in_days_between_tenors():
    # 197.5 days is half way from 30 to 365 days: half way from 2 % to 5 %
    assert zero_rate(TENORS, RATES, 197.5 / 365.0) == pytest.approx(0.035, abs=1e-15)


def test_flat_beyond_the_ends_and_unsorted_input():
    assert zero_rate([365, 1, 30], [0.05, 0.01, 0.02], [0.0, 10.0]).tolist() == [0.01, 0.05]


def test_discount_factor():
    assert discount_factor(TENORS, RATES, 1.0) == pytest.approx(np.exp(-0.05))


def test_bad_curve_is_an_error():
    with pytest.raises(ValueError):
        zero_rate([1, 2], [0.01], 1.0)
