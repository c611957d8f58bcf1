"""Tests of the raw SVI fit (python_udfs.svi.svi_fit), the SSVI surface fit
(python_udfs.ssvi) and the calendar check, against known answers: parameter recovery from
noiseless smiles/surfaces written out here, Gatheral & Jacquier's (2014) published example of a
slice with butterfly arbitrage (Axel Vogt's), and an independent no-arbitrage check (convexity
of Black call prices in the strike) of every fitted slice."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import ndtr

from python_udfs.ssvi import ssvi_fit, ssvi_total_variance
from python_udfs.svi import (
    K_CHECK,
    calendar_violations,
    svi_durrleman_g,
    svi_fit,
)

NAMES = ("a", "b", "rho", "m", "sigma")
# Gatheral & Jacquier (2014), "Arbitrage-free SVI volatility surfaces", section 5.1 (Axel
# Vogt's example): raw SVI with t = 1, g(k) < 0 around k = 0.65..1.25.
VOGT = (-0.0410, 0.1331, 0.3060, 0.3586, 0.4153)


def raw_svi(k, a, b, rho, m, sigma):
    """w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)), written out for the tests."""
    return a + b * (rho * (k - m) + np.sqrt((k - m) ** 2 + sigma**2))


def min_density(params) -> float:
    """Smallest second difference / h^2 of undiscounted Black call prices (F = 1) on a uniform
    strike grid over |k| <= 1.5: a risk-neutral density estimate, independent of g(k)."""
    strike = np.linspace(math.exp(-1.5), math.exp(1.5), 4001)
    k = np.log(strike)
    s = np.sqrt(raw_svi(k, *params))
    d1 = -k / s + 0.5 * s
    call = ndtr(d1) - strike * ndtr(d1 - s)
    h = strike[1] - strike[0]
    return float(np.min(call[:-2] - 2.0 * call[1:-1] + call[2:]) / (h * h))


def params_of(fit: dict) -> tuple[float, ...]:
    return tuple(fit[name] for name in NAMES)


def assert_arbitrage_free(fit: dict) -> None:
    x = params_of(fit)
    assert fit["butterfly_ok"] is True
    assert np.all(svi_durrleman_g(K_CHECK, *x) >= 0.0)
    assert np.all(raw_svi(K_CHECK, *x) > 0.0)
    assert fit["min_g"] >= 0.0 and fit["min_w"] > 0.0
    assert fit["b"] * (1.0 + abs(fit["rho"])) <= 2.0 + 1e-12  # Lee's moment bound
    assert min_density(x) > -1e-8


def assert_plain_json(out: dict) -> None:
    """Only Python scalars/lists/str (no numpy types), and JSON-serialisable."""
    for value in out.values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            assert type(item) in (float, int, bool, str), (value, type(item))
    json.dumps(out)


# ---------------------------------------------------------------------------------------------
# raw SVI


@pytest.mark.parametrize(
    ("params", "k"),
    [
        ((0.04, 0.4, -0.4, 0.05, 0.2), np.linspace(-0.6, 0.4, 40)),
        ((0.01, 0.1, 0.3, -0.05, 0.1), np.linspace(-0.5, 0.5, 31)),
        ((0.002, 0.05, -0.7, 0.02, 0.05), np.linspace(-0.25, 0.12, 50)),  # short expiry
        ((0.1, 0.8, -0.9, 0.2, 0.5), np.linspace(-1.2, 0.6, 25)),
    ],
)
def test_recovers_known_raw_svi_from_noiseless_quotes(params, k) -> None:
    assert min_density(params) > 0.0  # the known slices are free of butterfly arbitrage
    order = np.random.Generator(np.random.PCG64(0)).permutation(k.size)  # unsorted input
    fit = svi_fit(k[order], raw_svi(k, *params)[order])
    assert fit["repaired"] is False
    for name, value in zip(NAMES, params, strict=True):
        assert fit[name] == pytest.approx(value, abs=1e-6), name
    assert fit["rmse"] < 1e-9
    assert fit["n"] == k.size
    assert_arbitrage_free(fit)
    assert_plain_json(fit)


def test_noisy_quotes_fit_at_the_noise_level() -> None:
    params, t = (0.04, 0.4, -0.4, 0.05, 0.2), 1.0
    k = np.linspace(-0.6, 0.4, 40)
    vol = np.sqrt(raw_svi(k, *params) / t)
    noise = np.random.Generator(np.random.PCG64(7)).normal(0.0, 0.002, k.size)
    fit = svi_fit(k, (vol + noise) ** 2 * t, t=t)
    true_rmse_vol = math.sqrt(np.mean(noise**2))
    # least squares: the fit is at least as good as the true parameters, and not much better
    true_rmse = math.sqrt(np.mean((raw_svi(k, *params) - (vol + noise) ** 2 * t) ** 2))
    assert fit["rmse"] <= true_rmse * (1.0 + 1e-9)
    assert fit["rmse"] > 0.8 * true_rmse
    assert fit["rmse_vol"] == pytest.approx(true_rmse_vol, rel=0.2)
    for name, value in zip(NAMES, params, strict=True):
        assert fit[name] == pytest.approx(value, abs=0.05), name
    assert_arbitrage_free(fit)


def test_vogt_example_is_repaired() -> None:
    assert np.min(svi_durrleman_g(K_CHECK, *VOGT)) < -0.03  # the published example
    assert min_density(VOGT) < -1e-6  # ... really has a negative density
    k = np.linspace(-1.5, 1.5, 61)
    fit = svi_fit(k, raw_svi(k, *VOGT), t=1.0)
    assert fit["repaired"] is True
    assert_arbitrage_free(fit)
    # the repaired slice stays close to the quotes (within ~1 vol point)
    assert fit["rmse_vol"] < 0.01
    assert fit["rmse"] == pytest.approx(
        math.sqrt(np.mean((raw_svi(k, *params_of(fit)) - raw_svi(k, *VOGT)) ** 2)), rel=1e-12
    )
    assert_plain_json(fit)


def _random_smile(g: np.random.Generator, kind: int):
    """Quotes from assorted smiles: raw SVI with or without arbitrage plus noise, a vol
    parabola, pure noise, few quotes."""
    t = float(g.choice([1.0 / 365.0, 7.0 / 365.0, 0.1, 0.5, 2.0]))
    sd = g.uniform(0.1, 0.8) * math.sqrt(t)  # ATM total standard deviation
    n = int(g.integers(8, 60))
    k = np.sort(g.uniform(-4.0 * sd, 3.0 * sd, n))
    if kind == 0:
        x = (
            g.uniform(-0.5, 1.0) * sd**2,
            g.uniform(0.01, 1.5) * sd,
            g.uniform(-0.95, 0.95),
            g.uniform(-sd, sd),
            g.uniform(0.05, 2.0) * sd,
        )
        w = np.abs(raw_svi(k, *x)) + 1e-4 * t
    elif kind == 1:
        k = np.sort(g.uniform(-1.5, 1.5, n))
        w = raw_svi(k, *VOGT) * (1.0 + g.normal(0.0, 0.01, n))
    elif kind == 2:
        vol = 0.2 + g.uniform(-0.05, 0.05) * k / math.sqrt(t) + g.uniform(0.0, 0.2) * k * k / t
        w = vol * vol * t
    elif kind == 3:
        w = g.uniform(0.5, 2.0, n) * sd**2
    else:
        k = k[:6]
        w = (0.2 + 0.05 * g.normal(size=k.size)) ** 2 * t
    return k, w, t


@pytest.mark.parametrize("seed", range(6))
def test_fits_of_any_smile_are_free_of_butterfly_arbitrage(seed: int) -> None:
    g = np.random.Generator(np.random.PCG64(seed))
    for kind in range(5):
        k, w, t = _random_smile(g, kind)
        weights = g.uniform(0.1, 1.0, k.size) if seed % 2 else None
        fit = svi_fit(k, w, weights, t=t)
        assert_arbitrage_free(fit)
        assert math.isfinite(fit["rmse"]) and math.isfinite(fit["rmse_vol"])
        assert_plain_json(fit)


def test_weights_are_honoured() -> None:
    params = (0.04, 0.4, -0.4, 0.05, 0.2)
    k = np.linspace(-0.6, 0.4, 40)
    w = raw_svi(k, *params)
    bad = np.zeros(k.size, dtype=bool)
    bad[[5, 17, 30]] = True
    w_bad = np.where(bad, w * 1.5, w)  # three outliers
    weights = np.where(bad, 0.0, 1.0)
    # zero weight removes the outliers: the known slice comes back
    fit = svi_fit(k, w_bad, weights)
    assert fit["n"] == k.size - 3
    for name, value in zip(NAMES, params, strict=True):
        assert fit[name] == pytest.approx(value, abs=1e-6), name
    # same answer as leaving them out, and scale-free weights
    fit_out = svi_fit(k[~bad], w_bad[~bad])
    fit_scaled = svi_fit(k, w_bad, weights * 1e3)
    for name in NAMES:
        assert fit[name] == pytest.approx(fit_out[name], abs=1e-9)
        assert fit[name] == pytest.approx(fit_scaled[name], abs=1e-9)
    # heavier weights on the wings fit them better than on the centre
    noise = np.random.Generator(np.random.PCG64(3)).normal(0.0, 0.003, k.size)
    wn = w * (1.0 + noise)
    wing = np.abs(k + 0.1) > 0.3
    heavy = svi_fit(k, wn, np.where(wing, 100.0, 1.0))
    light = svi_fit(k, wn, np.where(wing, 1.0, 100.0))

    def wing_err(fit):
        return float(np.mean((raw_svi(k[wing], *params_of(fit)) - wn[wing]) ** 2))

    assert wing_err(heavy) < wing_err(light)


def test_too_few_quotes_and_t() -> None:
    out = svi_fit([0.0, 0.1, -0.1, 0.2], [0.04, 0.041, 0.042, 0.043])
    assert out["n"] == 4 and math.isnan(out["a"]) and out["butterfly_ok"] is False
    assert "fewer than 5" in out["message"]
    assert_plain_json(out)
    k = np.linspace(-0.3, 0.3, 9)
    fit = svi_fit(np.append(k, np.nan), np.append(raw_svi(k, 0.04, 0.4, -0.4, 0.05, 0.2), 1.0))
    assert fit["n"] == 9 and math.isnan(fit["rmse_vol"])


# ---------------------------------------------------------------------------------------------
# calendar check


def test_calendar_violations_counts_decreasing_total_variance() -> None:
    # flat slices (b = 0): w = a; the 0.5y slice has less variance than the 0.25y one
    out = calendar_violations([0.5, 0.25, 1.0], [0.03, 0.04, 0.05], 0.0, 0.0, 0.0, 0.1)
    assert out == {"count": K_CHECK.size, "pairs": 1, "max_violation": pytest.approx(0.01)}
    ok = calendar_violations([0.25, 0.5], [0.04, 0.05], 0.0, 0.0, 0.0, 0.1)
    assert ok == {"count": 0, "pairs": 0, "max_violation": 0.0}
    # crossing smiles: the steep short-dated skew exceeds the long slice in the left wing only
    k = np.array([-1.0, 0.0, 1.0])
    short, long = (0.03, 0.3, -0.9, 0.0, 0.1), (0.06, 0.1, 0.0, 0.0, 0.1)
    out = calendar_violations([0.1, 0.2], *zip(short, long, strict=True), k=k)
    assert out["count"] == 1 and out["pairs"] == 1
    assert out["max_violation"] == pytest.approx(raw_svi(-1.0, *short) - raw_svi(-1.0, *long))


# ---------------------------------------------------------------------------------------------
# SSVI

EXPIRIES = np.array([0.05, 0.1, 0.25, 0.5, 1.0, 2.0])
THETA = 0.04 * EXPIRIES + 0.002 * np.sqrt(EXPIRIES)


def ssvi_surface(k, theta, rho, eta, gamma):
    """SSVI with the power-law phi, written out for the tests."""
    phi = eta / (theta**gamma * (1.0 + theta) ** (1.0 - gamma))
    return 0.5 * theta * (1.0 + rho * phi * k + np.sqrt((phi * k + rho) ** 2 + 1.0 - rho**2))


def surface_quotes(rho, eta, gamma, theta=THETA, n=30):
    k, w, t = [], [], []
    for tj, th in zip(EXPIRIES, theta, strict=True):
        kj = np.linspace(-3.0, 2.0, n) * math.sqrt(th)
        k.append(kj)
        w.append(ssvi_surface(kj, th, rho, eta, gamma))
        t.append(np.full(n, tj))
    return np.concatenate(k), np.concatenate(w), np.concatenate(t)


def assert_ssvi_constraints(fit: dict) -> None:
    assert 0.0 < fit["gamma"] <= 0.5
    assert fit["eta"] > 0.0 and fit["eta"] * (1.0 + abs(fit["rho"])) <= 2.0 + 1e-12
    assert abs(fit["rho"]) < 1.0
    assert np.all(np.diff(fit["theta"]) >= 0.0) and fit["theta"][0] > 0.0
    assert fit["calendar_ok"] is True and fit["butterfly_ok"] is True and fit["min_g"] >= 0.0
    # independent checks of the fitted surface
    theta = np.array(fit["theta"])
    w = ssvi_surface(K_CHECK[None, :], theta[:, None], fit["rho"], fit["eta"], fit["gamma"])
    assert np.all(np.diff(w, axis=0) >= -1e-15)  # no calendar spread arbitrage
    phi = fit["eta"] / (theta ** fit["gamma"] * (1.0 + theta) ** (1.0 - fit["gamma"]))
    assert np.allclose(phi, fit["phi"], rtol=1e-12)
    for th, ph in zip(theta, phi, strict=True):
        a, b = 0.5 * th * (1.0 - fit["rho"] ** 2), 0.5 * th * ph
        m, sigma = -fit["rho"] / ph, math.sqrt(1.0 - fit["rho"] ** 2) / ph
        assert min_density((a, b, fit["rho"], m, sigma)) > -1e-8


def test_ssvi_total_variance_matches_the_formula() -> None:
    k = np.linspace(-1.0, 1.0, 11)
    for th in (0.01, 0.2):
        got = ssvi_total_variance(k, th, -0.6, 1.1, 0.4)
        assert np.allclose(got, ssvi_surface(k, th, -0.6, 1.1, 0.4), rtol=1e-13, atol=0)
        assert ssvi_total_variance(0.0, th, -0.6, 1.1, 0.4) == pytest.approx(th, rel=1e-14)


@pytest.mark.parametrize(("rho", "eta", "gamma"), [(-0.6, 1.1, 0.4), (-0.3, 0.5, 0.2)])
def test_ssvi_recovers_a_synthetic_surface(rho, eta, gamma) -> None:
    k, w, t = surface_quotes(rho, eta, gamma)
    order = np.random.Generator(np.random.PCG64(1)).permutation(k.size)
    fit = ssvi_fit(k[order], w[order], t[order])
    assert fit["rho"] == pytest.approx(rho, abs=1e-6)
    assert fit["eta"] == pytest.approx(eta, rel=1e-6)
    assert fit["gamma"] == pytest.approx(gamma, abs=1e-6)
    assert fit["expiries"] == pytest.approx(list(EXPIRIES), abs=0)
    assert fit["theta"] == pytest.approx(list(THETA), rel=1e-6)
    assert fit["rmse"] < 1e-8 and fit["n"] == k.size and fit["converged"] is True
    assert_ssvi_constraints(fit)
    assert_plain_json(fit)


def test_ssvi_noisy_surface() -> None:
    k, w, t = surface_quotes(-0.6, 1.1, 0.4)
    noise = np.random.Generator(np.random.PCG64(5)).normal(0.0, 0.003, k.size)
    wn = (np.sqrt(w / t) + noise) ** 2 * t
    fit = ssvi_fit(k, wn, t)
    assert fit["rmse_vol"] == pytest.approx(math.sqrt(np.mean(noise**2)), rel=0.2)
    assert fit["rho"] == pytest.approx(-0.6, abs=0.05)
    assert fit["theta"] == pytest.approx(list(THETA), rel=0.05)
    assert_ssvi_constraints(fit)


def test_ssvi_fit_stays_arbitrage_free_on_arbitrageable_quotes() -> None:
    # eta (1 + |rho|) = 3.2 > 2 and an ATM total variance that drops from 0.5y to 1y
    theta = THETA.copy()
    theta[4] = 0.5 * (theta[3] + theta[2])
    k, w, t = surface_quotes(-0.6, 2.0, 0.6, theta=theta)
    fit = ssvi_fit(k, w, t)
    assert_ssvi_constraints(fit)
    assert fit["theta"][4] == pytest.approx(fit["theta"][3], rel=1e-6)  # theta held flat
    weights = np.where(t == EXPIRIES[0], 0.0, 1.0)  # weight 0 drops the first expiry
    fit_w = ssvi_fit(k, w, t, weights)
    assert fit_w["expiries"] == pytest.approx(list(EXPIRIES[1:]), abs=0)
    assert_ssvi_constraints(fit_w)


def test_ssvi_too_few_quotes() -> None:
    out = ssvi_fit([0.0, 0.1, -0.1, 0.0], [0.01, 0.011, 0.012, 0.02], [0.1, 0.1, 0.1, 0.2])
    assert math.isnan(out["rho"]) and out["butterfly_ok"] is False
    assert_plain_json(out)
