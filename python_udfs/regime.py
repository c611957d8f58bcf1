"""Volatility regimes: Gaussian mixture (EM) and Gaussian hidden Markov model (Baum-Welch).

Pure numpy. Features X: an (n, d) array of n observations (e.g. trading days) of d
features (e.g. realized vol, IV, IV - RV, term-structure slope), or a 1-d array (d = 1).

Standardisation: both models work on z = (X - center) / scale with center the column means
and scale the column standard deviations (ddof 0) of the fitting sample; ``center`` and
``scale`` are stored in the parameters and reused by the predict / filter functions, so new
data is mapped exactly as the fitting data. Reported means and covariances are in the
ORIGINAL units of X (mean = center + scale * m_z, cov = S_z * scale scale'); the
log-likelihood, AIC and BIC are those of X in its original units. ``reg_covar`` (default
1e-6) is added to the diagonal of every covariance in standardised units (variance 1 per
feature), which keeps covariances positive definite.

State order: the states are sorted by the mean of the feature ``order_by`` (default column 0,
e.g. the volatility column), ascending, so label 0 is the lowest-volatility regime and labels
are stable across refits, seeds and row orders (the seeds' component-index labels are not).

- ``gmm_fit``: EM for a full-covariance Gaussian mixture, ``n_init`` runs from k-means++
  seeding (Arthur & Vassilvitskii 2007) followed by Lloyd's k-means, the run with the
  highest likelihood kept; rows with a NaN are ignored. The mixture ignores time order:
  ``gmm_predict_proba`` of a row uses that row only (point in time).
- ``hmm_fit``: Gaussian HMM with full covariances, Baum-Welch (scaled forward-backward,
  Rabiner 1989) started from the ``gmm_fit`` solution; rows with a NaN count as missing
  observations (no emission term) and keep their place in time.
- ``hmm_filter``: filtered probabilities P(s_t | x_1..x_t): point in time, the ones to use
  for signals. ``hmm_smooth`` (P(s_t | x_1..x_n)) and ``hmm_viterbi`` (most likely path)
  use FUTURE observations: for analysis only, never for signals or backtests.

Randomness: ``numpy.random.Generator(numpy.random.PCG64(seed))``, deterministic per seed.
Fit results are dicts of plain Python values (lists for arrays).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "gmm_fit",
    "gmm_predict",
    "gmm_predict_proba",
    "hmm_filter",
    "hmm_fit",
    "hmm_smooth",
    "hmm_viterbi",
]

_LOG_2PI = math.log(2.0 * math.pi)
_TINY = 10.0 * np.finfo(np.float64).eps


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """log sum_j exp(a_ij) per row (rows of finite values)."""
    m = a.max(axis=1)
    return m + np.log(np.exp(a - m[:, None]).sum(axis=1))


def _as_2d(X) -> np.ndarray:
    a = np.asarray(X, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"X must be 1-d or 2-d, got shape {a.shape}")
    return a


def _log_gauss(z: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """(n, k) log N(z_i; m_k, S_k) via Cholesky factors."""
    n, d = z.shape
    out = np.empty((n, means.shape[0]))
    for j in range(means.shape[0]):
        chol = np.linalg.cholesky(covs[j])
        # whitened rows L^{-1} (z - m) as (z - m) L^{-T}: a d x d inverse and one matmul
        # (much faster than a triangular solve with n right-hand sides for small d)
        sol = (z - means[j]) @ np.linalg.inv(chol).T
        out[:, j] = -0.5 * (d * _LOG_2PI + np.sum(sol * sol, axis=1)) - np.sum(
            np.log(np.diag(chol))
        )
    return out


def _m_step(z: np.ndarray, resp: np.ndarray, reg: float):
    nk = resp.sum(axis=0) + _TINY
    means = (resp.T @ z) / nk[:, None]
    d = z.shape[1]
    covs = np.empty((resp.shape[1], d, d))
    for j in range(resp.shape[1]):
        diff = z - means[j]
        covs[j] = (resp[:, j, None] * diff).T @ diff / nk[j] + reg * np.eye(d)
    return nk, means, covs


def _kmeans(z: np.ndarray, k: int, rng: np.random.Generator, n_iter: int = 100) -> np.ndarray:
    """k-means++ seeding then Lloyd iterations; returns hard labels."""
    n = z.shape[0]
    centers = np.empty((k, z.shape[1]))
    centers[0] = z[rng.integers(n)]
    d2 = np.sum((z - centers[0]) ** 2, axis=1)
    for j in range(1, k):
        total = d2.sum()
        idx = rng.integers(n) if total <= 0.0 else rng.choice(n, p=d2 / total)
        centers[j] = z[idx]
        d2 = np.minimum(d2, np.sum((z - centers[j]) ** 2, axis=1))
    labels = np.full(n, -1)
    for _ in range(n_iter):
        dist = ((z[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        new = dist.argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = labels == j
            if members.any():
                centers[j] = z[members].mean(axis=0)
    return labels


def _em(z, resp, reg, max_iter, tol):
    nk, means, covs = _m_step(z, resp, reg)
    weights = nk / nk.sum()
    prev = -np.inf
    converged = False
    n_iter = 0
    for it in range(1, max_iter + 1):
        n_iter = it
        logp = _log_gauss(z, means, covs) + np.log(weights)
        lse = _logsumexp_rows(logp)
        ll = float(lse.mean())
        resp = np.exp(logp - lse[:, None])
        nk, means, covs = _m_step(z, resp, reg)
        weights = nk / nk.sum()
        if abs(ll - prev) < tol:
            converged = True
            break
        prev = ll
    logp = _log_gauss(z, means, covs) + np.log(weights)
    ll_total = float(_logsumexp_rows(logp).sum())
    return weights, means, covs, ll_total, n_iter, converged


def _standardise(a: np.ndarray):
    center = a.mean(axis=0)
    scale = a.std(axis=0)
    return center, scale


def _n_params(k: int, d: int, hmm: bool) -> int:
    p = (k - 1) + k * d + k * d * (d + 1) // 2
    return p + k * (k - 1) if hmm else p


def _order(means_z: np.ndarray, order_by: int) -> np.ndarray:
    return np.argsort(means_z[:, order_by], kind="stable")


def _to_original(means_z, covs_z, center, scale):
    return center + scale * means_z, covs_z * np.outer(scale, scale)[None, :, :]


def _invalid(reason: str, n: int, k: int) -> dict:
    return {"valid": False, "reason": reason, "n": n, "n_states": k}


def gmm_fit(
    X,
    n_states: int = 3,
    seed: int = 0,
    n_init: int = 5,
    order_by: int = 0,
    max_iter: int = 500,
    tol: float = 1e-6,
    reg_covar: float = 1e-6,
) -> dict:
    """Fit a full-covariance Gaussian mixture by EM; states sorted by the mean of column
    ``order_by`` (ascending).

    ``tol``: convergence when the mean log-likelihood per row (standardised units) changes by
    less than ``tol``. Returns plain Python values: ``valid``, ``reason``, ``n_states``,
    ``n_features``, ``weights`` (k), ``means`` (k x d, units of X), ``covariances``
    (k x d x d, units of X squared), ``center``, ``scale`` (the standardisation, d each),
    ``order_by``, ``loglik`` (total, of X in original units), ``aic``, ``bic`` (-2 loglik +
    p ln n, p = k - 1 + k d + k d (d + 1) / 2), ``n_iter`` and ``converged`` (of the best
    run), ``n`` (rows used: those without NaN), ``seed``, ``n_init``, ``reg_covar``.
    ``valid`` is False with fewer than 5 k complete rows or a constant feature.
    """
    a = _as_2d(X)
    a = a[np.isfinite(a).all(axis=1)]
    n, d = a.shape
    k = int(n_states)
    if k < 1:
        raise ValueError("n_states must be >= 1")
    if not 0 <= order_by < d:
        raise ValueError(f"order_by must be a column index in 0..{d - 1}")
    if n < 5 * k:
        return _invalid(f"fewer than {5 * k} complete rows", n, k)
    center, scale = _standardise(a)
    if not np.all(scale > 0.0):
        return _invalid("a feature is constant", n, k)
    z = (a - center) / scale
    rng = np.random.Generator(np.random.PCG64(seed))
    best = None
    for _ in range(max(1, int(n_init))):
        labels = _kmeans(z, k, rng)
        resp = np.zeros((n, k))
        resp[np.arange(n), labels] = 1.0
        run = _em(z, resp, reg_covar, max_iter, tol)
        if best is None or run[3] > best[3]:
            best = run
    weights, means_z, covs_z, ll_z, n_iter, converged = best
    perm = _order(means_z, order_by)
    weights, means_z, covs_z = weights[perm], means_z[perm], covs_z[perm]
    means, covs = _to_original(means_z, covs_z, center, scale)
    ll = ll_z - n * float(np.sum(np.log(scale)))
    p = _n_params(k, d, hmm=False)
    return {
        "valid": True,
        "reason": None,
        "model": "gmm",
        "n_states": k,
        "n_features": d,
        "weights": weights.tolist(),
        "means": means.tolist(),
        "covariances": covs.tolist(),
        "center": center.tolist(),
        "scale": scale.tolist(),
        "order_by": int(order_by),
        "loglik": ll,
        "aic": -2.0 * ll + 2.0 * p,
        "bic": -2.0 * ll + p * math.log(n),
        "n_iter": int(n_iter),
        "converged": bool(converged),
        "n": int(n),
        "seed": int(seed),
        "n_init": int(n_init),
        "reg_covar": float(reg_covar),
    }


def _params_z(params: dict):
    """Means and covariances in the standardised units of the fit."""
    center = np.asarray(params["center"], dtype=np.float64)
    scale = np.asarray(params["scale"], dtype=np.float64)
    means = (np.asarray(params["means"], dtype=np.float64) - center) / scale
    covs = np.asarray(params["covariances"], dtype=np.float64) / np.outer(scale, scale)
    return center, scale, means, covs


def _emission_logp(X, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) log densities of the standardised rows (0 for rows with a NaN) and the mask of
    complete rows."""
    if not params.get("valid"):
        raise ValueError("params are not a valid fit")
    a = _as_2d(X)
    center, scale, means, covs = _params_z(params)
    if a.shape[1] != center.size:
        raise ValueError(f"X has {a.shape[1]} features, the fit {center.size}")
    ok = np.isfinite(a).all(axis=1)
    logb = np.zeros((a.shape[0], means.shape[0]))
    if ok.any():
        logb[ok] = _log_gauss((a[ok] - center) / scale, means, covs)
    return logb, ok


def gmm_predict_proba(X, params: dict) -> np.ndarray:
    """(n, k) posterior state probabilities of each row of ``X`` under a ``gmm_fit`` result
    (columns in the fit's state order); NaN rows for rows with a NaN feature."""
    logb, ok = _emission_logp(X, params)
    logp = logb + np.log(np.asarray(params["weights"], dtype=np.float64))
    out = np.exp(logp - _logsumexp_rows(logp)[:, None])
    out[~ok] = np.nan
    return out


def gmm_predict(X, params: dict) -> np.ndarray:
    """Most probable state (0 = lowest ``order_by`` mean) of each row; -1 for rows with a
    NaN feature."""
    proba = gmm_predict_proba(X, params)
    ok = np.isfinite(proba).all(axis=1)
    labels = np.full(proba.shape[0], -1, dtype=np.int64)
    labels[ok] = proba[ok].argmax(axis=1)
    return labels


# --------------------------------------------------------------------------- HMM


def _forward_backward(logb: np.ndarray, start: np.ndarray, trans: np.ndarray, smooth: bool):
    """Scaled forward(-backward) pass. Returns (filtered alpha-hat, smoothed gamma or None,
    summed xi or None, log-likelihood)."""
    n, k = logb.shape
    shift = logb.max(axis=1)
    b = np.exp(logb - shift[:, None])
    alpha = np.empty((n, k))
    scale = np.empty(n)
    a = start * b[0]
    scale[0] = a.sum()
    alpha[0] = a / scale[0]
    for t in range(1, n):
        a = (alpha[t - 1] @ trans) * b[t]
        scale[t] = a.sum()
        alpha[t] = a / scale[t]
    loglik = float(np.sum(np.log(scale)) + shift.sum())
    if not smooth:
        return alpha, None, None, loglik
    beta = np.empty((n, k))
    beta[-1] = 1.0
    for t in range(n - 2, -1, -1):
        beta[t] = trans @ (b[t + 1] * beta[t + 1]) / scale[t + 1]
    gamma = alpha * beta
    gamma /= gamma.sum(axis=1, keepdims=True)
    xi = trans * (alpha[:-1].T @ (b[1:] * beta[1:] / scale[1:, None]))
    return alpha, gamma, xi, loglik


def hmm_fit(
    X,
    n_states: int = 3,
    seed: int = 0,
    n_init: int = 5,
    order_by: int = 0,
    max_iter: int = 300,
    tol: float = 1e-7,
    reg_covar: float = 1e-6,
) -> dict:
    """Fit a Gaussian HMM (full covariances) by Baum-Welch, started from ``gmm_fit`` (same
    ``seed``, ``n_init``) with transition probabilities estimated from the mixture's hard
    labels (plus one pseudo-count per cell). Rows are observations in time order; rows with a
    NaN are missing observations.

    Returns the ``gmm_fit`` keys (``model`` = "hmm"; ``weights`` is the stationary
    distribution of the fitted chain) plus ``start`` (initial state probabilities) and
    ``transmat`` (k x k, row = from, column = to), states sorted by the mean of column
    ``order_by``; ``bic`` counts k (k - 1) more parameters; ``tol`` applies to the mean
    log-likelihood per observation (standardised units).
    """
    a = _as_2d(X)
    k = int(n_states)
    g = gmm_fit(a, k, seed=seed, n_init=n_init, order_by=order_by, tol=tol, reg_covar=reg_covar)
    if not g["valid"]:
        return g
    center, scale, means, covs = _params_z(g)
    ok = np.isfinite(a).all(axis=1)
    z = np.zeros_like(a)
    z[ok] = (a[ok] - center) / scale
    n_obs = int(ok.sum())
    labels = gmm_predict(a, g)
    counts = np.ones((k, k))
    seq = labels[labels >= 0]
    np.add.at(counts, (seq[:-1], seq[1:]), 1.0)
    trans = counts / counts.sum(axis=1, keepdims=True)
    start = np.asarray(g["weights"], dtype=np.float64)
    d = a.shape[1]
    prev = -np.inf
    converged = False
    n_iter = 0
    for it in range(1, max_iter + 1):
        n_iter = it
        logb = np.zeros((a.shape[0], k))
        logb[ok] = _log_gauss(z[ok], means, covs)
        _, gamma, xi, ll = _forward_backward(logb, start, trans, smooth=True)
        start = gamma[0] + _TINY
        start /= start.sum()
        trans = xi + _TINY
        trans /= trans.sum(axis=1, keepdims=True)
        _, means, covs = _m_step(z[ok], gamma[ok], reg_covar)
        ll_mean = ll / n_obs
        if abs(ll_mean - prev) < tol:
            converged = True
            break
        prev = ll_mean
    logb = np.zeros((a.shape[0], k))
    logb[ok] = _log_gauss(z[ok], means, covs)
    ll_z = _forward_backward(logb, start, trans, smooth=False)[3]
    perm = _order(means, order_by)
    means, covs, start = means[perm], covs[perm], start[perm]
    trans = trans[np.ix_(perm, perm)]
    # stationary distribution: left eigenvector of the transition matrix for eigenvalue 1
    vals, vecs = np.linalg.eig(trans.T)
    stat = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
    stat = np.abs(stat) / np.abs(stat).sum()
    m_orig, c_orig = _to_original(means, covs, center, scale)
    ll = ll_z - n_obs * float(np.sum(np.log(scale)))
    p = _n_params(k, d, hmm=True)
    out = dict(g)
    out.update(
        model="hmm",
        weights=stat.tolist(),
        start=start.tolist(),
        transmat=trans.tolist(),
        means=m_orig.tolist(),
        covariances=c_orig.tolist(),
        loglik=ll,
        aic=-2.0 * ll + 2.0 * p,
        bic=-2.0 * ll + p * math.log(n_obs),
        n_iter=int(n_iter),
        converged=bool(converged),
        n=n_obs,
    )
    return out


def _hmm_arrays(params: dict) -> tuple[np.ndarray, np.ndarray]:
    if params.get("model") != "hmm":
        raise ValueError("params must come from hmm_fit")
    return (
        np.asarray(params["start"], dtype=np.float64),
        np.asarray(params["transmat"], dtype=np.float64),
    )


def hmm_filter(X, params: dict) -> np.ndarray:
    """Filtered state probabilities P(s_t | x_1..x_t), (n, k): row t uses rows <= t only
    (point in time; appending rows never changes earlier ones). The first row starts from
    ``params["start"]``; rows with a NaN feature are a pure prediction step."""
    start, trans = _hmm_arrays(params)
    logb, _ = _emission_logp(X, params)
    if logb.shape[0] == 0:
        return np.empty((0, trans.shape[0]))
    return _forward_backward(logb, start, trans, smooth=False)[0]


def hmm_smooth(X, params: dict) -> np.ndarray:
    """Smoothed state probabilities P(s_t | x_1..x_n), (n, k). Uses FUTURE rows: not point
    in time, never use it for signals or backtests (use ``hmm_filter``)."""
    start, trans = _hmm_arrays(params)
    logb, _ = _emission_logp(X, params)
    if logb.shape[0] == 0:
        return np.empty((0, trans.shape[0]))
    return _forward_backward(logb, start, trans, smooth=True)[1]


def hmm_viterbi(X, params: dict) -> np.ndarray:
    """Most likely state path (Viterbi, in logs), int labels (n,). Uses the whole sample:
    NOT point in time."""
    start, trans = _hmm_arrays(params)
    logb, _ = _emission_logp(X, params)
    n, k = logb.shape
    if n == 0:
        return np.empty(0, dtype=np.int64)
    log_a = np.log(trans)
    delta = np.log(start) + logb[0]
    back = np.empty((n, k), dtype=np.int64)
    for t in range(1, n):
        cand = delta[:, None] + log_a
        back[t] = cand.argmax(axis=0)
        delta = cand.max(axis=0) + logb[t]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(delta.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
