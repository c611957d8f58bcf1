"""GARCH(1,1) with Gaussian innovations: maximum-likelihood fit, conditional vol, forecasts.

Pure numpy + scipy. Model for daily (per-period) log returns r_t (decimal):

    r_t = mu + e_t,  e_t = sigma_t z_t,  z_t ~ N(0, 1) i.i.d.,
    sigma_t^2 = omega + alpha e_{t-1}^2 + beta sigma_{t-1}^2,

with omega > 0, alpha >= 0, beta >= 0, alpha + beta < 1 (covariance stationary); the
recursion starts at sigma_1^2 = sample variance of e (a common, consistent choice). omega is
in decimal^2 per period; the long-run variance is omega / (1 - alpha - beta).

Units of the outputs: conditional and forecast volatilities are annualised with 252 periods
per year (``periods_per_year``), decimal (0.20 = 20 %). The variance recursion is evaluated
with ``scipy.signal.lfilter`` (a first-order linear filter), so a likelihood evaluation is
vectorised. The fit maximises the Gaussian log-likelihood over unconstrained parameters that
map onto the constraints (ln of the long-run variance; alpha + beta = (1 - 1e-6) logistic(u1);
alpha / (alpha + beta) = logistic(u2)) with L-BFGS-B (Nelder-Mead polish if it stops early),
from the best of a small grid of starting points; the returns are scaled to unit variance
during the fit for conditioning.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize
from scipy.signal import lfilter

__all__ = [
    "garch11_conditional_variance",
    "garch11_conditional_vol",
    "garch11_fit",
    "garch11_forecast_vol",
    "garch11_loglik",
]

TRADING_DAYS = 252.0
_LOG_2PI = math.log(2.0 * math.pi)
_MAX_PERSISTENCE = 1.0 - 1e-6


def _clean(returns) -> np.ndarray:
    r = np.asarray(returns, dtype=np.float64).ravel()
    return r[np.isfinite(r)]


def garch11_conditional_variance(
    resid, omega: float, alpha: float, beta: float, sigma2_0: float | None = None
) -> np.ndarray:
    """sigma_t^2 (decimal^2 per period) for t = 1..n, plus sigma_{n+1}^2 as the last element.

    ``resid`` are the demeaned returns e_t; sigma_1^2 = ``sigma2_0`` (default: mean of e^2).
    Returns n + 1 values: element t-1 is the variance of e_t given information up to t-1.
    """
    e = np.asarray(resid, dtype=np.float64).ravel()
    s0 = float(np.mean(e * e)) if sigma2_0 is None else float(sigma2_0)
    # sigma_{t+1}^2 = omega + alpha e_t^2 + beta sigma_t^2, t = 1..n, started at sigma_1^2 = s0
    x = omega + alpha * e * e
    tail, _ = lfilter([1.0], [1.0, -beta], x, zi=np.array([beta * s0]))
    return np.concatenate(([s0], tail))


def garch11_loglik(returns, omega: float, alpha: float, beta: float, mu: float = 0.0) -> np.float64:
    """Gaussian log-likelihood sum_t -0.5 (ln 2 pi + ln sigma_t^2 + e_t^2 / sigma_t^2)."""
    e = _clean(returns) - mu
    s2 = garch11_conditional_variance(e, omega, alpha, beta)[:-1]
    if not np.all(s2 > 0.0):
        return np.float64(-np.inf)
    return np.float64(-0.5 * np.sum(_LOG_2PI + np.log(s2) + e * e / s2))


def garch11_fit(
    returns,
    demean: bool = True,
    periods_per_year: float = TRADING_DAYS,
    start: tuple[float, float, float] | None = None,
) -> dict:
    """Maximum-likelihood GARCH(1,1) fit of per-period log returns (decimal).

    Returns a dict of numpy float64 scalars: ``omega`` (decimal^2 per period), ``alpha``,
    ``beta``, ``mu`` (sample mean if ``demean`` else 0), ``loglik``, ``persistence``
    (alpha + beta), ``long_run_vol`` (annualised, decimal), ``half_life`` (periods for a
    variance shock to halve), ``n_obs``, ``converged`` (bool: optimizer success and interior
    solution) and ``message``. NaN returns are dropped; fewer than 30 observations give NaN
    parameters and converged False. ``start``: (omega, alpha, beta) of an earlier fit (same
    units) to warm-start from instead of the grid of starting points, e.g. when refitting on
    an expanding window.
    """
    r = _clean(returns)
    n = r.size
    nan = np.float64(np.nan)
    if n < 30 or not np.var(r) > 0.0:
        return {
            "omega": nan,
            "alpha": nan,
            "beta": nan,
            "mu": nan,
            "loglik": nan,
            "persistence": nan,
            "long_run_vol": nan,
            "half_life": nan,
            "n_obs": np.int64(n),
            "converged": np.bool_(False),
            "message": "fewer than 30 finite returns or zero variance",
        }
    mu = float(np.mean(r)) if demean else 0.0
    e = r - mu
    var = float(np.mean(e * e))
    scale = 1.0 / var  # work with e / sd(e): omega scales with var, alpha/beta unchanged
    es = e * math.sqrt(scale)

    def unpack(u: np.ndarray) -> tuple[float, float, float]:
        # unconstrained -> (long-run variance of the scaled series, alpha, beta):
        # persistence = P_MAX * logistic(u1), alpha = persistence * logistic(u2)
        lr_var = math.exp(min(max(u[0], -30.0), 30.0))
        pers = _MAX_PERSISTENCE / (1.0 + math.exp(-min(max(u[1], -50.0), 50.0)))
        share = 1.0 / (1.0 + math.exp(-min(max(u[2], -50.0), 50.0)))
        return lr_var, pers * share, pers * (1.0 - share)

    def negll(u: np.ndarray) -> float:
        lr_var, a, b = unpack(u)
        om = lr_var * (1.0 - a - b)
        s2 = garch11_conditional_variance(es, om, a, b, 1.0)[:-1]
        if not np.all(s2 > 0.0) or not np.all(np.isfinite(s2)):
            return 1e100
        return 0.5 * float(np.sum(np.log(s2) + es * es / s2))

    def pack(lr_var: float, a: float, b: float) -> np.ndarray:
        pers = (a + b) / _MAX_PERSISTENCE
        return np.array([math.log(lr_var), math.log(pers / (1.0 - pers)), math.log(a / b)])

    warm = None
    if start is not None:
        om0, a0, b0 = (float(v) for v in start)
        if all(math.isfinite(v) for v in start) and om0 > 0 and a0 > 0 and b0 > 0 and a0 + b0 < 1:
            warm = pack(om0 / (1.0 - a0 - b0) * scale, a0, b0)
    if warm is not None:
        best = warm
    else:
        starts = [
            pack(1.0, a, b) for a in (0.03, 0.08, 0.15) for b in (0.80, 0.90) if a + b < 0.999
        ]
        starts.append(pack(1.0, 0.05, 0.94))
        best = min(starts, key=negll)
    res = minimize(negll, best, method="L-BFGS-B", options={"maxiter": 1000, "ftol": 1e-13})
    if not res.success:  # polish with a derivative-free method
        res = minimize(negll, res.x, method="Nelder-Mead", options={"maxiter": 4000})
    lr_var, a, b = unpack(res.x)
    omega = lr_var * (1.0 - a - b) / scale
    loglik = garch11_loglik(r, omega, a, b, mu)
    persistence = a + b
    interior = persistence < 1.0 - 1e-4
    long_run = omega / (1.0 - persistence)
    return {
        "omega": np.float64(omega),
        "alpha": np.float64(a),
        "beta": np.float64(b),
        "mu": np.float64(mu),
        "loglik": np.float64(loglik),
        "persistence": np.float64(persistence),
        "long_run_vol": np.float64(math.sqrt(long_run * periods_per_year)),
        "half_life": np.float64(
            math.log(0.5) / math.log(persistence) if 0.0 < persistence < 1.0 else np.inf
        ),
        "n_obs": np.int64(n),
        "converged": np.bool_(bool(res.success) and interior),
        "message": str(res.message),
    }


def garch11_conditional_vol(
    returns,
    omega: float,
    alpha: float,
    beta: float,
    mu: float = 0.0,
    periods_per_year: float = TRADING_DAYS,
) -> np.ndarray:
    """Annualised conditional volatility sigma_t sqrt(252) aligned with ``returns``.

    Element t is the volatility of r_t given returns up to t - 1 (so it uses no information
    from day t). NaN returns are kept as NaN in the output and skipped by the recursion.
    """
    r = np.asarray(returns, dtype=np.float64).ravel()
    ok = np.isfinite(r)
    out = np.full(r.size, np.nan)
    if ok.any():
        s2 = garch11_conditional_variance(r[ok] - mu, omega, alpha, beta)[:-1]
        out[ok] = np.sqrt(s2 * periods_per_year)
    return out


def garch11_forecast_vol(
    returns,
    omega: float,
    alpha: float,
    beta: float,
    horizon,
    mu: float = 0.0,
    periods_per_year: float = TRADING_DAYS,
) -> np.ndarray:
    """Annualised GARCH(1,1) volatility forecast over the next ``horizon`` periods.

    With sigma_{n+1}^2 from the recursion over ``returns`` and V_L = omega / (1 - alpha - beta),
    E[sigma_{n+k}^2] = V_L + (alpha + beta)^(k-1) (sigma_{n+1}^2 - V_L); the result is
    sqrt(252 * mean_{k=1..h} E[sigma_{n+k}^2]) (the vol of the h-period return, annualised),
    vectorised over ``horizon`` (integer periods >= 1).
    """
    r = _clean(returns) - mu
    h = np.asarray(horizon, dtype=np.float64)
    s_next = garch11_conditional_variance(r, omega, alpha, beta)[-1]
    p = alpha + beta
    v_l = omega / (1.0 - p)
    with np.errstate(divide="ignore", invalid="ignore"):
        # mean of p^(k-1), k = 1..h = (1 - p^h) / ((1 - p) h)
        avg = np.where(h >= 1.0, (1.0 - p**h) / ((1.0 - p) * h), np.nan)
    return np.sqrt((v_l + avg * (s_next - v_l)) * periods_per_year)
