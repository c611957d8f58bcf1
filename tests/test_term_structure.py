"""Term-structure fit and surface PCA (python_udfs.term_structure) on synthetic data with
known parameters / factors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from python_udfs.term_structure import (
    pca_scores_point_in_time,
    surface_pca,
    term_structure_eval,
    term_structure_fit,
)

DAYS = np.array([7.0, 14.0, 30.0, 60.0, 91.0, 182.0, 365.0])


# --------------------------------------------------------------------------------------------
# IV(days) = a days^b + c
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "abc",
    [
        (0.5, -0.4, 0.12),  # inverted (stressed): short end high, decaying
        (-0.2, -0.5, 0.25),  # normal: rising to a long-run level
        (0.01, 0.5, 0.15),  # rising without bound over the range
    ],
)
def test_fit_recovers_parameters(abc):
    a, b, c = abc
    iv = a * DAYS**b + c
    fit = term_structure_fit(DAYS, iv)
    assert fit["converged"] and not fit["underdetermined"] and fit["n"] == 7
    assert fit["method"] == "least_squares"
    assert (fit["a"], fit["b"], fit["c"]) == pytest.approx((a, b, c), rel=1e-6, abs=1e-9)
    assert fit["rmse"] < 1e-10
    # with 20 bp of noise: parameters close, rmse at the noise level
    rng = np.random.default_rng(7)
    noisy = term_structure_fit(DAYS, iv + rng.normal(0.0, 0.002, DAYS.size))
    assert noisy["converged"] and 0.0005 < noisy["rmse"] < 0.004
    assert noisy["b"] == pytest.approx(b, abs=0.05)
    fitted = term_structure_eval(DAYS, noisy["a"], noisy["b"], noisy["c"])
    assert np.max(np.abs(fitted - iv)) < 0.004


def test_fit_weights_bounds_and_bad_points():
    iv = 0.5 * DAYS**-0.4 + 0.12
    days = np.r_[DAYS, np.nan, -5.0, 30.0]
    vals = np.r_[iv, 0.2, 0.2, 0.9]  # NaN day, negative day, and an outlier at 30 days
    weights = np.r_[np.ones(DAYS.size), 1.0, 1.0, 0.0]  # the outlier has zero weight
    fit = term_structure_fit(days, vals, weights=weights)
    assert fit["n"] == 8
    assert (fit["a"], fit["b"], fit["c"]) == pytest.approx((0.5, -0.4, 0.12), rel=1e-6)
    # a true exponent outside the bounds ends on the bound
    steep = term_structure_fit(DAYS, 2.0 * DAYS**-3.0 + 0.2, b_bounds=(-2.0, 2.0))
    assert steep["b"] == pytest.approx(-2.0) and steep["rmse"] > 0.0


def test_few_points_are_flagged_underdetermined():
    three = term_structure_fit([30.0, 60.0, 90.0], [0.20, 0.22, 0.23])
    assert three["underdetermined"] and three["n"] == 3 and three["rmse"] < 1e-8
    two = term_structure_fit([30.0, 60.0], [0.20, 0.22])
    assert two["underdetermined"] and two["method"] == "power_law_2pt" and two["c"] == 0.0
    assert two["b"] == pytest.approx(math.log(1.1) / math.log(2.0))
    assert term_structure_eval([30.0, 60.0], two["a"], two["b"], two["c"]) == pytest.approx(
        [0.20, 0.22]
    )
    one = term_structure_fit([30.0], [0.2])
    assert one["method"] == "flat" and (one["a"], one["b"], one["c"]) == (0.0, 0.0, 0.2)
    none = term_structure_fit([], [])
    assert none["n"] == 0 and not none["converged"] and math.isnan(none["a"])
    for res in (three, two, one, none):
        assert all(type(v) in (float, int, bool, str) for v in res.values())
        json.dumps(res)


# --------------------------------------------------------------------------------------------
# surface PCA
# --------------------------------------------------------------------------------------------

TENORS = np.array([7.0, 14.0, 30.0, 60.0, 91.0, 182.0, 365.0])
MNY = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])  # e.g. 10P, 25P, ATM, 25C, 10C
TT, MM = (g.ravel() for g in np.meshgrid(TENORS, MNY, indexing="ij"))
# orthogonal factor shapes: level, term slope (up at the long end), smile curvature (wings)
SHAPES = np.stack(
    [
        np.ones(TT.size),
        np.log(TT) - np.log(TT).mean(),
        MM**2 - np.mean(MM**2),
    ]
)
SHAPES = SHAPES / np.linalg.norm(SHAPES, axis=1, keepdims=True) * math.sqrt(TT.size)
FACTOR_SD = np.array([0.04, 0.015, 0.006])


def synthetic_surface(n: int, seed: int = 0, noise: float = 0.0005):
    """(rows x 35 IVs, factor scores): 0.2 + level/slope/curvature factors + noise; the
    factor series are made sample-uncorrelated so PCA can separate them exactly."""
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((n, 3))
    q, _ = np.linalg.qr(f - f.mean(axis=0))
    factors = q * math.sqrt(n - 1) * FACTOR_SD
    x = 0.2 + factors @ SHAPES + rng.normal(0.0, noise, (n, TT.size))
    return x, factors


@pytest.mark.parametrize("standardize", [True, False])
def test_pca_recovers_level_slope_curvature_with_fixed_signs(standardize):
    x, factors = synthetic_surface(500)
    res = surface_pca(x, tenor=TT, moneyness=MM, standardize=standardize)
    scores = np.asarray(res["scores"])
    loadings = np.asarray(res["loadings"])
    assert scores.shape == (500, 3) and loadings.shape == (35, 3)
    for j in range(3):
        # same sign as the generating factor, not just |corr|
        assert np.corrcoef(scores[:, j], factors[:, j])[0, 1] > 0.99
    evr = res["explained_variance_ratio"]
    assert evr[0] > evr[1] > evr[2] > 0.0 and sum(evr) > 0.99
    # the sign convention itself
    assert loadings[:, 0].sum() > 0.0
    assert loadings[TT == 365.0, 1].mean() > loadings[TT == 7.0, 1].mean()
    assert loadings[np.abs(MM) == 2.0, 2].mean() > loadings[MM == 0.0, 2].mean()
    json.dumps(res)


def test_pca_signs_stable_across_refits():
    x, _ = synthetic_surface(600, seed=3)
    first = surface_pca(x[:300], tenor=TT, moneyness=MM)
    second = surface_pca(x[300:], tenor=TT, moneyness=MM)
    l1, l2 = np.asarray(first["loadings"]), np.asarray(second["loadings"])
    for j in range(3):
        assert l1[:, j] @ l2[:, j] > 0.9  # unit vectors pointing the same way
    # negating the data keeps the signs of the loadings (only the scores flip)
    flipped = surface_pca(-x[:300], tenor=TT, moneyness=MM)
    assert np.allclose(np.asarray(flipped["loadings"]), l1, atol=1e-10)
    assert np.allclose(np.asarray(flipped["scores"]), -np.asarray(first["scores"]), atol=1e-10)


def test_pca_nan_handling():
    x, factors = synthetic_surface(300, seed=5)
    x = x.copy()
    x[:, 4] = np.nan  # an empty column: dropped
    x[::2, 10] = np.nan  # half missing: dropped (> 20 %)
    x[::10, 20] = np.nan  # 10 % missing: kept, imputed with the column mean
    x[7, :] = np.nan  # an all-missing date: NaN scores
    res = surface_pca(x, tenor=TT, moneyness=MM)
    assert 4 not in res["columns_used"] and 10 not in res["columns_used"]
    assert 20 in res["columns_used"] and len(res["columns_used"]) == 33
    loadings = np.asarray(res["loadings"])
    assert np.isnan(loadings[[4, 10]]).all() and np.isfinite(loadings[20]).all()
    scores = np.asarray(res["scores"])
    assert np.isnan(scores[7]).all() and res["n_rows"] == 299
    ok = np.isfinite(scores[:, 0])
    for j in range(3):
        assert np.corrcoef(scores[ok, j], factors[ok, j])[0, 1] > 0.99


def test_pca_without_coordinates_uses_column_order():
    # a term structure only: columns ordered short -> long; slope up at the end, curvature
    # positive at both ends
    rng = np.random.default_rng(11)
    n, p = 400, 8
    u = np.linspace(-1.0, 1.0, p)
    shapes = np.stack([np.ones(p), u, u * u - np.mean(u * u)])
    shapes /= np.linalg.norm(shapes, axis=1, keepdims=True)
    f = rng.standard_normal((n, 3)) * [3.0, 1.0, 0.3]
    x = f @ shapes + rng.normal(0.0, 0.01, (n, p))
    res = surface_pca(x, standardize=False)
    loadings = np.asarray(res["loadings"])
    assert loadings[:, 0].sum() > 0 and loadings[-1, 1] > loadings[0, 1]
    assert loadings[[0, -1], 2].mean() > loadings[p // 2, 2]
    scores = np.asarray(res["scores"])
    for j in range(3):
        assert np.corrcoef(scores[:, j], f[:, j])[0, 1] > 0.98


# --------------------------------------------------------------------------------------------
# point in time
# --------------------------------------------------------------------------------------------


def test_point_in_time_scores_do_not_look_ahead():
    x, factors = synthetic_surface(260, seed=9)
    kwargs = {"window": 120, "min_periods": 60, "tenor": TT, "moneyness": MM}
    short = pca_scores_point_in_time(x[:200], **kwargs)
    full = pca_scores_point_in_time(x, **kwargs)
    s_short = np.asarray(short["scores"])
    s_full = np.asarray(full["scores"])
    assert s_full.shape == (260, 3)
    assert np.isnan(s_full[:59]).all() and np.isfinite(s_full[59:]).all()
    # appending rows (or changing them) leaves earlier dates' scores bit-for-bit unchanged
    np.testing.assert_array_equal(s_full[:200], s_short)
    changed = x.copy()
    changed[200:] += 1.0
    s_changed = np.asarray(pca_scores_point_in_time(changed, **kwargs)["scores"])
    np.testing.assert_array_equal(s_changed[:200], s_short)
    # each date is the last row of a PCA on its own trailing window
    for i in (59, 150, 259):
        lo = max(0, i - 119)
        ref = surface_pca(x[lo : i + 1], tenor=TT, moneyness=MM)
        np.testing.assert_allclose(s_full[i], ref["scores"][-1], rtol=1e-12, atol=1e-12)
        assert full["explained_variance_ratio"][i] == ref["explained_variance_ratio"]
    assert full["n_columns"][100] == 35 and full["n_columns"][0] == 0
    ok = np.isfinite(s_full[:, 0])
    for j in range(3):
        assert np.corrcoef(s_full[ok, j], factors[ok, j])[0, 1] > 0.98
