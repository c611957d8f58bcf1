"""The known implied-volatility surface: one SSVI surface per underlying and session.

For underlying i at the snapshot, with variance v (the simulated Heston state), the ATM total
implied variance of expiry T (years, ACT/365) is

    theta(T) = vrp_i (theta_h T + (v - theta_h)(1 - exp(-kappa T)) / kappa)   (Heston mean)
             + lambda_i (mu_J^2 + sigma_J^2) T                                  (jumps)
             + sum of earnings_std^2 over pending earnings moves before expiry  (events)

which is non-decreasing in T. Every expiry's smile is the SSVI slice
w(k) = theta/2 (1 + rho phi k + sqrt((phi k + rho)^2 + 1 - rho^2)), k = ln(K / F), with the
power-law phi(theta) = eta / (theta^gamma (1 + theta)^(1 - gamma)), 0 < gamma <= 1/2 and
eta (1 + |rho|) <= 2: free of butterfly and calendar arbitrage (Gatheral & Jacquier 2014).
Each slice is stored as raw SVI (a, b, rho, m, sigma). ``check_no_arbitrage`` verifies
Durrleman's g(k) >= 0 and the calendar condition numerically on every generated surface.

An earnings event adds its variance to the expiries it precedes: their IV runs up as the
event approaches (the fixed event variance over a shrinking T) and is crushed once it passes.
"""

from __future__ import annotations

import numpy as np

from python_udfs.svi import (
    ssvi_power_law_phi,
    ssvi_to_raw,
    svi_durrleman_g,
    svi_total_variance,
)

K_GRID = np.linspace(-4.0, 4.0, 161)  # log-moneyness grid of the numerical checks


class ArbitrageError(RuntimeError):
    """A generated surface failed its no-arbitrage check (a bug in the simulator)."""


def atm_total_variance(t, v, kappa, theta_h, vrp, jump_var_rate, event_var) -> np.ndarray:
    """ATM total implied variance theta(T) (decimal^2 * years); arguments broadcast."""
    t = np.asarray(t, dtype=np.float64)
    heston = theta_h * t + (v - theta_h) * (1.0 - np.exp(-kappa * t)) / kappa
    return vrp * heston + jump_var_rate * t + event_var


def slices(theta, eta, gamma, rho) -> dict[str, np.ndarray]:
    """SSVI curvature and the raw SVI parameters of each slice."""
    phi = ssvi_power_law_phi(theta, eta, gamma)
    a, b, r, m, s = ssvi_to_raw(theta, phi, rho)
    return {
        "theta": np.asarray(theta, dtype=np.float64),
        "phi": phi,
        "a": a,
        "b": b,
        "rho": r,
        "m": m,
        "sigma": s,
    }


def check_no_arbitrage(
    params: dict[str, np.ndarray], group: np.ndarray, t: np.ndarray, tol: float = 1e-10
) -> None:
    """Raise ``ArbitrageError`` unless every slice has g(k) >= 0 on ``K_GRID`` and, within
    each ``group`` (one underlying on one day), total variance is non-decreasing in ``t`` at
    every k of the grid."""
    k = K_GRID[None, :]
    col = {name: params[name][:, None] for name in ("a", "b", "rho", "m", "sigma")}
    g = svi_durrleman_g(k, **col)
    if not np.all(g >= -tol):
        bad = int(np.argmin(g.min(axis=1)))
        raise ArbitrageError(f"butterfly arbitrage in slice {bad}: min g = {g.min():.3g}")
    w = svi_total_variance(k, **col)
    order = np.lexsort((t, group))
    w, grp = w[order], group[order]
    same = grp[1:] == grp[:-1]
    dw = w[1:] - w[:-1]
    if np.any(same[:, None] & (dw < -tol)):
        raise ArbitrageError(f"calendar arbitrage: min dw = {dw[same].min():.3g}")
