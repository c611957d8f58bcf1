"""All per-quote outputs of ``int_option_quotes_iv`` for a batch of option quotes (one quote time).

``option_quote_slice`` is the Python side of ``quant.option_quote_slice_batch`` (declared in
``python_udfs.sql_api_options``): the zero rate, the put-call-parity forward and yield, the
bid/mid/ask implied vols, the mid status and the greeks of a batch in one call. Pure numpy; it
composes the existing numerics (``rates``, ``parity``, ``implied_vol``, ``american``,
``black_scholes``) and does not import the SQL registry (importable first, in the server).
"""

from __future__ import annotations

import numpy as np

from python_udfs.american import _DEFAULT_STEPS
from python_udfs.american import _iv_core as american_iv_core
from python_udfs.black_scholes import GREEK_FIELDS, bs_greeks, forward_price
from python_udfs.implied_vol import _iv_core as european_iv_core
from python_udfs.parity import implied_forward_groups
from python_udfs.rates import zero_rate

__all__ = ["GREEK_FIELDS", "SLICE_FIELDS", "option_quote_slice"]

SLICE_FIELDS = (
    "rate",
    "forward",
    "implied_q",
    "n_pairs",
    "iv_bid",
    "iv_mid",
    "iv_ask",
    "iv_status",
    *GREEK_FIELDS,
)


def _subset(mask: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    return [a[mask] if a.size == mask.size else a for a in arrays]


def _parity_groups(underlying, grp) -> np.ndarray:
    """A float key per option, one value per distinct (underlying, expiry key) pair."""
    g = np.asarray(grp, dtype=np.float64)
    u = np.asarray(underlying).reshape(-1)
    if u.size <= 1:
        return g
    _, number = np.unique(u, return_inverse=True)
    g = np.broadcast_to(g, number.shape)
    order = np.lexsort((g, number))
    ns, gs = number[order], g[order]
    new_pair = np.r_[True, (ns[1:] != ns[:-1]) | (gs[1:] != gs[:-1])]
    key = np.empty(number.size)
    key[order] = np.cumsum(new_pair) - 1.0
    return key


def option_quote_slice(
    underlying,
    grp,
    strike,
    is_call,
    is_american,
    bid,
    ask,
    mid,
    spread,
    t,
    spot,
    tenor_days,
    zero_rates,
) -> dict[str, np.ndarray]:
    """Every per-quote output of ``int_option_quotes_iv`` for a batch of option quotes.

    Same numerics, and the same results (bit for bit but where an option falls back to the
    solver's safeguarded loop, whose continued fraction starts at a depth set by the batch:
    within 1e-14 there), as the chain of batch calls it replaces
    (``quant.zero_rate_batch`` -> ``quant.implied_forward_batch`` ->
    ``quant.implied_vol_greeks_batch`` (mid), ``quant.implied_vol_batch`` (bid, ask),
    ``quant.implied_vol_status_batch`` (mid) for European options;
    ``quant.american_implied_vol_batch`` (bid, mid, ask in one batch),
    ``quant.american_implied_vol_status_batch`` (mid) and ``quant.bs_greeks_batch`` at the
    American mid vol for American ones), with a NULL intermediate of the chain (no rate, no
    forward) represented by NaN. Differences: one transfer of the slice instead of eight, the
    mid vol is solved once for the vol and its status, bid, mid and ask in one solver call,
    and the bid vol is not solved where bid <= 0 (no solution: ``nonpositive_input``).

    One call may hold several underlyings (``int_option_quotes_iv`` passes all of a quote
    time's): the parity groups are the (``underlying``, ``grp``) pairs, and ``spot`` is per
    option.

    Per-option arrays (length n; ``underlying`` and ``spot`` length 1 or n): ``underlying``
    symbol, ``grp`` expiry key (e.g. the expiration's epoch days), ``strike``, ``is_call``,
    ``is_american`` (tree IV instead of BSM), ``bid``, ``ask``, ``mid``,
    ``spread`` per share (NaN = no quote), ``t`` years; ``spot`` per share (NaN = unknown);
    ``tenor_days`` / ``zero_rates``: the slice's zero curve (whole arrays).

    Returns ``SLICE_FIELDS`` arrays: rate, forward, implied_q, n_pairs (parity fit), iv_bid,
    iv_mid, iv_ask, iv_status (index into ``implied_vol.STATUS_CODES``, NaN = not evaluated:
    no rate, spot or forward) and the 8 BSM greeks at iv_mid; NaN = NULL.
    """
    g, k, call, am, b, a, m, sp, tt = np.broadcast_arrays(
        _parity_groups(underlying, grp),
        np.asarray(strike, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
        np.asarray(is_american, dtype=bool),
        np.asarray(bid, dtype=np.float64),
        np.asarray(ask, dtype=np.float64),
        np.asarray(mid, dtype=np.float64),
        np.asarray(spread, dtype=np.float64),
        np.asarray(t, dtype=np.float64),
    )
    n = g.size
    s = np.asarray(spot, dtype=np.float64).reshape(-1)
    s_n = np.broadcast_to(s, (n,)) if s.size in (0, 1) and n else s
    out = {name: np.full(n, np.nan) for name in SLICE_FIELDS}
    if n == 0:
        return out
    r = np.asarray(zero_rate(tenor_days, zero_rates, tt), dtype=np.float64)
    out["rate"] = r
    # parity fit over the options with a rate and a spot (the chain left the others out)
    fit = ~np.isnan(r) & ~np.isnan(s_n)
    if fit.any():
        fit_price = np.where((b > 0.0) & (a > 0.0), m, np.nan)
        pf = implied_forward_groups(*_subset(fit, g, k, call, fit_price, sp, s_n, tt, r))
        for name in ("forward", "implied_q", "n_pairs"):
            out[name][fit] = pf[name]
    q = out["implied_q"]
    solvable = fit & ~np.isnan(q)  # every input of the vol solvers known
    status = out["iv_status"]
    eu = np.flatnonzero(solvable & ~am)
    if eu.size:
        ek, et, er, eq, ec = k[eu], tt[eu], r[eu], q[eu], call[eu]
        es = s_n[eu]
        ef = forward_price(es, et, er, eq)
        # mid, bid and ask in one solver call (one pass of numpy calls instead of three); bid:
        # no solution where bid <= 0 (nonpositive_input), so not solved there
        has_bid = np.flatnonzero(b[eu] > 0.0)
        both = np.concatenate((np.arange(eu.size), has_bid, np.arange(eu.size)))
        price = np.concatenate((m[eu], b[eu][has_bid], a[eu]))
        vols, st, _ = european_iv_core(price, ef[both], ek[both], et[both], er[both], ec[both])
        vol = vols[: eu.size]
        out["iv_mid"][eu] = vol
        status[eu] = st[: eu.size]
        out["iv_bid"][eu[has_bid]] = vols[eu.size : eu.size + has_bid.size]
        out["iv_ask"][eu] = vols[eu.size + has_bid.size :]
        missing = np.isnan(vol)
        greeks = bs_greeks(es, ek, et, er, eq, np.where(missing, 0.0, vol), ec)
        for name in GREEK_FIELDS:
            out[name][eu] = np.where(missing, np.nan, greeks[name])
    us = np.flatnonzero(solvable & am)
    if us.size:
        # bid, mid and ask in one batch (quotes present), as the chain solved them
        idx = np.concatenate((us, us, us))
        price = np.concatenate((b[us], m[us], a[us]))
        keep = ~np.isnan(price)
        idx, price = idx[keep], price[keep]
        block = np.repeat(np.arange(3), us.size)[keep]
        vol, st, _ = american_iv_core(
            price, s_n[idx], k[idx], tt[idx], r[idx], q[idx], call[idx], _DEFAULT_STEPS
        )
        for j, field in enumerate(("iv_bid", "iv_mid", "iv_ask")):
            sel = block == j
            out[field][idx[sel]] = vol[sel]
        sel = block == 1
        status[idx[sel]] = st[sel]
        am_vol = out["iv_mid"][us]
        has = ~np.isnan(am_vol)
        if has.any():
            u = us[has]
            greeks = bs_greeks(s_n[u], k[u], tt[u], r[u], q[u], am_vol[has], call[u])
            for name in GREEK_FIELDS:
                out[name][u] = greeks[name]
    return out
