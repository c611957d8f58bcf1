"""Heston (1993) stochastic-volatility model: European prices, their parameter gradient, and
calibration to an option surface.

Pure numpy + scipy, no I/O. Model under the pricing measure, with a continuous dividend yield:

    dS_t = (r - q) S_t dt + sqrt(v_t) S_t dW_t,
    dv_t = kappa (theta - v_t) dt + sigma sqrt(v_t) dZ_t,   d<W, Z>_t = rho dt.

Units and conventions (as in ``python_udfs.black_scholes``):

- ``spot``, ``strike`` and prices: per share (same currency unit).
- ``t``: time to expiry in years (ACT/365 in this project).
- ``r``, ``q``: continuously compounded risk-free rate and dividend yield, decimal per year.
- ``kappa``: mean-reversion speed of the variance, per year.
- ``theta``, ``v0``: long-run and initial variance, decimal^2 per year (0.04 = (20 %)^2).
- ``sigma``: volatility of the variance ("vol of vol"), decimal per sqrt(year).
- ``rho``: correlation of the two Brownian motions, in [-1, 1].
- ``is_call``: boolean (array); False means put.

Pricing (Lewis 2001, with a Black-Scholes control variate). With F = spot e^{(r - q) t},
x = ln(F / K), phi(u) = E[exp(i u ln(S_t / F))] and w_cv the model's expected integrated
variance theta t + (v0 - theta)(1 - e^{-kappa t}) / kappa,

    price = Black76(F, K, t, r, sqrt(w_cv / t))
            + e^{-r t} sqrt(F K) / pi * int_0^inf Re[e^{i u x} (phi_BS(u - i/2) - phi(u - i/2))]
                                                 / (u^2 + 1/4) du,

where phi_BS(u - i/2) = exp(-w_cv (u^2 + 1/4) / 2). The correction term is the same for a call
and a put (the model prices satisfy put-call parity exactly) and the control variate is the
project's accurate Black-76 price, so out-of-the-money prices carry only the absolute error of
the integral. The characteristic function is the "little trap" form of Albrecher, Mayer,
Schoutens and Tistaert (2007), which needs only principal branches, rewritten so that no term
divides by sigma^2 (sigma -> 0 gives Black-Scholes with the integrated variance); at
u - i/2 the quantity u^2 + i u becomes the real p = u^2 + 1/4:

    xi = kappa - sigma rho (i u + 1/2),  d = sqrt(xi^2 + sigma^2 p),  E = e^{-d t},
    a = xi - d = -sigma^2 p / (xi + d),  z = a (1 - E) / (2 d),
    A = p (1 - E) / (xi + d - a E),  B = p / (xi + d) [(1 - E) log1p(z) / (z d) - t],
    ln phi(u - i/2) = -v0 A + kappa theta B.

The gradient with respect to (kappa, theta, sigma, rho, v0) differentiates this expression in
closed form (chain rule through xi and d, in the spirit of Cui, del Bano Rollin and Germano
2017) and integrates it with the same quadrature as the price.

Quadrature. Per maturity, the integral is truncated at the first U of a geometric scan beyond
which |phi(u - i/2)| / u < pi * 1e-12 (a tail below ~1e-12 sqrt(F K) e^{-rt}). [0, U] is split
into panels growing geometrically from [0, <= 2] (the characteristic function can have
singularities, the moment explosions, as close as 1/2 to the real axis, which one long panel
resolves poorly), and each panel gets Gauss-Legendre nodes in proportion to the phase the
integrand turns through on it (the strikes' largest |x| times the width, plus the change of the
characteristic function's own phase); panels needing more than 128 nodes are cut into equal
sub-panels. All options of one maturity share the nodes: the integral is a matrix product of
cos/sin(u x) with the characteristic-function values. Accuracy: largest absolute error 3.6e-12
(spot 100) against QuantLib's AnalyticHestonEngine over 342 random parameter sets (kappa
0.05..15, theta 0.003..0.6, sigma 0.02..3.5, rho -0.98..0.7, v0 0.001..0.6, many violating
Feller), maturities 1 week .. 5 years, strikes 50..200, calls and puts (QuantLib's Gauss-Lobatto
and Gauss-Laguerre engines each miss by up to 1e-6..1e-2 on some of these sets, so the nearer of
the two served as reference); Lewis's 15-digit reference prices are reproduced to ~1e-12.
A 320-option surface (8 maturities x 40 strikes) prices in ~2 ms.

Calibration (``heston_calibrate``) minimises vega-weighted price residuals (price error / Black
vega = first-order implied-vol error) with scipy's trust-region least squares and the analytic
Jacobian, started from the best of a seeded Latin-hypercube sample scored in one batch (cold
start) or from the previous parameters (warm start). During a solve the quadrature layout and
its cos/sin matrices are fixed (laid out for the starting point) and the control variate uses
the market's ATM variance per maturity (so its Black prices are computed once); the solution is
re-checked with ``heston_price`` at full accuracy, which also gives the reported IV errors.
"""

from __future__ import annotations

import bisect
import functools
import math
import time

import numpy as np
from scipy.optimize import least_squares

from python_udfs.black_scholes import black76_price, bs_greeks, forward_price
from python_udfs.implied_vol import implied_vol

__all__ = [
    "BOUNDS",
    "PARAM_NAMES",
    "heston_calibrate",
    "heston_price",
    "heston_price_gradient",
]

PARAM_NAMES = ("kappa", "theta", "sigma", "rho", "v0")
BOUNDS = {
    "kappa": (1e-3, 20.0),
    "theta": (1e-4, 2.0),
    "sigma": (1e-3, 5.0),
    "rho": (-0.999, 0.999),
    "v0": (1e-4, 2.0),
}

_TAIL_TOL = 1e-12  # truncation: tail of the integral below this times sqrt(F K) e^{-rt}
_SCAN = 0.25 * 2.0 ** (np.arange(0, 96) / 4.0)  # truncation scan, 0.25 .. ~3e6
_SCAN_P = _SCAN * _SCAN + 0.25
_SCAN_LOG = np.log(_SCAN)
_SCAN_WITH_ZERO = np.concatenate(([0.0], _SCAN))
_FIRST_PANEL = 2.0  # upper end of the first quadrature panel (at most)
_PANEL_RATIO = 4.0  # geometric growth of the panels
_PANEL_BASE = 16  # Gauss-Legendre nodes per panel without oscillation
_NODES_PER_RADIAN = 0.3  # extra nodes per radian of phase turned on a panel
_MAX_NODES = 65536  # per maturity
# Gauss-Legendre rule sizes used (a few cached rules; a panel needing more is subdivided)
_RULE_SIZES = (8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128)
_CHUNK_ELEMENTS = 1 << 21  # options x nodes per block of the trigonometric matrices


# --------------------------------------------------------------------------------------------
# characteristic function
# --------------------------------------------------------------------------------------------


def _clog1p(z: np.ndarray) -> np.ndarray:
    """log(1 + z) for complex z in real arithmetic: accurate for small |z| (numpy's complex
    log1p is not) and several times faster than numpy's complex log."""
    x, y = z.real, z.imag
    return 0.5 * np.log1p(x * (2.0 + x) + y * y) + 1j * np.arctan2(y, 1.0 + x)


def _cexpm1(z: np.ndarray) -> np.ndarray:
    """exp(z) - 1 for complex z, accurate for small |z|."""
    x, y = z.real, z.imag
    s = np.sin(0.5 * y)
    return (np.expm1(x) * np.cos(y) - 2.0 * s * s) + 1j * (np.exp(x) * np.sin(y))


def _exp_neg(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(e^{-w}, 1 - e^{-w}) for complex w, the latter accurate for small |w| too."""
    e = np.exp(-w)
    ome = 1.0 - e
    small = np.abs(w) < 0.1  # elsewhere 1 - e^{-w} loses at most one digit
    if small.any():
        ome[small] = -_cexpm1(-w[small])
    return e, ome


def _log1p_ratio(z: np.ndarray, derivative: bool = False):
    """R(z) = log(1 + z) / z (and R'(z)) for complex z, with its Taylor series near 0.

    For |z| < 1e-2 (and z = 0) 7 terms of the series.
    """
    small = np.abs(z) < 1e-2
    any_small = bool(small.any())
    zb = np.where(small, 1.0, z) if any_small else z
    ratio = _clog1p(zb) / zb
    dratio = (1.0 / (1.0 + zb) - ratio) / zb if derivative else None
    if any_small:
        zz = z[small]
        ratio[small] = 1.0 + zz * (
            -1 / 2 + zz * (1 / 3 + zz * (-1 / 4 + zz * (1 / 5 + zz * (-1 / 6 + zz * (1 / 7)))))
        )
        if derivative:
            dratio[small] = -1 / 2 + zz * (
                2 / 3 + zz * (-3 / 4 + zz * (4 / 5 + zz * (-5 / 6 + zz * (6 / 7 + zz * (-7 / 8)))))
            )
    return ratio, dratio


def _lncf(u, tau, kappa, theta, sigma, rho, v0, grad: bool = False):
    """ln phi(u - i/2) of ln(S_t / F) under Heston, for real u >= 0 (all inputs broadcast).

    Returns the complex log characteristic function and, with ``grad``, the list of its
    derivatives with respect to (kappa, theta, sigma, rho, v0).
    """
    with np.errstate(all="ignore"):
        return _lncf_impl(u, tau, kappa, theta, sigma, rho, v0, grad)


def _lncf_impl(u, tau, kappa, theta, sigma, rho, v0, grad):
    u = np.asarray(u, dtype=np.float64)
    p = u * u + 0.25
    iw = 0.5 + 1j * u  # i (u - i/2)
    kappa_eff = kappa - 0.5 * sigma * rho
    xi = kappa - sigma * rho * iw
    ssp = sigma * sigma * p
    d = np.sqrt(xi * xi + ssp)
    # s = xi + d and a = xi - d, s a = -sigma^2 p: compute the one without cancellation
    # (Re d > |Re xi| on the real line, so xi + d cancels only when Re xi < 0)
    s_direct = xi + d
    a_direct = xi - d
    pos = np.asarray(kappa_eff >= 0.0)
    s = np.where(pos, s_direct, -ssp / a_direct)
    a = np.where(pos, -ssp / s_direct, a_direct)
    e, ome = _exp_neg(d * tau)  # E = e^{-d t} and 1 - E
    den = s - a * e
    big_a = p * ome / den
    z = a * ome / (2.0 * d)
    ratio, dratio = _log1p_ratio(z, grad)
    q_term = ome * ratio / d - tau
    big_b = p * q_term / s
    lnphi = -v0 * big_a + kappa * theta * big_b
    if not grad:
        return lnphi, None
    # partial derivatives of A and B with respect to xi and d (independent variables)
    te = tau * e
    den_d = 1.0 + e + a * te
    a_xi = -big_a * ome / den
    a_d = (p * te - big_a * den_d) / den
    z_xi = ome / (2.0 * d)
    z_d = (a * te - ome) / (2.0 * d) - z / d
    q_xi = ome * dratio * z_xi / d
    q_d = (te * ratio + ome * dratio * z_d) / d - ome * ratio / (d * d)
    b_xi = (p * q_xi - big_b) / s
    b_d = (p * q_d - big_b) / s
    # xi and d as functions of the parameters
    xi_sigma = -rho * iw
    xi_rho = -sigma * iw
    d_kappa = xi / d
    d_sigma = (xi * xi_sigma + sigma * p) / d
    d_rho = xi * xi_rho / d
    kt = kappa * theta
    g_kappa = -v0 * (a_xi + a_d * d_kappa) + theta * big_b + kt * (b_xi + b_d * d_kappa)
    g_theta = kappa * big_b
    g_sigma = -v0 * (a_xi * xi_sigma + a_d * d_sigma) + kt * (b_xi * xi_sigma + b_d * d_sigma)
    g_rho = -v0 * (a_xi * xi_rho + a_d * d_rho) + kt * (b_xi * xi_rho + b_d * d_rho)
    g_v0 = -big_a
    return lnphi, [g_kappa, g_theta, g_sigma, g_rho, g_v0]


def _integrated_variance(tau, kappa, theta, v0):
    """E[int_0^t v_s ds] = theta t + (v0 - theta) (1 - e^{-kappa t}) / kappa (decimal^2 yr)."""
    kt = kappa * tau
    with np.errstate(all="ignore"):
        frac = np.where(kt > 1e-10, -np.expm1(-kt) / np.where(kt > 0, kappa, 1.0), tau)
    return theta * tau + (v0 - theta) * frac


# --------------------------------------------------------------------------------------------
# quadrature
# --------------------------------------------------------------------------------------------


@functools.cache
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (n <= 128: one of ``_RULE_SIZES``)."""
    nodes, weights = np.polynomial.legendre.leggauss(n)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


def _rule_size(n: float) -> int:
    """The smallest rule size >= n (n <= _RULE_SIZES[-1])."""
    return _RULE_SIZES[min(bisect.bisect_left(_RULE_SIZES, n), len(_RULE_SIZES) - 1)]


def _grids(taus, xmax, params, tail_tol: float | None = None, base: int | None = None):
    """Quadrature nodes for each maturity: list of (u, weights / (u^2 + 1/4), complete).

    ``complete`` is False where the quadrature could not reach its accuracy: the
    characteristic function had not decayed by the end of the scan, or the nodes needed
    exceeded ``_MAX_NODES`` (extreme parameters, e.g. a vol of vol far above sqrt(v0) at short
    maturities); the nodes are then capped and the result is only indicative.

    ``taus`` (G,) maturities, ``xmax`` (G,) largest |ln(F/K)| of the options of each
    maturity, ``params`` (kappa, theta, sigma, rho, v0) scalars; ``tail_tol`` (default
    ``_TAIL_TOL``) and ``base`` (nodes of a panel on which the integrand does not oscillate,
    default ``_PANEL_BASE``).
    """
    tail_tol = _TAIL_TOL if tail_tol is None else tail_tol
    base = _PANEL_BASE if base is None else base
    kappa, theta, sigma, rho, v0 = params
    taus = np.asarray(taus, dtype=np.float64)
    lnphi, _ = _lncf(_SCAN[None, :], taus[:, None], kappa, theta, sigma, rho, v0)
    w_cv = _integrated_variance(taus, kappa, theta, v0)
    ln_mag = np.maximum(lnphi.real, -0.5 * w_cv[:, None] * _SCAN_P[None, :])
    ok = ln_mag - _SCAN_LOG[None, :] < math.log(math.pi * tail_tol)
    ok &= ~np.isnan(ln_mag)
    # last scan point that fails the tail criterion (or -1): the one after it is U
    last_bad = _SCAN.size - 1 - np.argmin(ok[:, ::-1], axis=1)
    last_bad = np.where(ok.all(axis=1), -1, last_bad)
    uppers = _SCAN[np.minimum(last_bad + 1, _SCAN.size - 1)]
    phase_scan = np.concatenate((np.zeros((taus.size, 1)), lnphi.imag), axis=1)  # real at 0
    room = _RULE_SIZES[-1] - base
    out = []
    for g in range(taus.size):
        upper = float(uppers[g])
        # panels [0, b0], [b0, r b0], ..., [.., U] with b0 <= _FIRST_PANEL
        m = max(0, math.ceil(math.log(upper / _FIRST_PANEL) / math.log(_PANEL_RATIO)))
        edges = np.concatenate(([0.0], upper / _PANEL_RATIO ** np.arange(m, -1, -1)))
        # phase of phi at the edges (interpolated on the scan, where it is continuous)
        phase = np.interp(edges, _SCAN_WITH_ZERO, phase_scan[g])
        width = np.diff(edges)
        turn = float(xmax[g]) * width + np.abs(np.diff(phase))
        # a panel needing more than the largest rule is cut into equal sub-panels
        parts = np.maximum(np.ceil(_NODES_PER_RADIAN * turn / room), 1.0)
        total = float(np.sum(parts)) * _RULE_SIZES[-1]
        complete = bool(total <= _MAX_NODES and last_bad[g] < _SCAN.size - 1)
        if total > _MAX_NODES:  # extreme parameters: cap the work (and the accuracy)
            parts = np.maximum(np.floor(parts * (_MAX_NODES / total)), 1.0)
        us, ws = [], []
        for lo, wd, k, tn in zip(edges[:-1], width, parts.astype(int), turn, strict=True):
            xg, wg = _gauss_legendre(_rule_size(base + _NODES_PER_RADIAN * tn / k))
            h = wd / k
            us.append((lo + h * np.arange(k))[:, None] + (0.5 * h) * (xg + 1.0))
            ws.append(np.broadcast_to((0.5 * h) * wg, (k, wg.size)))
        u = np.concatenate([a.ravel() for a in us])
        out.append((u, np.concatenate([a.ravel() for a in ws]) / (u * u + 0.25), complete))
    return out


class _Surface:
    """Options grouped by maturity, with the quadrature of each maturity.

    ``forward``, ``strike``, ``t``, ``r`` are 1-d arrays of valid options (t > 0, F > 0,
    K > 0). The correction integral of option i is scale_i * sum_j wq_j Re[e^{i u_j x_i} g_j]
    for a function g of the nodes u_j of its maturity.
    """

    def __init__(self, forward, strike, t, r, cache_trig: bool = False):
        self.n = forward.size
        self.x = np.log(forward / strike)
        self.scale = np.exp(-r * t) * np.sqrt(forward) * np.sqrt(strike) / math.pi
        self.taus, inverse = np.unique(t, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(self.taus.size + 1))
        self.groups = [order[bounds[g] : bounds[g + 1]] for g in range(self.taus.size)]
        self.xmax = np.array([np.max(np.abs(self.x[idx])) for idx in self.groups])
        self.cache_trig = cache_trig

    def build_grid(self, params, tail_tol: float | None = None, base: int | None = None) -> None:
        grids = _grids(self.taus, self.xmax, params, tail_tol, base)
        self.u = np.concatenate([u for u, _, _ in grids])
        self.wq = np.concatenate([w for _, w, _ in grids])
        self.complete = np.array([c for _, _, c in grids])
        sizes = [u.size for u, _, _ in grids]
        self.tau_nodes = np.repeat(self.taus, sizes)
        self.offsets = np.concatenate(([0], np.cumsum(sizes)))
        self.trig = None
        if self.cache_trig:
            self.trig = []
            for g, idx in enumerate(self.groups):
                u = self.u[self.offsets[g] : self.offsets[g + 1]]
                xu = np.multiply.outer(self.x[idx], u)
                self.trig.append(
                    (self.scale[idx, None] * np.cos(xu), self.scale[idx, None] * np.sin(xu))
                )

    def integrate(self, g: np.ndarray) -> np.ndarray:
        """scale_i sum_j wq_j Re[e^{i u_j x_i} g_jk]: (n_options, k) from g (n_nodes, k)."""
        g = g * self.wq[:, None]
        gr = np.ascontiguousarray(g.real)
        gi = np.ascontiguousarray(g.imag)
        out = np.empty((self.n, g.shape[1]))
        for gidx, idx in enumerate(self.groups):
            sl = slice(self.offsets[gidx], self.offsets[gidx + 1])
            if self.trig is not None:
                c, s = self.trig[gidx]
                out[idx] = c @ gr[sl] - s @ gi[sl]
                continue
            u = self.u[sl]
            chunk = max(1, _CHUNK_ELEMENTS // u.size)
            for lo in range(0, idx.size, chunk):
                sub = idx[lo : lo + chunk]
                xu = np.multiply.outer(self.x[sub], u)
                out[sub] = self.scale[sub, None] * (np.cos(xu) @ gr[sl] - np.sin(xu) @ gi[sl])
        return out

    def correction(self, params, w_cv_groups, grad: bool = False):
        """Correction to the control-variate prices (n,), and its (n, 5) gradient."""
        kappa, theta, sigma, rho, v0 = params
        lnphi, dln = _lncf(self.u, self.tau_nodes, kappa, theta, sigma, rho, v0, grad)
        phi = np.exp(lnphi)
        w_nodes = np.repeat(w_cv_groups, np.diff(self.offsets))
        cols = [np.exp(-0.5 * w_nodes * (self.u * self.u + 0.25)) - phi]
        if grad:
            cols.extend(-phi * dl for dl in dln)
        res = self.integrate(np.stack(cols, axis=1))
        return res[:, 0], (res[:, 1:] if grad else None)

    def correction_batch(self, params: np.ndarray, w_cv_groups) -> np.ndarray:
        """Corrections (n, m) for m parameter sets (rows of ``params``, shape (m, 5))."""
        p = [params[:, k : k + 1] for k in range(5)]
        lnphi, _ = _lncf(self.u[None, :], self.tau_nodes[None, :], *p)
        w_nodes = np.repeat(w_cv_groups, np.diff(self.offsets))
        g = np.exp(-0.5 * w_nodes * (self.u * self.u + 0.25))[None, :] - np.exp(lnphi)
        return self.integrate(g.T)


def _params_ok(params) -> bool:
    kappa, theta, sigma, rho, v0 = params
    vals = (kappa, theta, sigma, rho, v0)
    if not all(math.isfinite(v) for v in vals):
        return False
    return kappa > 0.0 and theta >= 0.0 and sigma >= 0.0 and v0 >= 0.0 and -1.0 <= rho <= 1.0


def _price_impl(spot, strike, t, r, q, params, is_call, grad: bool):
    spot, strike, t, r, q, is_call = np.broadcast_arrays(
        np.asarray(spot, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t, dtype=np.float64),
        np.asarray(r, dtype=np.float64),
        np.asarray(q, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
    )
    shape = spot.shape
    s, k, tt, rr, qq, call = (a.ravel() for a in (spot, strike, t, r, q, is_call))
    f = forward_price(s, tt, rr, qq)
    params = tuple(float(v) for v in params)
    n = s.size
    price = np.full(n, np.nan)
    jac = np.full((n, 5), np.nan) if grad else None
    if not _params_ok(params):
        return price.reshape(shape), (jac.reshape(*shape, 5) if grad else None)
    kappa, theta, _, _, v0 = params
    tp = np.maximum(tt, 0.0)
    w_cv = np.maximum(_integrated_variance(tp, kappa, theta, v0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        vol_cv = np.where(tp > 0.0, np.sqrt(w_cv / np.where(tp > 0.0, tp, 1.0)), 0.0)
    price = black76_price(f, k, tt, rr, vol_cv, call)
    if grad:
        jac[np.isfinite(price)] = 0.0
    live = (tt > 0.0) & (f > 0.0) & (k > 0.0) & np.isfinite(price)
    if live.any():
        surf = _Surface(f[live], k[live], tt[live], rr[live])
        surf.build_grid(params)
        w_groups = _integrated_variance(surf.taus, kappa, theta, v0)
        corr, dcorr = surf.correction(params, w_groups, grad)
        for g in np.flatnonzero(~surf.complete):  # accuracy out of reach: NaN, not noise
            corr[surf.groups[g]] = np.nan
            if grad:
                dcorr[surf.groups[g]] = np.nan
        price[live] += corr
        if grad:
            jac[live] = dcorr
        # rounding can leave a far out-of-the-money price a hair below its lower bound
        lower = np.exp(-rr * tp) * np.maximum(np.where(call, f - k, k - f), 0.0)
        price = np.where(price < lower, lower, price)
    return price.reshape(shape), (jac.reshape(*shape, 5) if grad else None)


def heston_price(spot, strike, t, r, q, kappa, theta, sigma, rho, v0, is_call) -> np.ndarray:
    """Heston price of European options, per share (see the module docstring for units).

    ``spot``, ``strike``, ``t``, ``r``, ``q`` and ``is_call`` broadcast against each other;
    the five model parameters are scalars. Options of the same ``t`` share one quadrature,
    so a whole surface is priced in one call. ``t <= 0`` gives the intrinsic value (as
    ``black76_price``); NaN inputs, or parameters outside kappa > 0, theta >= 0, sigma >= 0,
    v0 >= 0, |rho| <= 1, give NaN. Accuracy ~1e-11 relative to the spot (module docstring);
    prices are floored at the discounted intrinsic value of the forward. NaN, too, for the
    maturities where the quadrature cannot reach that accuracy within 65536 nodes (extreme
    corners such as sigma = 5 with v0 = 1e-4 at short maturities).
    """
    price, _ = _price_impl(spot, strike, t, r, q, (kappa, theta, sigma, rho, v0), is_call, False)
    return price


def heston_price_gradient(
    spot, strike, t, r, q, kappa, theta, sigma, rho, v0, is_call
) -> tuple[np.ndarray, np.ndarray]:
    """(price, gradient): Heston prices and their derivatives with respect to the parameters.

    Same inputs and price as ``heston_price``. The gradient has the broadcast shape plus a
    last axis of 5: d price / d (kappa, theta, sigma, rho, v0), per unit of each parameter
    (kappa per year, theta and v0 in variance units, sigma per sqrt(year)), computed from the
    analytic derivatives of the characteristic function with the pricing quadrature. Zero
    where ``t <= 0``.
    """
    return _price_impl(spot, strike, t, r, q, (kappa, theta, sigma, rho, v0), is_call, True)


# --------------------------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------------------------

_LOWER = np.array([BOUNDS[name][0] for name in PARAM_NAMES])
_UPPER = np.array([BOUNDS[name][1] for name in PARAM_NAMES])
# quadratures of the least-squares iterations (~1e-10 of sqrt(F K)) and of the global search
# (~1e-6: scores need ~1e-5 in implied vol); (tail tolerance, nodes of a plain panel)
_CAL_GRID = (1e-10, 12)
_SCORE_GRID = (1e-7, 8)
_REGRID_TOL = 1e-7  # re-run the local solve if accurate prices move a residual more
_LSQ_TOL = 1e-10  # ftol, xtol and gtol of least_squares


class _Fit:
    """The market side of a calibration: options, weights, control variates, residuals."""

    def __init__(self, spot, strike, t, r, q, price, is_call, vega_floor: float):
        arrays = np.broadcast_arrays(
            np.asarray(spot, dtype=np.float64),
            np.asarray(strike, dtype=np.float64),
            np.asarray(t, dtype=np.float64),
            np.asarray(r, dtype=np.float64),
            np.asarray(q, dtype=np.float64),
            np.asarray(price, dtype=np.float64),
            np.asarray(is_call, dtype=bool),
        )
        s, k, tt, rr, qq, pp, call = (a.ravel() for a in arrays)
        iv = implied_vol(pp, s, k, tt, rr, qq, call)
        ok = np.isfinite(iv) & np.isfinite(s) & np.isfinite(rr) & np.isfinite(qq)
        self.n_input = s.size
        self.s, self.k, self.t, self.r, self.q = s[ok], k[ok], tt[ok], rr[ok], qq[ok]
        self.price, self.call, self.iv = pp[ok], call[ok], iv[ok]
        self.n = self.s.size
        if self.n == 0:
            return
        self.forward = forward_price(self.s, self.t, self.r, self.q)
        vega = bs_greeks(self.s, self.k, self.t, self.r, self.q, self.iv, self.call)["vega"]
        atm_vega = self.s * np.exp(-self.q * self.t) * np.sqrt(self.t) / math.sqrt(2.0 * math.pi)
        # residual = price error / vega: the first-order implied-vol error (decimal); the
        # floor keeps far out-of-the-money options (vega -> 0) from dominating
        self.weight = 1.0 / np.maximum(vega, vega_floor * atm_vega)
        self.surface = _Surface(self.forward, self.k, self.t, self.r, cache_trig=True)
        # control variate per maturity: the market's total variance at the money (fixed, so
        # the Black prices are computed once; the correction integral is exact for any)
        self.atm_var = np.array(
            [
                self.iv[idx[np.argmin(np.abs(self.surface.x[idx]))]] ** 2
                for idx in self.surface.groups
            ]
        )
        self.w_cv = self.atm_var * self.surface.taus
        w_opt = np.empty(self.n)
        for g, idx in enumerate(self.surface.groups):
            w_opt[idx] = self.atm_var[g]
        self.cv_price = black76_price(
            self.forward, self.k, self.t, self.r, np.sqrt(w_opt), self.call
        )

    def residuals(self, x: np.ndarray, grad: bool):
        corr, dcorr = self.surface.correction(x, self.w_cv, grad)
        res = (self.cv_price + corr - self.price) * self.weight
        return res, (dcorr * self.weight[:, None] if grad else None)

    def scores(self, candidates: np.ndarray) -> np.ndarray:
        """Sum of squared weighted residuals of each candidate (rows of (m, 5))."""
        corr = self.surface.correction_batch(candidates, self.w_cv)
        res = (self.cv_price[:, None] + corr - self.price[:, None]) * self.weight[:, None]
        out = np.sum(res * res, axis=0)
        return np.where(np.isfinite(out), out, np.inf)

    def model_price(self, x) -> np.ndarray:
        """Model prices of the options at full accuracy (``heston_price``)."""
        return heston_price(self.s, self.k, self.t, self.r, self.q, *x, self.call)

    def rmse_iv(self, model: np.ndarray) -> tuple[float, float]:
        """(RMSE, max abs) of model minus market implied vols (decimal) of model prices.

        Where a model price has no implied vol (numerically outside the no-arbitrage
        bounds) the weighted price residual stands in for the implied-vol error.
        """
        iv = implied_vol(model, self.s, self.k, self.t, self.r, self.q, self.call)
        err = np.where(np.isfinite(iv), iv - self.iv, (model - self.price) * self.weight)
        if not np.all(np.isfinite(err)):
            return math.inf, math.inf
        return float(np.sqrt(np.mean(err * err))), float(np.max(np.abs(err)))


def _local_solve(fit: _Fit, x0: np.ndarray, max_iter: int) -> dict:
    """Trust-region least squares (analytic Jacobian) from x0, with a quadrature re-check.

    The iterations use one quadrature laid out for the starting point (its trigonometric
    matrices are cached); at the solution the model prices are recomputed with a quadrature
    of their own (``heston_price``) and, if that moves a weighted residual by more than
    ``_REGRID_TOL``, the solve is repeated from there with a fresh layout (at most twice).
    """
    x = np.clip(np.asarray(x0, dtype=np.float64), _LOWER, _UPPER)
    initial = x.copy()
    iterations = nfev = 0
    for _ in range(3):
        fit.surface.build_grid(tuple(x), *_CAL_GRID)
        cache: dict = {}

        def evaluate(z, cache=cache):
            key = z.tobytes()
            if key not in cache:
                cache.clear()
                cache[key] = fit.residuals(z, True)
            return cache[key]

        try:
            sol = least_squares(
                lambda z, ev=evaluate: ev(z)[0],
                x,
                jac=lambda z, ev=evaluate: ev(z)[1],
                bounds=(_LOWER, _UPPER),
                method="trf",
                x_scale="jac",
                ftol=_LSQ_TOL,
                xtol=_LSQ_TOL,
                gtol=_LSQ_TOL,
                max_nfev=max_iter,
            )
        except ValueError as exc:  # residuals not finite at the starting point
            return {
                "x": x,
                "initial": initial,
                "success": False,
                "message": f"least_squares: {exc}",
                "iterations": iterations,
                "nfev": nfev,
                "rmse_iv": math.inf,
                "max_iv_error": math.inf,
            }
        iterations += int(sol.njev)
        nfev += int(sol.nfev)
        x = sol.x
        model = fit.model_price(x)
        drift = np.abs((model - fit.price) * fit.weight - sol.fun)
        if sol.status <= 0 or not np.max(drift) > _REGRID_TOL:
            break
    rmse, max_err = fit.rmse_iv(model)
    return {
        "x": x,
        "initial": initial,
        "success": bool(sol.status > 0),
        "message": str(sol.message),
        "iterations": iterations,
        "nfev": nfev,
        "rmse_iv": rmse,
        "max_iv_error": max_err,
    }


def _candidates(fit: _Fit, n: int, rng: np.random.Generator) -> np.ndarray:
    """Latin-hypercube sample of n parameter sets in a box around the market's ATM levels."""
    order = np.argsort(fit.surface.taus)
    v_short = float(fit.atm_var[order[0]])
    v_long = float(fit.atm_var[order[-1]])
    unit = (np.argsort(rng.random((5, n)), axis=1).T + rng.random((n, 5))) / n
    lo = np.array([math.log(0.2), math.log(0.4 * v_long), math.log(0.1), -0.95, 0.0])
    hi = np.array([math.log(10.0), math.log(2.5 * v_long), math.log(2.0), 0.3, 0.0])
    lo[4], hi[4] = math.log(0.4 * v_short), math.log(2.5 * v_short)
    z = lo + unit * (hi - lo)
    cand = np.column_stack(
        [np.exp(z[:, 0]), np.exp(z[:, 1]), np.exp(z[:, 2]), z[:, 3], np.exp(z[:, 4])]
    )
    return np.clip(cand, _LOWER, _UPPER), (v_short, v_long)


def _cold_solve(fit: _Fit, seed: int, n_candidates: int, max_iter: int, good_rmse: float):
    """Latin-hypercube search, then local solves from the best candidates (up to three)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    cand, (v_short, v_long) = _candidates(fit, n_candidates, rng)
    fit.surface.build_grid((1.5, v_long, 0.7, -0.5, v_short), *_SCORE_GRID)
    scores = fit.scores(cand)
    best = None
    iterations = nfev = 0
    for i in np.argsort(scores, kind="stable")[:3]:
        res = _local_solve(fit, cand[i], max_iter)
        iterations += res["iterations"]
        nfev += res["nfev"]
        if best is None or res["rmse_iv"] < best["rmse_iv"]:
            best = res
        if best["success"] and best["rmse_iv"] <= good_rmse:
            break
    best["iterations"], best["nfev"] = iterations, nfev
    return best


def _start_vector(start) -> np.ndarray | None:
    if start is None:
        return None
    try:
        x = np.array([float(start[name]) for name in PARAM_NAMES])
    except (KeyError, TypeError, ValueError):
        return None
    return x if np.all(np.isfinite(x)) and _params_ok(tuple(x)) else None


def heston_calibrate(
    spot,
    strike,
    t,
    r,
    q,
    price,
    is_call,
    *,
    start: dict | None = None,
    seed: int = 0,
    max_iter: int = 200,
    n_candidates: int = 32,
    warm_max_rmse_iv: float = 0.01,
    max_rmse_iv: float = 0.05,
    vega_floor: float = 0.01,
) -> dict:
    """Calibrate the Heston parameters to a surface of European option prices.

    Inputs broadcast like ``heston_price``'s: ``price`` per share, ``t`` years, ``r``/``q``
    continuously compounded decimals, ``is_call`` boolean. Options without a Black-Scholes
    implied vol (price outside the no-arbitrage bounds, t <= 0, NaN) are ignored.

    Objective: sum over options of ((model - market price) / vega)^2, the squared first-order
    implied-vol errors, with vega the Black-Scholes vega at the market implied vol, floored at
    ``vega_floor`` times the at-the-money vega of the option's maturity (so that far
    out-of-the-money quotes do not dominate). Bounds: ``BOUNDS``; the Feller condition is
    reported, not enforced.

    - Cold start (``start`` None): ``n_candidates`` parameter sets from a Latin hypercube
      (numpy Generator(PCG64(seed)), deterministic per seed) in a box around the market's
      ATM variance levels are scored in one batch; a trust-region least-squares solve
      (scipy ``least_squares``, method 'trf', analytic Jacobian) starts from the best (and
      from the next two if that fit's rmse_iv exceeds ``warm_max_rmse_iv``).
    - Warm start (``start``: a dict with the five parameters, e.g. the previous day's
      result): the solve starts from ``start`` directly; if it does not converge or its
      rmse_iv exceeds ``warm_max_rmse_iv`` (decimal, 0.01 = 1 vol point) and 1.25x the
      start's own ``rmse_iv`` (when the start carries one) a cold start follows and the better
      fit is kept.
    - A fit counts as converged when the solver met its tolerances within ``max_iter``
      function evaluations (per local solve) and rmse_iv <= ``max_rmse_iv``. Otherwise,
      when ``start`` was given, its parameters are returned with ``fallback`` True.

    Returns a dict of plain Python values (NaN parameters when fewer than 5 options have an
    implied vol and no ``start`` is given):

    - ``kappa``, ``theta``, ``sigma``, ``rho``, ``v0``: the parameters;
    - ``rmse_iv``, ``max_iv_error``: RMSE and largest absolute model-minus-market implied vol
      (decimal) over the options used, from the model prices at full accuracy;
    - ``converged``, ``fallback`` (bool), ``feller`` (bool, 2 kappa theta > sigma^2);
    - ``iterations`` (Jacobian evaluations = solver iterations, summed over all local solves),
      ``nfev``, ``seconds`` (wall time of the call);
    - ``start``: 'warm' when a usable ``start`` was given, else 'cold'; ``cold_search``
      (bool): the Latin-hypercube search ran; ``method``: what produced the returned
      parameters, 'trf' (warm-started solve), 'lhs+trf' (search + solve) or 'previous'
      (fallback); ``initial``: the parameters that solve started from (None without one);
    - ``n_options`` (used) and ``message`` (solver messages, decisions).
    """
    t0 = time.perf_counter()
    fit = _Fit(spot, strike, t, r, q, price, is_call, vega_floor)
    x_start = _start_vector(start)
    notes = []
    if start is not None and x_start is None:
        notes.append("start ignored (missing or invalid parameters)")
    result = None
    method = "lhs+trf"
    iterations = nfev = 0
    cold_search = False
    if fit.n < 5:
        notes.append(f"{fit.n} options with an implied vol (at least 5 needed)")
    else:
        if x_start is not None:
            result = _local_solve(fit, x_start, max_iter)
            method = "trf"
            iterations, nfev = result["iterations"], result["nfev"]
            notes.append(f"warm start: {result['message']} rmse_iv {result['rmse_iv']:.3g}")
        # a warm fit is kept when it converged within warm_max_rmse_iv, or no worse than the
        # start's own reported fit (a misspecified surface never gets under 1 vol point, and
        # restarting cold every day would only cost time)
        accept = warm_max_rmse_iv
        if isinstance(start, dict) and isinstance(start.get("rmse_iv"), int | float):
            accept = max(accept, 1.25 * float(start["rmse_iv"]))
        if result is None or not result["success"] or not result["rmse_iv"] <= accept:
            cold_search = True
            cold = _cold_solve(fit, seed, n_candidates, max_iter, warm_max_rmse_iv)
            iterations += cold["iterations"]
            nfev += cold["nfev"]
            notes.append(f"cold start: {cold['message']} rmse_iv {cold['rmse_iv']:.3g}")
            if result is None or not result["success"] or cold["rmse_iv"] < result["rmse_iv"]:
                result, method = cold, "lhs+trf"
    converged = bool(result is not None and result["success"] and result["rmse_iv"] <= max_rmse_iv)
    fallback = not converged and x_start is not None
    if converged or (result is not None and not fallback):
        x = result["x"]
        rmse, max_err = result["rmse_iv"], result["max_iv_error"]
        initial = result["initial"]
        if not converged:
            notes.append(f"not converged (rmse_iv limit {max_rmse_iv:g})")
    elif fallback:
        x = initial = x_start
        method = "previous"
        rmse, max_err = fit.rmse_iv(fit.model_price(x)) if fit.n else (math.nan, math.nan)
        notes.append("not converged: the previous parameters are returned")
    else:
        x, initial = np.full(5, np.nan), None
        rmse = max_err = math.nan
    kappa, theta, sigma, rho, v0 = (float(v) for v in x)
    return {
        "kappa": kappa,
        "theta": theta,
        "sigma": sigma,
        "rho": rho,
        "v0": v0,
        "rmse_iv": float(rmse),
        "max_iv_error": float(max_err),
        "converged": converged,
        "iterations": int(iterations),
        "nfev": int(nfev),
        "seconds": time.perf_counter() - t0,
        "feller": bool(2.0 * kappa * theta > sigma * sigma),
        "method": method,
        "start": "warm" if x_start is not None else "cold",
        "cold_search": cold_search,
        "fallback": fallback,
        "n_options": int(fit.n),
        "initial": (
            None if initial is None else dict(zip(PARAM_NAMES, map(float, initial), strict=True))
        ),
        "message": "; ".join(notes),
    }
