"""Forward price and implied dividend yield of one expiry from put-call parity.

Pure numpy. European put-call parity: C - P = e^{-rT} (F - K), so every strike with both a
call and a put quote gives a forward estimate F_i = K_i + e^{rT} (C_i - P_i). Units: prices
and strikes per share, ``r`` continuously compounded decimal per year, ``t`` in years; the
implied yield q is a continuously compounded decimal per year.

Robust fit (``implied_forward``):

1. pairs with finite, non-negative mids (and, if given, non-negative spreads) are kept;
2. near-the-money selection: the preliminary forward F0 is the strike where |C - P| is
   smallest, corrected by its parity gap; the ``n_near`` pairs with the smallest |ln(K/F0)|
   are used (deep ITM/OTM pairs carry wide spreads and early-exercise premia);
3. weights w_i = 1 / (s_C,i^2 + s_P,i^2) when bid/ask spreads are given (the variance of F_i
   is proportional to the sum of the mid variances, each ~ spread^2), else equal;
4. Huber M-estimate of location of the F_i (weighted, scale = 1.4826 x weighted MAD,
   tuning constant 1.345, iteratively reweighted from the weighted median), then weighted
   means over the pairs that agree with it, iterated: weighted least squares of
   C - P = e^{-rT}(F - K) in F with gross outliers dropped. "Agree" means within the
   no-arbitrage band |F_i - F| <= e^{rT} (s_C + s_P) / 2 when spreads are given (quotes that
   bracket the true prices cannot be farther off), else within 3.5 robust scales.

The implied yield is q = r - ln(F / S) / T (needs the spot S). For American options the
parity is an inequality, so use near-the-money pairs (the default) where the early-exercise
premia are small.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["implied_forward", "implied_forward_groups", "per_strike_forward", "weighted_median"]

_HUBER_C = 1.345
_REJECT = 3.5


def per_strike_forward(strike, call_mid, put_mid, r, t) -> np.ndarray:
    """F_i = K_i + e^{rT} (C_i - P_i) per strike (same units as the strikes)."""
    k = np.asarray(strike, dtype=np.float64)
    c = np.asarray(call_mid, dtype=np.float64)
    p = np.asarray(put_mid, dtype=np.float64)
    return k + math.exp(float(r) * float(t)) * (c - p)


def weighted_median(x, w) -> np.float64:
    """Weighted median (lower median at exact ties of the cumulative weight)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    w = np.asarray(w, dtype=np.float64).ravel()
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    j = int(np.searchsorted(cw, 0.5 * cw[-1]))
    return np.float64(x[order][min(j, x.size - 1)])


def _robust_location(
    x: np.ndarray, w: np.ndarray, band: np.ndarray | None = None, max_iter: int = 50
) -> tuple[float, float, int]:
    """Weighted Huber location, then weighted means of the inliers (|x - mu| <= band, or
    <= 3.5 robust scales without a band), iterated; returns (location, robust scale, inliers).

    Huber only down-weights gross outliers, and with few points their pull on the median and
    the MAD is large, hence the final hard rejection.
    """
    mu = float(weighted_median(x, w))
    scale = 1.4826 * float(weighted_median(np.abs(x - mu), w))
    if scale > 0.0:
        for _ in range(max_iter):
            z = np.abs(x - mu) / scale
            hw = w * np.minimum(1.0, _HUBER_C / np.maximum(z, 1e-300))
            new = float(np.sum(hw * x) / np.sum(hw))
            done = abs(new - mu) <= 1e-14 * max(1.0, abs(mu))
            mu = new
            if done:
                break
    limit = band if band is not None else _REJECT * scale
    n_in = x.size
    for _ in range(5):
        inlier = np.abs(x - mu) <= limit
        if inlier.sum() < 2:
            break
        n_in = int(inlier.sum())
        new = float(np.sum(w[inlier] * x[inlier]) / np.sum(w[inlier]))
        if new == mu:
            break
        mu = new
    return mu, scale, n_in


def implied_forward(
    strike,
    call_mid,
    put_mid,
    r: float,
    t: float,
    spot: float | None = None,
    call_spread=None,
    put_spread=None,
    n_near: int = 8,
) -> dict[str, np.ndarray]:
    """Forward and implied dividend yield of one expiry from put-call parity (robust fit).

    Parameters: per-strike arrays ``strike``, ``call_mid``, ``put_mid`` (and optionally the
    bid-ask ``call_spread``/``put_spread`` used as inverse-variance weights); ``r`` rate and
    ``t`` time to expiry in years; ``spot`` for the implied yield; ``n_near`` the number of
    near-the-money pairs used.

    Returns a dict of numpy scalars: ``forward`` (per share), ``implied_q`` (decimal per year,
    NaN without spot), ``n_pairs`` (pairs used in the final mean), ``scale`` (robust
    dispersion of the per-strike forwards, per share) and ``discount`` = e^{-rT}. NaN forward
    when no valid pair.
    """
    k = np.asarray(strike, dtype=np.float64).ravel()
    c = np.asarray(call_mid, dtype=np.float64).ravel()
    p = np.asarray(put_mid, dtype=np.float64).ravel()
    disc = math.exp(-float(r) * float(t))
    ok = np.isfinite(k) & np.isfinite(c) & np.isfinite(p) & (k > 0.0) & (c >= 0.0) & (p >= 0.0)
    band = None
    if call_spread is not None and put_spread is not None:
        sc = np.broadcast_to(np.asarray(call_spread, dtype=np.float64).ravel(), k.shape)
        sp = np.broadcast_to(np.asarray(put_spread, dtype=np.float64).ravel(), k.shape)
        var = sc * sc + sp * sp
        # quotes bracketing the true prices bound |F_i - F| by e^{rT} (s_C + s_P) / 2
        band = (0.5 / disc) * (sc + sp)
        ok &= np.isfinite(var) & (var >= 0.0)
        floor = np.nanmedian(np.where(ok & (var > 0.0), var, np.nan)) if ok.any() else 1.0
        floor = 1e-4 * floor if np.isfinite(floor) and floor > 0.0 else 1e-12
        weights = 1.0 / np.maximum(var, floor)
    else:
        weights = np.ones_like(k)
    nan = np.float64(np.nan)
    if not ok.any() or not t > 0.0:
        return {
            "forward": nan,
            "implied_q": nan,
            "n_pairs": np.int64(0),
            "scale": nan,
            "discount": np.float64(disc),
        }
    k, c, p, weights = k[ok], c[ok], p[ok], weights[ok]
    if band is not None:
        band = band[ok]
    f_i = k + (c - p) / disc
    atm = int(np.argmin(np.abs(c - p)))
    f0 = f_i[atm]
    near = np.argsort(np.abs(np.log(k / f0)))[: max(int(n_near), 1)]
    forward, scale, n_used = _robust_location(
        f_i[near], weights[near], None if band is None else band[near]
    )
    q = nan
    if spot is not None and np.isfinite(spot) and spot > 0.0 and forward > 0.0:
        q = np.float64(float(r) - math.log(forward / float(spot)) / float(t))
    return {
        "forward": np.float64(forward),
        "implied_q": q,
        "n_pairs": np.int64(n_used),
        "scale": np.float64(scale),
        "discount": np.float64(disc),
    }


def implied_forward_groups(
    grp, strike, is_call, price, spread, spot, t, r, n_near: int = 8
) -> dict[str, np.ndarray]:
    """``implied_forward`` for every expiry group of a slice, one element per option in.

    Batched wrapper (one SQL call per (underlying, quote time) slice). Per-option arrays:
    ``grp`` an expiry key (any float, e.g. the expiration as epoch days), ``strike`` per
    share, ``is_call``, ``price`` the option mid per share (NaN = not usable in the fit, e.g.
    no bid), ``spread`` ask - bid per share (NaN = unknown), ``spot`` underlying price per
    share, ``t`` years to expiry and ``r`` the zero rate at ``t`` (decimal, continuous); the
    arrays broadcast from length 1. Within a group, calls and puts of the same strike form the
    parity pairs (duplicates: the first of each right is used); ``t``, ``r`` and ``spot`` of a
    group are those of its first option.

    Returns per-option arrays (the group's values broadcast to each of its options):
    ``forward`` per share, ``implied_q`` (decimal per year, continuous: r - ln(F/S)/t),
    ``n_pairs`` (pairs used in the final robust mean) and ``scale`` (robust dispersion of the
    per-strike forwards, per share). NaN where the group has no valid pair.
    """
    arrays = np.broadcast_arrays(
        np.asarray(grp, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
        np.asarray(price, dtype=np.float64),
        np.asarray(spread, dtype=np.float64),
        np.asarray(spot, dtype=np.float64),
        np.asarray(t, dtype=np.float64),
        np.asarray(r, dtype=np.float64),
    )
    g, k, call, px, sp, s, tt, rr = (a.ravel() for a in arrays)
    n = g.size
    out = {name: np.full(n, np.nan) for name in ("forward", "implied_q", "n_pairs", "scale")}
    if n == 0:
        return out
    # sort by (group, strike, put before call): each group is a contiguous run
    order = np.lexsort((call, k, g))
    gs = g[order]
    bounds = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1], True])
    for lo, hi in itertools.pairwise(bounds):
        idx = order[lo:hi]
        first = idx[0]
        calls = idx[call[idx]]
        puts = idx[~call[idx]]
        if calls.size == 0 or puts.size == 0:
            continue
        # first call / put of each strike, matched on the strike
        kc_u, ic = np.unique(k[calls], return_index=True)
        kp_u, ip = np.unique(k[puts], return_index=True)
        common, jc, jp = np.intersect1d(kc_u, kp_u, assume_unique=True, return_indices=True)
        if common.size == 0:
            continue
        ci, pi = calls[ic[jc]], puts[ip[jp]]
        fit = implied_forward(
            common,
            px[ci],
            px[pi],
            float(rr[first]),
            float(tt[first]),
            spot=float(s[first]),
            call_spread=sp[ci],
            put_spread=sp[pi],
            n_near=n_near,
        )
        if not np.isfinite(fit["forward"]):
            continue
        out["forward"][idx] = fit["forward"]
        out["implied_q"][idx] = fit["implied_q"]
        out["n_pairs"][idx] = float(fit["n_pairs"])
        out["scale"][idx] = fit["scale"]
    return out
