"""Tests of python_udfs.sizing on hand-computed cases: vol-scaled weights, options-informed
targets / stops, the Kelly fraction (checked against a numerical log-growth maximum), half-Kelly
sizes with the PCR and liquidity cuts, order costs and limit prices."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from python_udfs.sizing import (
    TARGET_STOP_PARAMS,
    half_kelly_size,
    kelly_fraction,
    limit_price,
    options_informed_target_stop,
    order_costs,
    swing_trade_plan,
    vol_scaled_weight,
)


def test_vol_scaled_weight_hand_cases() -> None:
    got = vol_scaled_weight([0.30, 0.15, 0.05, 1.0, 0.0, np.nan, 0.10])
    np.testing.assert_allclose(got, [0.5, 1.0, 2.0, 0.2, 2.0, np.nan, 1.5])
    assert float(vol_scaled_weight(0.2, target_vol=0.1)) == pytest.approx(0.5)
    assert float(vol_scaled_weight(0.5, min_weight=0.0)) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("p", "w", "loss"), [(0.55, 0.08, -0.04), (0.6, 0.3, 0.5), (0.4, 1.0, 0.2)]
)
def test_kelly_fraction_maximises_log_growth(p: float, w: float, loss: float) -> None:
    f = float(kelly_fraction(p, w, loss))
    lo = abs(loss)
    assert f == pytest.approx(p / lo - (1 - p) / w, rel=1e-14)

    def neg_growth(x: float) -> float:
        return -(p * math.log1p(x * w) + (1 - p) * math.log1p(-x * lo))

    best = minimize_scalar(neg_growth, bounds=(-1 / w + 1e-9, 1 / lo - 1e-9), method="bounded",
                           options={"xatol": 1e-10})  # fmt: skip
    assert f == pytest.approx(best.x, rel=1e-6, abs=1e-8)


def test_kelly_hand_values_and_invalid() -> None:
    assert float(kelly_fraction(0.55, 0.08, -0.04)) == pytest.approx(13.75 - 5.625)
    assert float(kelly_fraction(0.5, 0.05, 0.05)) == pytest.approx(0.0)
    assert np.isnan(kelly_fraction(0.5, 0.0, 0.05))
    assert np.isnan(kelly_fraction(1.5, 0.1, 0.05))


def test_half_kelly_size_hand_cases() -> None:
    # f* = 0.52 / 0.5 - 0.48 / 0.5 = 0.08; half = 4 %
    r = half_kelly_size(0.52, 0.5, -0.5)
    assert float(r["kelly"]) == pytest.approx(0.08)
    assert float(r["size"]) == pytest.approx(0.04)
    assert not bool(r["capped"])
    assert float(half_kelly_size(0.52, 0.5, -0.5, pcr_extreme=True)["size"]) == pytest.approx(0.028)
    assert float(
        half_kelly_size(0.52, 0.5, -0.5, pcr_extreme=True, avg_dollar_volume=10e6)["size"]
    ) == pytest.approx(0.014)
    assert float(half_kelly_size(0.52, 0.5, -0.5, avg_dollar_volume=50e6)["size"]) == (
        pytest.approx(0.04)
    )
    # large edge: half Kelly 4.06 capped at 10 %, then the cuts
    r = half_kelly_size(0.55, 0.08, -0.04, pcr_extreme=True, avg_dollar_volume=5e6)
    assert bool(r["capped"])
    assert float(r["size"]) == pytest.approx(0.10 * 0.7 * 0.5)
    assert float(r["reward_risk"]) == pytest.approx(2.0)
    # no edge or invalid: zero size
    assert float(half_kelly_size(0.3, 0.05, -0.05)["size"]) == 0.0
    assert float(half_kelly_size(0.6, -0.05, -0.05)["size"]) == 0.0
    # vectorised
    v = half_kelly_size([0.52, 0.3], [0.5, 0.05], [-0.5, -0.05])
    np.testing.assert_allclose(v["size"], [0.04, 0.0])


def test_target_stop_hand_cases() -> None:
    q10, q50, q90, vol = -0.04, 0.01, 0.06, 0.015
    base = options_informed_target_stop(q10, q50, q90, vol)
    assert float(base["target"]) == pytest.approx(0.045)  # 0.01 + 0.7 * 0.05
    assert float(base["stop"]) == pytest.approx(-0.05)  # min(-0.03, -0.05)
    assert float(options_informed_target_stop(q10, q50, q90, 0.03)["stop"]) == pytest.approx(-0.06)
    # max pain 3 % below: pinned -> target x 0.8, support below -> stop x 0.8
    r = options_informed_target_stop(q10, q50, q90, vol, max_pain_distance=-0.03)
    assert float(r["target"]) == pytest.approx(0.036)
    assert float(r["stop"]) == pytest.approx(-0.04)
    # max pain 3 % above: target x 0.8, stop unchanged
    r = options_informed_target_stop(q10, q50, q90, vol, max_pain_distance=0.03)
    assert float(r["target"]) == pytest.approx(0.036)
    assert float(r["stop"]) == pytest.approx(-0.05)
    # gamma concentration (not pinned), PCR extreme, high IV
    r = options_informed_target_stop(q10, q50, q90, vol, 0.2, 0.8, True, 0.9)
    assert float(r["target"]) == pytest.approx(0.045 * 0.9 * 0.85 * 0.9)
    assert float(r["stop"]) == pytest.approx(-0.05 * 1.2)
    # low IV
    r = options_informed_target_stop(q10, q50, q90, vol, iv_percentile=0.1)
    assert float(r["target"]) == pytest.approx(0.045 * 1.1)
    # parameters are overridable
    r = options_informed_target_stop(q10, q50, q90, vol, params={"target_quantile_weight": 0.5})
    assert float(r["target"]) == pytest.approx(0.035)
    with pytest.raises(ValueError, match="unknown"):
        options_informed_target_stop(q10, q50, q90, vol, params={"nope": 1.0})
    assert TARGET_STOP_PARAMS["target_quantile_weight"] == 0.7


def test_swing_trade_plan_plain_values() -> None:
    plan = swing_trade_plan(-0.04, 0.01, 0.06, 0.015, 0.55, iv_percentile=0.5,
                            avg_dollar_volume=1e9)  # fmt: skip
    assert plan["target"] == pytest.approx(0.045)
    assert plan["stop"] == pytest.approx(-0.05)
    assert plan["kelly"] == pytest.approx(0.55 / 0.05 - 0.45 / 0.045)
    assert plan["size"] == pytest.approx(0.10)  # half Kelly 0.5 capped
    assert plan["iv_regime"] == "medium"
    json.dumps(plan)
    assert type(plan["size"]) is float


def test_order_costs_hand_cases() -> None:
    c = order_costs(1.00, 1.10, contracts=10)
    assert c["spread"] == pytest.approx(5.0)  # half of 0.10 x 100 shares
    assert c["commission"] == 0.65 and c["fees"] == 0.02
    assert c["impact"] == 0.0
    assert c["per_contract"] == pytest.approx(5.67)
    assert c["total"] == pytest.approx(56.7)
    # 10 % participation: impact = mid x daily vol x sqrt(0.1) x 100
    c = order_costs(1.00, 1.10, contracts=-10, adv_contracts=100, daily_vol=0.3)
    assert c["participation"] == pytest.approx(0.1)
    assert c["impact"] == pytest.approx(1.05 * 0.3 * math.sqrt(0.1) * 100)
    assert c["total"] == pytest.approx(10 * (5.67 + c["impact"]))
    # 1 % participation: below the 5 % threshold
    assert order_costs(1.00, 1.10, 10, adv_contracts=1000, daily_vol=0.3)["impact"] == 0.0
    # arrays
    c = order_costs([1.0, 2.0], [1.2, 2.1], 1, multiplier=[100, 10])
    assert c["spread"] == pytest.approx([10.0, 0.5])
    json.dumps(c)
    with pytest.raises(ValueError):
        order_costs(1.1, 1.0)


def test_limit_price() -> None:
    assert limit_price(1.00, 1.10, "buy") == pytest.approx(1.03)
    assert limit_price(1.00, 1.10, "sell") == pytest.approx(1.07)
    assert limit_price(1.00, 1.10, "buy", tick=0.01) == pytest.approx(1.03)
    assert limit_price(1.00, 1.10, "buy", tick=0.05) == pytest.approx(1.00)
    assert limit_price(1.00, 1.10, "sell", tick=0.05) == pytest.approx(1.10)
    assert limit_price([1.0, 2.0], [2.0, 2.0], "buy") == pytest.approx([1.3, 2.0])
    with pytest.raises(ValueError, match="side"):
        limit_price(1.0, 1.1, "hold")
