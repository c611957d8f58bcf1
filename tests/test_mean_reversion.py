"""Tests of python_udfs.mean_reversion.

- ``ou_fit``: parameter recovery on exact OU paths (within 4 asymptotic standard errors), the
  standard errors against the Monte-Carlo spread of the estimates, the exact-vs-Euler sigma,
  the likelihood maximum, and the b >= 1 / b <= 0 guards.
- ``leung_li_levels``: the fundamental solution F (quad) against its closed form through
  parabolic cylinder functions, F(x) = Gamma(nu) e^{z^2/4} D_{-nu}(-z); and the levels and
  value functions against an INDEPENDENT numerical solution of the same optimal stopping
  problems: a finite-difference discretisation of the variational inequalities
  min(r V - L V, V - g) = 0 on a fine grid, solved by policy iteration (Howard), which knows
  nothing of F, G or smooth pasting.
- ``bertram_levels``: the optimum against a brute-force maximisation over a grid of
  (entry, exit) of the expected return per unit time, with E[T] computed by quadrature of
  the scale and speed densities (not erfi / Dawson); the cycle time against a Monte-Carlo
  simulation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.linalg import solve_banded
from scipy.special import gamma, pbdv

from python_udfs.mean_reversion import (
    _OU,
    bertram_cycle_time,
    bertram_levels,
    leung_li_levels,
    leung_li_value,
    ou_fit,
    ou_loglik,
    ou_simulate,
)

DT = 1.0 / 252.0
THETA, MU, SIGMA = 6.0, 0.25, 0.30  # half-life ln 2 / 6 = 0.116 y = 29 trading days
# the parameter set of Leung & Li's worked example (their notation mu = 16.6677 is our theta)
LL = {"theta": 16.6677, "mu": 0.5388, "sigma": 0.1599, "c": 0.05, "r": 0.05}


# --------------------------------------------------------------------------- ou_fit


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_ou_fit_recovers_parameters(seed: int) -> None:
    x = ou_simulate(20_000, THETA, MU, SIGMA, DT, seed=seed)
    fit = ou_fit(x, DT)
    assert fit["valid"] and fit["reason"] is None and fit["n"] == 19_999
    for key, true in (("theta", THETA), ("mu", MU), ("sigma", SIGMA)):
        assert abs(fit[key] - true) < 4.0 * fit[f"se_{key}"], (key, fit[key], fit[f"se_{key}"])
    assert fit["sigma"] == pytest.approx(SIGMA, rel=0.02)
    assert fit["half_life"] == pytest.approx(math.log(2.0) / fit["theta"])
    assert fit["half_life_periods"] == pytest.approx(fit["half_life"] * 252.0)
    assert fit["stationary_sd"] == pytest.approx(fit["sigma"] / math.sqrt(2 * fit["theta"]))
    # plain Python types only (jsonb)
    assert all(v is None or type(v) in (bool, int, float, str) for v in fit.values())


def test_ou_standard_errors_match_monte_carlo_spread() -> None:
    est = np.array(
        [
            [f["theta"], f["mu"], f["sigma"], f["se_theta"], f["se_mu"], f["se_sigma"]]
            for f in (
                ou_fit(ou_simulate(5_000, 20.0, MU, SIGMA, DT, seed=s), DT) for s in range(300)
            )
        ]
    )
    sd_mc = est[:, :3].std(axis=0, ddof=1)
    se_mean = est[:, 3:].mean(axis=0)
    # 300 replications: the sd of a sd estimate is ~4 %; allow 15 %
    np.testing.assert_allclose(se_mean, sd_mc, rtol=0.15)


def test_exact_sigma_not_euler() -> None:
    # weekly observations of a fast process: theta dt = 0.38, the Euler sigma s / sqrt(dt) is
    # ~18 % low; the exact-discretisation sigma is unbiased
    dt = 1.0 / 52.0
    x = ou_simulate(40_000, 20.0, 0.0, 1.0, dt, seed=11)
    fit = ou_fit(x, dt)
    assert fit["sigma"] == pytest.approx(1.0, rel=0.02)
    assert fit["theta"] == pytest.approx(20.0, rel=0.05)
    euler = fit["sd_eps"] / math.sqrt(dt)
    assert euler < 0.85


def test_ou_fit_is_the_likelihood_maximum() -> None:
    x = ou_simulate(3_000, THETA, MU, SIGMA, DT, seed=5)
    fit = ou_fit(x, DT)
    best = ou_loglik(x, fit["theta"], fit["mu"], fit["sigma"], DT)
    assert best == pytest.approx(fit["loglik"], rel=1e-10)
    for d in ([1.01, 1, 1], [0.99, 1, 1], [1, 1.01, 1], [1, 0.99, 1], [1, 1, 1.01], [1, 1, 0.99]):
        assert ou_loglik(x, fit["theta"] * d[0], fit["mu"] * d[1], fit["sigma"] * d[2], DT) < best


def test_ou_simulate_deterministic_and_nan_pairs_dropped() -> None:
    a = ou_simulate(500, THETA, MU, SIGMA, DT, seed=3)
    np.testing.assert_array_equal(a, ou_simulate(500, THETA, MU, SIGMA, DT, seed=3))
    assert not np.array_equal(a, ou_simulate(500, THETA, MU, SIGMA, DT, seed=4))
    assert ou_simulate(3, THETA, MU, SIGMA, DT, x0=1.0)[0] == 1.0
    b = a.copy()
    b[100] = np.nan
    fit = ou_fit(b, DT)
    assert fit["valid"] and fit["n"] == 497


def test_guard_no_mean_reversion() -> None:
    g = np.random.Generator(np.random.PCG64(0))
    # explosive AR(1): b > 1
    x = np.empty(400)
    x[0] = 1.0
    for i in range(1, 400):
        x[i] = 1.01 * x[i - 1] + g.normal()
    fit = ou_fit(x, DT)
    assert not fit["valid"] and ">= 1" in fit["reason"] and fit["b"] > 1.0
    assert fit["theta"] is None and fit["mu"] is None and fit["half_life"] is None
    # exact unit root: a straight line, b = 1
    fit = ou_fit(np.arange(100.0), DT)
    assert not fit["valid"] and fit["b"] == pytest.approx(1.0, abs=1e-12)
    # a trending random walk (drift 1 per step): b = 1 up to rounding -> no OU numbers, or
    # (b a hair below 1) a half-life far longer than the sample
    ramp = np.cumsum(1.0 + 0.01 * g.normal(size=500))
    fit = ou_fit(ramp, DT)
    assert not fit["valid"] or fit["half_life_periods"] > 500
    # a driftless random walk is the Dickey-Fuller case: b-hat < 1 in most samples, so a
    # "valid" fit is no evidence of mean reversion (test for a unit root first:
    # cointegration.adf_test / engle_granger)
    rw = np.cumsum(g.normal(size=2_000))
    fit = ou_fit(rw, DT)
    assert not fit["valid"] or fit["b"] > 0.99


def test_guard_oscillation_and_degenerate() -> None:
    g = np.random.Generator(np.random.PCG64(1))
    alt = np.where(np.arange(300) % 2 == 0, 1.0, -1.0) + 0.1 * g.normal(size=300)
    fit = ou_fit(alt, DT)
    assert not fit["valid"] and "b =" in fit["reason"] and fit["b"] < 0.0
    assert not ou_fit([1.0, 1.0, 1.0, 1.0, 1.0], DT)["valid"]
    assert not ou_fit([1.0, 2.0], DT)["valid"]
    with pytest.raises(ValueError):
        ou_fit([1.0, 2.0, 3.0], 0.0)


# --------------------------------------------------------------------------- Leung & Li


def test_fundamental_solutions_against_parabolic_cylinder() -> None:
    ou = _OU(LL["theta"], LL["mu"], LL["sigma"], LL["r"])
    nu = ou.nu
    for z in (-12.0, -3.0, -0.5, 0.0, 0.7, 2.5, 8.0):
        x = ou.x(z)
        # F(x) = Gamma(nu) e^{z^2/4} D_{-nu}(-z), F'(x) = k Gamma(nu+1) e^{z^2/4} D_{-nu-1}(-z)
        f_ref = gamma(nu) * math.exp(z * z / 4) * pbdv(-nu, -z)[0]
        df_ref = ou.k * gamma(nu + 1) * math.exp(z * z / 4) * pbdv(-nu - 1, -z)[0]
        g_ref = gamma(nu) * math.exp(z * z / 4) * pbdv(-nu, z)[0]
        assert ou.F(x) == pytest.approx(f_ref, rel=1e-9)
        assert ou.dF(x) == pytest.approx(df_ref, rel=1e-9)
        assert ou.G(x) == pytest.approx(g_ref, rel=1e-9)


def _fd_obstacle(x, g, theta, mu, sigma, r, fixed, lower, upper, init=None):
    """Solve min(r V - L V, V - g) = 0, L V = theta (mu - x) V' + sigma^2/2 V'', by central
    differences on the uniform grid ``x`` and policy iteration. ``fixed``: mask of points
    held at V = g (stop-loss region); ``lower`` / ``upper``: "dirichlet" (V = g) or "robin"
    (V' = r V / (theta (mu - x)), the far-field behaviour of both fundamental solutions);
    ``init``: starting stop set (the LCP solution does not depend on it, only the number of
    iterations does)."""
    n = x.size
    h = x[1] - x[0]
    drift = theta * (mu - x)
    dif = 0.5 * sigma * sigma / (h * h)
    lo_c = -(dif - drift / (2 * h))  # coefficient of V_{i-1} in (r - L) V
    di_c = np.full(n, r + 2 * dif)
    up_c = -(dif + drift / (2 * h))
    stop = g > 0.0 if init is None else init.copy()
    for _ in range(200):
        ab = np.zeros((3, n))
        rhs = np.zeros(n)
        ab[1] = di_c
        ab[0, 1:] = up_c[:-1]
        ab[2, :-1] = lo_c[1:]
        rows = stop | fixed
        ab[1, rows] = 1.0
        ab[0, 1:][rows[:-1]] = 0.0
        ab[2, :-1][rows[1:]] = 0.0
        rhs[rows] = g[rows]
        for end, kind in ((0, lower), (n - 1, upper)):
            ab[1, end] = 1.0
            rhs[end] = g[end] if kind == "dirichlet" else 0.0
            if end == 0:
                ab[0, 1] = 0.0 if kind == "dirichlet" else -1.0 / (1.0 + h * r / drift[0])
            else:
                ab[2, n - 2] = 0.0 if kind == "dirichlet" else -1.0 / (1.0 - h * r / drift[-1])
        v = solve_banded((1, 1), ab, rhs)
        av = np.empty(n)
        av[1:-1] = lo_c[1:-1] * v[:-2] + di_c[1:-1] * v[1:-1] + up_c[1:-1] * v[2:]
        av[[0, -1]] = np.inf
        new = (v - g <= av) & ~fixed
        new[[0, -1]] = stop[[0, -1]]
        if np.array_equal(new, stop):
            return v, stop | fixed
        stop = new
    raise AssertionError("policy iteration did not converge")


def _fd_levels(p: dict, stop_loss: float | None, sizes=(201, 1001, 4001, 12001)):
    """Independent levels: exit problem, then entry problem with obstacle V - x - c, on grids
    of increasing size, each started from the previous grid's stop sets (cascade)."""
    sd = p["sigma"] / math.sqrt(2 * p["theta"])
    c = p["c"]
    args = (p["theta"], p["mu"], p["sigma"], p["r"])
    lower = "robin" if stop_loss is None else "dirichlet"
    prev = None
    for n in sizes:
        x = p["mu"] + np.linspace(-12.0, 8.0, n) * sd
        if stop_loss is not None:  # put L on the grid
            x = x + (stop_loss - x[np.argmin(np.abs(x - stop_loss))])
        fixed = np.zeros(n, bool) if stop_loss is None else x <= stop_loss + 1e-12
        init_exit = init_entry = None
        if prev is not None:
            init_exit = np.interp(x, prev[0], prev[1].astype(float)) > 0.5
            init_entry = np.interp(x, prev[0], prev[2].astype(float)) > 0.5
        v, stop_exit = _fd_obstacle(x, x - c, *args, fixed, lower, "dirichlet", init_exit)
        hgain = v - x - c
        j, stop_entry = _fd_obstacle(x, hgain, *args, np.zeros(n, bool), lower, "robin", init_entry)
        prev = (x, stop_exit, stop_entry)
    b_star = x[np.flatnonzero(~stop_exit)[-1] + 1]  # first exit point above continuation
    idx = np.flatnonzero(stop_entry & (hgain > 0.0))
    return {
        "x": x,
        "V": v,
        "J": j,
        "exit": b_star,
        "lo": x[idx[0]],
        "hi": x[idx[-1]],
        "h": x[1] - x[0],
    }


CASES = [
    (LL, None),
    (LL, 0.40),
    (LL, 0.42),
    (LL, 0.43),
    ({"theta": 5.0, "mu": 0.0, "sigma": 0.5, "c": 0.03, "r": 0.2}, None),
    ({"theta": 5.0, "mu": 0.0, "sigma": 0.5, "c": 0.03, "r": 0.2}, -0.30),
]


@pytest.mark.parametrize(("p", "stop"), CASES)
def test_leung_li_against_finite_differences(p: dict, stop: float | None) -> None:
    lv = leung_li_levels(**p, stop_loss=stop)
    assert lv["valid"], lv["reason"]
    fd = _fd_levels(p, stop)
    sd = p["sigma"] / math.sqrt(2 * p["theta"])
    tol = 3 * fd["h"]  # free boundaries of the grid solution: within a few grid steps
    assert abs(lv["exit"] - fd["exit"]) < tol, (lv["exit"], fd["exit"])
    assert abs(lv["entry_upper"] - fd["hi"]) < tol, (lv["entry_upper"], fd["hi"])
    if stop is None:
        assert lv["entry_lower"] is None and lv["stop"] is None
        assert fd["lo"] == fd["x"][0]  # the entry region extends to the bottom of the grid
    else:
        assert abs(lv["entry_lower"] - fd["lo"]) < tol, (lv["entry_lower"], fd["lo"])
        assert stop < lv["entry_lower"] < lv["entry_upper"] < lv["exit"]
    # value functions on the middle of the grid
    pts = p["mu"] + np.array([-4.0, -2.5, -1.0, 0.0, 1.0, 2.5]) * sd
    vals = leung_li_value(pts, lv)
    fd_v = np.interp(pts, fd["x"], fd["V"])
    fd_j = np.interp(pts, fd["x"], fd["J"])
    np.testing.assert_allclose(vals["exit_value"], fd_v, rtol=5e-5)
    np.testing.assert_allclose(vals["entry_value"], fd_j, rtol=5e-5)
    assert lv["value_at_entry"] > 0.0
    j_mu = float(np.interp(p["mu"], fd["x"], fd["J"]))
    assert lv["entry_value_at_mean"] == pytest.approx(j_mu, rel=5e-5)


def test_leung_li_properties() -> None:
    free = leung_li_levels(**LL)
    exits = [leung_li_levels(**LL, stop_loss=L)["exit"] for L in (0.30, 0.40, 0.42, 0.43)]
    # a higher stop-loss lowers the take-profit level (Leung & Li, section 4)
    assert np.all(np.diff(exits) <= 0.0)
    assert exits[0] == pytest.approx(free["exit"], abs=1e-6)  # far stop: no effect
    assert exits[-1] < free["exit"]
    # V >= x - c and J >= V - x - c (value functions dominate the rewards)
    xs = LL["mu"] + np.linspace(-0.15, 0.1, 41)
    val = leung_li_value(xs, free)
    assert np.all(val["exit_value"] >= xs - LL["c"] - 1e-12)
    assert np.all(val["entry_value"] >= val["exit_value"] - xs - LL["c"] - 1e-12)
    # higher costs: wider no-trade zone
    dear = leung_li_levels(**{**LL, "c": 0.08})
    assert dear["entry_upper"] < free["entry_upper"] and dear["exit"] > free["exit"]
    assert all(v is None or type(v) in (bool, int, float, str, list) for v in free.values())


def test_leung_li_invalid_inputs() -> None:
    assert not leung_li_levels(**{**LL, "r": 0.0})["valid"]
    assert not leung_li_levels(**{**LL, "theta": -1.0})["valid"]
    out = leung_li_levels(**LL, stop_loss=0.7)  # above the exit level: never enter
    assert not out["valid"] and "stop-loss" in out["reason"] and out["entry_upper"] is None
    out = leung_li_levels(**LL, stop_loss=0.535)  # too tight: no profitable entry
    assert not out["valid"]
    assert set(out) == set(leung_li_levels(**LL))  # same keys as a valid result
    assert np.isnan(leung_li_value([0.5], out)["exit_value"]).all()


# --------------------------------------------------------------------------- Bertram


def _cycle_time_quadrature(a: float, m: float, theta: float, mu: float, sigma: float) -> float:
    """E_a[tau_m] + E_m[tau_a] = int_a^m s(y) dy * int m(y) dy, s = exp(theta (y-mu)^2 /
    sigma^2) the scale density and m = 2 / (sigma^2 s) the speed density."""
    scale, _ = quad(lambda y: math.exp(theta * (y - mu) ** 2 / sigma**2), a, m, epsrel=1e-12)
    return scale * 2.0 / sigma**2 * sigma * math.sqrt(math.pi / theta)


@pytest.mark.parametrize(
    ("theta", "mu", "sigma", "c"), [(16.6677, 0.5388, 0.1599, 0.05), (5.0, 0.0, 0.5, 0.01)]
)
def test_bertram_against_brute_force(theta: float, mu: float, sigma: float, c: float) -> None:
    res = bertram_levels(theta, mu, sigma, c)
    assert res["valid"] and res["method"] == "bertram_2010"
    sd = sigma / math.sqrt(2 * theta)
    # grid over asymmetric (entry, exit): the optimum is symmetric about mu
    grid = mu + np.linspace(0.05, 4.0, 80) * sd
    best, arg = -np.inf, None
    for m in grid:
        for a in 2 * mu - grid:
            rate = (m - a - 2 * c) / _cycle_time_quadrature(a, m, theta, mu, sigma)
            if rate > best:
                best, arg = rate, (a, m)
    step = grid[1] - grid[0]
    assert abs(res["entry_upper"] - arg[0]) < 1.5 * step
    assert abs(res["exit"] - arg[1]) < 1.5 * step
    assert res["expected_return_rate"] >= best * (1 - 1e-12)
    # refine: the optimum beats neighbours on a fine symmetric grid
    t_q = _cycle_time_quadrature(res["entry_upper"], res["exit"], theta, mu, sigma)
    assert res["expected_cycle_time"] == pytest.approx(t_q, rel=1e-9)
    for eps in (-1e-3, 1e-3):
        d = res["delta"] * (1 + eps)
        assert (2 * d - 2 * c) / _cycle_time_quadrature(mu - d, mu + d, theta, mu, sigma) < res[
            "expected_return_rate"
        ]


def test_bertram_cycle_time_monte_carlo() -> None:
    # stationary sd 1; band +-0.8 sd; 4e6 exact steps of 1e-4 (1700 cycles)
    theta, mu, sigma = 20.0, 0.0, math.sqrt(40.0)
    a, m = -0.8, 0.8
    dt = 1e-4
    x = ou_simulate(4_000_000, theta, mu, sigma, dt, x0=a, seed=2)
    below = np.flatnonzero(x <= a)
    above = np.flatnonzero(x >= m)
    times, i = [], 0
    while True:  # alternate: first hit of >= m after i, then first hit of <= a after that
        k = np.searchsorted(above, i)
        if k == above.size:
            break
        j = np.searchsorted(below, above[k])
        if j == below.size:
            break
        times.append((below[j] - i) * dt)
        i = below[j]
    times = np.array(times)
    assert times.size > 1_000
    se = times.std(ddof=1) / math.sqrt(times.size)
    # discrete monitoring hits a barrier shifted outwards by 0.5826 sigma sqrt(dt)
    # (Broadie, Glasserman & Kou 1997): compare with the formula at the shifted barriers
    shift = 0.5826 * sigma * math.sqrt(dt)
    expected = bertram_cycle_time(a - shift, m + shift, theta, mu, sigma)
    assert abs(times.mean() - expected) < 3 * se
    assert times.mean() == pytest.approx(bertram_cycle_time(a, m, theta, mu, sigma), rel=0.08)


def test_bertram_invalid() -> None:
    bad = bertram_levels(0.0, 0.0, 1.0, 0.01)
    assert not bad["valid"] and set(bad) == set(bertram_levels(1.0, 0.0, 1.0, 0.01))
    assert not bertram_levels(1.0, 0.0, 1.0, -0.01)["valid"]
    # without costs the return rate grows without bound as the band narrows
    assert not bertram_levels(5.0, 0.0, 0.5, 0.0)["valid"]
