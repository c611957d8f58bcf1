"""Standardized volatility surface in the style of OptionMetrics IvyDB, and ATM term structure.

Pure numpy + scipy functions, no I/O. Units and conventions:

- ``days``: calendar days to expiration; t = days / 365 years (ACT/365).
- deltas: Black-Scholes-Merton spot deltas as decimals, dV/dS with the dividend discount,
  call delta = e^{-qt} N(d1) in (0, 1), put delta = -e^{-qt} N(-d1) in (-1, 0) (e.g. 0.25 and
  -0.25), as returned by ``python_udfs.black_scholes.bs_greeks``.
- vols decimal per sqrt(year); rates: a zero curve (tenor days, continuously compounded zero
  rates, read with ``python_udfs.rates.zero_rate``: linear in days, flat outside); ``q``:
  continuous dividend yield, decimal; prices per share.
- vegas: dV/dvol per share per 1.00 of vol (``bs_greeks``), only used as relative weights and
  in the ``min_vega`` filter.

Volatility surface (IvyDB "Volatility_Surface" / vsurfd). For every grid point j (T_j days,
delta_j, call/put CP_j) the smoothed implied vol is the vega-weighted kernel average over the
day's options i (IvyDB reference manual, "Volatility Surface"):

    sigma_j = sum_i V_i sigma_i Phi(x_ij, y_ij, z_ij) / sum_i V_i Phi(x_ij, y_ij, z_ij),
    Phi(x, y, z) = exp(-(x^2 / (2 h1) + y^2 / (2 h2) + z^2 / (2 h3)))   (the manual's
    1/sqrt(2 pi) factor cancels), x_ij = ln(T_i / T_j), y_ij = Delta_i - Delta_j with
    "call-equivalent" deltas (delta for a call, 1 + delta for a put), z_ij = 0 if the
    call/put identifiers agree and 1 otherwise; h1 = 0.05, h2 = 0.005, h3 = 0.001.

With h3 = 0.001 an option of the other type weighs e^-500 relative to one of the same type,
so calls and puts are smoothed separately in practice. IvyDB excludes options with vega below
0.5 (``min_vega``; this is per share, so it depends on the price level of the underlying).
``dispersion`` is the same weighted standard deviation of the contributing vols about the
smoothed value, sqrt(sum_i V_i Phi_i (sigma_i - sigma_j)^2 / sum_i V_i Phi_i). Each grid
point's implied strike is the strike at which a BSM option with the grid's (T, delta, vol) has
exactly that delta (closed form: d1 = N^-1(|delta| e^{qT}) for a call, -N^-1(|delta| e^{qT})
for a put, K = F exp(-d1 vol sqrt(T) + vol^2 T / 2)), and its premium the BSM price there.

Kernel bias: the smoother averages the smile over a window of ~0.07 in delta and ~22 % in
days, weighted towards the higher-vega (nearer-the-money) side, so the smoothed vol is a
biased estimate of the smile at the grid point wherever the smile curves in delta or in
ln(days) or vega varies across the window (exact for a flat surface; see the tests for
figures on an equity skew).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from python_udfs.black_scholes import bs_greeks, bs_price, forward_price
from python_udfs.localvol import SviSurface, surface_total_variance
from python_udfs.rates import zero_rate

__all__ = [
    "CONSTANT_MATURITY_DAYS",
    "DAYS_PER_YEAR",
    "DEFAULT_CALL_DELTAS",
    "DEFAULT_GRID_DAYS",
    "DEFAULT_GRID_DELTAS",
    "FORWARD_VOL_PAIRS",
    "IVYDB_BANDWIDTHS",
    "IVYDB_MIN_VEGA",
    "atm_forward_options",
    "atm_term_structure",
    "constant_maturity_atm_iv",
    "forward_vol",
    "kernel_smoothed_iv",
    "standardized_surface",
    "strike_from_delta",
]

DAYS_PER_YEAR = 365.0
DEFAULT_GRID_DAYS = (10, 30, 60, 91, 122, 152, 182, 273, 365, 547, 730)
DEFAULT_CALL_DELTAS = tuple(round(0.10 + 0.05 * i, 2) for i in range(17))  # 0.10 .. 0.90
DEFAULT_GRID_DELTAS = DEFAULT_CALL_DELTAS + tuple(-d for d in DEFAULT_CALL_DELTAS)
IVYDB_BANDWIDTHS = (0.05, 0.005, 0.001)  # h1 (ln days), h2 (delta), h3 (call/put)
IVYDB_MIN_VEGA = 0.5
CONSTANT_MATURITY_DAYS = (10, 20, 30, 60, 90, 180, 365)
FORWARD_VOL_PAIRS = ((20, 30), (30, 60), (60, 90), (90, 180))  # (start, end) days
_CHUNK_ELEMENTS = 1 << 21  # grid points x options per kernel block


def _call_equivalent(delta: np.ndarray, is_call: np.ndarray) -> np.ndarray:
    return np.where(is_call, delta, 1.0 + delta)


def kernel_smoothed_iv(
    days_obs,
    delta_obs,
    is_call_obs,
    iv_obs,
    vega_obs,
    grid_days,
    grid_delta,
    grid_is_call,
    bandwidths: tuple[float, float, float] = IVYDB_BANDWIDTHS,
    min_vega: float = IVYDB_MIN_VEGA,
    min_weight_sum: float = 1e-3,
) -> dict[str, np.ndarray]:
    """IvyDB kernel smoother of one day's options at arbitrary grid points (module docstring).

    Observations (1-D, one per option): ``days_obs`` (calendar days to expiry), ``delta_obs``
    (signed BSM delta, puts negative), ``is_call_obs``, ``iv_obs`` (decimal), ``vega_obs`` (per
    share per 1.00 vol). Options with a non-finite field, days <= 0, iv <= 0 or vega <
    ``min_vega`` are ignored. Grid points: ``grid_days``, ``grid_delta`` (signed),
    ``grid_is_call``, broadcast against each other.

    Returns arrays in the grid's shape: ``iv`` (NaN where the kernel mass ``weight_sum`` =
    sum_i Phi_i is below ``min_weight_sum``; the default 1e-3 means no option of the same type
    within ~3.7 kernel standard deviations, sqrt(h1) in ln days and sqrt(h2) in delta: IvyDB's
    "insufficient data"), ``dispersion`` (kernel- and vega-weighted standard deviation of the
    contributing vols), ``weight_sum`` and ``n_effective`` (Kish effective number of options,
    (sum V Phi)^2 / sum (V Phi)^2); plus ``n_used`` (options used, int).
    """
    h1, h2, h3 = (float(h) for h in bandwidths)
    d_obs = np.asarray(days_obs, dtype=np.float64).ravel()
    delta_o = np.asarray(delta_obs, dtype=np.float64).ravel()
    call_o = np.asarray(is_call_obs, dtype=bool).ravel()
    iv_o = np.asarray(iv_obs, dtype=np.float64).ravel()
    vega_o = np.asarray(vega_obs, dtype=np.float64).ravel()
    if not (d_obs.size == delta_o.size == call_o.size == iv_o.size == vega_o.size):
        raise ValueError("observation arrays must have equal lengths")
    use = (
        np.isfinite(d_obs)
        & np.isfinite(delta_o)
        & np.isfinite(iv_o)
        & np.isfinite(vega_o)
        & (d_obs > 0.0)
        & (iv_o > 0.0)
        & (vega_o >= min_vega)
        & (vega_o > 0.0)
    )
    log_t_o = np.log(d_obs[use])
    ce_o = _call_equivalent(delta_o[use], call_o[use])
    cp_o = call_o[use].astype(np.float64)
    iv_o, vega_o = iv_o[use], vega_o[use]

    g_days, g_delta, g_call = np.broadcast_arrays(
        np.asarray(grid_days, dtype=np.float64),
        np.asarray(grid_delta, dtype=np.float64),
        np.asarray(grid_is_call, dtype=bool),
    )
    shape = g_days.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        log_t_g = np.log(g_days.ravel())
    ce_g = _call_equivalent(g_delta.ravel(), g_call.ravel())
    cp_g = g_call.ravel().astype(np.float64)
    n_grid = log_t_g.size
    out = {name: np.full(n_grid, np.nan) for name in ("iv", "dispersion", "n_effective")}
    out["weight_sum"] = np.zeros(n_grid)
    n_obs = iv_o.size
    if n_obs:
        chunk = max(1, _CHUNK_ELEMENTS // n_obs)
        for lo in range(0, n_grid, chunk):
            sl = slice(lo, min(lo + chunk, n_grid))
            x = log_t_o[None, :] - log_t_g[sl, None]
            y = ce_o[None, :] - ce_g[sl, None]
            z = cp_o[None, :] - cp_g[sl, None]
            log_k = -(x * x / (2.0 * h1) + y * y / (2.0 * h2) + z * z / (2.0 * h3))
            top = np.max(log_k, axis=1, keepdims=True)
            ok_row = np.isfinite(top[:, 0])
            top = np.where(np.isfinite(top), top, 0.0)
            kern = np.exp(log_k - top)  # scaled by exp(-top): the ratios are unaffected
            wgt = vega_o[None, :] * kern
            total = wgt.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                iv = (wgt @ iv_o) / total
                dev = iv_o[None, :] - iv[:, None]
                disp = np.sqrt(np.einsum("ij,ij->i", wgt, dev * dev) / total)
                n_eff = total * total / np.einsum("ij,ij->i", wgt, wgt)
                mass = np.exp(top[:, 0]) * kern.sum(axis=1)
            out["iv"][sl] = iv
            out["dispersion"][sl] = disp
            out["n_effective"][sl] = n_eff
            out["weight_sum"][sl] = np.where(ok_row, mass, 0.0)
    thin = ~(out["weight_sum"] >= min_weight_sum)
    for name in ("iv", "dispersion", "n_effective"):
        out[name][thin] = np.nan
    result = {name: v.reshape(shape) for name, v in out.items()}
    result["n_used"] = int(n_obs)
    return result


def strike_from_delta(delta, vol, t, spot, r, q) -> np.ndarray:
    """Strike at which a BSM option with ``vol`` and expiry ``t`` has spot delta ``delta``.

    ``delta`` > 0 means a call (delta = e^{-qt} N(d1)), < 0 a put (delta = -e^{-qt} N(-d1));
    d1 = +-N^-1(|delta| e^{qt}) and K = F exp(-d1 vol sqrt(t) + vol^2 t / 2), F = S e^{(r-q)t}.
    NaN where |delta| e^{qt} is not in (0, 1) or vol sqrt(t) <= 0. Broadcasts.
    """
    delta, vol, t, spot, r, q = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (delta, vol, t, spot, r, q))
    )
    sd = vol * np.sqrt(np.maximum(t, 0.0))
    p = np.abs(delta) * np.exp(q * t)
    ok = (p > 0.0) & (p < 1.0) & (sd > 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d1 = np.where(delta > 0.0, 1.0, -1.0) * ndtri(np.where(ok, p, 0.5))
        strike = forward_price(spot, t, r, q) * np.exp(-d1 * sd + 0.5 * sd * sd)
    return np.where(ok, strike, np.nan)


def standardized_surface(
    days_obs,
    delta_obs,
    is_call_obs,
    iv_obs,
    vega_obs,
    spot: float,
    rate_days,
    rates,
    q,
    grid_days=DEFAULT_GRID_DAYS,
    grid_deltas=DEFAULT_GRID_DELTAS,
    bandwidths: tuple[float, float, float] = IVYDB_BANDWIDTHS,
    min_vega: float = IVYDB_MIN_VEGA,
    min_weight_sum: float = 1e-3,
) -> dict:
    """IvyDB-style standardized volatility surface of one underlying on one day.

    Observations as in ``kernel_smoothed_iv``; ``spot`` per share; ``rate_days``/``rates``:
    the day's zero curve (tenor days, continuous decimals); ``q``: continuous dividend yield
    (decimal; a scalar, or one value per grid day). Grid: every (day, delta) pair of
    ``grid_days`` x ``grid_deltas`` (signed deltas: > 0 calls, < 0 puts), rows ordered by day
    then delta (default 11 x 34 = 374 rows).

    Returns a dict of 1-D arrays, one element per grid row: ``days``, ``t`` (years),
    ``delta``, ``is_call``, ``iv`` (kernel-smoothed, NaN with insufficient data), ``strike``
    (implied strike, ``strike_from_delta``), ``premium`` (BSM price at that strike and iv),
    ``forward``, ``rate`` (zero rate to t), ``dispersion``, ``weight_sum``, ``n_effective``;
    and ``n_used`` (int).
    """
    days = np.asarray(grid_days, dtype=np.float64).ravel()
    deltas = np.asarray(grid_deltas, dtype=np.float64).ravel()
    qd = np.broadcast_to(np.asarray(q, dtype=np.float64), days.shape)
    g_days = np.repeat(days, deltas.size)
    g_delta = np.tile(deltas, days.size)
    g_q = np.repeat(qd, deltas.size)
    g_call = g_delta > 0.0
    smooth = kernel_smoothed_iv(
        days_obs,
        delta_obs,
        is_call_obs,
        iv_obs,
        vega_obs,
        g_days,
        g_delta,
        g_call,
        bandwidths=bandwidths,
        min_vega=min_vega,
        min_weight_sum=min_weight_sum,
    )
    t = g_days / DAYS_PER_YEAR
    r = zero_rate(rate_days, rates, t)
    iv = smooth["iv"]
    strike = strike_from_delta(g_delta, iv, t, spot, r, g_q)
    premium = bs_price(spot, strike, t, r, g_q, iv, g_call)
    return {
        "days": g_days,
        "t": t,
        "delta": g_delta,
        "is_call": g_call,
        "iv": iv,
        "strike": strike,
        "premium": np.where(np.isfinite(strike), premium, np.nan),
        "forward": forward_price(spot, t, r, g_q),
        "rate": r,
        "dispersion": smooth["dispersion"],
        "weight_sum": smooth["weight_sum"],
        "n_effective": smooth["n_effective"],
        "n_used": smooth["n_used"],
    }


def constant_maturity_atm_iv(
    surface: SviSurface, days=CONSTANT_MATURITY_DAYS
) -> dict[str, np.ndarray]:
    """ATM-forward (k = 0) implied vols at constant maturities from a per-expiry SVI surface.

    The ATM total variance is interpolated linearly in t across the surface's expiries
    (``python_udfs.localvol``'s interpolation at k = 0); outside the listed expiries the ATM
    vol is held flat (w = w_1 t / t_1 before the first, w_n t / t_n after the last), flagged
    by ``extrapolated``. Returns arrays ``days``, ``t`` (years), ``atm_total_variance``,
    ``atm_iv`` (decimal), ``extrapolated`` (bool).
    """
    d = np.asarray(days, dtype=np.float64).ravel()
    t = d / DAYS_PER_YEAR
    w = surface_total_variance(surface, np.zeros_like(t), t)
    with np.errstate(divide="ignore", invalid="ignore"):
        iv = np.where((t > 0.0) & (w >= 0.0), np.sqrt(w / t), np.nan)
    extrapolated = (t < surface.t[0]) | (t > surface.t[-1])
    return {"days": d, "t": t, "atm_total_variance": w, "atm_iv": iv, "extrapolated": extrapolated}


def forward_vol(t1, w1, t2, w2) -> np.ndarray:
    """Forward vol between t1 < t2 (years) from total variances: sqrt((w2 - w1) / (t2 - t1)).

    NaN where the forward variance is negative (calendar arbitrage: w2 < w1) or t2 <= t1.
    """
    t1, w1, t2, w2 = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (t1, w1, t2, w2))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        fwd_var = (w2 - w1) / (t2 - t1)
    return np.where((t2 > t1) & (fwd_var >= 0.0), np.sqrt(np.maximum(fwd_var, 0.0)), np.nan)


def _day(d) -> int | float:
    """A day count as a plain int when whole (jsonb), else float."""
    d = float(d)
    return int(d) if d.is_integer() else d


def atm_term_structure(
    surface: SviSurface, days=CONSTANT_MATURITY_DAYS, forward_pairs=FORWARD_VOL_PAIRS
) -> dict:
    """Constant-maturity ATM vols and ATM forward vols of an SVI surface, jsonb-ready.

    ``days``: constant maturities (default 10, 20, 30, 60, 90, 180, 365 days);
    ``forward_pairs``: (start, end) days (default 30 over 20, 60 over 30, 90 over 60, 180
    over 90). Forward vol = sqrt((w(end) - w(start)) / (t_end - t_start)) with w the ATM total
    variance of ``constant_maturity_atm_iv``; NaN with ``forward_negative_variance`` True where
    the ATM total variance decreases. Returns plain Python lists / floats / bools / ints:
    ``days``, ``atm_iv``, ``atm_total_variance``, ``extrapolated``, ``forward_start_days``,
    ``forward_end_days``, ``forward_vol``, ``forward_negative_variance``,
    ``n_negative_forward_variance``.
    """
    cm = constant_maturity_atm_iv(surface, days)
    pairs = np.asarray(forward_pairs, dtype=np.float64).reshape(-1, 2)
    start = constant_maturity_atm_iv(surface, pairs[:, 0])
    end = constant_maturity_atm_iv(surface, pairs[:, 1])
    fv = forward_vol(start["t"], start["atm_total_variance"], end["t"], end["atm_total_variance"])
    negative = end["atm_total_variance"] < start["atm_total_variance"]
    return {
        "days": [_day(d) for d in cm["days"]],
        "atm_iv": [float(v) for v in cm["atm_iv"]],
        "atm_total_variance": [float(v) for v in cm["atm_total_variance"]],
        "extrapolated": [bool(v) for v in cm["extrapolated"]],
        "forward_start_days": [_day(d) for d in pairs[:, 0]],
        "forward_end_days": [_day(d) for d in pairs[:, 1]],
        "forward_vol": [float(v) for v in fv],
        "forward_negative_variance": [bool(v) for v in negative],
        "n_negative_forward_variance": int(np.count_nonzero(negative)),
    }


def atm_forward_options(
    surface: SviSurface,
    spot: float,
    rate_days,
    rates,
    q,
    grid_days=DEFAULT_GRID_DAYS,
) -> dict[str, np.ndarray]:
    """Standardized at-the-money-forward options (IvyDB "Std_Option_Price" analogue).

    For each grid day a call and a put struck at the forward F = S e^{(r - q) t} (r the zero
    rate to t from ``rate_days``/``rates``, ``q`` a scalar or one yield per grid day). The
    implied vol is the SVI surface's at k = 0 (``constant_maturity_atm_iv``: exactly at the
    forward, linear in ATM total variance across expiries, flat vol outside them), not the
    kernel smoother at |delta| = 0.5, whose strike lies above the forward (call delta at K = F
    is e^{-qt} N(vol sqrt(t) / 2)); IvyDB instead interpolates its smoothed surface linearly
    to the forward. The surface's k must be measured against the same forwards.

    Returns arrays, rows ordered by day then call, put: ``days``, ``t``, ``is_call``,
    ``forward``, ``strike`` (= forward), ``rate``, ``iv``, ``premium``, the ``bs_greeks``
    (``delta``, ``gamma``, ``vega``, ``theta``, ``rho``, ``vanna``, ``volga``, ``charm``, same
    units) and ``extrapolated``.
    """
    days = np.asarray(grid_days, dtype=np.float64).ravel()
    qd = np.broadcast_to(np.asarray(q, dtype=np.float64), days.shape)
    cm = constant_maturity_atm_iv(surface, days)
    d = np.repeat(days, 2)
    is_call = np.tile(np.array([True, False]), days.size)
    t = d / DAYS_PER_YEAR
    qq = np.repeat(qd, 2)
    r = zero_rate(rate_days, rates, t)
    iv = np.repeat(cm["atm_iv"], 2)
    fwd = forward_price(spot, t, r, qq)
    out = {
        "days": d,
        "t": t,
        "is_call": is_call,
        "forward": fwd,
        "strike": fwd.copy(),
        "rate": r,
        "iv": iv,
        "premium": bs_price(spot, fwd, t, r, qq, iv, is_call),
    }
    out.update(bs_greeks(spot, fwd, t, r, qq, iv, is_call))
    out["extrapolated"] = np.repeat(cm["extrapolated"], 2)
    return out
