"""Tests of python_udfs.revaluation: stress P&L against direct repricing with bs_price, the
delta-gamma-vega approximation against full revaluation for small shocks, exact quantiles of a
stock-only book, Euler allocation sums, historical scenarios by hand, aggregated greeks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm

from python_udfs.black_scholes import bs_greeks, bs_price
from python_udfs.revaluation import (
    STRESS_SCENARIOS,
    delta_gamma_vega_var,
    historical_portfolio_var,
    make_book,
    mc_portfolio_var,
    portfolio_greeks,
    revalue_book,
    stress_test,
)
from python_udfs.risk import historical_var_es


def joint_corr(n_u: int, rho_s=0.4, rho_v=0.5, rho_sv=-0.5) -> np.ndarray:
    """Spot block rho_s, vol block rho_v, own spot-vol rho_sv, cross spot-vol rho_sv / 2."""
    c = np.empty((2 * n_u, 2 * n_u))
    c[:n_u, :n_u] = rho_s
    c[n_u:, n_u:] = rho_v
    c[:n_u, n_u:] = c[n_u:, :n_u] = rho_sv / 2
    idx = np.arange(n_u)
    c[idx, n_u + idx] = c[n_u + idx, idx] = rho_sv
    np.fill_diagonal(c, 1.0)
    return c


def random_book(n_u: int, n_o: int, seed: int, stock: bool = True) -> dict:
    g = np.random.Generator(np.random.PCG64(seed))
    spot = g.uniform(50, 300, n_u)
    und = g.integers(0, n_u, n_o)
    return make_book(
        spot,
        und,
        spot[und] * np.exp(g.normal(0, 0.1, n_o)),
        g.uniform(0.1, 1.0, n_o),
        0.04,
        0.01,
        g.uniform(0.15, 0.5, n_o),
        g.random(n_o) < 0.5,
        g.integers(-10, 11, n_o).astype(float),
        100.0,
        g.integers(-300, 300, n_u).astype(float) if stock else None,
    )


# --------------------------------------------------------------------------------- stress


@pytest.mark.parametrize("name", list(STRESS_SCENARIOS))
@pytest.mark.parametrize("is_call", [True, False])
def test_stress_single_option_equals_direct_repricing(name: str, is_call: bool) -> None:
    s, k, t, r, q, vol, qty, mult = 100.0, 95.0, 0.4, 0.03, 0.01, 0.25, -3.0, 100.0
    bk = make_book([s], [0], [k], [t], r, q, [vol], [is_call], [qty], mult, [50.0])
    res = stress_test(bk)
    spot_shock = STRESS_SCENARIOS[name]["spot"]
    vol_shock = STRESS_SCENARIOS[name]["vol"]
    before = bs_price(s, k, t, r, q, vol, is_call)
    after = bs_price(s * (1 + spot_shock), k, t, r, q, vol * (1 + vol_shock), is_call)
    option_pnl = qty * mult * (after - before)
    stock_pnl = 50.0 * s * spot_shock
    got = res["scenarios"][name]
    assert got["position_pnl"][0] == pytest.approx(float(option_pnl), rel=1e-13)
    assert got["position_pnl"][1] == pytest.approx(stock_pnl, rel=1e-13)
    assert got["pnl"] == pytest.approx(float(option_pnl) + stock_pnl, rel=1e-13)
    assert got["underlying_pnl"] == pytest.approx([got["pnl"]], rel=1e-13)
    json.dumps(res)


def test_stress_named_values_and_custom_scenarios() -> None:
    assert STRESS_SCENARIOS == {
        "crash": {"spot": -0.20, "vol": 0.50},
        "vol_spike": {"spot": -0.05, "vol": 1.00},
        "black_swan": {"spot": -0.30, "vol": 2.00},
        "squeeze": {"spot": 0.15, "vol": 0.30},
    }
    bk = random_book(3, 30, 1)
    res = stress_test(bk, {"up_down": {"spot": [0.1, -0.1, 0.0], "vol": [0.0, 0.2, -0.5]}})
    got = res["scenarios"]["up_down"]
    direct = revalue_book(bk, [0.1, -0.1, 0.0], [0.0, 0.2, -0.5], by_position=True)[0]
    assert got["position_pnl"] == pytest.approx(direct.tolist(), rel=1e-13)
    assert sum(got["underlying_pnl"]) == pytest.approx(got["pnl"], rel=1e-12)
    assert res["worst_scenario"] == "up_down"
    worst = stress_test(bk)
    pnls = {k: v["pnl"] for k, v in worst["scenarios"].items()}
    assert worst["worst_scenario"] == min(pnls, key=pnls.get)


def test_revalue_book_zero_shock_and_shapes() -> None:
    bk = random_book(4, 50, 2)
    assert np.all(revalue_book(bk, 0.0, 0.0) == 0.0)
    shocks = np.random.Generator(np.random.PCG64(0)).normal(0, 0.05, (300, 4))
    tot = revalue_book(bk, shocks, 0.1, chunk_elements=1000)
    pos = revalue_book(bk, shocks, 0.1, by_position=True)
    assert tot.shape == (300,) and pos.shape == (300, 54)
    np.testing.assert_allclose(pos.sum(axis=1), tot, rtol=1e-10, atol=1e-6)
    # vol shock kinds agree where they should: relative y == log ln(1 + y) == absolute v y
    a = revalue_book(bk, 0.02, 0.1, vol_shock_kind="relative")
    b = revalue_book(bk, 0.02, math.log(1.1), vol_shock_kind="log")
    np.testing.assert_allclose(a, b, rtol=1e-12)
    c = revalue_book(bk, math.log(1.02), 0.1, spot_shock_kind="log")
    np.testing.assert_allclose(a, c, rtol=1e-12)
    with pytest.raises(ValueError, match="one per underlying"):
        revalue_book(bk, [0.1, 0.2], 0.0)
    with pytest.raises(ValueError, match="vol shock kind"):
        revalue_book(bk, 0.1, 0.0, vol_shock_kind="pct")


def test_horizon_ageing_and_expiry_inside_horizon() -> None:
    bk = make_book([100.0], [0, 0], [100.0, 90.0], [0.5, 2 / 252], 0.03, 0.0, [0.3, 0.3],
                   [True, False], [1.0, 1.0])  # fmt: skip
    pos = revalue_book(bk, 0.0, 0.0, horizon_days=5, by_position=True)[0]
    aged = bs_price(100.0, 100.0, 0.5 - 5 / 252, 0.03, 0.0, 0.3, True)
    assert pos[0] == pytest.approx(100 * float(aged - bk["price0"][0]), rel=1e-13)
    # the put expires inside the horizon: worth its intrinsic value (0, out of the money)
    assert pos[1] == pytest.approx(-100 * float(bk["price0"][1]), rel=1e-13)


# ----------------------------------------------------------------------------- Monte Carlo


def test_stock_only_book_exact_quantile() -> None:
    """A long stock position: P&L = q S (e^x - 1) is monotone in x, VaR is exact."""
    s, qty, vol = 120.0, 1000.0, 0.3
    bk = make_book([s], stock_quantity=[qty])
    res = mc_portfolio_var(bk, [vol], [0.8], joint_corr(1), 0.99, 10, 100_000, 7)
    sd = vol * math.sqrt(10 / 252)
    var = qty * s * (1 - math.exp(norm.ppf(0.01) * sd))
    # ES = q S (1 - E[e^x | x < z_p sd]) = q S (1 - e^{sd^2/2} N(z_p - sd) / p)
    es = qty * s * (1 - math.exp(sd * sd / 2) * norm.cdf(norm.ppf(0.01) - sd) / 0.01)
    assert abs(res["var"] - var) < 3 * res["var_se"]
    assert abs(res["es"] - es) < 3 * res["es_se"]
    assert res["component_var"] == pytest.approx([res["var"]], rel=1e-12)
    assert res["marginal_var"][0] == pytest.approx(res["var"] / qty, rel=1e-12)


def test_mc_components_sum_and_determinism() -> None:
    bk = random_book(3, 40, 3)
    args = (bk, [0.25, 0.3, 0.4], [0.9, 1.0, 1.1], joint_corr(3), 0.975, 1, 5000)
    a = mc_portfolio_var(*args, seed=11)
    b = mc_portfolio_var(*args, seed=11)
    assert json.dumps(a) == json.dumps(b)
    c = mc_portfolio_var(*args, seed=11, chunk_elements=999)
    assert json.dumps(c) == json.dumps(a)
    assert mc_portfolio_var(*args, seed=12)["var"] != a["var"]
    n_pos = 40 + 3
    for key in ("marginal_var", "component_var", "marginal_es", "component_es"):
        assert len(a[key]) == n_pos
    assert sum(a["component_var"]) == pytest.approx(a["var"], rel=1e-10)
    assert sum(a["component_es"]) == pytest.approx(a["es"], rel=1e-10)
    assert sum(a["component_var_by_underlying"]) == pytest.approx(a["var"], rel=1e-10)
    assert sum(a["component_es_by_underlying"]) == pytest.approx(a["es"], rel=1e-10)
    qty = np.concatenate((bk["quantity"], bk["stock_quantity"]))
    np.testing.assert_allclose(np.array(a["marginal_es"]) * qty, a["component_es"], rtol=1e-12)
    assert abs(a["euler_var_scale"] - 1) < 0.1
    assert a["n_factors"] == 6 and not a["repaired"]


def test_mc_marginal_es_matches_finite_difference() -> None:
    """dES/dq_i by common random numbers equals the tail conditional expectation exactly
    when the tail set does not change (a small bump)."""
    bk = random_book(2, 6, 4)
    args = ([0.3, 0.35], [1.0, 1.0], joint_corr(2), 0.95, 1, 4000, 3)
    base = mc_portfolio_var(bk, *args)
    i = 2
    h = 1e-4
    bumped = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in bk.items()}
    bumped["quantity"] = bk["quantity"].copy()
    bumped["quantity"][i] += h
    up = mc_portfolio_var(bumped, *args)
    assert (up["es"] - base["es"]) / h == pytest.approx(base["marginal_es"][i], rel=1e-4)


def test_delta_gamma_vega_close_to_full_revaluation_small_shocks() -> None:
    bk = random_book(3, 60, 5)
    sv, vv, corr = [0.2, 0.25, 0.3], [0.6, 0.7, 0.8], joint_corr(3)
    full = mc_portfolio_var(bk, sv, vv, corr, 0.99, 1, 20_000, 21)
    dg_mc = delta_gamma_vega_var(bk, sv, vv, corr, 0.99, 1, method="mc", paths=20_000, seed=21)
    # same scenarios: only the Taylor remainder differs
    assert dg_mc["var"] == pytest.approx(full["var"], rel=0.01)
    assert dg_mc["es"] == pytest.approx(full["es"], rel=0.01)
    cf = delta_gamma_vega_var(bk, sv, vv, corr, 0.99, 1)
    assert cf["method"] == "cornish_fisher"
    assert abs(cf["var"] - full["var"]) < 3 * full["var_se"] + 0.02 * full["var"]
    assert abs(cf["es"] - full["es"]) < 3 * full["es_se"] + 0.03 * full["es"]
    json.dumps(cf)
    json.dumps(dg_mc)


def test_cornish_fisher_matches_mc_on_the_quadratic() -> None:
    """A short-gamma book (skewed P&L): the exact cumulants of the quadratic form agree with
    the moments simulated on the same quadratic, the Cornish-Fisher VaR / ES with its
    simulated quantiles."""
    bk = make_book([100.0], [0, 0], [100.0, 110.0], [0.1, 0.1], 0.02, 0.0, [0.3, 0.3],
                   [True, False], [-50.0, -50.0])  # fmt: skip
    args = ([0.3], [0.8], joint_corr(1, rho_sv=-0.6), 0.99, 5)
    cf = delta_gamma_vega_var(bk, *args, second_order_vol=False)
    mc = delta_gamma_vega_var(bk, *args, method="mc", paths=400_000, seed=1,
                              second_order_vol=False)  # fmt: skip
    assert cf["skewness"] < -1.0  # strongly skewed
    assert cf["sd"] == pytest.approx(mc["sd"], rel=0.005)
    assert cf["mean"] == pytest.approx(mc["mean"], abs=3 * mc["sd"] / math.sqrt(400_000))
    assert cf["skewness"] == pytest.approx(mc["skewness"], rel=0.05)
    assert cf["excess_kurtosis"] == pytest.approx(mc["excess_kurtosis"], rel=0.1)
    assert cf["var"] == pytest.approx(mc["var"], rel=0.02)
    assert cf["es"] == pytest.approx(mc["es"], rel=0.03)


def test_delta_gamma_linear_book_is_exact_normal() -> None:
    """Short stock: P&L = -q S (e^x - 1) ~ -q S (x + x^2/2); the Cornish-Fisher quantile of
    the quadratic matches the exact lognormal quantile closely."""
    bk = make_book([50.0], stock_quantity=[-200.0])
    cf = delta_gamma_vega_var(bk, [0.2], [0.5], joint_corr(1), 0.95, 1)
    sd = 0.2 / math.sqrt(252)
    assert cf["sd"] == pytest.approx(200 * 50 * sd, rel=1e-3)
    assert cf["var"] == pytest.approx(200 * 50 * math.expm1(norm.ppf(0.95) * sd), rel=1e-4)


def test_joint_correlation_validation_and_repair() -> None:
    bk = random_book(2, 5, 6)
    with pytest.raises(ValueError, match="expected 4 x 4"):
        mc_portfolio_var(bk, [0.2, 0.2], [1, 1], np.eye(2), 0.99, 1, 100, 0)
    bad = joint_corr(2, rho_s=0.9, rho_v=0.9, rho_sv=-0.99)
    bad[0, 3] = bad[3, 0] = 0.9  # inconsistent: not PSD
    assert np.linalg.eigvalsh(bad)[0] < 0
    res = mc_portfolio_var(bk, [0.2, 0.2], [1, 1], bad.ravel(), 0.99, 1, 2000, 0)
    assert res["repaired"] and res["min_eigenvalue"] < 0


# ------------------------------------------------------------------------------ historical


def test_historical_stock_book_by_hand() -> None:
    g = np.random.Generator(np.random.PCG64(8))
    ret = g.normal(0, 0.02, 300)
    vchg = g.normal(0, 0.05, 300)
    bk = make_book([80.0], stock_quantity=[100.0])
    res = historical_portfolio_var(bk, ret, vchg, 0.99, 1)
    pnl = 100 * 80.0 * np.expm1(ret[-252:])
    want = historical_var_es(pnl, 0.99)
    assert res["n_scenarios"] == 252
    assert res["var"] == pytest.approx(want["var"], rel=1e-12)
    assert res["es"] == pytest.approx(want["es"], rel=1e-12)
    np.testing.assert_allclose(res["pnl"], pnl, rtol=1e-12)
    assert res["worst_scenario"] == int(np.argmin(pnl))
    # 2-day overlapping: sums of consecutive log returns
    res2 = historical_portfolio_var(bk, ret, vchg, 0.99, 2)
    r2 = ret[-252:][:-1] + ret[-252:][1:]
    assert res2["n_scenarios"] == 251
    np.testing.assert_allclose(res2["pnl"], 100 * 80.0 * np.expm1(r2), rtol=1e-12)
    # sqrt scaling
    res3 = historical_portfolio_var(bk, ret, vchg, 0.99, 4, horizon_method="sqrt")
    np.testing.assert_allclose(res3["pnl"], 8000 * np.expm1(2 * ret[-252:]), rtol=1e-12)
    # NaN rows dropped
    ret_nan = ret.copy()
    ret_nan[-1] = np.nan
    res4 = historical_portfolio_var(bk, ret_nan, vchg, 0.99, 1)
    np.testing.assert_allclose(res4["pnl"], 8000 * np.expm1(ret[-253:-1]), rtol=1e-12)


def test_historical_option_book_matches_revalue_and_sums() -> None:
    g = np.random.Generator(np.random.PCG64(9))
    bk = random_book(3, 20, 9)
    spot_h = g.normal(0, 0.015, (260, 3))
    vol_h = g.normal(0, 0.04, (260, 3))
    res = historical_portfolio_var(bk, spot_h, vol_h, 0.95, 1)
    direct = revalue_book(bk, spot_h[-252:], vol_h[-252:], "log", "log", horizon_days=1)
    np.testing.assert_allclose(res["pnl"], direct, rtol=1e-10, atol=1e-8)
    assert sum(res["component_es"]) == pytest.approx(res["es"], rel=1e-10)
    assert sum(res["component_var"]) == pytest.approx(res["var"], rel=1e-10)
    assert res["var"] == pytest.approx(historical_var_es(direct, 0.95)["var"], rel=1e-10)


# ---------------------------------------------------------------------------------- greeks


def test_portfolio_greeks_units_and_aggregation() -> None:
    bk = random_book(2, 10, 10)
    res = portfolio_greeks(bk)
    und = bk["underlying"]
    s_o = bk["spot"][und]
    g = bs_greeks(s_o, bk["strike"], bk["t"], bk["r"], bk["q"], bk["vol"], bk["is_call"])
    w = bk["quantity"] * 100.0
    pos = res["position"]
    np.testing.assert_allclose(pos["delta"][:10], g["delta"] * w, rtol=1e-13)
    np.testing.assert_allclose(pos["delta"][10:], bk["stock_quantity"])
    np.testing.assert_allclose(pos["vega"][:10], g["vega"] * w / 100, rtol=1e-13)
    np.testing.assert_allclose(pos["theta"][:10], g["theta"] * w / 365, rtol=1e-13)
    np.testing.assert_allclose(pos["rho"][:10], g["rho"] * w / 100, rtol=1e-13)
    for key, total in res["total"].items():
        assert sum(res["underlying"][key]) == pytest.approx(total, rel=1e-12, abs=1e-9)
        assert sum(pos[key]) == pytest.approx(total, rel=1e-12, abs=1e-9)
    # dollar gamma = change of dollar delta for a +1 % move (finite difference, one option)
    one = make_book([100.0], [0], [105.0], [0.3], 0.02, 0.0, [0.25], [True], [2.0])
    gr = portfolio_greeks(one)["total"]
    h = 1e-4
    up = portfolio_greeks(make_book([100.0 * (1 + h)], [0], [105.0], [0.3], 0.02, 0.0, [0.25],
                                    [True], [2.0]))["total"]  # fmt: skip
    dn = portfolio_greeks(make_book([100.0 * (1 - h)], [0], [105.0], [0.3], 0.02, 0.0, [0.25],
                                    [True], [2.0]))["total"]  # fmt: skip
    d_dollar_delta_per_pct = (up["dollar_delta"] - dn["dollar_delta"]) / (2 * h) * 0.01
    # d(delta S)/dS * S * 1% = (gamma S + delta) S 1 %: dollar gamma is the gamma S^2 1 % part
    assert gr["dollar_gamma"] + gr["dollar_delta"] * 0.01 == pytest.approx(
        d_dollar_delta_per_pct, rel=1e-6
    )
    # vega per vol point and theta per day against repricing
    v_up = bs_price(100.0, 105.0, 0.3, 0.02, 0.0, 0.2501, True)
    v_dn = bs_price(100.0, 105.0, 0.3, 0.02, 0.0, 0.2499, True)
    assert gr["vega"] == pytest.approx(float(v_up - v_dn) / 0.0002 * 0.01 * 200, rel=1e-6)
    assert gr["value"] == pytest.approx(200 * float(one["price0"][0]))
    json.dumps(res)


def test_make_book_validation() -> None:
    with pytest.raises(ValueError, match="underlying indices"):
        make_book([100.0], [1], [100.0], [0.5], 0.0, 0.0, [0.2], [True], [1.0])
    with pytest.raises(ValueError, match="strike has"):
        make_book([100.0], [0, 0], [100.0, 90.0, 80.0], [0.5], 0.0, 0.0, [0.2], [True], [1.0])
    with pytest.raises(ValueError, match="spot"):
        make_book([-1.0])
    # plain mappings (e.g. from JSON) are accepted
    raw = {"spot": [100.0], "underlying": [0], "strike": [100.0], "t": [0.5], "vol": [0.2],
           "is_call": [True], "quantity": [1.0]}  # fmt: skip
    assert stress_test(raw)["scenarios"]["crash"]["pnl"] == pytest.approx(
        stress_test(make_book(**raw))["scenarios"]["crash"]["pnl"]
    )
