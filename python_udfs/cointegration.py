"""Augmented Dickey-Fuller and Engle-Granger cointegration tests, full-sample and rolling.

Pure numpy + scipy.

ADF regression of a series u_0..u_{n-1} with p lagged differences (t = p + 1 .. n - 1):

    du_t = [alpha] + gamma u_{t-1} + sum_{j=1..p} delta_j du_{t-j} + e_t,

statistic tau = gamma-hat / se(gamma-hat) (OLS, s^2 = SSR / (nobs - k)). The lag order p is
either fixed (``autolag=None``: p = maxlag) or chosen by AIC = nobs ln(SSR / nobs) + 2 k among
p = 0..maxlag, all fitted on the same nobs = n - 1 - maxlag observations, and the regression
is then rerun with the chosen p on all n - 1 - p observations. Default maxlag =
ceil(12 (n / 100)^(1/4)) (Schwert 1989), capped at n // 2 - (number of deterministic terms) - 1.
These are the conventions of ``statsmodels.tsa.stattools.adfuller`` / ``coint`` (tested).

Engle-Granger two-step test (Engle & Granger 1987) of y on x with a constant:

1. OLS y_t = intercept + hedge_ratio x_t + u_t (the cointegrating regression);
2. ADF regression of the residuals u_t without a constant (they have mean zero); H0: no
   cointegration (u has a unit root), rejected for large negative tau.

P-values: MacKinnon (1994) asymptotic response surfaces, p = Phi(g0 + g1 tau + g2 tau^2
[+ g3 tau^3]) with the "small p" polynomial for tau <= tau*, the "large p" one above, p = 0
below tau_min and 1 above tau_max (the tau_c case: a constant in the (cointegrating)
regression; N = 1 for the ADF unit-root test, N = 2 for Engle-Granger with one regressor).
MacKinnon (2010) gives no p-value surfaces, only critical values, so the p-value is the
asymptotic one; the critical values are finite-sample: MacKinnon (2010) response surfaces
C(T) = b_inf + b1 / T + b2 / T^2 + b3 / T^3 at 1, 5 and 10 %, with T = nobs of the ADF
regression for the ADF test and T = n - 1 for Engle-Granger (the choice of Stata's
``egranger`` and statsmodels' ``coint``).

- MacKinnon, J. G. (1994), "Approximate asymptotic distribution functions for unit-root and
  cointegration tests", Journal of Business & Economic Statistics 12(2), 167-176.
- MacKinnon, J. G. (2010), "Critical values for cointegration tests", Queen's Economics
  Department Working Paper No. 1227, Table 2 (constant, no trend).

Half-life of the residual spread: ``mean_reversion.ou_fit`` on the residuals (exact OU MLE;
``half_life`` in the time unit of ``dt``, ``half_life_periods`` in observations).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

from python_udfs.mean_reversion import TRADING_DAYS, ou_fit

__all__ = [
    "CRIT_2010",
    "P_VALUE_1994",
    "ROLLING_FIELDS",
    "adf_test",
    "engle_granger",
    "mackinnon_crit",
    "mackinnon_p",
    "rolling_engle_granger",
]

# MacKinnon (1994), tau_c surfaces (constant in the regression), keyed by N = number of I(1)
# variables. small_p: (g0, g1, g2) for tau <= tau_star; large_p: (g0, g1, g2, g3) above;
# p = Phi(polynomial(tau)). Same values as statsmodels.tsa.adfvalues (after its scaling).
P_VALUE_1994: dict[int, dict[str, tuple[float, ...] | float]] = {
    1: {
        "tau_min": -18.83,
        "tau_star": -1.61,
        "tau_max": 2.74,
        "small_p": (2.1659, 1.4412, 0.038269),
        "large_p": (1.7339, 0.93202, -0.12745, -0.010368),
    },
    2: {
        "tau_min": -18.86,
        "tau_star": -2.62,
        "tau_max": 0.92,
        "small_p": (2.92, 1.5012, 0.039796),
        "large_p": (2.1945, 0.64695, -0.29198, -0.042377),
    },
}

# MacKinnon (2010), Table 2, constant no trend: (b_inf, b1, b2, b3) at 1 %, 5 %, 10 %.
CRIT_2010: dict[int, dict[str, tuple[float, float, float, float]]] = {
    1: {
        "1%": (-3.43035, -6.5393, -16.786, -79.433),
        "5%": (-2.86154, -2.8903, -4.234, -40.040),
        "10%": (-2.56677, -1.5384, -2.809, 0.0),
    },
    2: {
        "1%": (-3.89644, -10.9519, -33.527, 0.0),
        "5%": (-3.33613, -6.1101, -6.823, 0.0),
        "10%": (-3.04445, -4.2412, -2.720, 0.0),
    },
}

_SQRT_EPS = math.sqrt(np.finfo(np.float64).eps)
_MIN_OBS = 20


def mackinnon_p(tau: float, n_vars: int = 2) -> float:
    """MacKinnon (1994) asymptotic p-value of an ADF / Engle-Granger statistic ``tau``
    (constant case; ``n_vars`` = 1 for the ADF test, 2 for Engle-Granger with one x)."""
    t = P_VALUE_1994[n_vars]
    if tau > t["tau_max"]:
        return 1.0
    if tau < t["tau_min"]:
        return 0.0
    g = t["small_p"] if tau <= t["tau_star"] else t["large_p"]
    return float(norm.cdf(sum(gi * tau**i for i, gi in enumerate(g))))


def mackinnon_crit(nobs: float, n_vars: int = 2) -> dict[str, float]:
    """MacKinnon (2010) finite-sample critical values {"1%", "5%", "10%"} for sample size
    ``nobs`` (math.inf: asymptotic values b_inf)."""
    out = {}
    for level, b in CRIT_2010[n_vars].items():
        inv = 0.0 if math.isinf(nobs) else 1.0 / float(nobs)
        out[level] = b[0] + inv * (b[1] + inv * (b[2] + inv * b[3]))
    return out


def _ols(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """OLS coefficients, SSR and the diagonal of (X'X)^{-1} (via QR)."""
    q, r = np.linalg.qr(X)
    beta = np.linalg.solve(r, q.T @ y)
    resid = y - X @ beta
    r_inv = np.linalg.inv(r)
    return beta, float(resid @ resid), np.einsum("ij,ij->i", r_inv, r_inv)


def _default_maxlag(n: int, n_det: int) -> int:
    return min(n // 2 - n_det - 1, math.ceil(12.0 * (n / 100.0) ** 0.25))


def _adf(u: np.ndarray, maxlag: int | None, autolag: str | None, const: bool) -> dict:
    """ADF statistic of ``u`` (no NaN): {"stat", "lags", "maxlag", "nobs"}."""
    n = u.size
    n_det = 1 if const else 0
    if maxlag is None:
        maxlag = _default_maxlag(n, n_det)
    maxlag = int(maxlag)
    if maxlag < 0 or maxlag > n // 2 - n_det - 1:
        raise ValueError(f"maxlag must be in 0..{n // 2 - n_det - 1} for {n} observations")
    du = np.diff(u)

    def design(p: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        # rows t = start..n-2 of du: du[t] on u[t], du[t-1..t-p], [1]
        cols = [u[start:-1]] + [du[start - j : n - 1 - j] for j in range(1, p + 1)]
        if const:
            cols.append(np.ones(n - 1 - start))
        return du[start:], np.column_stack(cols)

    if autolag is None:
        lags = maxlag
    elif autolag.lower() == "aic":
        best = None
        for p in range(maxlag + 1):
            yy, X = design(p, maxlag)
            _, ssr, _ = _ols(yy, X)
            nobs = yy.size
            aic = nobs * math.log(ssr / nobs) + 2.0 * X.shape[1]
            if best is None or aic < best[0]:
                best = (aic, p)
        lags = best[1]
    else:
        raise ValueError(f"autolag must be 'aic' or None, got {autolag!r}")
    yy, X = design(lags, lags)
    beta, ssr, diag = _ols(yy, X)
    s2 = ssr / (yy.size - X.shape[1])
    return {
        "stat": float(beta[0] / math.sqrt(s2 * diag[0])),
        "lags": int(lags),
        "maxlag": maxlag,
        "nobs": int(yy.size),
    }


def adf_test(x, maxlag: int | None = None, autolag: str | None = "aic") -> dict:
    """Augmented Dickey-Fuller unit-root test of ``x`` with a constant (no trend).

    NaN values are dropped (the remaining values are treated as consecutive). Returns plain
    Python values: ``valid``, ``reason``, ``adf_stat``, ``p_value`` (MacKinnon 1994, N = 1),
    ``crit_1``, ``crit_5``, ``crit_10`` (MacKinnon 2010 at T = nobs), ``lags``, ``maxlag``,
    ``nobs`` (observations in the ADF regression), ``n``. Small p: reject a unit root.
    """
    u = np.asarray(x, dtype=np.float64).ravel()
    u = u[np.isfinite(u)]
    out = {"valid": False, "reason": None, "adf_stat": None, "p_value": None}
    out.update({"crit_1": None, "crit_5": None, "crit_10": None})
    out.update({"lags": None, "maxlag": None, "nobs": None, "n": int(u.size)})
    if u.size < _MIN_OBS or not np.ptp(u) > 0.0:
        out["reason"] = f"fewer than {_MIN_OBS} finite values or constant series"
        return out
    res = _adf(u, maxlag, autolag, const=True)
    crit = mackinnon_crit(res["nobs"], 1)
    out.update(
        valid=True,
        adf_stat=res["stat"],
        p_value=mackinnon_p(res["stat"], 1),
        crit_1=crit["1%"],
        crit_5=crit["5%"],
        crit_10=crit["10%"],
        lags=res["lags"],
        maxlag=res["maxlag"],
        nobs=res["nobs"],
    )
    return out


def engle_granger(
    y,
    x,
    maxlag: int | None = None,
    autolag: str | None = "aic",
    dt: float = 1.0 / TRADING_DAYS,
) -> dict:
    """Engle-Granger two-step cointegration test of ``y`` on ``x`` (with a constant).

    ``y``, ``x``: aligned series (e.g. log prices or IVs, any consistent units); rows with a
    NaN in either are dropped. ``maxlag`` / ``autolag``: lag selection of the residual ADF
    regression (module docstring). ``dt``: time between observations for the residual OU
    fit (years; 1/252 = daily). Returns plain Python values:

    - ``valid``, ``reason``;
    - ``hedge_ratio`` (units of y per unit of x), ``intercept`` (units of y), ``r_squared``:
      the cointegrating regression y = intercept + hedge_ratio x + u;
    - ``adf_stat``, ``p_value`` (MacKinnon 1994, asymptotic, N = 2), ``crit_1``, ``crit_5``,
      ``crit_10`` (MacKinnon 2010, T = n - 1), ``lags`` (chosen), ``maxlag``, ``nobs_adf``;
    - ``n`` (observations used), ``resid_sd`` (sd of u, ddof 1, units of y), ``spread_last``
      (u at the last observation), and the OU fit of u: ``ou_valid``, ``theta``, ``mu``,
      ``sigma``, ``half_life`` (time unit of dt), ``half_life_periods`` (observations).

    ``valid`` is False (statistics None) with fewer than 20 complete rows, a constant x, or
    y and x (almost) perfectly collinear (R^2 >= 1 - 100 sqrt(eps): the test is undefined).
    """
    yv = np.asarray(y, dtype=np.float64).ravel()
    xv = np.asarray(x, dtype=np.float64).ravel()
    if yv.size != xv.size:
        raise ValueError(f"y and x differ in length: {yv.size} != {xv.size}")
    ok = np.isfinite(yv) & np.isfinite(xv)
    yv, xv = yv[ok], xv[ok]
    n = int(yv.size)
    out: dict = {
        "valid": False,
        "reason": None,
        "hedge_ratio": None,
        "intercept": None,
        "r_squared": None,
        "adf_stat": None,
        "p_value": None,
        "crit_1": None,
        "crit_5": None,
        "crit_10": None,
        "lags": None,
        "maxlag": None,
        "nobs_adf": None,
        "n": n,
        "resid_sd": None,
        "spread_last": None,
        "ou_valid": False,
        "theta": None,
        "mu": None,
        "sigma": None,
        "half_life": None,
        "half_life_periods": None,
    }
    if n < _MIN_OBS or not np.ptp(xv) > 0.0:
        out["reason"] = f"fewer than {_MIN_OBS} complete rows or constant x"
        return out
    xm, ym = xv.mean(), yv.mean()
    dx, dy = xv - xm, yv - ym
    beta = float(dx @ dy) / float(dx @ dx)
    alpha = float(ym - beta * xm)
    u = yv - alpha - beta * xv
    sst = float(dy @ dy)
    r2 = 1.0 - float(u @ u) / sst if sst > 0.0 else 1.0
    out.update(hedge_ratio=beta, intercept=alpha, r_squared=r2)
    if r2 >= 1.0 - 100.0 * _SQRT_EPS:
        out["reason"] = "y and x (almost) perfectly collinear: test undefined"
        return out
    res = _adf(u, maxlag, autolag, const=False)
    crit = mackinnon_crit(n - 1, 2)
    fit = ou_fit(u, dt)
    out.update(
        valid=True,
        adf_stat=res["stat"],
        p_value=mackinnon_p(res["stat"], 2),
        crit_1=crit["1%"],
        crit_5=crit["5%"],
        crit_10=crit["10%"],
        lags=res["lags"],
        maxlag=res["maxlag"],
        nobs_adf=res["nobs"],
        resid_sd=float(np.std(u, ddof=1)),
        spread_last=float(u[-1]),
        ou_valid=fit["valid"],
        theta=fit["theta"],
        mu=fit["mu"],
        sigma=fit["sigma"],
        half_life=fit["half_life"],
        half_life_periods=fit["half_life_periods"],
    )
    return out


ROLLING_FIELDS = (
    "hedge_ratio",
    "intercept",
    "adf_stat",
    "p_value",
    "lags",
    "half_life_periods",
    "resid_sd",
    "spread",
)


def rolling_engle_granger(
    y,
    x,
    window: int,
    step: int = 1,
    maxlag: int | None = None,
    autolag: str | None = "aic",
    dt: float = 1.0 / TRADING_DAYS,
    hold: bool = True,
) -> dict[str, np.ndarray]:
    """Point-in-time Engle-Granger test over a rolling window of ``window`` rows.

    The test is evaluated at rows i = window - 1, window - 1 + step, ... on rows
    i - window + 1 .. i only (``engle_granger`` on that slice: NaN rows dropped, NaN results
    when fewer than 20 complete rows remain or the test is undefined). With ``hold`` the
    latest evaluation is carried forward to the rows until the next one (still point in
    time); without, rows between evaluations are NaN. Returns float arrays aligned with the
    input: ``hedge_ratio``, ``intercept``, ``adf_stat``, ``p_value``, ``lags``,
    ``half_life_periods`` (NaN when the residual OU fit is invalid), ``resid_sd`` and
    ``spread`` = y_i - intercept - hedge_ratio x_i with the estimate in force at row i.
    """
    yv = np.asarray(y, dtype=np.float64).ravel()
    xv = np.asarray(x, dtype=np.float64).ravel()
    if yv.size != xv.size:
        raise ValueError(f"y and x differ in length: {yv.size} != {xv.size}")
    window, step = int(window), int(step)
    if window < _MIN_OBS or step < 1:
        raise ValueError(f"need window >= {_MIN_OBS} and step >= 1")
    n = yv.size
    out = {k: np.full(n, np.nan) for k in ROLLING_FIELDS}
    keys = ROLLING_FIELDS[:-1]
    last = None
    for i in range(window - 1, n):
        if (i - window + 1) % step == 0:
            res = engle_granger(
                yv[i - window + 1 : i + 1], xv[i - window + 1 : i + 1], maxlag, autolag, dt
            )
            last = {k: (np.nan if res[k] is None else float(res[k])) for k in keys}
        elif not hold:
            continue
        if last is None:
            continue
        for k in keys:
            out[k][i] = last[k]
        out["spread"][i] = yv[i] - last["intercept"] - last["hedge_ratio"] * xv[i]
    return out
