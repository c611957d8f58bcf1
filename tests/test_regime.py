"""Tests of python_udfs.regime: recovery of simulated regimes, ordered-label stability
(row permutations, seeds), predict / filter properties, the HMM's point-in-time filter on a
Markov-switching series, and agreement with scikit-learn's GaussianMixture (skipped when
scikit-learn is not installed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from python_udfs.regime import (
    gmm_fit,
    gmm_predict,
    gmm_predict_proba,
    hmm_filter,
    hmm_fit,
    hmm_smooth,
    hmm_viterbi,
)

# three regimes of (annualised vol, 1-day return in %): calm, normal, stressed
MEANS = np.array([[0.12, 0.05], [0.22, 0.0], [0.45, -0.30]])
SDS = np.array([[0.015, 0.6], [0.025, 1.0], [0.05, 2.0]])
CORR = [0.0, -0.3, -0.5]


def mixture(n: int, seed: int, weights=(0.5, 0.3, 0.2)):
    g = np.random.Generator(np.random.PCG64(seed))
    states = g.choice(3, size=n, p=weights)
    X = np.empty((n, 2))
    for s in range(3):
        cov = np.array([[1.0, CORR[s]], [CORR[s], 1.0]]) * np.outer(SDS[s], SDS[s])
        rows = states == s
        X[rows] = g.multivariate_normal(MEANS[s], cov, size=int(rows.sum()))
    # features in a different column order than the ordering column: vol is column 1
    return X[:, ::-1].copy(), states


def markov_switching(n: int, seed: int, stay: float = 0.98):
    """1-d vol series with overlapping regimes (means 0.15 / 0.20 / 0.27, sd 0.03)."""
    g = np.random.Generator(np.random.PCG64(seed))
    trans = np.full((3, 3), (1.0 - stay) / 2.0) + np.eye(3) * (stay - (1.0 - stay) / 2.0)
    states = np.empty(n, dtype=np.int64)
    states[0] = 0
    for t in range(1, n):
        states[t] = g.choice(3, p=trans[states[t - 1]])
    x = np.array([0.15, 0.20, 0.27])[states] + 0.03 * g.standard_normal(n)
    return x, states


@pytest.mark.parametrize("seed", [0, 1])
def test_gmm_recovers_ordered_regimes(seed: int) -> None:
    X, states = mixture(1_500, seed)
    fit = gmm_fit(X, 3, seed=seed, order_by=1)
    assert fit["valid"] and fit["converged"]
    labels = gmm_predict(X, fit)
    assert np.mean(labels == states) > 0.95  # ordered by vol = true state numbering
    np.testing.assert_allclose(np.asarray(fit["means"])[:, 1], MEANS[:, 0], atol=0.01)
    np.testing.assert_allclose(fit["weights"], [0.5, 0.3, 0.2], atol=0.04)
    cov2 = np.asarray(fit["covariances"])[2]
    assert np.sqrt(cov2[1, 1]) == pytest.approx(0.05, rel=0.15)
    # plain JSON-serialisable values
    json.dumps(fit)
    assert type(fit["loglik"]) is float and type(fit["n_iter"]) is int


def test_gmm_labels_stable_under_permutation_and_seed() -> None:
    X, _ = mixture(1_200, 3)
    fit = gmm_fit(X, 3, seed=0, order_by=1)
    labels = gmm_predict(X, fit)
    perm = np.random.Generator(np.random.PCG64(99)).permutation(X.shape[0])
    fit_p = gmm_fit(X[perm], 3, seed=0, order_by=1)
    np.testing.assert_array_equal(gmm_predict(X, fit_p), labels)
    # the same optimum, up to the EM stopping rule (tol 1e-6 on the mean log-likelihood)
    np.testing.assert_allclose(fit_p["means"], fit["means"], rtol=1e-3)
    for seed in (1, 2, 17):
        other = gmm_fit(X, 3, seed=seed, order_by=1)
        np.testing.assert_array_equal(gmm_predict(X, other), labels)
        np.testing.assert_allclose(other["means"], fit["means"], rtol=1e-3)
        assert other["loglik"] == pytest.approx(fit["loglik"], rel=1e-6)
    assert gmm_fit(X, 3, seed=5, order_by=1) == gmm_fit(X, 3, seed=5, order_by=1)


def test_gmm_predict_proba_and_nan_rows() -> None:
    X, _ = mixture(600, 4)
    fit = gmm_fit(X, 3, seed=0, order_by=1)
    Xn = X.copy()
    Xn[[5, 17], 0] = np.nan
    proba = gmm_predict_proba(Xn, fit)
    assert proba.shape == (600, 3)
    assert np.isnan(proba[[5, 17]]).all()
    ok = np.isfinite(proba).all(axis=1)
    np.testing.assert_allclose(proba[ok].sum(axis=1), 1.0, atol=1e-12)
    labels = gmm_predict(Xn, fit)
    assert labels[5] == -1 and labels[17] == -1
    # NaN rows are dropped from the fit
    assert gmm_fit(Xn, 3, seed=0, order_by=1)["n"] == 598
    # loglik in original units: rescaling a feature by s shifts it by -n ln s
    scaled = gmm_fit(X * np.array([1.0, 10.0]), 3, seed=0, order_by=1)
    assert scaled["loglik"] == pytest.approx(fit["loglik"] - 600 * np.log(10.0), rel=1e-8)
    p = 2 + 3 * 2 + 3 * 3
    assert fit["bic"] == pytest.approx(-2 * fit["loglik"] + p * np.log(600))


def test_gmm_invalid_and_1d() -> None:
    assert not gmm_fit(np.ones((100, 2)), 3)["valid"]
    assert not gmm_fit(np.random.default_rng(0).normal(size=(10, 2)), 3)["valid"]
    with pytest.raises(ValueError):
        gmm_fit(np.zeros((100, 2)), 3, order_by=2)
    x, _ = markov_switching(600, 1)
    fit = gmm_fit(x, 3)
    assert fit["n_features"] == 1 and np.all(np.diff(np.asarray(fit["means"])[:, 0]) > 0)
    with pytest.raises(ValueError):
        gmm_predict_proba(np.zeros((5, 2)), fit)


def test_agrees_with_sklearn() -> None:
    mixture_mod = pytest.importorskip("sklearn.mixture")
    X, _ = mixture(1_500, 0)
    # both without covariance regularisation to speak of (sklearn adds reg_covar in the raw
    # units, this module in standardised units) and with tight convergence
    fit = gmm_fit(X, 3, seed=0, order_by=1, tol=1e-10, reg_covar=1e-12)
    sk = mixture_mod.GaussianMixture(
        3,
        covariance_type="full",
        n_init=5,
        tol=1e-10,
        reg_covar=1e-14,
        max_iter=2000,
        random_state=0,
    ).fit(X)
    order = np.argsort(sk.means_[:, 1])
    scale = X.std(axis=0)
    np.testing.assert_allclose(np.asarray(fit["means"]), sk.means_[order], atol=1e-6 * scale.max())
    np.testing.assert_allclose(fit["weights"], sk.weights_[order], atol=1e-6)
    np.testing.assert_allclose(
        np.asarray(fit["covariances"]), sk.covariances_[order], rtol=1e-5, atol=1e-8
    )
    assert fit["bic"] == pytest.approx(sk.bic(X), rel=1e-8)
    np.testing.assert_allclose(gmm_predict_proba(X, fit), sk.predict_proba(X)[:, order], atol=1e-6)


# --------------------------------------------------------------------------- HMM


def test_hmm_filter_beats_gmm_on_markov_switching() -> None:
    x, states = markov_switching(2_000, 2)
    gmm = gmm_fit(x, 3, seed=0)
    hmm = hmm_fit(x, 3, seed=0)
    assert hmm["valid"] and hmm["model"] == "hmm"
    acc_gmm = np.mean(gmm_predict(x, gmm) == states)
    acc_filter = np.mean(hmm_filter(x, hmm).argmax(axis=1) == states)
    acc_smooth = np.mean(hmm_smooth(x, hmm).argmax(axis=1) == states)
    acc_viterbi = np.mean(hmm_viterbi(x, hmm) == states)
    assert acc_filter > 0.9 and acc_filter > acc_gmm + 0.1
    assert acc_smooth >= acc_filter - 0.005 and acc_viterbi > 0.9
    trans = np.asarray(hmm["transmat"])
    np.testing.assert_allclose(np.diag(trans), 0.98, atol=0.02)
    np.testing.assert_allclose(trans.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(hmm["means"])[:, 0], [0.15, 0.20, 0.27], atol=0.01)
    stat = np.asarray(hmm["weights"])
    np.testing.assert_allclose(stat @ trans, stat, atol=1e-10)
    assert hmm["loglik"] > gmm["loglik"]
    json.dumps(hmm)


def test_hmm_filter_point_in_time_and_missing() -> None:
    x, _ = markov_switching(800, 5)
    hmm = hmm_fit(x, 3, seed=0)
    full = hmm_filter(x, hmm)
    np.testing.assert_allclose(hmm_filter(x[:500], hmm), full[:500], rtol=0, atol=1e-14)
    # smoothing is NOT point in time
    assert not np.allclose(hmm_smooth(x[:500], hmm), hmm_smooth(x, hmm)[:500])
    xm = x.copy()
    xm[300] = np.nan
    filt = hmm_filter(xm, hmm)
    trans = np.asarray(hmm["transmat"])
    np.testing.assert_allclose(filt[300], filt[299] @ trans, atol=1e-14)  # prediction step
    np.testing.assert_allclose(filt.sum(axis=1), 1.0, atol=1e-12)
    fit_m = hmm_fit(xm, 3, seed=0)
    assert fit_m["valid"] and fit_m["n"] == 799
    with pytest.raises(ValueError):
        hmm_filter(x, gmm_fit(x, 3))
