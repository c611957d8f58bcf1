"""Raw SVI and SSVI total-variance smiles and their no-arbitrage diagnostics.

Pure numpy functions, no I/O. Conventions:

- ``k``: log forward moneyness, k = ln(K / F).
- total implied variance w(k) = vol(k)^2 * t, with vol decimal and t in years.
- raw SVI (Gatheral 2004): w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)),
  with b >= 0, |rho| < 1, sigma > 0, a + b sigma sqrt(1 - rho^2) >= 0.
- SSVI (Gatheral & Jacquier 2014): w(k, theta) = theta / 2 (1 + rho phi k
  + sqrt((phi k + rho)^2 + 1 - rho^2)), theta = ATM total variance.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ssvi_power_law_phi",
    "ssvi_to_raw",
    "svi_durrleman_g",
    "svi_total_variance",
    "svi_total_variance_derivatives",
]


def svi_total_variance(k, a, b, rho, m, sigma) -> np.ndarray:
    """Raw SVI total implied variance w(k) (decimal^2 * years) at log-moneyness ``k``."""
    x = np.asarray(k, dtype=np.float64) - m
    return a + b * (rho * x + np.sqrt(x * x + sigma * sigma))


def svi_total_variance_derivatives(k, a, b, rho, m, sigma):
    """(w, dw/dk, d2w/dk2) of the raw SVI slice at ``k``."""
    x = np.asarray(k, dtype=np.float64) - m
    root = np.sqrt(x * x + sigma * sigma)
    w = a + b * (rho * x + root)
    w1 = b * (rho + x / root)
    w2 = b * sigma * sigma / (root * root * root)
    return w, w1, w2


def svi_durrleman_g(k, a, b, rho, m, sigma) -> np.ndarray:
    """Durrleman's butterfly condition g(k) of a raw SVI slice (dimensionless).

    g(k) = (1 - k w' / (2 w))^2 - (w'^2 / 4) (1 / w + 1 / 4) + w'' / 2. The risk-neutral
    density implied by the slice is non-negative at ``k`` iff g(k) >= 0 (and w > 0).
    """
    k = np.asarray(k, dtype=np.float64)
    w, w1, w2 = svi_total_variance_derivatives(k, a, b, rho, m, sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (1.0 - k * w1 / (2.0 * w)) ** 2 - 0.25 * w1 * w1 * (1.0 / w + 0.25) + 0.5 * w2


def ssvi_power_law_phi(theta, eta, gamma) -> np.ndarray:
    """SSVI power-law curvature phi(theta) = eta / (theta^gamma (1 + theta)^(1 - gamma)).

    With 0 < gamma <= 1/2 and eta (1 + |rho|) <= 2 the SSVI surface is free of static
    arbitrage (Gatheral & Jacquier 2014, section 4) for any non-decreasing theta(t).
    """
    theta = np.asarray(theta, dtype=np.float64)
    return eta / (theta**gamma * (1.0 + theta) ** (1.0 - gamma))


def ssvi_to_raw(theta, phi, rho):
    """Raw SVI parameters (a, b, rho, m, sigma) of the SSVI slice with ATM total variance theta.

    a = theta (1 - rho^2) / 2, b = theta phi / 2, m = -rho / phi, sigma = sqrt(1 - rho^2) / phi.
    """
    theta = np.asarray(theta, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64) * np.ones_like(theta)
    a = 0.5 * theta * (1.0 - rho * rho)
    b = 0.5 * theta * phi
    m = -rho / phi
    sigma = np.sqrt(1.0 - rho * rho) / phi
    return a, b, rho, m, sigma
