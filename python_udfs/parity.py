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
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    w = np.asarray(w, dtype=np.float64).reshape(1, -1)
    return np.float64(_row_weighted_median(x, w, np.ones(x.shape, dtype=bool))[0])


def _row_weighted_median(x: np.ndarray, w: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``weighted_median`` of every row of (G, m) arrays over its ``valid`` entries (>= 1)."""
    key = np.where(valid, x, np.inf)
    order = np.argsort(key, axis=1, kind="stable")
    xs = np.take_along_axis(x, order, axis=1)
    cw = np.cumsum(np.take_along_axis(np.where(valid, w, 0.0), order, axis=1), axis=1)
    j = np.argmax(cw >= 0.5 * cw[:, -1:], axis=1)
    j = np.minimum(j, valid.sum(axis=1) - 1)
    return xs[np.arange(x.shape[0]), j]


def _robust_locations(
    x: np.ndarray,
    w: np.ndarray,
    valid: np.ndarray,
    band: np.ndarray | None = None,
    max_iter: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust location of every row of (G, m) arrays (``valid`` marks its points, >= 1 per row):
    weighted Huber location, then weighted means of the inliers (|x - mu| <= band, or <= 3.5
    robust scales without a band), iterated; returns (location, robust scale, inliers) per row.

    Huber only down-weights gross outliers, and with few points their pull on the median and
    the MAD is large, hence the final hard rejection. Rows iterate independently (a row stops
    when it has converged), all rows in the same numpy calls.
    """
    rows = np.arange(x.shape[0])
    x0 = np.where(valid, x, 0.0)
    w0 = np.where(valid, w, 0.0)
    mu = _row_weighted_median(x0, w0, valid)
    scale = 1.4826 * _row_weighted_median(np.abs(x0 - mu[:, None]), w0, valid)
    active = rows[scale > 0.0]
    for _ in range(max_iter):
        if active.size == 0:
            break
        xa, wa, ma = x0[active], w0[active], mu[active]
        z = np.abs(xa - ma[:, None]) / scale[active, None]
        hw = wa * np.minimum(1.0, _HUBER_C / np.maximum(z, 1e-300))
        new = np.sum(hw * xa, axis=1) / np.sum(hw, axis=1)
        done = np.abs(new - ma) <= 1e-14 * np.maximum(1.0, np.abs(ma))
        mu[active] = new
        active = active[~done]
    limit = band if band is not None else (_REJECT * scale)[:, None]
    n_in = valid.sum(axis=1)
    active = rows
    for _ in range(5):
        if active.size == 0:
            break
        xa, ma = x0[active], mu[active]
        inlier = valid[active] & (np.abs(xa - ma[:, None]) <= limit[active])
        count = inlier.sum(axis=1)
        enough = count >= 2
        wi = np.where(inlier, w0[active], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            new = np.sum(wi * xa, axis=1) / np.sum(wi, axis=1)
        n_in[active[enough]] = count[enough]
        moved = enough & (new != ma)
        mu[active[moved]] = new[moved]
        active = active[moved]
    return mu, scale, n_in


def _fit_groups(
    pair_group: np.ndarray,
    strike: np.ndarray,
    call_mid: np.ndarray,
    put_mid: np.ndarray,
    r: np.ndarray,
    t: np.ndarray,
    spot: np.ndarray,
    call_spread: np.ndarray | None,
    put_spread: np.ndarray | None,
    n_near: int,
) -> dict[str, np.ndarray]:
    """The robust parity fit of ``implied_forward`` for G expiry groups in one pass.

    Per-pair arrays (``pair_group`` the group index 0..G-1 of each pair; ties of the
    preliminary and the near-the-money selections go to the earlier pair) and per-group
    ``r``, ``t``, ``spot`` (length G); spreads None for equal weights and the 3.5-scale
    rejection. Returns per-group arrays forward, implied_q, n_pairs, scale, discount (NaN
    forward / 0 pairs for a group without a valid pair).
    """
    n_groups = r.size
    disc = np.exp(-r * t)
    nan = np.full(n_groups, np.nan)
    out = {
        "forward": nan.copy(),
        "implied_q": nan.copy(),
        "n_pairs": np.zeros(n_groups, dtype=np.int64),
        "scale": nan.copy(),
        "discount": disc,
    }
    with np.errstate(invalid="ignore"):
        ok = (
            np.isfinite(strike)
            & np.isfinite(call_mid)
            & np.isfinite(put_mid)
            & (strike > 0.0)
            & (call_mid >= 0.0)
            & (put_mid >= 0.0)
        )
    pair_disc = disc[pair_group]
    if call_spread is not None and put_spread is not None:
        var = call_spread * call_spread + put_spread * put_spread
        # quotes bracketing the true prices bound |F_i - F| by e^{rT} (s_C + s_P) / 2
        band = (0.5 / pair_disc) * (call_spread + put_spread)
        with np.errstate(invalid="ignore"):
            ok &= np.isfinite(var) & (var >= 0.0)
            positive = ok & (var > 0.0)
        # per group: 1e-4 x the median positive variance floors the weights
        floor = np.full(n_groups, 1e-12)
        if positive.any():
            g_pos, v_pos = pair_group[positive], var[positive]
            order = np.lexsort((v_pos, g_pos))
            g_pos, v_pos = g_pos[order], v_pos[order]
            starts = np.flatnonzero(np.r_[True, g_pos[1:] != g_pos[:-1]])
            counts = np.diff(np.r_[starts, g_pos.size])
            lo = v_pos[starts + (counts - 1) // 2]
            hi = v_pos[starts + counts // 2]
            med = 0.5 * (lo + hi)
            floor[g_pos[starts]] = np.where(med > 0.0, 1e-4 * med, 1e-12)
        weights = 1.0 / np.maximum(var, floor[pair_group])
    else:
        band = None
        weights = np.ones_like(strike)
    ok &= t[pair_group] > 0.0
    if not ok.any():
        return out
    sel = np.flatnonzero(ok)
    grp = pair_group[sel]
    k, c, p = strike[sel], call_mid[sel], put_mid[sel]
    f_i = k + (c - p) / pair_disc[sel]
    # preliminary forward: the pair with the smallest |C - P| (the first on ties)
    gap = np.abs(c - p)
    by_gap = np.lexsort((np.arange(sel.size), gap, grp))
    g_sorted = grp[by_gap]
    firsts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    groups = g_sorted[firsts]
    f0 = np.full(n_groups, np.nan)
    f0[groups] = f_i[by_gap[firsts]]
    # the n_near pairs nearest the money, by |ln(K / F0)| (ties in strike order)
    dist = np.abs(np.log(k / f0[grp]))
    by_dist = np.lexsort((np.arange(sel.size), dist, grp))
    g_sorted = grp[by_dist]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    rank = np.arange(sel.size) - np.repeat(starts, np.diff(np.r_[starts, sel.size]))
    keep = rank < max(int(n_near), 1)
    chosen, row_group, col = by_dist[keep], g_sorted[keep], rank[keep]
    row = np.searchsorted(groups, row_group)
    width = int(col.max()) + 1
    shape = (groups.size, width)
    x = np.zeros(shape)
    w = np.zeros(shape)
    valid = np.zeros(shape, dtype=bool)
    x[row, col] = f_i[chosen]
    w[row, col] = weights[sel][chosen]
    valid[row, col] = True
    lim = None
    if band is not None:
        lim = np.zeros(shape)
        lim[row, col] = band[sel][chosen]
    forward, scale, n_used = _robust_locations(x, w, valid, lim)
    out["forward"][groups] = forward
    out["scale"][groups] = scale
    out["n_pairs"][groups] = n_used
    s, rr, tt = spot[groups], r[groups], t[groups]
    has_spot = np.isfinite(s) & (s > 0.0) & (forward > 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = rr - np.log(forward / s) / tt
    out["implied_q"][groups] = np.where(has_spot, q, np.nan)
    return out


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

    def per_pair(a) -> np.ndarray:
        return np.broadcast_to(np.asarray(a, dtype=np.float64).ravel(), k.shape)

    spreads = (None, None)
    if call_spread is not None and put_spread is not None:
        spreads = (per_pair(call_spread), per_pair(put_spread))
    fit = _fit_groups(
        np.zeros(k.size, dtype=np.intp),
        k,
        per_pair(call_mid),
        per_pair(put_mid),
        np.array([float(r)]),
        np.array([float(t)]),
        np.array([np.nan if spot is None else float(spot)]),
        *spreads,
        n_near,
    )
    return {name: v[0] for name, v in fit.items()}


def implied_forward_groups(
    grp, strike, is_call, price, spread, spot, t, r, n_near: int = 8
) -> dict[str, np.ndarray]:
    """``implied_forward`` for every expiry group of a slice, one element per option in.

    Batched wrapper (one SQL call per slice or quote time). Per-option arrays:
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
    # sort by (group, strike, put before call); the first put and the first call of each
    # (group, strike) form its pair
    order = np.lexsort((call, k, g))
    gs, ks, cs = g[order], k[order], call[order]
    run = np.flatnonzero(
        np.r_[True, (gs[1:] != gs[:-1]) | (ks[1:] != ks[:-1]) | (cs[1:] != cs[:-1])]
    )
    pair = (
        (gs[run[:-1]] == gs[run[1:]]) & (ks[run[:-1]] == ks[run[1:]]) & ~cs[run[:-1]] & cs[run[1:]]
    )
    put_i, call_i = order[run[:-1][pair]], order[run[1:][pair]]
    # groups (contiguous in ``order``); t, r and spot of a group are those of its first option
    group_start = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    group_of = np.cumsum(np.r_[True, gs[1:] != gs[:-1]]) - 1  # by position in ``order``
    first = order[group_start]
    if put_i.size == 0:
        return out
    position = np.empty(n, dtype=np.intp)
    position[order] = np.arange(n)
    fit = _fit_groups(
        group_of[position[call_i]],
        k[call_i],
        px[call_i],
        px[put_i],
        rr[first],
        tt[first],
        s[first],
        sp[call_i],
        sp[put_i],
        n_near,
    )
    found = np.isfinite(fit["forward"])
    option_group = group_of[position]
    has = found[option_group]
    for name in ("forward", "implied_q", "n_pairs", "scale"):
        out[name][has] = np.asarray(fit[name], dtype=np.float64)[option_group[has]]
    return out
