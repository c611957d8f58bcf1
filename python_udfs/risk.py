"""Portfolio risk kernels: VaR and expected shortfall (Monte Carlo, historical, parametric),
Euler risk allocation, the nearest correlation matrix and a shrunk correlation estimator.

Pure numpy + scipy, no I/O. Conventions shared by every function here and by
``python_udfs.revaluation``:

- ``exposures``: currency amounts per position of a *linear* book: the P&L of position i over
  the horizon is e_i r_i, r_i the simple return of its risk factor (decimal).
- ``vols``: annualised volatilities of the risk factors, decimal (0.20 = 20 %).
- ``horizon_days``: trading days, 252 per year: the factor covariance over the horizon is
  Sigma h / 252 with Sigma = diag(vols) C diag(vols). Returns have zero mean over the horizon.
- ``correlation``: the n x n factor correlation C, as a 2-d array or flattened row-major
  (n * n values, how a SQL ``float8[]`` arrives). It must be symmetric (|C - C^T| <= 1e-8)
  with a unit diagonal (within 1e-6), else ``ValueError``; if it is not positive
  semi-definite (smallest eigenvalue < -1e-10) it is *repaired* to the nearest correlation
  matrix (``nearest_correlation``, Higham 2002) and the result says so (``repaired``).
- ``confidence`` c in (0, 1), e.g. 0.99; p = 1 - c is the tail probability.
- Losses are positive numbers: L = -P&L. VaR_c is the c-quantile of L and ES_c the mean of
  L beyond it, both in currency; a book whose worst tail is a gain gets a negative VaR.

Empirical quantile convention (Monte Carlo and historical alike). With n scenarios, losses
sorted in decreasing order L_(1) >= L_(2) >= ..., np = n p and k = floor(np):

- VaR = L_(k+1), the lower empirical c-quantile of the losses without interpolation
  (inf {x : F_n(x) >= c}, ``numpy.quantile(losses, c, method="inverted_cdf")``);
- ES = (L_(1) + ... + L_(k) + (np - k) L_(k+1)) / np, the expected shortfall of the
  empirical distribution (Acerbi & Tasche 2002): the mean of the k worst losses when np is an
  integer, coherent, and >= VaR. Example: 20 scenarios at c = 0.95 give VaR = the 2nd worst
  loss and ES = the worst.

Monte Carlo standard errors: ``var_se`` is the asymptotic standard error of a sample quantile,
sqrt(p (1 - p) / n) / f(VaR), with the sparsity 1 / f estimated by Siddiqui's difference
quotient (L_(k+1-m) - L_(k+1+m)) n / (2 m) over the Hall-Sheather bandwidth m
(Koenker 2005, section 3.4); ``es_se`` = sqrt((Var(L | tail) + c (ES - VaR)^2) / (n p)), the
asymptotic variance of the empirical ES (its influence function (L - VaR)^+ / p + VaR - ES).

Euler allocation (``component_var``, and the Monte Carlo / historical functions that take
``components=True``): the marginal VaR of position i is dVaR / de_i and the component VaR
e_i dVaR / de_i; components sum to the total because VaR and ES are homogeneous of degree 1
in the exposures (Tasche 1999). Parametric (normal) book: marginal VaR = z_c Sigma_h e / sigma_p
and marginal ES = phi(z_c) / p Sigma_h e / sigma_p, exact. Scenario-based (Monte Carlo,
historical): dVaR / de_i = -E[X_i | P&L = -VaR] (Gourieroux, Laurent & Scaillet 2000), estimated
by the mean of X_i (the P&L per unit of position i) over the scenarios ranked k+1-m .. k+1+m
(the same Hall-Sheather neighbourhood) and rescaled by one common factor so the components
sum exactly to VaR (the factor is reported as ``euler_var_scale``; it is 1 + O(n^-1/3));
dES / de_i = -E[X_i | tail] uses the ES weights above and sums to ES without rescaling.

Randomness: ``numpy.random.Generator(numpy.random.PCG64(seed))``; the factor normals are drawn
row by row in chunks from that one stream (the same normals whatever the chunk size), and the
per-path projection uses numpy's own single-threaded dot loop, so on a given installation a
seed gives the same bytes, independent of chunking and BLAS threads. Different numpy / LAPACK
builds (the venv and the server's PL/Python) agree to the last bit or two (the Cholesky factor
and SIMD summation order can differ).

References: Higham, "Computing the nearest correlation matrix - a problem from finance", IMA J.
Numer. Anal. 22 (2002) 329-343; Ledoit & Wolf, "Honey, I shrunk the sample covariance
matrix", J. Portfolio Management 30 (2004) 110-119; Acerbi & Tasche, "On the coherence of
expected shortfall", J. Banking & Finance 26 (2002); Koenker, "Quantile Regression" (2005).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

__all__ = [
    "TRADING_DAYS",
    "component_var",
    "correlation_factor",
    "historical_var_es",
    "marginal_var",
    "mc_var_es",
    "nearest_correlation",
    "parametric_var_es",
    "shrunk_correlation",
    "tail_statistics",
]

TRADING_DAYS = 252.0
_INV_SQRT_2PI = 0.3989422804014327
_SYMMETRY_TOL = 1e-8
_DIAGONAL_TOL = 1e-6
_PSD_TOL = 1e-10  # smallest eigenvalue below -_PSD_TOL: repaired
_RANK_TOL = 1e-12  # eigenvalues below _RANK_TOL * largest: dropped from the factor
_CHUNK_ELEMENTS = 1 << 18  # normals per Monte Carlo chunk (2 MB in float64)


# --------------------------------------------------------------------------- validation


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _vector(x, name: str, n: int | None = None) -> np.ndarray:
    v = _f64(x).ravel()
    if n is not None and v.size != n:
        raise ValueError(f"{name} has {v.size} elements, expected {n}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} has non-finite values")
    return v


def _confidence(confidence: float) -> float:
    c = float(confidence)
    if not 0.0 < c < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return c


def _horizon(horizon_days: float) -> float:
    h = float(horizon_days)
    if not (h > 0.0 and math.isfinite(h)):
        raise ValueError(f"horizon_days must be > 0, got {horizon_days}")
    return h


def _square(matrix, n: int | None, name: str) -> np.ndarray:
    """A symmetric n x n matrix from a 2-d array or a flattened row-major one."""
    a = _f64(matrix)
    if a.ndim == 1:
        size = a.size
        m = math.isqrt(size)
        if m * m != size:
            raise ValueError(f"{name} has {size} values, not a square number (row-major n x n)")
        a = a.reshape(m, m)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be square, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} is {a.shape[0]} x {a.shape[0]}, expected {n} x {n}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite values")
    asym = float(np.max(np.abs(a - a.T))) if a.size else 0.0
    if asym > _SYMMETRY_TOL:
        raise ValueError(f"{name} is not symmetric (max |C - C^T| = {asym:.3g})")
    return 0.5 * (a + a.T)


def _correlation(matrix, n: int | None, name: str = "correlation") -> np.ndarray:
    c = _square(matrix, n, name)
    diag_err = float(np.max(np.abs(np.diag(c) - 1.0))) if c.size else 0.0
    if diag_err > _DIAGONAL_TOL:
        raise ValueError(f"{name} must have a unit diagonal (max |C_ii - 1| = {diag_err:.3g})")
    np.fill_diagonal(c, 1.0)
    return c


def _jsonable(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _float_list(a) -> list:
    return [_jsonable(v) for v in np.asarray(a, dtype=np.float64).ravel()]


# --------------------------------------------------------------------- correlation matrices


def nearest_correlation(
    matrix, tol: float = 1e-10, max_iterations: int = 10_000
) -> tuple[np.ndarray, dict]:
    """Nearest correlation matrix in the Frobenius norm (Higham 2002, alternating projections).

    ``matrix``: a symmetric n x n matrix (2-d, or flattened row-major). Alternates the
    projection onto the positive semi-definite cone (eigenvalues clipped at 0) and onto the
    unit-diagonal matrices, with Dykstra's correction on the PSD step (Higham's Algorithm 3.3,
    W = I), until the two iterates agree to ``tol`` relative (Frobenius norm). The returned
    matrix is the final PSD iterate rescaled to a unit diagonal, D^-1/2 X D^-1/2 (a congruence:
    PSD up to rounding, exactly unit diagonal, within O(tol) of the nearest matrix).

    Returns (matrix, info) with info: ``iterations``, ``converged`` (bool),
    ``min_eigenvalue_in`` (of the input), ``min_eigenvalue`` (of the result), ``distance``
    (Frobenius norm of result - input). A matrix that is already a correlation matrix comes
    back unchanged (diagonal set to exactly 1). Example (Higham 2002, section 4):
    [[1, 1, 0], [1, 1, 1], [0, 1, 1]] -> off-diagonals 0.7607, 0.1573, 0.7607.
    """
    a = _square(matrix, None, "matrix")
    n = a.shape[0]
    w_in = np.linalg.eigvalsh(a) if n else np.zeros(0)
    min_in = float(w_in[0]) if n else 0.0
    if n == 0:
        return a, {
            "iterations": 0,
            "converged": True,
            "min_eigenvalue_in": 0.0,
            "min_eigenvalue": 0.0,
            "distance": 0.0,
        }
    if min_in >= 0.0 and float(np.max(np.abs(np.diag(a) - 1.0))) <= 1e-12:
        a = a.copy()
        np.fill_diagonal(a, 1.0)
        return a, {
            "iterations": 0,
            "converged": True,
            "min_eigenvalue_in": min_in,
            "min_eigenvalue": min_in,
            "distance": 0.0,
        }
    y = a.copy()
    ds = np.zeros_like(a)
    x = a.copy()
    converged = False
    it = 0
    for it in range(1, int(max_iterations) + 1):  # noqa: B007 (reported after the loop)
        r = y - ds
        w, v = np.linalg.eigh(r)
        x = (v * np.maximum(w, 0.0)) @ v.T
        x = 0.5 * (x + x.T)
        ds = x - r
        y = x.copy()
        np.fill_diagonal(y, 1.0)
        if np.linalg.norm(y - x) <= tol * np.linalg.norm(y):
            converged = True
            break
    d = np.sqrt(np.maximum(np.diag(x), 1e-300))
    out = x / np.outer(d, d)
    out = 0.5 * (out + out.T)
    np.fill_diagonal(out, 1.0)
    return out, {
        "iterations": it,
        "converged": converged,
        "min_eigenvalue_in": min_in,
        "min_eigenvalue": float(np.linalg.eigvalsh(out)[0]),
        "distance": float(np.linalg.norm(out - a)),
    }


def correlation_factor(correlation, n: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Validate a correlation matrix, repair it if it is not PSD, and factor it as C = L L^T.

    Returns (C, L, info): C the matrix used (the input, or its nearest correlation matrix),
    L an n x f factor (Cholesky when C is positive definite, f = n; otherwise the eigenvectors
    scaled by the square roots of the eigenvalues above 1e-12 x the largest, f = numerical
    rank, largest first), and info: ``repaired`` (bool), ``min_eigenvalue`` (of the input),
    ``n_factors`` (f), ``repair_distance`` (Frobenius norm of the change, 0 if none).
    ``ValueError`` for a non-square, asymmetric, size-mismatched (``n``), non-finite or
    non-unit-diagonal input.
    """
    c = _correlation(correlation, n)
    size = c.shape[0]
    if size == 0:
        return (
            c,
            np.zeros((0, 0)),
            {
                "repaired": False,
                "min_eigenvalue": 0.0,
                "n_factors": 0,
                "repair_distance": 0.0,
            },
        )
    min_eig = float(np.linalg.eigvalsh(c)[0])
    repaired = min_eig < -_PSD_TOL
    distance = 0.0
    if repaired:
        c, rep = nearest_correlation(c)
        distance = rep["distance"]
    factor = None
    if not repaired:
        try:
            factor = np.linalg.cholesky(c)
        except np.linalg.LinAlgError:
            factor = None
    if factor is None:
        w, v = np.linalg.eigh(c)
        order = np.argsort(w)[::-1]
        w, v = w[order], v[:, order]
        keep = w > _RANK_TOL * max(float(w[0]), 1e-300)
        factor = v[:, keep] * np.sqrt(w[keep])
    return (
        c,
        np.ascontiguousarray(factor),
        {
            "repaired": bool(repaired),
            "min_eigenvalue": min_eig,
            "n_factors": int(factor.shape[1]),
            "repair_distance": float(distance),
        },
    )


def shrunk_correlation(returns, demean: bool = True) -> tuple[np.ndarray, dict]:
    """Ledoit-Wolf (2004) shrinkage of the sample covariance toward the constant-correlation
    target, returned as a correlation matrix.

    ``returns``: T x n array (rows = dates in any order, columns = series, e.g. daily log
    returns of spots and daily changes of implied vols); rows with any NaN are dropped;
    T >= 2 required. With the sample covariance S (divided by T, as in the paper), the target
    F has F_ii = S_ii and F_ij = rbar sqrt(S_ii S_jj) (rbar = mean sample correlation), and the
    shrunk covariance is delta F + (1 - delta) S with the paper's optimal intensity
    delta = max(0, min(1, kappa / T)), kappa = (pi - rho) / gamma (their section 2 and
    appendix B: pi = sum of the asymptotic variances of sqrt(T) S_ij, rho the covariance terms
    with the target, gamma = ||F - S||_F^2). Because F and S share the diagonal, the shrunk
    correlation is delta rbar + (1 - delta) R_ij off the diagonal: PSD (a convex combination of
    two PSD matrices) with a unit diagonal. Series with zero variance get correlation 0.

    Returns (matrix, info) with info: ``shrinkage`` (delta), ``mean_correlation`` (rbar),
    ``n_obs`` (T used), ``n_dropped`` (rows with NaN).
    """
    x = _f64(returns)
    if x.ndim != 2:
        raise ValueError(f"returns must be T x n, got shape {x.shape}")
    good = np.all(np.isfinite(x), axis=1)
    x = x[good]
    t, n = x.shape
    if t < 2:
        raise ValueError(f"need at least 2 complete rows of returns, got {t}")
    y = x - x.mean(axis=0) if demean else x
    s = (y.T @ y) / t
    var = np.diag(s).copy()
    sd = np.sqrt(np.maximum(var, 0.0))
    live = sd > 0.0
    inv = np.where(live, 1.0 / np.where(live, sd, 1.0), 0.0)
    r = s * np.outer(inv, inv)
    np.fill_diagonal(r, 1.0)
    if n < 2:
        return r, {"shrinkage": 0.0, "mean_correlation": 1.0, "n_obs": t, "n_dropped": 0}
    off = ~np.eye(n, dtype=bool)
    pair = np.outer(live, live) & off
    rbar = float(r[pair].mean()) if pair.any() else 0.0
    f = rbar * np.outer(sd, sd)
    np.fill_diagonal(f, var)
    y2 = y * y
    # pi_ij = mean_t (y_ti y_tj - s_ij)^2
    pi_mat = (y2.T @ y2) / t - s * s
    pi_hat = float(pi_mat.sum())
    # theta_ii,ij = mean_t (y_ti^2 - s_ii)(y_ti y_tj - s_ij)
    theta = ((y2 * y).T @ y) / t - var[:, None] * s  # theta[i, j] = theta_ii,ij
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(pair, np.outer(inv, sd), 0.0)  # sqrt(s_jj / s_ii)
    rho_off = 0.5 * rbar * (ratio * theta + ratio.T * theta.T)
    rho_hat = float(np.trace(pi_mat) + rho_off[pair].sum())
    gamma_hat = float(np.sum((f - s) ** 2))
    delta = max(0.0, min(1.0, (pi_hat - rho_hat) / gamma_hat / t)) if gamma_hat > 0.0 else 0.0
    out = np.where(pair, delta * rbar + (1.0 - delta) * r, 0.0)
    np.fill_diagonal(out, 1.0)
    return out, {
        "shrinkage": float(delta),
        "mean_correlation": rbar,
        "n_obs": int(t),
        "n_dropped": int(np.count_nonzero(~good)),
    }


# ----------------------------------------------------------------- empirical tail statistics


def _hall_sheather(n: int, p: float) -> int:
    """Half-width m (in scenarios) of the Hall-Sheather bandwidth at tail probability p."""
    zp = float(ndtri(p))
    dens = _INV_SQRT_2PI * math.exp(-0.5 * zp * zp)
    z_alpha = 1.959963984540054  # 95 % two-sided
    h = n ** (-1.0 / 3.0) * z_alpha ** (2.0 / 3.0)
    h *= (1.5 * dens * dens / (2.0 * zp * zp + 1.0)) ** (1.0 / 3.0)
    return max(1, round(n * h))


def _tail_layout(n: int, confidence: float) -> tuple[float, int, float, int]:
    """(np, k, frac, m): np = n p, k = floor(np) full-weight tail scenarios, frac = np - k
    (the weight of the VaR scenario, index k in decreasing-loss order), m the bandwidth."""
    p = 1.0 - confidence
    npv = n * p
    k = min(math.floor(npv + 1e-9), n - 1)
    frac = npv - k
    if frac < 1e-9:
        frac = 0.0
    return npv, k, frac, _hall_sheather(n, p)


def _sorted_tail(losses: np.ndarray, top: int) -> np.ndarray:
    """Indices of the ``top`` largest losses, largest first (ties by index)."""
    n = losses.size
    top = min(top, n)
    idx = np.argpartition(-losses, top - 1)[:top] if top < n else np.arange(n)
    return idx[np.lexsort((idx, -losses[idx]))]


def _tail_from_sorted(sorted_losses: np.ndarray, n: int, confidence: float) -> dict:
    """VaR, ES and their standard errors from the largest losses (decreasing, >= k + m + 1 of
    them or all n) of a sample of n scenarios."""
    p = 1.0 - confidence
    npv, k, frac, m = _tail_layout(n, confidence)
    var = float(sorted_losses[k])
    es = (float(np.sum(sorted_losses[:k])) + frac * var) / npv if npv > 0 else var
    lo, hi = max(0, k - m), min(n - 1, k + m, sorted_losses.size - 1)
    if hi > lo:
        sparsity = (sorted_losses[lo] - sorted_losses[hi]) * n / (hi - lo)
        var_se = float(sparsity * math.sqrt(p * (1.0 - p) / n))
    else:
        var_se = math.nan
    w = np.full(k + 1, 1.0 / npv)
    w[k] = frac / npv
    tail = sorted_losses[: k + 1]
    tail_var = float(np.sum(w * (tail - es) ** 2))
    es_se = math.sqrt(max(tail_var + confidence * (es - var) ** 2, 0.0) / (n * p))
    return {"var": var, "es": es, "var_se": var_se, "es_se": es_se, "k": k, "m": m}


def tail_statistics(pnl, confidence: float = 0.99) -> dict:
    """VaR, ES and their Monte Carlo standard errors of a sample of P&L scenarios.

    The module's empirical convention (VaR = L_(k+1), Acerbi-Tasche ES, k = floor(n p)) and
    standard errors (``var_se`` Siddiqui / Hall-Sheather, ``es_se`` asymptotic); the standard
    errors assume independent scenarios (Monte Carlo), not overlapping history. Returns plain
    floats: ``var``, ``es``, ``var_se``, ``es_se``, ``n`` (scenarios).
    """
    c = _confidence(confidence)
    x = _vector(pnl, "pnl")
    n = x.size
    if n < 2:
        raise ValueError("need at least 2 scenarios")
    losses = -x
    m = _tail_layout(n, c)
    order = _sorted_tail(losses, m[1] + m[3] + 1)
    out = _tail_from_sorted(losses[order], n, c)
    return {
        "var": out["var"],
        "es": out["es"],
        "var_se": _jsonable(out["var_se"]),
        "es_se": _jsonable(out["es_se"]),
        "n": int(n),
    }


def historical_var_es(pnl, confidence: float = 0.99) -> dict:
    """Historical VaR and ES of a P&L series (currency, one value per scenario or day).

    VaR = the lower empirical c-quantile of the losses L = -pnl without interpolation
    (``numpy.quantile(-pnl, c, method="inverted_cdf")``: the (floor(n p) + 1)-th worst loss);
    ES = the expected shortfall of the empirical distribution (Acerbi & Tasche 2002), the mean
    of the floor(n p) worst losses plus the fractional weight n p - floor(n p) on the VaR
    scenario, so ES is the mean loss beyond VaR when n p is an integer. NaN values are dropped.
    Example: 10 scenarios at c = 0.9 give VaR = 2nd worst loss, ES = worst loss.

    Returns plain floats: ``var``, ``es`` (positive = loss), ``n_obs``, ``n_tail`` (k).
    """
    c = _confidence(confidence)
    x = _f64(pnl).ravel()
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        raise ValueError("pnl has no finite values")
    losses = -x
    npv, k, frac, _ = _tail_layout(n, c)
    order = _sorted_tail(losses, k + 1)
    tail = losses[order]
    var = float(tail[k])
    es = (float(np.sum(tail[:k])) + frac * var) / npv if npv > 0 else var
    return {"var": var, "es": es, "n_obs": int(n), "n_tail": int(k)}


def _euler_weights(n: int, confidence: float) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Scenario weights (over decreasing-loss ranks 0..K-1) of the VaR neighbourhood mean and
    of the ES tail mean; K = k + m + 1 ranks are needed."""
    npv, k, frac, m = _tail_layout(n, confidence)
    top = min(n, k + m + 1)
    lo, hi = max(0, k - m), min(n - 1, k + m)
    w_var = np.zeros(top)
    w_var[lo : hi + 1] = 1.0 / (hi - lo + 1)
    w_es = np.zeros(top)
    w_es[:k] = 1.0 / npv
    w_es[k] = frac / npv
    return w_var, w_es, top, k


class _TailRows:
    """Streaming top-K of scenario rows by loss (ties: lower scenario index first)."""

    def __init__(self, keep: int, width: int) -> None:
        self.keep = int(keep)
        self.loss = np.empty(0)
        self.index = np.empty(0, dtype=np.int64)
        self.rows = np.empty((0, width))

    def add(self, loss: np.ndarray, rows: np.ndarray, offset: int) -> None:
        if self.loss.size >= self.keep:
            floor = self.loss.min()
            cand = np.flatnonzero(loss >= floor)
        else:
            cand = np.arange(loss.size)
        if cand.size == 0:
            return
        if cand.size > self.keep:
            part = np.argpartition(-loss[cand], self.keep - 1)[: self.keep]
            cand = np.sort(cand[part])
        all_loss = np.concatenate((self.loss, loss[cand]))
        all_index = np.concatenate((self.index, cand + offset))
        all_rows = np.concatenate((self.rows, rows[cand]), axis=0)
        if all_loss.size > self.keep:
            sel = np.lexsort((all_index, -all_loss))[: self.keep]
            all_loss, all_index, all_rows = all_loss[sel], all_index[sel], all_rows[sel]
        self.loss, self.index, self.rows = all_loss, all_index, all_rows

    def sorted_rows(self) -> np.ndarray:
        order = np.lexsort((self.index, -self.loss))
        return self.rows[order]


def _euler_allocation(
    rows_sorted: np.ndarray,
    quantity: np.ndarray,
    n: int,
    confidence: float,
    var: float,
    transform: np.ndarray | None = None,
) -> dict:
    """Scenario Euler allocation from the unit P&L rows of the K largest losses (decreasing).

    ``quantity``: the position sizes (P&L = unit rows @ quantity). With ``transform`` T the
    unit P&L rows are rows @ T^T (the weighted means are taken first: T is linear). Returns
    numpy arrays ``marginal_var``, ``marginal_es`` (per unit of position), ``component_var``,
    ``component_es`` (currency) and ``euler_var_scale``.
    """
    w_var, w_es, top, _ = _euler_weights(n, confidence)
    rows = rows_sorted[:top]
    marg_var = -(w_var @ rows)
    marg_es = -(w_es @ rows)
    if transform is not None:
        marg_var = transform @ marg_var
        marg_es = transform @ marg_es
    comp_var = quantity * marg_var
    raw = float(comp_var.sum())
    scale = var / raw if raw != 0.0 and math.isfinite(var / raw) else math.nan
    if math.isfinite(scale):
        marg_var = marg_var * scale
        comp_var = comp_var * scale
    return {
        "marginal_var": marg_var,
        "marginal_es": marg_es,
        "component_var": comp_var,
        "component_es": quantity * marg_es,
        "euler_var_scale": scale,
    }


# ------------------------------------------------------------------------ linear book VaR


def _linear_setup(exposures, vols, correlation, horizon_days):
    e = _vector(exposures, "exposures")
    n = e.size
    v = _vector(vols, "vols", n)
    if np.any(v < 0.0):
        raise ValueError("vols must be >= 0")
    h = _horizon(horizon_days)
    c_used, factor, info = correlation_factor(correlation, n)
    return e, v, h, c_used, factor, info


def parametric_var_es(
    exposures, vols, correlation, confidence: float = 0.99, horizon_days: float = 1.0
) -> dict:
    """Closed-form VaR and ES of a linear book with normal factor returns.

    sigma_p = sqrt(e^T Sigma e h / 252), Sigma = diag(vols) C diag(vols);
    VaR = z_c sigma_p, ES = phi(z_c) / (1 - c) sigma_p (z_c the standard normal c-quantile).
    Non-PSD correlations are repaired as in ``mc_var_es``. Returns plain floats ``var``,
    ``es``, ``sigma`` (P&L standard deviation over the horizon, currency), ``repaired``,
    ``min_eigenvalue``.
    """
    c = _confidence(confidence)
    e, v, h, c_used, _, info = _linear_setup(exposures, vols, correlation, horizon_days)
    ve = v * e
    sigma = math.sqrt(max(float(ve @ c_used @ ve), 0.0) * h / TRADING_DAYS)
    z = float(ndtri(c))
    return {
        "var": z * sigma,
        "es": _INV_SQRT_2PI * math.exp(-0.5 * z * z) / (1.0 - c) * sigma,
        "sigma": sigma,
        "repaired": info["repaired"],
        "min_eigenvalue": info["min_eigenvalue"],
    }


def mc_var_es(
    exposures,
    vols,
    correlation,
    confidence: float = 0.99,
    horizon_days: float = 1.0,
    paths: int = 100_000,
    seed: int = 0,
    components: bool = False,
    chunk_paths: int | None = None,
) -> dict:
    """Monte Carlo VaR and ES of a linear book: P&L = sum_i e_i r_i, r ~ N(0, Sigma h / 252).

    ``exposures`` (currency, n), ``vols`` (annualised decimals, n), ``correlation`` (n x n or
    flattened row-major; non-PSD input is repaired to the nearest correlation matrix and
    reported, asymmetric or mis-sized input is a ``ValueError``), ``confidence`` c,
    ``horizon_days`` h (trading days), ``paths``, ``seed``.

    Simulation: r = A z with A = sqrt(h / 252) diag(vols) L, C = L L^T (``correlation_factor``:
    Cholesky, or the eigen-factor of rank f for a singular or repaired C) and z ~ N(0, I_f)
    drawn in float64 in chunks of paths from ``Generator(PCG64(seed))``. Since the book is
    linear, each path's P&L e^T A z = z . (A^T e) is computed without forming r (the same
    number as summing e_i r_i over the simulated r, at O(f) instead of O(n f) per path); with
    ``components`` the z rows of the tail scenarios are kept (a streaming top-K) and
    E[r | tail] = A E[z | tail] gives the scenario Euler allocation.

    Returns a dict of plain Python values: ``var``, ``es`` (currency, positive = loss),
    ``var_se``, ``es_se`` (Monte Carlo standard errors, see the module docstring), ``repaired``
    (bool), ``min_eigenvalue`` (of the input correlation), ``n_factors`` (f), ``paths``,
    ``mean_pnl``, ``sd_pnl`` (sample moments of the simulated P&L); with ``components``
    also lists ``marginal_var``, ``component_var``, ``marginal_es``, ``component_es`` (per
    position; marginal per 1 unit of exposure, components sum to ``var`` / ``es``) and
    ``euler_var_scale``. Same seed, same inputs: the same bytes (on one installation).
    """
    c = _confidence(confidence)
    e, v, h, _, factor, info = _linear_setup(exposures, vols, correlation, horizon_days)
    paths = int(paths)
    if paths < 2:
        raise ValueError("paths must be >= 2")
    f = factor.shape[1]
    a = math.sqrt(h / TRADING_DAYS) * (v[:, None] * factor)  # n x f
    b = a.T @ e  # f
    rng = np.random.Generator(np.random.PCG64(seed))
    if chunk_paths is None:
        chunk_paths = max(1, _CHUNK_ELEMENTS // max(f, 1))
    chunk_paths = max(1, int(chunk_paths))
    pnl = np.empty(paths)
    _, k, _, m = _tail_layout(paths, c)
    keeper = _TailRows(k + m + 1, f) if components else None
    buf = np.empty((min(chunk_paths, paths), f))
    for start in range(0, paths, chunk_paths):
        rows = min(chunk_paths, paths - start)
        z = buf[:rows]
        if f:
            rng.standard_normal(out=z)
        chunk = np.einsum("ij,j->i", z, b)  # numpy's own loop: single-threaded, same bytes
        pnl[start : start + rows] = chunk
        if keeper is not None:
            keeper.add(-chunk, z, start)
    losses = -pnl
    order = _sorted_tail(losses, k + m + 1)
    tail = _tail_from_sorted(losses[order], paths, c)
    out = {
        "var": tail["var"],
        "es": tail["es"],
        "var_se": _jsonable(tail["var_se"]),
        "es_se": _jsonable(tail["es_se"]),
        "repaired": info["repaired"],
        "min_eigenvalue": info["min_eigenvalue"],
        "n_factors": int(f),
        "paths": paths,
        "mean_pnl": float(pnl.mean()),
        "sd_pnl": float(pnl.std(ddof=1)),
    }
    if keeper is not None:
        # unit P&L of position i = r_i = (A z)_i: E[r | tail] = A E[z | tail]
        alloc = _euler_allocation(keeper.sorted_rows(), e, paths, c, tail["var"], transform=a)
        out.update(_allocation_lists(alloc))
    return out


def _allocation_lists(alloc: dict) -> dict:
    return {
        "marginal_var": _float_list(alloc["marginal_var"]),
        "component_var": _float_list(alloc["component_var"]),
        "marginal_es": _float_list(alloc["marginal_es"]),
        "component_es": _float_list(alloc["component_es"]),
        "euler_var_scale": _jsonable(alloc["euler_var_scale"]),
    }


def component_var(
    exposures,
    vols,
    correlation,
    confidence: float = 0.99,
    horizon_days: float = 1.0,
    method: str = "parametric",
    paths: int = 100_000,
    seed: int = 0,
) -> dict:
    """Euler allocation of VaR and ES of a linear book to its positions.

    ``method="parametric"`` (exact for the normal model): marginal VaR_i = z_c (Sigma_h e)_i /
    sigma_p, marginal ES_i = phi(z_c) / (1 - c) (Sigma_h e)_i / sigma_p, Sigma_h = Sigma h/252;
    ``method="mc"``: the Monte Carlo tail conditional expectations of ``mc_var_es`` (same
    ``paths`` and ``seed``). Component = exposure x marginal; components sum to the total.

    Returns plain values: ``var``, ``es``, lists ``marginal_var``, ``component_var``,
    ``marginal_es``, ``component_es`` (marginal per 1 unit of exposure, i.e. currency of VaR
    per currency of exposure; components in currency), ``method``.
    """
    if method == "mc":
        res = mc_var_es(
            exposures, vols, correlation, confidence, horizon_days, paths, seed, components=True
        )
        keys = ("var", "es", "marginal_var", "component_var", "marginal_es", "component_es")
        out = {key: res[key] for key in keys}
        out["method"] = "mc"
        return out
    if method != "parametric":
        raise ValueError(f"method must be 'parametric' or 'mc', got {method!r}")
    c = _confidence(confidence)
    e, v, h, c_used, _, _ = _linear_setup(exposures, vols, correlation, horizon_days)
    cov_e = (h / TRADING_DAYS) * v * (c_used @ (v * e))  # Sigma_h e
    sigma = math.sqrt(max(float(e @ cov_e), 0.0))
    z = float(ndtri(c))
    es_mult = _INV_SQRT_2PI * math.exp(-0.5 * z * z) / (1.0 - c)
    grad = cov_e / sigma if sigma > 0.0 else np.zeros_like(e)
    return {
        "var": z * sigma,
        "es": es_mult * sigma,
        "marginal_var": _float_list(z * grad),
        "component_var": _float_list(z * grad * e),
        "marginal_es": _float_list(es_mult * grad),
        "component_es": _float_list(es_mult * grad * e),
        "method": "parametric",
    }


def marginal_var(
    exposures,
    vols,
    correlation,
    confidence: float = 0.99,
    horizon_days: float = 1.0,
    method: str = "parametric",
    paths: int = 100_000,
    seed: int = 0,
) -> dict:
    """Marginal VaR and ES per unit of exposure, dVaR/de_i and dES/de_i (see
    ``component_var``). Returns ``var``, ``es``, lists ``marginal_var``, ``marginal_es``,
    ``method``."""
    res = component_var(exposures, vols, correlation, confidence, horizon_days, method, paths, seed)
    return {key: res[key] for key in ("var", "es", "marginal_var", "marginal_es", "method")}
