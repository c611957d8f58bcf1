"""Tests of python_udfs.risk: Monte Carlo VaR/ES against the normal closed form, the empirical
quantile convention on hand-computed series, Higham's nearest-correlation example, Euler
allocation, Ledoit-Wolf shrinkage against a loop implementation of the paper, determinism."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm

from python_udfs.risk import (
    component_var,
    correlation_factor,
    historical_var_es,
    marginal_var,
    mc_var_es,
    nearest_correlation,
    parametric_var_es,
    shrunk_correlation,
    tail_statistics,
)


def random_correlation(n: int, seed: int, noise: float = 0.3) -> np.ndarray:
    g = np.random.Generator(np.random.PCG64(seed))
    a = g.standard_normal((n, n)) * noise + np.eye(n)
    s = a @ a.T
    d = np.sqrt(np.diag(s))
    return s / np.outer(d, d)


def book(n: int, seed: int):
    g = np.random.Generator(np.random.PCG64(seed + 100))
    return g.uniform(-1e6, 2e6, n), g.uniform(0.1, 0.6, n), random_correlation(n, seed)


def closed_form(e, v, c_mat, conf, h):
    """Independent normal closed form: sigma_p from the covariance, scipy.stats.norm."""
    cov = np.outer(v, v) * c_mat * h / 252.0
    sigma = math.sqrt(e @ cov @ e)
    z = norm.ppf(conf)
    return z * sigma, norm.pdf(z) / (1 - conf) * sigma, sigma


# ------------------------------------------------------------------------ Monte Carlo VaR


@pytest.mark.parametrize(
    ("seed", "conf", "h"), [(1, 0.95, 1), (2, 0.99, 1), (3, 0.975, 10), (4, 0.99, 5)]
)
def test_mc_converges_to_closed_form_within_3_se(seed: int, conf: float, h: float) -> None:
    e, v, c_mat = book(12, seed)
    res = mc_var_es(e, v, c_mat.ravel(), conf, h, paths=200_000, seed=seed)
    var, es, sigma = closed_form(e, v, c_mat, conf, h)
    assert abs(res["var"] - var) < 3 * res["var_se"]
    assert abs(res["es"] - es) < 3 * res["es_se"]
    # the standard errors are those of the asymptotic theory (density known here)
    p = 1 - conf
    se_var = math.sqrt(p * (1 - p) / 200_000) / (norm.pdf(norm.ppf(conf)) / sigma)
    assert res["var_se"] == pytest.approx(se_var, rel=0.25)
    assert res["var_se"] / var < 0.01
    assert res["sd_pnl"] == pytest.approx(sigma, rel=0.01)
    assert not res["repaired"]
    assert res["n_factors"] == 12
    assert res["paths"] == 200_000
    json.dumps(res)  # plain Python values
    assert all(type(res[k]) is float for k in ("var", "es", "var_se", "es_se", "min_eigenvalue"))


def test_mc_matches_parametric_function() -> None:
    e, v, c_mat = book(8, 7)
    par = parametric_var_es(e, v, c_mat, 0.99, 1)
    var, es, sigma = closed_form(e, v, c_mat, 0.99, 1)
    assert par["var"] == pytest.approx(var, rel=1e-12)
    assert par["es"] == pytest.approx(es, rel=1e-12)
    assert par["sigma"] == pytest.approx(sigma, rel=1e-12)


def test_mc_standard_errors_cover_over_seeds() -> None:
    """Across 40 seeds the VaR errors / var_se look standard normal (coverage of +-2 SE)."""
    e, v, c_mat = book(5, 11)
    var, es, _ = closed_form(e, v, c_mat, 0.99, 1)
    zs_var, zs_es = [], []
    for seed in range(40):
        res = mc_var_es(e, v, c_mat, 0.99, 1, paths=20_000, seed=seed)
        zs_var.append((res["var"] - var) / res["var_se"])
        zs_es.append((res["es"] - es) / res["es_se"])
    assert np.mean(np.abs(zs_var) < 2) >= 0.85
    assert np.mean(np.abs(zs_es) < 2) >= 0.85
    assert 0.6 < np.std(zs_var) < 1.5
    assert 0.6 < np.std(zs_es) < 1.5


def test_mc_deterministic_same_bytes_and_chunk_independent() -> None:
    e, v, c_mat = book(30, 3)
    a = mc_var_es(e, v, c_mat, 0.99, 1, 50_000, seed=42, components=True)
    b = mc_var_es(e, v, c_mat.ravel().tolist(), 0.99, 1, 50_000, seed=42, components=True)
    c = mc_var_es(e, v, c_mat, 0.99, 1, 50_000, seed=42, components=True, chunk_paths=777)
    assert json.dumps(a) == json.dumps(b) == json.dumps(c)
    d = mc_var_es(e, v, c_mat, 0.99, 1, 50_000, seed=43)
    assert d["var"] != a["var"]


def test_non_psd_correlation_is_repaired_not_an_error() -> None:
    bad = np.array([[1.0, 0.9, -0.6], [0.9, 1.0, 0.7], [-0.6, 0.7, 1.0]])
    assert np.linalg.eigvalsh(bad)[0] < 0
    e, v = np.array([1e6, -5e5, 8e5]), np.array([0.2, 0.3, 0.25])
    res = mc_var_es(e, v, bad.ravel(), 0.99, 1, 200_000, seed=5)
    assert res["repaired"] is True
    assert res["min_eigenvalue"] == pytest.approx(np.linalg.eigvalsh(bad)[0])
    assert res["n_factors"] == 2  # the nearest correlation matrix is singular
    fixed, _ = nearest_correlation(bad)
    var, es, _ = closed_form(e, v, fixed, 0.99, 1)
    assert abs(res["var"] - var) < 3 * res["var_se"]
    assert abs(res["es"] - es) < 3 * res["es_se"]
    assert parametric_var_es(e, v, bad, 0.99, 1)["repaired"] is True


@pytest.mark.parametrize(
    ("corr", "match"),
    [
        ([[1.0, 0.5], [0.4, 1.0]], "not symmetric"),
        ([1.0, 0.5, 0.5], "not a square number"),
        (np.eye(3), "expected 2 x 2"),
        ([[2.0, 0.5], [0.5, 1.0]], "unit diagonal"),
        ([[1.0, np.nan], [np.nan, 1.0]], "non-finite"),
    ],
)
def test_invalid_correlation_is_a_value_error(corr, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mc_var_es([1.0, 2.0], [0.2, 0.2], corr, 0.99, 1, 1000, 0)


def test_other_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="vols has 1 elements"):
        mc_var_es([1.0, 2.0], [0.2], np.eye(2), 0.99, 1, 1000, 0)
    with pytest.raises(ValueError, match="confidence"):
        mc_var_es([1.0], [0.2], [1.0], 1.5, 1, 1000, 0)
    with pytest.raises(ValueError, match="horizon"):
        mc_var_es([1.0], [0.2], [1.0], 0.99, 0, 1000, 0)


def test_singular_psd_input_uses_eigen_factor_without_repair() -> None:
    c_mat = np.array([[1.0, 1.0], [1.0, 1.0]])  # perfectly correlated: PSD, singular
    _, factor, info = correlation_factor(c_mat)
    assert not info["repaired"]
    assert info["n_factors"] == 1
    np.testing.assert_allclose(factor @ factor.T, c_mat, atol=1e-12)
    res = mc_var_es([1e6, 1e6], [0.2, 0.2], c_mat, 0.99, 1, 100_000, 1)
    var, _, _ = closed_form(np.array([1e6, 1e6]), np.array([0.2, 0.2]), c_mat, 0.99, 1)
    assert abs(res["var"] - var) < 3 * res["var_se"]


@pytest.mark.slow
def test_speed_100k_paths_500_factors() -> None:
    import time

    e, v, c_mat = book(500, 1)
    t0 = time.perf_counter()
    res = mc_var_es(e, v, c_mat.ravel(), 0.99, 1, 100_000, 1)
    assert time.perf_counter() - t0 < 3.0
    var, _, _ = closed_form(e, v, c_mat, 0.99, 1)
    assert abs(res["var"] - var) < 4 * res["var_se"]


# --------------------------------------------------------------------------- historical


PNL = [-5.0, 3.0, -1.0, 2.0, -8.0, 0.0, 4.0, -2.0, 1.0, -3.0]  # losses sorted: 8, 5, 3, 2, 1


@pytest.mark.parametrize(
    ("conf", "var", "es"),
    [
        (0.90, 5.0, 8.0),  # n p = 1: VaR = 2nd worst loss, ES = the worst
        (0.80, 3.0, 6.5),  # n p = 2: VaR = 3rd worst, ES = mean(8, 5)
        (0.85, 5.0, 7.0),  # n p = 1.5: ES = (8 + 0.5 * 5) / 1.5
        (0.50, 0.0, 3.8),  # n p = 5: VaR = 6th worst (0), ES = mean(8, 5, 3, 2, 1)
        (0.99, 8.0, 8.0),  # n p < 1: the worst loss for both
    ],
)
def test_historical_hand_computed(conf: float, var: float, es: float) -> None:
    res = historical_var_es(PNL, conf)
    assert res["var"] == pytest.approx(var)
    assert res["es"] == pytest.approx(es)
    assert res["n_obs"] == 10
    assert res["var"] == pytest.approx(np.quantile(-np.array(PNL), conf, method="inverted_cdf"))


def test_historical_quantile_convention_random() -> None:
    g = np.random.Generator(np.random.PCG64(9))
    for n in (7, 100, 251, 1000):
        pnl = g.standard_t(4, n) * 1000
        for conf in (0.9, 0.95, 0.975, 0.99):
            res = historical_var_es(pnl, conf)
            assert res["var"] == np.quantile(-pnl, conf, method="inverted_cdf")
            losses = np.sort(-pnl)[::-1]
            k = math.floor(n * (1 - conf) + 1e-9)
            if k > 0 and abs(n * (1 - conf) - k) < 1e-9:
                assert res["es"] == pytest.approx(losses[:k].mean())
            assert res["es"] >= res["var"]
    # NaN dropped
    assert historical_var_es([*PNL, np.nan], 0.9)["var"] == 5.0


def test_tail_statistics_matches_historical() -> None:
    g = np.random.Generator(np.random.PCG64(2))
    pnl = g.standard_normal(10_000)
    a, b = tail_statistics(pnl, 0.99), historical_var_es(pnl, 0.99)
    assert a["var"] == b["var"] and a["es"] == pytest.approx(b["es"], rel=1e-14)
    assert 0 < a["var_se"] < 0.1 and 0 < a["es_se"] < 0.1


# ---------------------------------------------------------------------- nearest correlation


def test_nearest_correlation_higham_example() -> None:
    a = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    x, info = nearest_correlation(a)
    expected = np.array([[1.0, 0.7607, 0.1573], [0.7607, 1.0, 0.7607], [0.1573, 0.7607, 1.0]])
    np.testing.assert_allclose(x, expected, atol=1e-4)
    assert info["converged"]
    assert info["min_eigenvalue_in"] < 0
    assert np.linalg.eigvalsh(x)[0] > -1e-12
    np.testing.assert_array_equal(np.diag(x), 1.0)
    np.testing.assert_array_equal(x, x.T)
    # flattened input gives the same answer
    np.testing.assert_array_equal(nearest_correlation(a.ravel())[0], x)


def test_nearest_correlation_random_and_nearer_than_clipping() -> None:
    g = np.random.Generator(np.random.PCG64(4))
    n = 40
    a = np.clip(random_correlation(n, 4) + g.normal(0, 0.3, (n, n)), -1, 1)
    a = 0.5 * (a + a.T)
    np.fill_diagonal(a, 1.0)
    assert np.linalg.eigvalsh(a)[0] < -0.1
    x, info = nearest_correlation(a)
    assert info["converged"]
    assert np.linalg.eigvalsh(x)[0] > -1e-10
    np.testing.assert_array_equal(np.diag(x), 1.0)
    # a naive repair (clip eigenvalues, rescale the diagonal) is farther away
    w, v = np.linalg.eigh(a)
    y = (v * np.maximum(w, 0)) @ v.T
    d = np.sqrt(np.diag(y))
    y = y / np.outer(d, d)
    assert np.linalg.norm(x - a) < np.linalg.norm(y - a)
    # optimality: x is the projection of a onto the convex set of correlation matrices iff
    # <a - x, y - x> <= 0 for every correlation matrix y (variational inequality)
    for seed in range(20):
        y = random_correlation(n, 100 + seed, noise=g.uniform(0.05, 2.0))
        assert np.sum((a - x) * (y - x)) <= 1e-7 * np.linalg.norm(a - x) * np.linalg.norm(y - x)
    # a correlation matrix is its own nearest correlation matrix
    c_mat = random_correlation(10, 5)
    np.testing.assert_allclose(nearest_correlation(c_mat)[0], c_mat, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------- Euler


def test_parametric_components_sum_and_match_gradient() -> None:
    e, v, c_mat = book(6, 8)
    res = component_var(e, v, c_mat, 0.99, 10)
    assert sum(res["component_var"]) == pytest.approx(res["var"], rel=1e-12)
    assert sum(res["component_es"]) == pytest.approx(res["es"], rel=1e-12)
    # marginal = finite-difference gradient of the closed form
    for i in range(6):
        bump = np.zeros(6)
        bump[i] = 1.0
        up = parametric_var_es(e + bump, v, c_mat, 0.99, 10)["var"]
        dn = parametric_var_es(e - bump, v, c_mat, 0.99, 10)["var"]
        assert res["marginal_var"][i] == pytest.approx((up - dn) / 2, rel=1e-5)
    m = marginal_var(e, v, c_mat, 0.99, 10)
    assert m["marginal_var"] == res["marginal_var"]
    assert set(m) == {"var", "es", "marginal_var", "marginal_es", "method"}


def test_mc_components_sum_to_total_and_approach_parametric() -> None:
    e, v, c_mat = book(6, 8)
    mc = component_var(e, v, c_mat, 0.99, 1, method="mc", paths=400_000, seed=3)
    par = component_var(e, v, c_mat, 0.99, 1)
    assert sum(mc["component_var"]) == pytest.approx(mc["var"], rel=1e-10)
    assert sum(mc["component_es"]) == pytest.approx(mc["es"], rel=1e-10)
    scale = par["es"]
    np.testing.assert_allclose(mc["component_es"], par["component_es"], atol=0.02 * scale)
    np.testing.assert_allclose(mc["component_var"], par["component_var"], atol=0.04 * scale)
    np.testing.assert_allclose(np.array(mc["component_var"]) / e, mc["marginal_var"], rtol=1e-12)
    with pytest.raises(ValueError, match="method"):
        component_var(e, v, c_mat, method="kernel")


# ------------------------------------------------------------------------- Ledoit-Wolf


def ledoit_wolf_loop(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit & Wolf (2004) constant-correlation shrinkage, written from the paper with loops."""
    t, n = x.shape
    y = x - x.mean(axis=0)
    s = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            s[i, j] = sum(y[k, i] * y[k, j] for k in range(t)) / t
    r = np.array([[s[i, j] / math.sqrt(s[i, i] * s[j, j]) for j in range(n)] for i in range(n)])
    rbar = sum(r[i, j] for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    f = np.array(
        [
            [s[i, i] if i == j else rbar * math.sqrt(s[i, i] * s[j, j]) for j in range(n)]
            for i in range(n)
        ]
    )
    pi = 0.0
    for i in range(n):
        for j in range(n):
            pi += sum((y[k, i] * y[k, j] - s[i, j]) ** 2 for k in range(t)) / t
    rho = sum(sum((y[k, i] ** 2 - s[i, i]) ** 2 for k in range(t)) / t for i in range(n))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            th_ii = sum((y[k, i] ** 2 - s[i, i]) * (y[k, i] * y[k, j] - s[i, j]) for k in range(t))
            th_jj = sum((y[k, j] ** 2 - s[j, j]) * (y[k, i] * y[k, j] - s[i, j]) for k in range(t))
            rho += (
                rbar
                / 2
                * (
                    math.sqrt(s[j, j] / s[i, i]) * th_ii / t
                    + math.sqrt(s[i, i] / s[j, j]) * th_jj / t
                )
            )
    gamma = float(np.sum((f - s) ** 2))
    delta = max(0.0, min(1.0, (pi - rho) / gamma / t))
    sigma = delta * f + (1 - delta) * s
    d = np.sqrt(np.diag(sigma))
    return sigma / np.outer(d, d), delta


def test_shrunk_correlation_matches_paper_loops() -> None:
    g = np.random.Generator(np.random.PCG64(12))
    c_true = random_correlation(5, 1)
    x = g.multivariate_normal(np.zeros(5), c_true, size=40) * np.array([0.01, 0.02, 0.05, 1, 3])
    got, info = shrunk_correlation(x)
    want, delta = ledoit_wolf_loop(x)
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert info["shrinkage"] == pytest.approx(delta, rel=1e-10)
    assert 0 < info["shrinkage"] < 1
    assert info["n_obs"] == 40
    assert np.linalg.eigvalsh(got)[0] > 0
    np.testing.assert_array_equal(np.diag(got), 1.0)


def test_shrunk_correlation_large_sample_and_nan_rows() -> None:
    g = np.random.Generator(np.random.PCG64(13))
    c_true = random_correlation(4, 2)
    x = g.multivariate_normal(np.zeros(4), c_true, size=20_000)
    got, info = shrunk_correlation(x)
    assert info["shrinkage"] < 0.01
    np.testing.assert_allclose(got, np.corrcoef(x.T), atol=0.01)
    x[5, 2] = np.nan
    _, info = shrunk_correlation(x)
    assert info["n_dropped"] == 1 and info["n_obs"] == 19_999
    with pytest.raises(ValueError):
        shrunk_correlation(np.ones(5))
