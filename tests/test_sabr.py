"""Tests of python_udfs.sabr against known answers: the ATM formula (2.18) of Hagan et al.
(2002) computed by hand, QuantLib's implementation of eq. (2.17a) (literal values, and a live
comparison when QuantLib is installed), exact limits (beta = 1 with nu = 0; the short-maturity
lognormal limit), continuity through K = F, and recovery of known parameters by the fit."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from python_udfs.sabr import sabr_alpha_from_atm, sabr_fit, sabr_vol


def test_atm_formula_by_hand() -> None:
    # F = K = 100, t = 1.5, alpha = 2, beta = 0.5, rho = -0.3, nu = 0.4; F^(1 - beta) = 10:
    #   (1 - beta)^2 / 24 alpha^2 / F^(2 - 2 beta) = 0.25 / 24 * 4 / 100   = 0.000416666...
    #   rho beta nu alpha / (4 F^(1 - beta))        = -0.3 * 0.5 * 0.4 * 2 / 40 = -0.003
    #   (2 - 3 rho^2) / 24 nu^2                     = 1.73 * 0.16 / 24    = 0.011533333...
    #   sum = 0.00895; times t = 0.013425; alpha / F^(1 - beta) = 0.2
    #   sigma_ATM = 0.2 * 1.013425 = 0.202685
    assert float(sabr_vol(100.0, 100.0, 1.5, 2.0, 0.5, -0.3, 0.4)) == pytest.approx(
        0.202685, rel=1e-14
    )


# QuantLib 1.44, ql.sabrVolatility(strike, forward, t, alpha, beta, nu, rho) (Hagan 2.17a)
QUANTLIB = [
    # (forward, strike, t, alpha, beta, rho, nu), vol
    ((1.0, 0.8, 1.0, 0.25, 0.5, -0.4, 0.6), 0.30203130628875535),
    ((1.0, 1.3, 1.0, 0.25, 0.5, -0.4, 0.6), 0.22310239360308695),
    ((100.0, 90.0, 0.5, 0.3, 1.0, -0.5, 0.9), 0.32757530805945473),
    ((100.0, 120.0, 0.5, 0.3, 1.0, -0.5, 0.9), 0.27303893450159966),
    ((0.05, 0.03, 2.0, 0.02, 0.0, 0.2, 0.3), 0.5213548126282199),
    ((0.05, 0.07, 2.0, 0.02, 0.0, 0.2, 0.3), 0.3590806505209192),
]


@pytest.mark.parametrize(("args", "expected"), QUANTLIB)
def test_matches_quantlib_values(args, expected) -> None:
    assert float(sabr_vol(*args)) == pytest.approx(expected, rel=1e-12)


def test_matches_quantlib_live() -> None:
    ql = pytest.importorskip("QuantLib")
    g = np.random.Generator(np.random.PCG64(11))
    for _ in range(300):
        f = g.uniform(0.01, 200.0)
        k = f * math.exp(g.normal(0.0, 0.5))
        t, beta = g.uniform(0.01, 5.0), g.uniform(0.0, 1.0)
        rho, nu = g.uniform(-0.95, 0.95), g.uniform(0.01, 2.0)
        alpha = g.uniform(0.05, 0.6) * f ** (1.0 - beta)
        expected = ql.sabrVolatility(k, f, t, alpha, beta, nu, rho)
        # QuantLib's x(z) loses ~eps/|z| to cancellation for small z: compare to 1e-9
        assert float(sabr_vol(f, k, t, alpha, beta, rho, nu)) == pytest.approx(expected, rel=1e-9)


def test_lognormal_without_vol_of_vol_is_flat_at_alpha() -> None:
    strikes = np.array([50.0, 80.0, 100.0, 100.0 + 1e-9, 130.0, 300.0])
    for t in (0.01, 1.0, 10.0):
        vol = sabr_vol(100.0, strikes, t, 0.35, 1.0, -0.7, 0.0)
        assert np.allclose(vol, 0.35, rtol=1e-15, atol=0.0)
    # and nu -> 0 converges to it
    assert float(sabr_vol(100.0, 70.0, 1.0, 0.35, 1.0, -0.7, 1e-9)) == pytest.approx(0.35, rel=1e-8)


def test_short_maturity_lognormal_limit() -> None:
    # beta = 1, t -> 0: sigma(K) = nu ln(F/K) / x(z), z = nu / alpha ln(F/K)
    # (Berestycki, Busca & Florent 2004; Hagan et al. 2002 with t = 0)
    f, alpha, rho, nu = 100.0, 0.3, -0.5, 1.2
    for k in (60.0, 85.0, 95.0, 110.0, 150.0):
        z = nu / alpha * math.log(f / k)
        x = math.log((math.sqrt(1.0 - 2.0 * rho * z + z * z) + z - rho) / (1.0 - rho))
        assert float(sabr_vol(f, k, 0.0, alpha, 1.0, rho, nu)) == pytest.approx(
            nu * math.log(f / k) / x, rel=1e-12
        )
        # linear in t for small t
        v1 = float(sabr_vol(f, k, 1e-3, alpha, 1.0, rho, nu))
        v2 = float(sabr_vol(f, k, 2e-3, alpha, 1.0, rho, nu))
        assert v2 - v1 == pytest.approx(v1 - float(sabr_vol(f, k, 0.0, alpha, 1.0, rho, nu)))


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("rho", [-0.9, 0.0, 0.6])
def test_continuous_and_smooth_through_the_money(beta: float, rho: float) -> None:
    f, t, nu = 100.0, 0.8, 0.9
    alpha = 0.25 * f ** (1.0 - beta)
    atm = float(sabr_vol(f, f, t, alpha, beta, rho, nu))
    for eps in (1e-12, 1e-9, 1e-6):
        for k in (f * (1.0 + eps), f * (1.0 - eps)):
            assert abs(float(sabr_vol(f, k, t, alpha, beta, rho, nu)) - atm) < 10.0 * eps
    # no kink where z / x(z) switches to its series (|z| = 1e-3): second differences of the
    # smile on a fine log-strike grid through that point stay tiny and smooth
    z_per_logk = nu / alpha * f ** (1.0 - beta)
    lk = np.linspace(-3e-3, 3e-3, 601) / z_per_logk
    vol = sabr_vol(f, f * np.exp(-lk), t, alpha, beta, rho, nu)
    d2 = np.diff(vol, 2)
    assert np.max(np.abs(d2 - np.median(d2))) < 1e-12


def test_alpha_from_atm_round_trip() -> None:
    for beta in (0.0, 0.5, 1.0):
        f = 0.03 if beta == 0.0 else 100.0
        alpha = sabr_alpha_from_atm(f, 2.0, 0.25, beta, np.array([-0.5, 0.3]), 0.7)
        atm = sabr_vol(f, f, 2.0, alpha, beta, np.array([-0.5, 0.3]), 0.7)
        assert np.allclose(atm, 0.25, rtol=1e-12)


def _smile(beta: float, n: int = 40):
    f, t = 100.0, 0.75
    strikes = f * np.exp(np.linspace(-0.4, 0.3, n))
    params = {"alpha": 0.3 * f ** (1.0 - beta), "rho": -0.4, "nu": 0.8}
    return f, strikes, t, params


@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_fit_recovers_known_parameters(beta: float) -> None:
    f, strikes, t, params = _smile(beta)
    vol = sabr_vol(f, strikes, t, params["alpha"], beta, params["rho"], params["nu"])
    fit = sabr_fit(f, strikes, t, vol, beta)
    assert fit["converged"] is True and fit["n"] == strikes.size and fit["beta"] == beta
    assert fit["alpha"] == pytest.approx(params["alpha"], rel=1e-8)
    assert fit["rho"] == pytest.approx(params["rho"], abs=1e-8)
    assert fit["nu"] == pytest.approx(params["nu"], rel=1e-8)
    assert fit["rmse"] < 1e-10
    for value in fit.values():
        assert type(value) in (float, int, bool, str)
    json.dumps(fit)


@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_fit_with_noise(beta: float) -> None:
    f, strikes, t, params = _smile(beta)
    vol = sabr_vol(f, strikes, t, params["alpha"], beta, params["rho"], params["nu"])
    noise = np.random.Generator(np.random.PCG64(2)).normal(0.0, 0.002, strikes.size)
    fit = sabr_fit(f, strikes, t, vol + noise, beta)
    true_rmse = math.sqrt(np.mean(noise**2))
    assert fit["rmse"] <= true_rmse  # least squares beats the true parameters in sample
    assert fit["rmse"] > 0.8 * true_rmse
    assert fit["alpha"] == pytest.approx(params["alpha"], rel=0.02)
    assert fit["rho"] == pytest.approx(params["rho"], abs=0.03)
    assert fit["nu"] == pytest.approx(params["nu"], rel=0.05)


def test_fit_recovers_assorted_smiles() -> None:
    g = np.random.Generator(np.random.PCG64(4))
    for _ in range(12):
        f, t = g.uniform(10.0, 500.0), float(g.choice([7.0 / 365.0, 0.1, 0.5, 2.0]))
        beta = float(g.choice([0.0, 0.5, 0.7, 1.0]))
        atm_vol = g.uniform(0.1, 0.6)
        rho, nu = g.uniform(-0.9, 0.6), g.uniform(0.2, 1.5)
        alpha = atm_vol * f ** (1.0 - beta)
        sd = atm_vol * math.sqrt(t)
        strikes = f * np.exp(np.linspace(-3.0 * sd, 2.0 * sd, int(g.integers(10, 50))))
        vol = sabr_vol(f, strikes, t, alpha, beta, rho, nu)
        fit = sabr_fit(f, strikes, t, vol, beta)
        assert fit["converged"] is True
        assert fit["rmse"] < 1e-9
        assert fit["rho"] == pytest.approx(rho, abs=1e-5)
        assert fit["nu"] == pytest.approx(nu, rel=1e-5)
        assert fit["alpha"] == pytest.approx(alpha, rel=1e-5)


def test_fit_rejects_unusable_input() -> None:
    out = sabr_fit(100.0, [90.0, 100.0], 1.0, [0.2, 0.21], 0.5)
    assert math.isnan(out["alpha"]) and out["converged"] is False and out["n"] == 2
    json.dumps(out)
    out = sabr_fit(100.0, [90.0, 100.0, 110.0, -5.0], 1.0, [0.2, 0.19, np.nan, 0.3], 0.5)
    assert out["n"] == 2
    assert math.isnan(sabr_fit(100.0, [90.0, 100.0, 110.0], 1.0, [0.2, 0.19, 0.2], 1.5)["rho"])
