"""Tests of python_udfs.garch: parameter recovery on simulated GARCH(1,1) paths, the variance
recursion against a plain loop, and forecast identities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from python_udfs.garch import (
    garch11_conditional_variance,
    garch11_conditional_vol,
    garch11_fit,
    garch11_forecast_vol,
    garch11_loglik,
)

OMEGA, ALPHA, BETA = 2e-6, 0.08, 0.90  # long-run vol sqrt(252 * 1e-4) = 15.9 %


def simulate(n: int, seed: int, omega=OMEGA, alpha=ALPHA, beta=BETA, mu=0.0):
    g = np.random.Generator(np.random.PCG64(seed))
    z = g.standard_normal(n)
    r = np.empty(n)
    s2 = np.empty(n)
    var = omega / (1.0 - alpha - beta)
    for i in range(n):
        s2[i] = var
        r[i] = mu + math.sqrt(var) * z[i]
        var = omega + alpha * (r[i] - mu) ** 2 + beta * var
    return r, s2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fit_recovers_parameters(seed: int) -> None:
    r, _ = simulate(6000, seed, mu=3e-4)
    fit = garch11_fit(r)
    assert bool(fit["converged"])
    assert fit["alpha"] == pytest.approx(ALPHA, abs=0.025)
    assert fit["beta"] == pytest.approx(BETA, abs=0.035)
    assert fit["persistence"] == pytest.approx(ALPHA + BETA, abs=0.015)
    lr_true = math.sqrt(252 * OMEGA / (1 - ALPHA - BETA))
    assert fit["long_run_vol"] == pytest.approx(lr_true, rel=0.2)
    assert fit["mu"] == pytest.approx(3e-4, abs=2e-4)
    # the MLE beats the true parameters in-sample
    assert fit["loglik"] >= garch11_loglik(r, OMEGA, ALPHA, BETA, fit["mu"]) - 1e-6
    assert fit["half_life"] == pytest.approx(math.log(0.5) / math.log(fit["persistence"]))


def test_recursion_matches_loop_and_vol_alignment() -> None:
    r, s2_true = simulate(2000, seed=9)
    s2 = garch11_conditional_variance(r, OMEGA, ALPHA, BETA, sigma2_0=s2_true[0])
    assert s2.shape == (2001,)
    np.testing.assert_allclose(s2[:-1], s2_true, rtol=1e-10)
    # default start (sample variance) forgets its initial value geometrically
    vol = garch11_conditional_vol(r, OMEGA, ALPHA, BETA)
    assert vol.shape == r.shape
    np.testing.assert_allclose(vol[500:], np.sqrt(252 * s2_true[500:]), rtol=1e-8)
    with_nan = r.copy()
    with_nan[10] = np.nan
    assert np.isnan(garch11_conditional_vol(with_nan, OMEGA, ALPHA, BETA)[10])


def test_forecast_term_structure() -> None:
    r, _ = simulate(3000, seed=4)
    s2 = garch11_conditional_variance(r, OMEGA, ALPHA, BETA)
    h = np.array([1, 5, 21, 63, 252, 100000])
    f = garch11_forecast_vol(r, OMEGA, ALPHA, BETA, h)
    assert f.shape == h.shape
    assert f[0] == pytest.approx(math.sqrt(252 * s2[-1]), rel=1e-12)
    lr = math.sqrt(252 * OMEGA / (1 - ALPHA - BETA))
    assert f[-1] == pytest.approx(lr, rel=1e-3)
    # monotone from the current level towards the long-run level
    d = np.diff(f)
    assert np.all(d >= 0) or np.all(d <= 0)
    # explicit sum of E[sigma^2_{n+k}], k = 1..21
    p = ALPHA + BETA
    v_l = OMEGA / (1 - p)
    path = v_l + p ** np.arange(21) * (s2[-1] - v_l)
    assert f[2] == pytest.approx(math.sqrt(252 * path.mean()), rel=1e-12)


def test_short_or_flat_series_do_not_converge() -> None:
    fit = garch11_fit(np.zeros(10))
    assert not bool(fit["converged"]) and np.isnan(fit["omega"])
    assert not bool(garch11_fit(np.full(500, 0.01))["converged"])


def test_warm_start_reaches_the_cold_optimum() -> None:
    """A refit started from nearby parameters finds the same maximum likelihood."""
    r, _ = simulate(3000, seed=5)
    cold = garch11_fit(r)
    warm = garch11_fit(r, start=(OMEGA * 1.3, ALPHA * 0.8, BETA * 0.98))
    assert bool(cold["converged"]) and bool(warm["converged"])
    assert warm["loglik"] == pytest.approx(cold["loglik"], abs=1e-6)
    for k in ("omega", "alpha", "beta"):
        assert warm[k] == pytest.approx(cold[k], rel=1e-3)
