"""SABR: Hagan et al. (2002) lognormal implied-vol expansion and a least-squares smile fit.

Pure numpy functions, no I/O. The model: dF = a_t F^beta dW, da = nu a dZ, d<W, Z> = rho dt,
a_0 = alpha. Units:

- ``forward``, ``strike``: price (same currency unit), > 0; ``t``: time to expiry in years;
- ``alpha`` > 0: initial value of a_t, in price^(1 - beta) per sqrt(year) (for beta = 1 a
  lognormal vol, decimal); ``beta`` in [0, 1]: CEV exponent; ``rho`` in (-1, 1): correlation of
  the forward and its vol; ``nu`` >= 0: vol of vol (per sqrt(year));
- returned vols are Black (lognormal) implied vols, decimal per sqrt(year).

The implied vol is Hagan, Kumar, Lesniewski & Woodward (2002), "Managing smile risk", Wilmott
Magazine, eq. (2.17a), as published:

    sigma_B(K) = alpha / { (F K)^((1 - beta)/2) [1 + (1 - beta)^2/24 ln^2(F/K)
                                                  + (1 - beta)^4/1920 ln^4(F/K)] }
                 * z / x(z)
                 * { 1 + [ (1 - beta)^2/24 alpha^2 / (F K)^(1 - beta)
                          + rho beta nu alpha / (4 (F K)^((1 - beta)/2))
                          + (2 - 3 rho^2)/24 nu^2 ] t },
    z = nu / alpha (F K)^((1 - beta)/2) ln(F/K),
    x(z) = ln{ (sqrt(1 - 2 rho z + z^2) + z - rho) / (1 - rho) }.

z / x(z) is evaluated without cancellation: x(z) = log1p(z (sqrt(B) + 1 + z - 2 rho) /
((sqrt(B) + 1)(1 - rho))) for z >= 0, B = 1 - 2 rho z + z^2, and x(z; rho) = -x(-z; -rho) for
z < 0; for |z| < 1e-3 by its series 1 - rho z / 2 + (2 - 3 rho^2) z^2 / 12 + rho (5 - 6 rho^2)
z^3 / 24 + (-225 rho^4 + 240 rho^2 - 34) z^4 / 720 (x(z) is the integral of the Legendre
generating function (1 - 2 rho s + s^2)^(-1/2)). At K = F the formula is exactly the ATM
formula (2.18), alpha / F^(1 - beta) {1 + [...] t}, and it is smooth through K = F.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["sabr_alpha_from_atm", "sabr_fit", "sabr_vol"]

RHO_MAX = 0.9999
NU_MIN = 1e-6
_Z_SERIES = 1e-3
_START_RHO = np.linspace(-0.8, 0.8, 9)
_START_NU = np.geomspace(0.05, 5.0, 9)
_MAX_ITER = 100


def _z_over_x(z: np.ndarray, rho) -> np.ndarray:
    """z / x(z) of Hagan's formula, accurate for all z (series near 0), broadcasting (0 / 0 at
    z = 0 is replaced by the series: call inside ``np.errstate(invalid="ignore")``)."""
    za = np.abs(z)  # x(z; rho) = -x(-z; -rho): work with |z| and rho sign(z)
    ra = np.where(z < 0.0, -rho, rho)
    root = np.sqrt(1.0 - 2.0 * ra * za + za * za)
    out = za / np.log1p(za * (root + 1.0 + za - 2.0 * ra) / ((root + 1.0) * (1.0 - ra)))
    small = za < _Z_SERIES
    if np.any(small):
        zs = np.where(small, z, 0.0)
        r2 = rho * rho
        c3 = rho * (5.0 - 6.0 * r2) / 24.0
        c4 = (-225.0 * r2 * r2 + 240.0 * r2 - 34.0) / 720.0
        series = 1.0 + zs * (-0.5 * rho + zs * ((2.0 - 3.0 * r2) / 12.0 + zs * (c3 + zs * c4)))
        out = np.where(small, series, out)
    return out


def sabr_vol(forward, strike, t, alpha, beta, rho, nu) -> np.ndarray:
    """Hagan et al. (2002) lognormal SABR implied vol (eq. 2.17a), decimal; broadcasts.

    See the module docstring for the formula and units; K = F gives eq. (2.18).
    """
    f = np.asarray(forward, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64)
    nu = np.asarray(nu, dtype=np.float64)
    omb = 1.0 - beta
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_fk = np.log1p((f - k) / k)  # ln(F / K), exact near K = F
        fk_half = (f * k) ** (0.5 * omb)  # (F K)^((1 - beta) / 2)
        l2 = log_fk * log_fk
        o2 = omb * omb
        denom = fk_half * (1.0 + o2 / 24.0 * l2 + o2 * o2 / 1920.0 * l2 * l2)
        z = nu / alpha * fk_half * log_fk
        corr = (
            1.0
            + (
                o2 / 24.0 * alpha * alpha / (fk_half * fk_half)
                + 0.25 * rho * beta * nu * alpha / fk_half
                + (2.0 - 3.0 * rho * rho) / 24.0 * nu * nu
            )
            * t
        )
        return alpha / denom * _z_over_x(z, rho) * corr


def sabr_alpha_from_atm(forward, t, atm_vol, beta, rho, nu) -> np.ndarray:
    """alpha reproducing the ATM vol ``atm_vol`` through eq. (2.18), vectorised.

    The smallest positive root of the cubic (West 2005, "Calibration of the SABR model in
    illiquid markets") (1 - beta)^2 t / (24 F^(2 - 2 beta)) alpha^3 + rho beta nu t /
    (4 F^(1 - beta)) alpha^2 + (1 + (2 - 3 rho^2) nu^2 t / 24) alpha - atm_vol F^(1 - beta) = 0,
    by Newton's method from the root of the linear part, which converges to the smallest
    positive root when the (1 - beta)^2 and rho beta nu terms are small, as usual; NaN where it
    does not converge to a positive root.
    """
    f = np.asarray(forward, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    fb = f ** (1.0 - beta)
    c3 = (1.0 - beta) ** 2 * t / (24.0 * fb * fb)
    c2 = rho * beta * nu * t / (4.0 * fb)
    c1 = 1.0 + (2.0 - 3.0 * np.asarray(rho) ** 2) * np.asarray(nu) ** 2 * t / 24.0
    c0 = -np.asarray(atm_vol, dtype=np.float64) * fb
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = np.where(c1 > 0.0, -c0 / c1, -c0)
        for _ in range(30):
            val = ((c3 * a + c2) * a + c1) * a + c0
            der = (3.0 * c3 * a + 2.0 * c2) * a + c1
            step = val / der
            a = a - step
            if not np.any(np.abs(step) > 1e-15 * np.abs(a)):
                break
        val = ((c3 * a + c2) * a + c1) * a + c0
        ok = (a > 0.0) & (np.abs(val) <= 1e-10 * np.abs(c0))
    return np.where(ok, a, np.nan)


def _atm_vol(forward: float, strike: np.ndarray, vol: np.ndarray) -> float:
    """Implied vol at K = F: linear interpolation in ln K (nearest quote outside the range)."""
    order = np.argsort(strike)
    return float(np.interp(math.log(forward), np.log(strike[order]), vol[order]))


def sabr_fit(forward, strike, t, implied_vol, beta) -> dict:
    """Least-squares SABR (alpha, rho, nu) of one smile with ``beta`` fixed by the caller.

    ``forward`` and ``t`` (years) scalars; ``strike`` and ``implied_vol`` (Black vols,
    decimal) one element per quote (non-finite or non-positive inputs are ignored). Minimises
    sum_i (sabr_vol(K_i) - vol_i)^2 with Levenberg-Marquardt over (ln alpha, atanh(rho / 0.9999),
    ln nu), forward-difference Jacobian (all four parameter sets in one vectorised call), from
    the best point of a 9 x 9 grid of (rho, nu) with alpha solved from the ATM vol
    (``sabr_alpha_from_atm``).

    Returns a dict of Python floats/ints/bools/str: ``alpha``, ``rho``, ``nu``, ``beta``;
    ``rmse`` (RMS vol error, decimal); ``iterations`` (LM iterations); ``n`` (quotes used);
    ``converged`` (relative improvement or step below tolerance before the iteration limit);
    ``message``. Fewer than 3 usable quotes give NaN parameters.
    """
    f = float(forward)
    tt = float(t)
    b = float(beta)
    k = np.asarray(strike, dtype=np.float64).ravel()
    v = np.asarray(implied_vol, dtype=np.float64).ravel()
    if k.shape != v.shape:
        raise ValueError("strike and implied_vol must have the same length")
    keep = np.isfinite(k) & np.isfinite(v) & (k > 0.0) & (v > 0.0)
    k, v = k[keep], v[keep]
    n = int(k.size)
    nan = math.nan
    if n < 3 or not (f > 0.0 and tt > 0.0 and 0.0 <= b <= 1.0):
        return {
            "alpha": nan,
            "rho": nan,
            "nu": nan,
            "beta": b,
            "rmse": nan,
            "iterations": 0,
            "n": n,
            "converged": False,
            "message": "needs 3 quotes with K > 0, vol > 0, forward > 0, t > 0, 0 <= beta <= 1",
        }

    # start: alpha from the ATM vol for each (rho, nu) of the grid
    rr = np.repeat(_START_RHO, _START_NU.size)
    nn = np.tile(_START_NU, _START_RHO.size)
    atm = _atm_vol(f, k, v)
    aa = sabr_alpha_from_atm(f, tt, atm, b, rr, nn)
    aa = np.where(np.isfinite(aa), aa, atm * f ** (1.0 - b))
    vols = sabr_vol(f, k, tt, aa[:, None], b, rr[:, None], nn[:, None])
    sse = np.sum((vols - v) ** 2, axis=1)
    sse = np.where(np.isfinite(sse), sse, np.inf)
    i = int(np.argmin(sse))
    lo_u = math.log(NU_MIN)

    def params(u: np.ndarray):
        u = np.atleast_2d(u)
        return np.exp(u[:, 0]), RHO_MAX * np.tanh(u[:, 1]), np.exp(np.maximum(u[:, 2], lo_u))

    def resid(u: np.ndarray) -> np.ndarray:
        a, r, nu = params(u)
        return sabr_vol(f, k, tt, a[:, None], b, r[:, None], nu[:, None]) - v

    u = np.array([math.log(aa[i]), math.atanh(rr[i] / RHO_MAX), math.log(nn[i])])
    r0 = resid(u)[0]
    cost = float(r0 @ r0)
    lam = 1e-3
    eye = np.eye(3)
    converged = False
    it = 0
    message = "iteration limit"
    while it < _MAX_ITER:
        it += 1
        h = 1e-7 * np.maximum(np.abs(u), 1.0)
        rs = resid(np.vstack([u, u + eye * h]))
        r0 = rs[0]
        jac = ((rs[1:] - r0) / h[:, None]).T
        jtj = jac.T @ jac
        grad = jac.T @ r0
        if not np.all(np.isfinite(jtj)):
            message = "non-finite Jacobian"
            break
        improved = False
        while lam < 1e10:
            step = np.linalg.solve(jtj + lam * np.diag(np.diag(jtj) + 1e-300), -grad)
            un = u + step
            un[2] = max(un[2], lo_u)
            rn = resid(un)[0]
            new = float(rn @ rn)
            if np.isfinite(new) and new < cost:
                improved = True
                break
            lam *= 10.0
        if not improved:
            converged = True
            message = "no further decrease"
            break
        lam = max(lam * 0.1, 1e-12)
        rel = (cost - new) / max(cost, 1e-300)
        small = float(np.max(np.abs(un - u))) < 1e-10
        u, cost = un, new
        if rel < 1e-12 or small or cost < 1e-28 * n:
            converged = True
            message = "converged"
            break
    a, r, nu = (float(x[0]) for x in params(u))
    return {
        "alpha": a,
        "rho": r,
        "nu": nu,
        "beta": b,
        "rmse": math.sqrt(cost / n),
        "iterations": it,
        "n": n,
        "converged": converged,
        "message": message,
    }
