"""ATM implied-volatility term-structure fit and principal components of surface histories.

Pure numpy/scipy, no I/O. Results are dicts of plain Python floats/ints/bools/strs and
(nested) lists, ready for SQL jsonb (NaN stays a float NaN; the PL/Python wrapper maps it to
null).

Term structure (``term_structure_fit``): IV(days) = a days^b + c, vol decimal (0.20 = 20 %),
``days`` calendar days to expiry (> 0; any day count, e.g. ACT/365 years x 365). Fitted in
least squares (optionally weighted) by variable projection: for b on a grid the model is
linear in (a, c), the best grid point starts ``scipy.optimize.least_squares`` on (a, b, c)
with b bounded (default [-2, 2]). Internally days are scaled by 30 (a' = a 30^b) for
conditioning; the returned a is in the stated units. With fewer than four points the fit has
no residual degrees of freedom and ``underdetermined`` is set: three points are still fitted
(usually exactly), two give the pure power law through both (c = 0, b clipped to the bounds),
one gives a flat curve (a = b = 0, c = iv).

Surface PCA (``surface_pca``): rows = dates, columns = grid points of a surface vector (e.g.
IV at fixed tenors x moneyness). Columns with more than ``max_nan_frac`` missing values over
the rows (and constant columns) are dropped; each kept column is centred (and, with
``standardize``, scaled to unit sample standard deviation, ddof 1) over the rows, and the
remaining NaNs are imputed with the column mean (0 after centring). PCA is the SVD of that
matrix: loadings are unit-norm eigenvectors of the correlation (covariance without
``standardize``) matrix, scores = centred/scaled rows x loadings, explained-variance ratios =
eigenvalue / sum of all eigenvalues. Sign convention, so that refits give comparable scores:

1. component 1 (level): the loadings sum to a positive number;
2. component 2 (slope): positive covariance of the loadings with ``tenor`` (column index
   when not given): positive on the long end;
3. component 3 (curvature): positive covariance with the squared centred ``moneyness``
   (``tenor`` / column index when not given): positive in the wings;
4. further components, and any of the above whose statistic is ~0: largest |loading| > 0.

``pca_scores_point_in_time``: for each row (date) i the PCA is refitted on rows
max(0, i - window + 1) .. i only (no look-ahead, standardisation included) and row i's
scores are kept; NaN until ``min_periods`` rows are available.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares

__all__ = [
    "pca_scores_point_in_time",
    "surface_pca",
    "term_structure_eval",
    "term_structure_fit",
]

_DAYS_REF = 30.0
_B_GRID = 81


def term_structure_eval(days, a: float, b: float, c: float) -> np.ndarray:
    """IV(days) = a days^b + c (vol decimal; ``days`` > 0 calendar days)."""
    d = np.asarray(days, dtype=np.float64)
    return a * np.power(d, b) + c


def _linear_ac(x: np.ndarray, y: np.ndarray, sw: np.ndarray) -> tuple[float, float, float]:
    """Weighted least squares of y = a x + c: (a, c, weighted SSE)."""
    design = np.column_stack([x, np.ones_like(x)]) * sw[:, None]
    coef, *_ = np.linalg.lstsq(design, y * sw, rcond=None)
    resid = (coef[0] * x + coef[1] - y) * sw
    return float(coef[0]), float(coef[1]), float(resid @ resid)


def term_structure_fit(
    days,
    iv,
    weights=None,
    b_bounds: tuple[float, float] = (-2.0, 2.0),
) -> dict:
    """Fit IV(days) = a days^b + c to one term structure (see the module docstring).

    ``days`` calendar days to expiry, ``iv`` vols (decimal), optional ``weights`` (>= 0, e.g.
    vega or 1/spread^2; equal by default); points with non-finite values or days <= 0 are
    ignored. Returns plain Python values: ``a``, ``b``, ``c`` (IV in decimal for days in
    days), ``rmse`` (unweighted root-mean-square residual, vol decimal), ``n`` (points used),
    ``converged`` (bool: the optimiser reported convergence, or a closed form was used),
    ``underdetermined`` (bool: n < 4), ``method`` ("least_squares", "power_law_2pt",
    "flat" or "none").
    """
    d = np.asarray(days, dtype=np.float64).ravel()
    y = np.asarray(iv, dtype=np.float64).ravel()
    w = np.ones_like(d) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    w = np.broadcast_to(w, d.shape)
    ok = np.isfinite(d) & np.isfinite(y) & np.isfinite(w) & (d > 0.0) & (w >= 0.0)
    d, y, w = d[ok], y[ok], w[ok]
    n = int(d.size)
    b_lo, b_hi = float(b_bounds[0]), float(b_bounds[1])
    out = {
        "a": math.nan,
        "b": math.nan,
        "c": math.nan,
        "rmse": math.nan,
        "n": n,
        "converged": False,
        "underdetermined": n < 4,
        "method": "none",
    }
    if n == 0 or not np.any(w > 0.0):
        return out
    x = d / _DAYS_REF
    if n == 1 or np.unique(d).size == 1:
        c = float(np.average(y, weights=w)) if w.sum() > 0 else float(y.mean())
        out.update(a=0.0, b=0.0, c=c, method="flat", converged=True)
    elif n == 2 and np.all(y > 0.0):
        b = math.log(y[1] / y[0]) / math.log(x[1] / x[0])
        b = min(max(b, b_lo), b_hi)
        xb = x**b
        a_ref = float(np.sum(w * xb * y) / np.sum(w * xb * xb))
        out.update(a=a_ref * _DAYS_REF ** (-b), b=float(b), c=0.0, method="power_law_2pt")
        out["converged"] = True
    else:
        sw = np.sqrt(w)
        grid = np.linspace(b_lo, b_hi, _B_GRID)
        grid = grid[np.abs(grid) > 1e-9]  # b = 0 makes a and c collinear
        best = min(((_linear_ac(x**b, y, sw), b) for b in grid), key=lambda z: z[0][2])
        (a0, c0, _), b0 = best

        def resid(p: np.ndarray) -> np.ndarray:
            return (p[0] * x ** p[1] + p[2] - y) * sw

        fit = least_squares(
            resid,
            np.array([a0, b0, c0]),
            bounds=([-np.inf, b_lo, -np.inf], [np.inf, b_hi, np.inf]),
            x_scale="jac",
            xtol=1e-12,
            ftol=1e-12,
            gtol=1e-12,
            max_nfev=2000,
        )
        a_ref, b, c = (float(v) for v in fit.x)
        out.update(
            a=a_ref * _DAYS_REF ** (-b),
            b=b,
            c=c,
            method="least_squares",
            converged=bool(fit.success and fit.status > 0),
        )
    resid = term_structure_eval(d, out["a"], out["b"], out["c"]) - y
    out["rmse"] = float(math.sqrt(np.mean(resid * resid)))
    return out


# --------------------------------------------------------------------------------------------
# surface PCA
# --------------------------------------------------------------------------------------------


def _orient(v: np.ndarray, coord: np.ndarray | None) -> float:
    """+1 or -1 so that v . coord > 0 (largest |v| positive when that is ~0 or no coord)."""
    if coord is not None:
        stat = float(v @ coord)
        scale = float(np.linalg.norm(v) * np.linalg.norm(coord))
        if scale > 0.0 and abs(stat) > 1e-8 * scale:
            return 1.0 if stat > 0.0 else -1.0
    j = int(np.argmax(np.abs(v)))
    return 1.0 if v[j] >= 0.0 else -1.0


def _pca_core(
    x: np.ndarray,
    n_components: int,
    tenor: np.ndarray,
    moneyness: np.ndarray | None,
    standardize: bool,
    max_nan_frac: float,
) -> dict:
    """PCA of the (rows x columns) float array ``x``; numpy results (see ``surface_pca``)."""
    n_rows, n_cols = x.shape
    k_req = int(n_components)
    finite = np.isfinite(x)
    row_ok = finite.any(axis=1)
    empty = {
        "loadings": np.full((n_cols, k_req), np.nan),
        "explained_variance_ratio": np.full(k_req, np.nan),
        "eigenvalues": np.full(k_req, np.nan),
        "scores": np.full((n_rows, k_req), np.nan),
        "columns_used": np.zeros(0, dtype=np.int64),
        "mean": np.full(n_cols, np.nan),
        "scale": np.full(n_cols, np.nan),
        "n_rows": int(row_ok.sum()),
    }
    if row_ok.sum() < 2:
        return empty
    xr = x[row_ok]
    fr = finite[row_ok]
    nan_frac = 1.0 - fr.mean(axis=0)
    count = fr.sum(axis=0)
    keep = (nan_frac <= max_nan_frac) & (count >= 2)
    filled = np.where(fr, xr, 0.0)
    mean = filled.sum(axis=0) / np.maximum(count, 1)
    dev = np.where(fr, xr - mean, 0.0)
    sd = np.sqrt((dev * dev).sum(axis=0) / np.maximum(count - 1, 1))
    keep &= sd > 0.0
    cols = np.flatnonzero(keep)
    if cols.size == 0:
        return empty
    scale = sd[cols] if standardize else np.ones(cols.size)
    z_all = (x[:, cols] - mean[cols]) / scale
    z_all = np.where(np.isfinite(z_all), z_all, 0.0)  # mean imputation
    z = z_all[row_ok]
    _, s, vt = np.linalg.svd(z, full_matrices=False)
    k = min(k_req, vt.shape[0])
    eig = s * s / (z.shape[0] - 1)
    total = float(eig.sum())
    loadings = vt[:k].T.copy()
    t_c = tenor[cols] - tenor[cols].mean()
    m = moneyness[cols] if moneyness is not None else tenor[cols]
    u = m - m.mean()
    wing = u * u - np.mean(u * u)
    coords = [np.ones(cols.size), t_c, wing]
    for j in range(k):
        loadings[:, j] *= _orient(loadings[:, j], coords[j] if j < 3 else None)
    scores = np.full((n_rows, k_req), np.nan)
    scores[row_ok, :k] = z @ loadings
    full_loadings = np.full((n_cols, k_req), np.nan)
    full_loadings[cols, :k] = loadings
    evr = np.full(k_req, np.nan)
    ev = np.full(k_req, np.nan)
    if total > 0.0:
        evr[:k] = eig[:k] / total
    ev[:k] = eig[:k]
    mean_out = np.full(n_cols, np.nan)
    mean_out[cols] = mean[cols]
    scale_out = np.full(n_cols, np.nan)
    scale_out[cols] = scale
    return {
        "loadings": full_loadings,
        "explained_variance_ratio": evr,
        "eigenvalues": ev,
        "scores": scores,
        "columns_used": cols,
        "mean": mean_out,
        "scale": scale_out,
        "n_rows": int(row_ok.sum()),
    }


def _coords(n_cols: int, tenor, moneyness) -> tuple[np.ndarray, np.ndarray | None]:
    t = np.arange(n_cols, dtype=np.float64) if tenor is None else np.asarray(tenor, float)
    m = None if moneyness is None else np.asarray(moneyness, dtype=np.float64)
    if t.shape != (n_cols,) or (m is not None and m.shape != (n_cols,)):
        raise ValueError("tenor and moneyness need one value per column")
    return t, m


def surface_pca(
    matrix,
    n_components: int = 3,
    tenor=None,
    moneyness=None,
    standardize: bool = True,
    max_nan_frac: float = 0.2,
) -> dict:
    """Principal components of a history of surface vectors (see the module docstring).

    ``matrix`` (dates x grid points, e.g. IV in decimal; NaN = missing), ``tenor`` and
    ``moneyness`` optional per-column coordinates used only for the sign convention (any
    units: days, years, log-moneyness, delta), ``standardize`` z-scores the columns
    (correlation PCA), ``max_nan_frac`` the largest share of missing values a kept column may
    have.

    Returns plain Python values: ``loadings`` (n_columns lists of n_components floats; NaN
    rows for dropped columns; component order level, slope, curvature), ``columns_used``
    (column indices), ``explained_variance_ratio`` and ``eigenvalues`` (n_components),
    ``scores`` (one list of n_components per row; NaN for all-missing rows), ``mean`` and
    ``scale`` per column (the centring and scaling used), ``n_rows`` (rows used).
    """
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("matrix must be 2-d (dates x grid points)")
    t, m = _coords(x.shape[1], tenor, moneyness)
    res = _pca_core(x, n_components, t, m, standardize, max_nan_frac)
    return {
        "loadings": res["loadings"].tolist(),
        "columns_used": [int(c) for c in res["columns_used"]],
        "explained_variance_ratio": res["explained_variance_ratio"].tolist(),
        "eigenvalues": res["eigenvalues"].tolist(),
        "scores": res["scores"].tolist(),
        "mean": res["mean"].tolist(),
        "scale": res["scale"].tolist(),
        "n_rows": int(res["n_rows"]),
    }


def pca_scores_point_in_time(
    matrix,
    n_components: int = 3,
    window: int = 252,
    min_periods: int = 60,
    tenor=None,
    moneyness=None,
    standardize: bool = True,
    max_nan_frac: float = 0.2,
) -> dict:
    """Point-in-time PCA scores: row i scored by a PCA fitted on rows up to i only.

    ``matrix`` rows in date order (dates x grid points); each row i uses the trailing
    ``window`` rows ending at i (fewer at the start), and is NaN while fewer than
    ``min_periods`` rows (with any finite value) are available or when row i is all
    missing. Other arguments as in ``surface_pca`` (same standardisation, NaN policy and
    sign convention, applied within each window). Appending rows never changes earlier
    results.

    Returns plain Python lists, one element per row: ``scores`` (n_components floats),
    ``explained_variance_ratio`` (n_components floats) and ``n_columns`` (columns used).
    """
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError("matrix must be 2-d (dates x grid points)")
    n_rows, n_cols = x.shape
    t, m = _coords(n_cols, tenor, moneyness)
    k = int(n_components)
    scores = np.full((n_rows, k), np.nan)
    evr = np.full((n_rows, k), np.nan)
    n_used = np.zeros(n_rows, dtype=np.int64)
    has_data = np.isfinite(x).any(axis=1)
    for i in range(n_rows):
        if not has_data[i]:
            continue
        lo = max(0, i - int(window) + 1)
        if has_data[lo : i + 1].sum() < int(min_periods):
            continue
        res = _pca_core(x[lo : i + 1], k, t, m, standardize, max_nan_frac)
        scores[i] = res["scores"][-1]
        evr[i] = res["explained_variance_ratio"]
        n_used[i] = res["columns_used"].size
    return {
        "scores": scores.tolist(),
        "explained_variance_ratio": evr.tolist(),
        "n_columns": [int(v) for v in n_used],
    }
