"""Cboe-VIX-style model-free implied variance of one underlying at one time.

Pure numpy/scipy, no I/O. Implements the method of the Cboe VIX white paper (2019 edition,
"VIX: Cboe Volatility Index"; unchanged in substance in the 2023 "Cboe Volatility Index
Mathematics Methodology") for a flat option chain, plus the variance-swap level implied by a
fitted smile for comparison.

Units and conventions:

- ``t``: time to settlement in years on a minutes grid, T = minutes to settlement / 525600
  (the white paper's M / N_365, 365-day year; ``minutes_to_settlement`` gives the minutes
  for AM-settled (09:30) and PM-settled (16:00) expirations). Not ACT/365 in whole days.
- ``strike``, ``bid``, ``ask``, forwards: index points (price per unit of the underlying).
- ``r``: continuously compounded risk-free rate to the expiry, decimal per year.
- variances: decimal^2 per year (0.04 = 20 % vol); the index is 100 sqrt(variance)
  (20.0 = 20 % vol), like the VIX.

Per term (one expiry, ``term_variance``):

1. Quotes: mid Q = (bid + ask) / 2; a NaN or non-positive bid is a "zero bid"; quotes with
   ask < bid or non-finite ask are treated as zero bids too. The first quote of each
   (strike, right) is used.
2. Forward: at the strike K* with the smallest |C - P| among strikes where both the call and
   the put have a non-zero bid, F = K* + e^{rT} (C - P) (``python_udfs.parity``'s
   ``per_strike_forward``).
3. K0 = the highest listed strike at or below F.
4. Out-of-the-money selection: puts with K < K0 walking down from K0, calls with K > K0
   walking up; a zero-bid option is excluded and, once two zero bids are met at consecutive
   listed strikes of that right, no farther strike is used (strikes where the right is not
   listed neither count nor reset the run). At K0 the average of the put and call mids; when
   only one of them has a non-zero bid the other is taken from put-call parity,
   (C + P)/2 = C - e^{-rT}(F - K0)/2 = P + e^{-rT}(F - K0)/2 (reported in ``reasons``);
   K0 is left out when neither has a bid.
   ``parity_fill`` (off by default, not in the white paper) also fills a strike where the
   out-of-the-money right is not listed at all from the listed in-the-money one by put-call
   parity, Q = C - e^{-rT} (F - K) below K0 and Q = P + e^{-rT} (F - K) above (kept only
   when positive); meant for sparse end-of-day samples, reported in ``reasons``.
5. dK_i = (K_{i+1} - K_{i-1}) / 2 over the selected strikes, one-sided at the ends
   (K_1 - K_0, K_n - K_{n-1}).
6. sigma^2 = (2/T) sum_i dK_i / K_i^2 e^{rT} Q(K_i) - (1/T) (F/K0 - 1)^2.

Term selection and interpolation (``vix_index``): with ``target_days`` = N (default 30) and
N_T = T x 525600 minutes, expirations with fewer than ``min_days`` days (default 7, the
pre-2014 VIX roll rule; Cboe's weekly-era rule keeps both terms strictly inside 23 - 37 days,
reported as ``standard_window``) or whose variance cannot be computed are skipped. The near
term is the latest remaining expiry with T <= N/365, the next term the earliest with
T > N/365. Without a bracketing pair the two nearest expiries on one side are used and the
straight line in total variance is extrapolated (``extrapolated`` flag); a single usable
expiry gives its own variance (``single_term``). Interpolation (white paper step 3):

    sigma_N^2 = [T1 s1^2 (N_T2 - N_N) / (N_T2 - N_T1) + T2 s2^2 (N_N - N_T1) / (N_T2 - N_T1)]
                x N_365 / N_N,    index = 100 sqrt(sigma_N^2).

``thin`` is set when a used term has fewer than ``min_strikes`` (default 10) quoted
out-of-the-money strikes with a non-zero bid (K0 counted, parity-filled strikes not), when
near the money (gaps reaching into |ln(K/F)| <= 2 s, s = sqrt(sigma^2 T) the term's own
standard deviation) two adjacent used strikes are more than ``max_gap_sd`` (default 0.5) s
apart in ln K (the midpoint rule then misprices the bulk of the integral; SPX's 5-point
strikes give ~0.05 s at 30 days), when extrapolating, or with a single term.

``variance_swap_from_total_variance`` integrates the same replication formula,
(2/T) int e^{rT} Q(K)/K^2 dK, on a dense strike grid priced with Black-76 from a total-
variance smile (raw SVI parameters or a callable of log-moneyness), so the VIX-style index
of a chain can be checked against its fitted surface (``variance_swap_index``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.integrate import simpson

from python_udfs.black_scholes import black76_price
from python_udfs.parity import per_strike_forward
from python_udfs.svi import svi_total_variance

__all__ = [
    "MINUTES_PER_YEAR",
    "interpolate_variance",
    "minutes_to_settlement",
    "term_variance",
    "variance_swap_from_total_variance",
    "variance_swap_index",
    "vix_contributions",
    "vix_index",
]

MINUTES_PER_YEAR = 525600.0  # N_365
_MINUTES_PER_DAY = 1440.0
_CBOE_WINDOW_DAYS = (23.0, 37.0)


def minutes_to_settlement(
    quote_time: dt.datetime, expiry: dt.date, pm_settled: bool = False
) -> float:
    """Minutes from ``quote_time`` to the settlement of an option expiring on ``expiry``.

    Both in the exchange's wall clock (naive America/New_York datetimes): settlement at 09:30
    of the expiry date for AM-settled (standard monthly SPX) and 16:00 for PM-settled
    (weekly SPXW) options, i.e. the white paper's M_current day + M_settlement day +
    M_other days. T in years is this / ``MINUTES_PER_YEAR``.
    """
    settle = dt.datetime.combine(expiry, dt.time(16, 0) if pm_settled else dt.time(9, 30))
    quote = quote_time.replace(tzinfo=None)
    return (settle - quote).total_seconds() / 60.0


def _nan_term(reason: str, t: float, r: float, forward: float = math.nan) -> dict:
    empty = np.empty(0)
    return {
        "t": t,
        "r": r,
        "forward": forward,
        "k0": math.nan,
        "variance": math.nan,
        "n_puts": 0,
        "n_calls": 0,
        "n_strikes": 0,
        "n_quoted": 0,
        "n_filled": 0,
        "max_gap_sd": math.nan,
        "strike": empty,
        "option_type": np.empty(0, dtype="<U3"),
        "q": empty,
        "dk": empty,
        "contribution": empty,
        "reasons": [reason],
    }


def _by_strike(strike, is_call, bid, ask):
    """Sorted unique strikes and per-strike (call mid, call ok, put mid, put ok, listed)."""
    k = np.asarray(strike, dtype=np.float64).ravel()
    call = np.asarray(is_call, dtype=bool).ravel()
    b = np.asarray(bid, dtype=np.float64).ravel()
    a = np.asarray(ask, dtype=np.float64).ravel()
    keep = np.isfinite(k) & (k > 0.0)
    k, call, b, a = k[keep], call[keep], b[keep], a[keep]
    strikes = np.unique(k)
    n = strikes.size
    mid = {True: np.full(n, np.nan), False: np.full(n, np.nan)}
    ok = {True: np.zeros(n, dtype=bool), False: np.zeros(n, dtype=bool)}
    listed = {True: np.zeros(n, dtype=bool), False: np.zeros(n, dtype=bool)}
    for right in (True, False):
        sel = np.flatnonzero(call == right)
        if sel.size == 0:
            continue
        # first quote of each strike (stable sort keeps the input order within a strike)
        order = sel[np.argsort(k[sel], kind="stable")]
        ku, first = np.unique(k[order], return_index=True)
        idx = order[first]
        pos = np.searchsorted(strikes, ku)
        bb, aa = b[idx], a[idx]
        good = np.isfinite(bb) & np.isfinite(aa) & (bb > 0.0) & (aa >= bb)
        listed[right][pos] = True
        ok[right][pos] = good
        mid[right][pos] = np.where(good, 0.5 * (bb + aa), np.nan)
    return strikes, mid[True], ok[True], mid[False], ok[False], listed[True], listed[False]


def _max_gap_sd(strikes: np.ndarray, forward: float, total_variance: float) -> float:
    """Widest gap between adjacent used strikes in ln K, over the gaps that reach into
    |ln(K/F)| <= 2 s, in units of the term's standard deviation s = sqrt(sigma^2 T)."""
    if not (total_variance > 0.0 and strikes.size >= 2):
        return math.nan
    s = math.sqrt(total_variance)
    x = np.log(strikes / forward)
    lo, hi = x[:-1], x[1:]
    central = (hi >= -2.0 * s) & (lo <= 2.0 * s)
    if not central.any():
        return math.nan  # no strike gap near the money at all: treated as thin
    return float(np.max(hi[central] - lo[central]) / s)


def term_variance(
    t: float,
    r: float,
    strike,
    is_call,
    bid,
    ask,
    parity_fill: bool = False,
) -> dict:
    """White-paper variance of one expiry (steps 1-2 of the module docstring).

    ``t`` years to settlement (minutes / 525600), ``r`` continuous rate (decimal), per-quote
    arrays ``strike``, ``is_call``, ``bid``, ``ask`` (index points) of this expiry only.

    Returns a dict: ``t``, ``r``, ``forward``, ``k0``, ``variance`` (decimal^2 per year, NaN
    when it cannot be computed), counts ``n_puts``/``n_calls`` (OTM strikes used below/above
    K0), ``n_strikes`` (all strikes used, K0 included), ``n_quoted`` (strikes with a quoted
    non-zero bid, i.e. without parity fills), ``n_filled`` (parity-filled strikes), per-strike
    numpy arrays in ascending strike order ``strike``, ``option_type`` ("P", "C", "P/C" at K0
    when averaged, "C>P"/"P>C" for parity fills), ``q`` (price used), ``dk`` and
    ``contribution`` ((2/T) dK/K^2 e^{rT} Q, decimal^2 per year; their sum minus the K0
    correction is the variance), and ``reasons`` (list of str).
    """
    t = float(t)
    r = float(r)
    if not (np.isfinite(t) and t > 0.0):
        return _nan_term("time to settlement is not positive", t, r)
    strikes, c_mid, c_ok, p_mid, p_ok, c_listed, p_listed = _by_strike(strike, is_call, bid, ask)
    pair = c_ok & p_ok
    if not pair.any():
        return _nan_term("no strike with both a call and a put bid (no forward)", t, r)
    j = np.flatnonzero(pair)
    atm = j[int(np.argmin(np.abs(c_mid[j] - p_mid[j])))]
    forward = float(per_strike_forward(strikes[atm], c_mid[atm], p_mid[atm], r, t))
    below = np.flatnonzero(strikes <= forward)
    if below.size == 0:
        return _nan_term("forward below every listed strike", t, r, forward)
    i0 = int(below[-1])
    k0 = float(strikes[i0])
    disc = math.exp(-r * t)
    growth = math.exp(r * t)

    chosen: list[tuple[int, str, float, bool]] = []  # (strike index, type, Q, quoted)

    def walk(indices, mid, ok, listed, other_mid, other_ok, right: str, other: str, sign: float):
        zero_run = 0
        for i in indices:
            if listed[i]:
                if ok[i]:
                    chosen.append((int(i), right, float(mid[i]), True))
                    zero_run = 0
                    continue
                zero_run += 1
                if zero_run >= 2:
                    break
            elif parity_fill and other_ok[i]:
                # put = call - e^{-rT}(F - K); call = put + e^{-rT}(F - K)
                q = float(other_mid[i]) - sign * disc * (forward - float(strikes[i]))
                if q > 0.0:
                    chosen.append((int(i), f"{other}>{right}", q, False))

    walk(range(i0 - 1, -1, -1), p_mid, p_ok, p_listed, c_mid, c_ok, "P", "C", 1.0)
    walk(range(i0 + 1, strikes.size), c_mid, c_ok, c_listed, p_mid, p_ok, "C", "P", -1.0)
    reasons: list[str] = []
    if c_ok[i0] and p_ok[i0]:
        chosen.append((i0, "P/C", 0.5 * float(c_mid[i0] + p_mid[i0]), True))
    elif c_ok[i0] or p_ok[i0]:
        # (C + P) / 2 with the missing right from parity: C - P = e^{-rT} (F - K0)
        half_gap = 0.5 * disc * (forward - k0)
        q0 = float(c_mid[i0]) - half_gap if c_ok[i0] else float(p_mid[i0]) + half_gap
        chosen.append((i0, "P/C", q0, True))
        reasons.append(
            f"only the {'call' if c_ok[i0] else 'put'} is quoted at K0 = {k0:g}: "
            "the other right of the K0 average is taken from put-call parity"
        )
    else:
        reasons.append(f"no non-zero bid at K0 = {k0:g}")
    chosen.sort(key=lambda x: x[0])
    if len(chosen) < 2:
        out = _nan_term("fewer than two usable strikes", t, r, forward)
        out["k0"] = k0
        return out
    idx = np.array([c[0] for c in chosen], dtype=np.int64)
    ks = strikes[idx]
    q = np.array([c[2] for c in chosen])
    types = np.array([c[1] for c in chosen], dtype="<U3")
    quoted = np.array([c[3] for c in chosen], dtype=bool)
    dk = np.empty_like(ks)
    dk[1:-1] = 0.5 * (ks[2:] - ks[:-2])
    dk[0] = ks[1] - ks[0]
    dk[-1] = ks[-1] - ks[-2]
    contribution = (2.0 / t) * dk / (ks * ks) * growth * q
    variance = float(contribution.sum()) - (forward / k0 - 1.0) ** 2 / t
    n_filled = int((~quoted).sum())
    max_gap = _max_gap_sd(ks, forward, variance * t)
    if n_filled:
        reasons.append(f"{n_filled} strikes filled by put-call parity")
    return {
        "t": t,
        "r": r,
        "forward": forward,
        "k0": k0,
        "variance": variance,
        "n_puts": int((ks < k0).sum()),
        "n_calls": int((ks > k0).sum()),
        "n_strikes": int(ks.size),
        "n_quoted": int(quoted.sum()),
        "n_filled": n_filled,
        "max_gap_sd": max_gap,
        "strike": ks,
        "option_type": types,
        "q": q,
        "dk": dk,
        "contribution": contribution,
        "reasons": reasons,
    }


def interpolate_variance(
    t1: float, var1: float, t2: float, var2: float, target_days: float = 30.0
) -> tuple[float, float, float]:
    """Constant-maturity variance from two terms (white paper step 3), minutes precision.

    ``t1``, ``t2`` years (minutes / 525600), ``var1``, ``var2`` annualised variances
    (decimal^2 per year). Total variance T sigma^2 is linear in time between (or, outside,
    beyond) the two terms. Returns (variance at ``target_days`` in decimal^2 per year,
    weight of term 1, weight of term 2); weights outside [0, 1] mean extrapolation. With
    t1 == t2 the average of the two variances is returned.
    """
    n1 = t1 * MINUTES_PER_YEAR
    n2 = t2 * MINUTES_PER_YEAR
    nt = float(target_days) * _MINUTES_PER_DAY
    if n2 == n1:
        return 0.5 * (var1 + var2), 0.5, 0.5
    w1 = (n2 - nt) / (n2 - n1)
    w2 = (nt - n1) / (n2 - n1)
    total = t1 * var1 * w1 + t2 * var2 * w2
    return float(total * MINUTES_PER_YEAR / nt), float(w1), float(w2)


def _select_terms(
    ts: np.ndarray, usable: Callable[[int], bool], target_t: float
) -> tuple[list[int], str]:
    """Indices (into ascending ``ts``) of the terms used and the selection mode."""
    below = [i for i in range(ts.size - 1, -1, -1) if ts[i] <= target_t]  # nearest first
    above = [i for i in range(ts.size) if ts[i] > target_t]
    near = next((i for i in below if usable(i)), None)
    nxt = next((i for i in above if usable(i)), None)
    if near is not None and nxt is not None:
        return [near, nxt], "interpolated"
    side = above if near is None else below
    found = [i for i in side if usable(i)][:2]
    if len(found) == 2:
        return sorted(found), "extrapolated"
    return found, "single_term" if found else "none"


def vix_index(
    t,
    strike,
    is_call,
    bid,
    ask,
    r,
    target_days: float = 30.0,
    min_days: float = 7.0,
    min_strikes: int = 10,
    max_gap_sd: float = 0.5,
    parity_fill: bool = False,
    with_contributions: bool = True,
) -> dict:
    """VIX-style index of one underlying at one time from a flat option chain.

    Per-quote arrays (broadcast from length 1): ``t`` years to settlement on the minutes grid
    (minutes / 525600; quotes with the same ``t`` form one expiry), ``strike`` (points),
    ``is_call``, ``bid``, ``ask`` (points) and ``r`` (continuous rate of the quote's expiry,
    decimal; the first quote's value is used for each expiry). ``target_days`` constant
    maturity in days, ``min_days`` shortest usable expiry, ``min_strikes`` and
    ``max_gap_sd`` thin-term thresholds, ``parity_fill`` see the module docstring.

    Returns a JSON-ready dict of plain Python values: ``index`` (100 sqrt(variance), NaN when
    not computable), ``variance`` (decimal^2 per year), ``mode`` ("interpolated",
    "extrapolated", "single_term" or "none"), ``near_t``/``next_t`` (years),
    ``near_days``/``next_days``, ``near_forward``/``next_forward``, ``near_k0``/``next_k0``,
    ``near_variance``/``next_variance``, ``near_weight``/``next_weight``,
    ``near_n_strikes``/``next_n_strikes`` (strikes used), ``near_n_quoted``/``next_n_quoted``
    (quoted OTM strikes with non-zero bids), ``near_n_filled``/``next_n_filled`` (parity
    fills), ``near_max_gap_sd``/``next_max_gap_sd`` (widest near-the-money strike gap in
    term standard deviations), ``target_days``, ``thin`` (bool), ``extrapolated`` (bool),
    ``standard_window`` (both terms inside Cboe's (23, 37)-day window), ``reasons`` (list of
    str) and, with ``with_contributions``, ``contributions``: per-strike lists ``term``
    ("near"/"next"), ``t``, ``strike``, ``option_type``, ``q``, ``dk``, ``contribution``
    (decimal^2 per year, before the K0 correction and the interpolation weights).
    """
    arrays = np.broadcast_arrays(
        np.asarray(t, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
        np.asarray(bid, dtype=np.float64),
        np.asarray(ask, dtype=np.float64),
        np.asarray(r, dtype=np.float64),
    )
    tt, kk, cc, bb, aa, rr = (x.ravel() for x in arrays)
    target_t = float(target_days) / 365.0
    reasons: list[str] = []
    finite_t = np.isfinite(tt)
    ts_all = np.unique(tt[finite_t & (tt > 0.0)])
    short = ts_all * 365.0 < float(min_days)
    if short.any():
        reasons.append(f"{int(short.sum())} expiries under {min_days:g} days skipped")
    ts = ts_all[~short]
    terms: dict[int, dict] = {}

    def usable(i: int) -> bool:
        if i not in terms:
            sel = tt == ts[i]
            first = int(np.flatnonzero(sel)[0])
            terms[i] = term_variance(
                ts[i], rr[first], kk[sel], cc[sel], bb[sel], aa[sel], parity_fill=parity_fill
            )
            res = terms[i]
            if not (np.isfinite(res["variance"]) and res["variance"] > 0.0):
                why = "; ".join(res["reasons"]) or "non-positive variance"
                reasons.append(f"expiry at {ts[i] * 365.0:.2f} days unusable: {why}")
                return False
        res = terms[i]
        return bool(np.isfinite(res["variance"]) and res["variance"] > 0.0)

    picked, mode = _select_terms(ts, usable, target_t)
    nan = math.nan
    out: dict = {
        "index": nan,
        "variance": nan,
        "mode": mode,
        "target_days": float(target_days),
        "thin": True,
        "extrapolated": mode == "extrapolated",
        "standard_window": False,
    }
    for name in ("near", "next"):
        for key in (
            "t",
            "days",
            "forward",
            "k0",
            "variance",
            "weight",
            "n_strikes",
            "n_quoted",
            "n_filled",
            "max_gap_sd",
        ):
            out[f"{name}_{key}"] = nan if key not in ("n_strikes", "n_quoted", "n_filled") else 0
    contrib = {k: [] for k in ("term", "t", "strike", "option_type", "q", "dk", "contribution")}
    if not picked:
        reasons.append("no usable expiry")
        out["reasons"] = reasons
        if with_contributions:
            out["contributions"] = contrib
        return out
    used = [terms[i] for i in picked]
    if len(used) == 2:
        var, w1, w2 = interpolate_variance(
            used[0]["t"], used[0]["variance"], used[1]["t"], used[1]["variance"], target_days
        )
        weights = [w1, w2]
    else:
        var, weights = used[0]["variance"], [1.0]
        reasons.append("single usable expiry: its variance is used unchanged")
    thin = mode != "interpolated"
    if mode == "extrapolated":
        reasons.append("no pair of expiries brackets the target: extrapolated")
    for name, res, w in zip(("near", "next"), used, weights, strict=False):
        out[f"{name}_t"] = float(res["t"])
        out[f"{name}_days"] = float(res["t"]) * 365.0
        out[f"{name}_forward"] = float(res["forward"])
        out[f"{name}_k0"] = float(res["k0"])
        out[f"{name}_variance"] = float(res["variance"])
        out[f"{name}_weight"] = float(w)
        out[f"{name}_n_strikes"] = int(res["n_strikes"])
        out[f"{name}_n_quoted"] = int(res["n_quoted"])
        out[f"{name}_n_filled"] = int(res["n_filled"])
        out[f"{name}_max_gap_sd"] = float(res["max_gap_sd"])
        reasons.extend(f"{name} term: {x}" for x in res["reasons"])
        if res["n_quoted"] < min_strikes:
            thin = True
            reasons.append(
                f"{name} term has {res['n_quoted']} quoted OTM strikes (< {min_strikes})"
            )
        if not res["max_gap_sd"] <= max_gap_sd:
            thin = True
            reasons.append(
                f"{name} term: strike gap of {res['max_gap_sd']:.2f} sd near the money "
                f"(> {max_gap_sd:g})"
            )
        if with_contributions:
            n = res["strike"].size
            contrib["term"].extend([name] * n)
            contrib["t"].extend([float(res["t"])] * n)
            contrib["strike"].extend(float(x) for x in res["strike"])
            contrib["option_type"].extend(str(x) for x in res["option_type"])
            contrib["q"].extend(float(x) for x in res["q"])
            contrib["dk"].extend(float(x) for x in res["dk"])
            contrib["contribution"].extend(float(x) for x in res["contribution"])
    lo, hi = _CBOE_WINDOW_DAYS
    out["standard_window"] = len(used) == 2 and all(lo < u["t"] * 365.0 < hi for u in used)
    if var > 0.0 and np.isfinite(var):
        out["variance"] = float(var)
        out["index"] = 100.0 * math.sqrt(var)
    else:
        reasons.append("interpolated variance is not positive")
    out["thin"] = bool(thin)
    out["reasons"] = reasons
    if with_contributions:
        out["contributions"] = contrib
    return out


def vix_contributions(result: dict) -> dict[str, np.ndarray]:
    """The per-strike audit lists of a ``vix_index`` result as numpy arrays.

    Adds ``weighted``: each strike's share of the index variance, contribution x term weight
    x T_term / T_target (decimal^2 per year). Summed with the weighted K0 corrections,
    -(w T / T_target) (1/T)(F/K0 - 1)^2 per term, it gives ``result["variance"]``.
    """
    c = result["contributions"]
    out = {
        "term": np.asarray(c["term"], dtype="<U4"),
        "t": np.asarray(c["t"], dtype=np.float64),
        "strike": np.asarray(c["strike"], dtype=np.float64),
        "option_type": np.asarray(c["option_type"], dtype="<U3"),
        "q": np.asarray(c["q"], dtype=np.float64),
        "dk": np.asarray(c["dk"], dtype=np.float64),
        "contribution": np.asarray(c["contribution"], dtype=np.float64),
    }
    target_t = float(result["target_days"]) / 365.0
    weight = np.where(out["term"] == "near", result["near_weight"], result["next_weight"])
    out["weighted"] = out["contribution"] * weight * out["t"] / target_t
    return out


def _total_variance_fn(
    svi_params: Sequence[float] | None, total_variance: Callable | None
) -> Callable[[np.ndarray], np.ndarray]:
    if (svi_params is None) == (total_variance is None):
        raise ValueError("give exactly one of svi_params and total_variance")
    if total_variance is not None:
        return lambda k: np.asarray(total_variance(k), dtype=np.float64)
    a, b, rho, m, sigma = (float(x) for x in svi_params)
    return lambda k: svi_total_variance(k, a, b, rho, m, sigma)


def variance_swap_from_total_variance(
    t: float,
    forward: float,
    r: float = 0.0,
    svi_params: Sequence[float] | None = None,
    total_variance: Callable | None = None,
    n_points: int = 4001,
    n_sd: float = 12.0,
) -> float:
    """Fair variance of a variance swap to ``t`` implied by one smile (decimal^2 per year).

    sigma^2 = (2/T) int_0^inf e^{rT} Q(K) / K^2 dK, Q the discounted Black-76 price of the
    out-of-the-money option (put below the forward, call above), i.e. the white paper's sum
    in the limit of a continuum of strikes with exact K0 = F (no correction term). The rate
    cancels (e^{rT} Q is the forward price); it is kept to price with ``black76_price``
    exactly as a quote would be.

    The smile is the total implied variance w(k) = vol^2 T (decimal^2 x years) at log
    forward moneyness k = ln(K/F): either raw SVI ``svi_params`` = (a, b, rho, m, sigma)
    (``python_udfs.svi.svi_total_variance``) or a callable ``total_variance(k)``. ``t`` in
    years, ``forward`` in points. The integral is done in k (dK / K^2 = dk / K) by
    Simpson's rule on ``n_points`` per side of k = 0 (where the integrand has a kink), out
    to |k| = ``n_sd`` ATM standard deviations (at least 0.5), widened until the integrand
    at both ends is below 1e-12 of its peak (|k| <= 20). NaN if w is not positive.
    """
    t = float(t)
    forward = float(forward)
    r = float(r)
    w_fn = _total_variance_fn(svi_params, total_variance)
    if not (t > 0.0 and forward > 0.0):
        return math.nan
    w0 = float(np.asarray(w_fn(np.array([0.0])))[0])
    if not (np.isfinite(w0) and w0 > 0.0):
        return math.nan
    half = max(float(n_sd) * math.sqrt(w0), 0.5)
    growth = math.exp(r * t)
    n = max(int(n_points), 11) | 1  # odd: Simpson on an even number of intervals

    def integrand(k: np.ndarray) -> np.ndarray:
        w = np.asarray(w_fn(k), dtype=np.float64)
        vol = np.sqrt(np.maximum(w, 0.0) / t)
        strike = forward * np.exp(k)
        q = black76_price(forward, strike, t, r, vol, k >= 0.0)
        return growth * q / strike  # Q / K^2 dK = Q / K dk

    while True:
        left = np.linspace(-half, 0.0, n)
        right = np.linspace(0.0, half, n)
        f_left, f_right = integrand(left), integrand(right)
        peak = max(float(f_left.max()), float(f_right.max()))
        tails = max(float(f_left[0]), float(f_right[-1]))
        if tails <= 1e-12 * peak or half >= 20.0:
            break
        half = min(2.0 * half, 20.0)
    total = simpson(f_left, x=left) + simpson(f_right, x=right)
    if not np.all(np.isfinite(np.r_[f_left, f_right])):
        return math.nan
    return float(2.0 / t * total)


def variance_swap_index(
    t,
    forward,
    svi_params,
    target_days: float = 30.0,
    r=0.0,
    n_points: int = 4001,
) -> dict:
    """Constant-maturity variance-swap index from per-expiry raw SVI slices.

    ``t`` years (minutes / 525600) and ``forward`` (points) per expiry, ``svi_params`` an
    (n_expiries, 5) array of raw SVI (a, b, rho, m, sigma), ``r`` scalar or per expiry. The
    fair variance of each slice (``variance_swap_from_total_variance``) is interpolated to
    ``target_days`` between the bracketing expiries exactly like ``vix_index`` (same
    ``interpolate_variance``; extrapolated from the two nearest otherwise). Returns plain
    floats: ``index`` (100 sqrt(variance)), ``variance`` (decimal^2 per year),
    ``near_t``, ``next_t``, ``near_variance``, ``next_variance``, ``extrapolated`` (bool).
    """
    ts = np.atleast_1d(np.asarray(t, dtype=np.float64))
    fs = np.broadcast_to(np.asarray(forward, dtype=np.float64), ts.shape)
    rs = np.broadcast_to(np.asarray(r, dtype=np.float64), ts.shape)
    params = np.asarray(svi_params, dtype=np.float64).reshape(ts.size, 5)
    order = np.argsort(ts)
    ts, fs, rs, params = ts[order], fs[order], rs[order], params[order]
    target_t = float(target_days) / 365.0
    cache: dict[int, float] = {}

    def var_of(i: int) -> float:
        if i not in cache:
            cache[i] = variance_swap_from_total_variance(
                ts[i], fs[i], rs[i], svi_params=params[i], n_points=n_points
            )
        return cache[i]

    picked, mode = _select_terms(ts, lambda i: ts[i] > 0.0 and var_of(i) > 0.0, target_t)
    nan = math.nan
    out = {
        "index": nan,
        "variance": nan,
        "near_t": nan,
        "next_t": nan,
        "near_variance": nan,
        "next_variance": nan,
        "extrapolated": mode == "extrapolated",
    }
    if not picked:
        return out
    if len(picked) == 2:
        i, j = picked
        var, _, _ = interpolate_variance(ts[i], var_of(i), ts[j], var_of(j), target_days)
        out.update(next_t=float(ts[j]), next_variance=float(var_of(j)))
    else:
        i = picked[0]
        var = var_of(i)
    out.update(near_t=float(ts[i]), near_variance=float(var_of(i)))
    if var > 0.0:
        out["variance"] = float(var)
        out["index"] = 100.0 * math.sqrt(var)
    return out
