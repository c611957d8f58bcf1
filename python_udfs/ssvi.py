"""SSVI implied-variance surface (Gatheral & Jacquier 2014) with the power-law phi: evaluation
and least-squares fit across expiries.

Pure numpy + scipy functions, no I/O. Conventions (as in ``python_udfs.svi``):

- ``k``: log forward moneyness, k = ln(K / F); ``t``: time to expiry in years;
- total implied variance w = vol^2 t (vol decimal); theta_t = w(0, t), the ATM total variance;
- w(k, theta) = theta / 2 (1 + rho phi k + sqrt((phi k + rho)^2 + 1 - rho^2)) with the power law
  phi(theta) = eta / (theta^gamma (1 + theta)^(1 - gamma)).

With theta_t non-decreasing in t, 0 < gamma <= 1/2 and eta (1 + |rho|) <= 2 the surface is free
of static arbitrage (Gatheral & Jacquier 2014, remark 4.4 with theorems 4.1 and 4.2: theta phi
(1 + |rho|) <= 2 < 4 and theta phi^2 (1 + |rho|) <= 4 rule out butterflies, theta phi(theta)
increasing and d(theta phi)/d theta <= phi rule out calendar spreads). ``ssvi_fit`` keeps all
of these by construction: rho in [-0.999, 0.999], eta = 2 e / (1 + |rho|) with e in (0, 1],
gamma in (0, 1/2], theta_1 > 0 and theta_j = theta_1 + sum of non-negative increments, fitted
by bounded least squares (``scipy.optimize.least_squares``, trust-region reflective, analytic
Jacobian) from the ATM total variances of the quotes and the best of a small grid of
(rho, e, gamma).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy.optimize import least_squares

from python_udfs.svi import (
    K_CHECK,
    calendar_violations,
    ssvi_power_law_phi,
    ssvi_to_raw,
    svi_durrleman_g,
    svi_total_variance,
)

__all__ = ["ssvi_fit", "ssvi_total_variance"]

RHO_MAX = 0.999
GAMMA_MIN = 1e-3
E_MIN = 1e-6  # eta (1 + |rho|) / 2 >= E_MIN
THETA_MIN = 1e-10
_START_RHO = np.linspace(-0.9, 0.9, 7)
_START_E = np.array([0.2, 0.5, 0.9])
_START_GAMMA = np.array([0.1, 0.3, 0.5])


def ssvi_total_variance(k, theta, rho, eta, gamma) -> np.ndarray:
    """SSVI total implied variance w(k, theta) (decimal^2 * years), power-law phi.

    ``theta``: ATM total variance of the slice (broadcasts against ``k``); ``rho``, ``eta``,
    ``gamma``: the surface parameters. Evaluated as the equivalent raw SVI slice
    (``ssvi_to_raw``).
    """
    theta = np.asarray(theta, dtype=np.float64)
    phi = ssvi_power_law_phi(theta, eta, gamma)
    return svi_total_variance(k, *ssvi_to_raw(theta, phi, rho))


def _unpack(x: np.ndarray):
    rho = float(x[0])
    eta = 2.0 * float(x[1]) / (1.0 + abs(rho))
    gamma = float(x[2])
    theta = np.cumsum(x[3:])
    return rho, eta, gamma, theta


def _model(x, k, idx):
    """w at the quotes and its Jacobian w.r.t. x = (rho, e, gamma, theta_1, increments)."""
    rho, eta, gamma, theta = _unpack(x)
    phi = ssvi_power_law_phi(theta, eta, gamma)
    th = theta[idx]
    ph = phi[idx]
    w = svi_total_variance(k, *ssvi_to_raw(th, ph, rho))
    u = ph * k
    root = np.sqrt((u + rho) ** 2 + 1.0 - rho * rho)
    dw_drho = 0.5 * th * u * (1.0 + 1.0 / root)  # at fixed phi and theta
    dw_dphi = 0.5 * th * k * (rho + (u + rho) / root)
    sign = 1.0 if rho > 0.0 else -1.0 if rho < 0.0 else 0.0
    jac = np.empty((k.size, x.size))
    jac[:, 0] = dw_drho - dw_dphi * ph * sign / (1.0 + abs(rho))  # eta = 2 e / (1 + |rho|)
    jac[:, 1] = dw_dphi * ph / float(x[1])
    jac[:, 2] = dw_dphi * ph * np.log1p(1.0 / th)
    dw_dtheta = w / th + dw_dphi * ph * (-gamma / th + (gamma - 1.0) / (1.0 + th))
    # theta_j = theta_1 + increments 2..j: column i covers the expiries j >= i
    jac[:, 3:] = dw_dtheta[:, None] * (idx[:, None] >= np.arange(theta.size)[None, :])
    return w, jac


def _atm(k, w, idx, n_exp: int) -> np.ndarray:
    """ATM total variance per expiry: linear interpolation at k = 0 (nearest quote outside)."""
    out = np.empty(n_exp)
    for j in range(n_exp):
        sel = idx == j
        kj, wj = k[sel], w[sel]
        order = np.argsort(kj)
        out[j] = np.interp(0.0, kj[order], wj[order])
    return out


def _nan_result(n: int, message: str) -> dict:
    nan = math.nan
    return {
        "rho": nan,
        "eta": nan,
        "gamma": nan,
        "expiries": [],
        "theta": [],
        "phi": [],
        "rmse": nan,
        "rmse_vol": nan,
        "calendar_ok": False,
        "butterfly_ok": False,
        "min_g": nan,
        "iterations": 0,
        "n": n,
        "converged": False,
        "message": message,
    }


def ssvi_fit(log_moneyness, total_variance, t, weights=None) -> dict:
    """Weighted least-squares SSVI surface (power-law phi) over all expiries at once.

    One element per quote in each of ``log_moneyness`` (k = ln(K / F)), ``total_variance``
    (w = vol^2 t, decimal^2 * years), ``t`` (years; quotes with equal t form one expiry) and
    optional ``weights`` (>= 0; quotes with weight 0, w <= 0, t <= 0 or a non-finite input
    are ignored). Minimises sum_i p_i (w_ssvi(k_i, theta_{t_i}) - w_i)^2, p = weights
    normalised to sum 1, over rho, eta, gamma and one theta per expiry under the no-arbitrage
    constraints of the module docstring.

    Returns a dict of Python floats/ints/bools/lists/str: ``rho``, ``eta``, ``gamma``;
    ``expiries`` (sorted distinct t, years), ``theta`` (ATM total variance per expiry,
    non-decreasing) and ``phi`` (phi(theta) per expiry); ``rmse`` (weighted, total variance)
    and ``rmse_vol`` (weighted, implied vol decimal, vol = sqrt(w / t)); ``calendar_ok``
    (total variance non-decreasing in t on ``K_CHECK``, ``svi.calendar_violations``),
    ``butterfly_ok`` (Durrleman g >= 0 and w > 0 on ``K_CHECK`` for every expiry) and
    ``min_g``; ``iterations`` (Jacobian evaluations of the least squares), ``n`` (quotes
    used), ``converged`` and ``message``. Needs more quotes than the 3 + (number of
    expiries) parameters, else NaN parameters.
    """
    k = np.asarray(log_moneyness, dtype=np.float64).ravel()
    w = np.asarray(total_variance, dtype=np.float64).ravel()
    tt = np.broadcast_to(np.asarray(t, dtype=np.float64).ravel(), k.shape)
    if w.shape != k.shape:
        raise ValueError("log_moneyness and total_variance must have the same length")
    wt = (
        np.ones_like(k)
        if weights is None
        else np.broadcast_to(np.asarray(weights, dtype=np.float64).ravel(), k.shape)
    )
    keep = np.isfinite(k) & np.isfinite(w) & (w > 0.0) & np.isfinite(tt) & (tt > 0.0)
    keep &= np.isfinite(wt) & (wt > 0.0)
    k, w, tt, wt = k[keep], w[keep], tt[keep], wt[keep]
    n = int(k.size)
    expiries, idx = np.unique(tt, return_inverse=True)
    n_exp = int(expiries.size)
    if n_exp == 0 or n <= 3 + n_exp:
        return _nan_result(n, "needs more quotes than 3 + number of expiries")
    p = wt / float(np.sum(wt))
    sq = np.sqrt(p)

    # start: ATM total variances (made non-decreasing), best (rho, e, gamma) of a small grid
    atm = np.maximum.accumulate(np.maximum(_atm(k, w, idx, n_exp), THETA_MIN * 10.0))
    grid = np.array(list(itertools.product(_START_RHO, _START_E, _START_GAMMA)))
    eta = 2.0 * grid[:, 1] / (1.0 + np.abs(grid[:, 0]))
    phi = ssvi_power_law_phi(atm[None, :], eta[:, None], grid[:, 2, None])
    th = atm[idx][None, :]
    wg = svi_total_variance(k[None, :], *ssvi_to_raw(th, phi[:, idx], grid[:, 0, None]))
    best = grid[int(np.argmin(((wg - w) ** 2) @ p))]
    x0 = np.concatenate([best, atm[:1], np.diff(atm)])
    lower = np.concatenate([[-RHO_MAX, E_MIN, GAMMA_MIN, THETA_MIN], np.zeros(n_exp - 1)])
    upper = np.concatenate([[RHO_MAX, 1.0, 0.5], np.full(n_exp, np.inf)])
    x0 = np.clip(x0, lower, upper)

    def fun(x):
        return sq * (_model(x, k, idx)[0] - w)

    def jac(x):
        return _model(x, k, idx)[1] * sq[:, None]

    res = least_squares(
        fun,
        x0,
        jac=jac,
        bounds=(lower, upper),
        method="trf",
        x_scale="jac",
        ftol=1e-12,
        xtol=1e-12,
        gtol=1e-12,
        max_nfev=400,
    )
    rho, eta, gamma, theta = _unpack(res.x)
    phi = ssvi_power_law_phi(theta, eta, gamma)
    fit = _model(res.x, k, idx)[0]
    rmse = math.sqrt(float(((fit - w) ** 2) @ p))
    dv = np.sqrt(np.maximum(fit, 0.0) / tt) - np.sqrt(np.maximum(w, 0.0) / tt)
    rmse_vol = math.sqrt(float((dv * dv) @ p))

    raw = ssvi_to_raw(theta, phi, rho)
    col = [np.asarray(v)[:, None] for v in raw]
    g = svi_durrleman_g(K_CHECK, *col)
    wk = svi_total_variance(K_CHECK, *col)
    min_g = float(np.min(g)) if np.all(np.isfinite(g)) else -math.inf
    butterfly_ok = bool(min_g >= 0.0 and float(np.min(wk)) > 0.0)
    calendar_ok = calendar_violations(expiries, *raw)["count"] == 0
    return {
        "rho": rho,
        "eta": eta,
        "gamma": gamma,
        "expiries": [float(v) for v in expiries],
        "theta": [float(v) for v in theta],
        "phi": [float(v) for v in phi],
        "rmse": rmse,
        "rmse_vol": rmse_vol,
        "calendar_ok": bool(calendar_ok),
        "butterfly_ok": butterfly_ok,
        "min_g": min_g,
        "iterations": int(res.njev if res.njev is not None else res.nfev),
        "n": n,
        "converged": bool(res.success),
        "message": str(res.message),
    }
