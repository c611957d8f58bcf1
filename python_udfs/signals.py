"""Trading-signal numerics: point-in-time volatility regimes, the composite volatility score,
OU trading of cointegrated log-price spreads, model-vs-market surface divergence and its
confidence, index implied and realized correlation (dispersion), rank correlation.

Pure numpy + scipy, on top of the tested kernels (``regime``, ``cointegration``,
``mean_reversion``). Every array argument is one underlying's (or pair's) daily history in
trading-day order unless stated; outputs are aligned with it. Missing values are NaN (the SQL
callers pass 'NaN', never NULL, so that rows keep their place in time). Point in time: an
output element i uses input elements 0..i only.

Units: implied and realized vols annualised decimals (0.25 = 25 %); log prices natural logs;
half-lives in observations (trading days); probabilities, scores, strengths and confidences
dimensionless.

Volatility regimes (``regime_probabilities_pit``): a 3-state Gaussian mixture (or Gaussian
HMM) of the day's volatility features, states sorted by the mean of feature 0 (the implied-vol
level) so that state 0 = low, 2 = high vol. Refitted on an EXPANDING window: the k-th fit uses
the complete rows 0..r_k, where r_k is the row at which the count of complete rows reaches
``min_rows + k * refit_every``; rows r_k .. r_{k+1} - 1 are classified by that fit (GMM: the
posterior of the row alone; HMM: the filtered probability P(s_t | x_0..x_t), forward pass
from row 0 with the fit's parameters). A row never uses a fit of later data. A fit that fails
(too few rows, constant feature) leaves its rows classified by the previous valid fit.

Composite score (``composite_vol_score``), positive = buy volatility, each component in
[-1, 1] (weights ``COMPOSITE_WEIGHTS`` 0.3 / 0.3 / 0.2 / 0.2, the vol-trading seed's):

- IV rank: 1 - 2 rank (rank 0 -> +1: vol cheap, buy; rank 1 -> -1);
- regime: P(low) - P(high);
- momentum: tanh(ln(IV_t / IV_{t-5}) / 0.10): rising implied vol (+10 % in 5 rows -> 0.76)
  argues for buying vol, falling for selling (trend in IV, a documented choice);
- term structure: -tanh((IV_60d / IV_30d - 1) / 0.05): contango (60-day above 30-day,
  +5 % -> -0.76) is the calm, premium-rich state: sell; backwardation (stress): buy.

score = sum w_i s_i; agreement = |score| / sum w_i |s_i| (1 when every component points the
same way; the signal's confidence).

OU pairs (``pair_ou_path``): per row i, Engle-Granger of log A on log B over the last
``max_window`` rows (at least ``min_window`` complete ones): hedge ratio, intercept, p-value,
the residual spread u and its exact OU fit. A pair is selected on a row whose p-value is below
``p_select`` and stays active for ``memory`` rows, or up to the row of its first health exit
(cointegration lost, OU fit invalid: one exit row, not one per remaining row; a new selection
re-activates it). On an active row the traded position is the portfolio long A, short
hedge_ratio x B per unit of capital, valued X = 1 + u (u is a log spread, ~ the relative P&L
of the portfolio); the short-spread trade is X' = 1 - u. Leung & Li
(2015) levels with transaction cost ``cost`` per trade (units of X), discount ``rate`` per year
and a stop-loss ``stop_sd`` stationary sds below the mean give, for each side, the entry level
d*, the optimal entry region [a*, d*], the take-profit b* and the stop L. Decision
(re-evaluated every active row): exit when the pair's health fails (p-value above ``p_warn`` or the
OU fit invalid) or the spread is at a stop-loss; else long when L < X <= d* (spread beyond the
long entry level), short likewise on X'; else exit when X >= b* (a long's take-profit) or
X' >= b*' (a short's); else nothing. Health warning: half-life above ``half_life_ratio`` x
the median half-life of the previous ``half_life_history`` rows.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata

from python_udfs.cointegration import engle_granger
from python_udfs.mean_reversion import TRADING_DAYS, leung_li_levels, leung_li_value
from python_udfs.regime import gmm_fit, gmm_predict_proba, hmm_filter, hmm_fit

__all__ = [
    "COMPOSITE_WEIGHTS",
    "MOMENTUM_SCALE",
    "PAIR_FIELDS",
    "REGIME_FEATURES",
    "REGIME_FIELDS",
    "SURFACE_FIELDS",
    "TERM_SCALE",
    "composite_vol_score",
    "implied_correlation",
    "pair_ou_path",
    "pair_ou_signals",
    "rank_correlation",
    "realized_correlation",
    "regime_probabilities_pit",
    "surface_arbitrage_scores",
    "vol_regime_gmm",
    "vol_regime_hmm",
]

# ----------------------------------------------------------------------------- regimes

REGIME_FIELDS = (
    "p_low",
    "p_mid",
    "p_high",
    "state",
    "fit_row",
    "n_fit",
    "mean_iv_low",
    "mean_iv_mid",
    "mean_iv_high",
)


def _refit_rows(ok: np.ndarray, min_rows: int, refit_every: int) -> np.ndarray:
    count = np.cumsum(ok)
    due = ok & (count >= min_rows) & ((count - min_rows) % refit_every == 0)
    return np.flatnonzero(due)


def regime_probabilities_pit(
    X,
    refit_every: int = 5,
    min_rows: int = 20,
    model: str = "gmm",
    compute=None,
    n_states: int = 3,
    seed: int = 0,
    n_init: int = 3,
    reg_covar: float = 1e-2,
) -> dict[str, np.ndarray]:
    """Point-in-time regime probabilities of the rows of ``X`` (n x d, time order), expanding
    window refitted every ``refit_every`` complete rows from ``min_rows`` on (module
    docstring). ``model``: "gmm" or "hmm". ``compute``: optional boolean mask of the rows
    wanted (others NaN; only the fits those rows need are run, so an incremental caller gets
    the same values as a full run). ``reg_covar`` is added to the covariance diagonals in
    standardised units (1e-2: a short history cannot support 3 full covariances otherwise).

    Returns arrays (n,): ``proba`` (n x n_states, states by ascending mean of column 0),
    ``state`` (argmax), ``fit_row`` (row of the fit used), ``n_fit`` (complete rows in that
    fit), ``state_means`` (n x n_states: the fit's mean of column 0 per state). NaN where a
    row is incomplete or precedes the first valid fit.
    """
    if model not in ("gmm", "hmm"):
        raise ValueError(f"model must be 'gmm' or 'hmm', got {model!r}")
    a = np.asarray(X, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    n, k = a.shape[0], int(n_states)
    refit_every, min_rows = max(1, int(refit_every)), max(5 * k, int(min_rows))
    want = np.ones(n, dtype=bool) if compute is None else np.asarray(compute, dtype=bool)
    ok = np.isfinite(a).all(axis=1)
    proba = np.full((n, k), np.nan)
    means = np.full((n, k), np.nan)
    fit_row = np.full(n, np.nan)
    n_fit = np.full(n, np.nan)
    refits = _refit_rows(ok, min_rows, refit_every)
    if refits.size == 0 or not want.any():
        return _regime_out(proba, means, fit_row, n_fit)
    bounds = np.append(refits, n)
    fitter = gmm_fit if model == "gmm" else hmm_fit
    fits: dict[int, dict] = {}

    def valid_fit(j: int):
        # the fit of segment j, or the latest valid one before it
        for jj in range(j, -1, -1):
            if jj not in fits:
                fits[jj] = fitter(
                    a[: int(refits[jj]) + 1],
                    k,
                    seed=seed,
                    n_init=n_init,
                    order_by=0,
                    reg_covar=reg_covar,
                )
            if fits[jj].get("valid"):
                return int(refits[jj]), fits[jj]
        return None

    for j in range(len(refits)):
        lo, hi = int(bounds[j]), int(bounds[j + 1])
        if not want[lo:hi].any():
            continue
        found = valid_fit(j)
        if found is None:
            continue
        row, params = found
        if model == "gmm":
            p = gmm_predict_proba(a[lo:hi], params)
        else:
            p = hmm_filter(a[:hi], params)[lo:hi]
        p[~ok[lo:hi]] = np.nan
        proba[lo:hi] = p
        means[lo:hi] = np.asarray(params["means"], dtype=np.float64)[:, 0]
        fit_row[lo:hi] = row
        n_fit[lo:hi] = params["n"]
    proba[~want] = np.nan
    incomplete = ~np.isfinite(proba).all(axis=1)
    for arr in (means, fit_row, n_fit):
        arr[incomplete] = np.nan
    return _regime_out(proba, means, fit_row, n_fit)


def _regime_out(proba, means, fit_row, n_fit) -> dict[str, np.ndarray]:
    ok = np.isfinite(proba).all(axis=1)
    state = np.full(proba.shape[0], np.nan)
    state[ok] = proba[ok].argmax(axis=1)
    return {
        "proba": proba,
        "state": state,
        "fit_row": fit_row,
        "n_fit": n_fit,
        "state_means": means,
    }


REGIME_FEATURES = ("iv", "vix_ratio", "term_slope", "rv")


def _vol_regime(model, iv, vix_ratio, term_slope, rv, compute, refit_every, min_rows, use):
    cols = [iv, vix_ratio, term_slope, rv]
    flags = np.asarray(use, dtype=np.float64).ravel()
    if flags.size != len(cols):
        raise ValueError(f"use_features needs {len(cols)} flags ({', '.join(REGIME_FEATURES)})")
    keep = [0] + [j for j in range(1, len(cols)) if flags[j] != 0.0]  # iv always: the order
    X = np.column_stack([np.asarray(cols[j], dtype=np.float64) for j in keep])
    out = regime_probabilities_pit(
        X,
        refit_every=int(np.asarray(refit_every).reshape(-1)[0]),
        min_rows=int(np.asarray(min_rows).reshape(-1)[0]),
        model=model,
        compute=np.broadcast_to(np.asarray(compute, dtype=bool), (X.shape[0],)),
    )
    p, m = out["proba"], out["state_means"]
    return {
        "p_low": p[:, 0],
        "p_mid": p[:, 1],
        "p_high": p[:, 2],
        "state": out["state"],
        "fit_row": out["fit_row"],
        "n_fit": out["n_fit"],
        "mean_iv_low": m[:, 0],
        "mean_iv_mid": m[:, 1],
        "mean_iv_high": m[:, 2],
    }


def vol_regime_gmm(
    iv, vix_ratio, term_slope, rv, compute, refit_every, min_rows, use_features
) -> dict:
    """SQL shim (quant.vol_regime_gmm): ``regime_probabilities_pit`` with the GMM, 3 states,
    on the features flagged in ``use_features`` (1/0 for iv, vix_ratio, term_slope, rv; iv
    is always used: it orders the states); fields ``REGIME_FIELDS``."""
    return _vol_regime(
        "gmm", iv, vix_ratio, term_slope, rv, compute, refit_every, min_rows, use_features
    )


def vol_regime_hmm(
    iv, vix_ratio, term_slope, rv, compute, refit_every, min_rows, use_features
) -> dict:
    """SQL shim (quant.vol_regime_hmm): as ``vol_regime_gmm`` with the Gaussian HMM's
    filtered probabilities."""
    return _vol_regime(
        "hmm", iv, vix_ratio, term_slope, rv, compute, refit_every, min_rows, use_features
    )


# ----------------------------------------------------------------------------- composite

COMPOSITE_WEIGHTS = {"iv_rank": 0.3, "regime": 0.3, "momentum": 0.2, "term": 0.2}
MOMENTUM_SCALE = 0.10  # ln(IV_t / IV_{t-5}) giving tanh(1)
TERM_SCALE = 0.05  # IV_60d / IV_30d - 1 giving tanh(1)
COMPOSITE_FIELDS = ("s_iv_rank", "s_regime", "s_momentum", "s_term", "score", "agreement")


def composite_vol_score(iv_rank, p_low, p_high, iv_30d, iv_30d_lag5, iv_60d) -> dict:
    """Composite volatility score (module docstring), elementwise; NaN when an input is.

    ``iv_rank`` in [0, 1]; ``p_low``, ``p_high`` regime probabilities; ``iv_30d`` today's
    30-day ATM IV, ``iv_30d_lag5`` five rows earlier, ``iv_60d`` today's 60-day ATM IV.
    Returns ``s_iv_rank``, ``s_regime``, ``s_momentum``, ``s_term`` (each in [-1, 1]),
    ``score`` (weighted sum, in [-1, 1], > 0 buy vol) and ``agreement`` (|score| / sum of
    |weighted components|, in [0, 1]; 0 when every component is 0).
    """
    rank, pl, ph, iv, lag, iv60 = (
        np.asarray(v, dtype=np.float64)
        for v in (iv_rank, p_low, p_high, iv_30d, iv_30d_lag5, iv_60d)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        s_ivr = 1.0 - 2.0 * np.clip(rank, 0.0, 1.0)
        s_reg = np.clip(pl - ph, -1.0, 1.0)
        s_mom = np.tanh(np.log(iv / lag) / MOMENTUM_SCALE)
        s_term = -np.tanh((iv60 / iv - 1.0) / TERM_SCALE)
    w = COMPOSITE_WEIGHTS
    parts = (w["iv_rank"] * s_ivr, w["regime"] * s_reg, w["momentum"] * s_mom, w["term"] * s_term)
    score = parts[0] + parts[1] + parts[2] + parts[3]
    gross = np.abs(parts[0]) + np.abs(parts[1]) + np.abs(parts[2]) + np.abs(parts[3])
    with np.errstate(divide="ignore", invalid="ignore"):
        agreement = np.where(gross > 0.0, np.abs(score) / gross, 0.0)
    agreement = np.where(np.isfinite(score), agreement, np.nan)
    return {
        "s_iv_rank": s_ivr,
        "s_regime": s_reg,
        "s_momentum": s_mom,
        "s_term": s_term,
        "score": score,
        "agreement": agreement,
    }


# ----------------------------------------------------------------------------- OU pairs

PAIR_FIELDS = (
    "hedge_ratio",
    "intercept",
    "p_value",
    "adf_stat",
    "n_obs",
    "theta",
    "mu",
    "sigma",
    "half_life_days",
    "stationary_sd",
    "spread",
    "z_score",
    "is_selected",
    "is_active",
    "half_life_median",
    "warn_cointegration",
    "warn_half_life",
    "long_entry_lower",
    "long_entry_upper",
    "long_exit",
    "long_stop",
    "short_entry_lower",
    "short_entry_upper",
    "short_exit",
    "short_stop",
    "signal",
    "exit_reason",
    "strength",
    "confidence",
    "expected_edge",
)

# exit_reason codes
EXIT_STOP_LONG, EXIT_STOP_SHORT, EXIT_TAKE_LONG, EXIT_TAKE_SHORT = 1, 2, 3, 4
EXIT_COINTEGRATION_LOST, EXIT_OU_INVALID = 5, 6
EXIT_REASONS = {
    EXIT_STOP_LONG: "stop_loss_long",
    EXIT_STOP_SHORT: "stop_loss_short",
    EXIT_TAKE_LONG: "take_profit_long",
    EXIT_TAKE_SHORT: "take_profit_short",
    EXIT_COINTEGRATION_LOST: "cointegration_lost",
    EXIT_OU_INVALID: "no_mean_reversion",
}


def _nan_or(v) -> float:
    return np.nan if v is None else float(v)


def pair_ou_path(
    log_a,
    log_b,
    compute=None,
    max_window: int = 120,
    min_window: int = 40,
    p_select: float = 0.01,
    p_warn: float = 0.05,
    memory: int = 20,
    cost: float = 0.001,
    rate: float = 0.05,
    stop_sd: float = 3.0,
    half_life_ratio: float = 1.5,
    half_life_history: int = 60,
) -> dict[str, np.ndarray]:
    """OU pair-trading path of the spread log A - intercept - hedge_ratio log B (module
    docstring). ``compute``: boolean mask of the rows wanted (default all); every output on
    a wanted row equals that of a full run (the lookbacks are recomputed).

    Returns float arrays ``PAIR_FIELDS`` aligned with the inputs: the rolling Engle-Granger
    results (``hedge_ratio``, ``intercept``, ``p_value``, ``adf_stat``, ``n_obs``), the OU
    fit of the window's residuals (``theta`` per year, ``mu``, ``sigma`` per sqrt(year),
    ``half_life_days``, ``stationary_sd``; log-spread units), today's ``spread`` u and
    ``z_score`` (u - mu) / stationary_sd, flags (1/0) ``is_selected``, ``is_active``,
    ``warn_cointegration``, ``warn_half_life``, ``half_life_median`` (of the previous
    ``half_life_history`` rows, >= 5 values), the Leung-Li levels of both sides expressed as
    spread values u (long: entry region [entry_lower, entry_upper], take-profit ``long_exit``
    above, stop ``long_stop`` below; short mirrored: entry region above the mean, take-profit
    below, stop above), ``signal`` (1 long the spread, -1 short, 2 exit, 0 none),
    ``exit_reason`` (``EXIT_REASONS`` code), ``strength`` (entries min(1, |z| / 3); exits 1
    for stops and failed health, 0.5 for take-profits), ``confidence`` (entries and
    take-profits clip(1 - p / p_warn, 0, 1), halved under a half-life warning; 1 for stops and
    failed health) and ``expected_edge`` (entries: Leung-Li J(X) = V(X) - X - c, the expected
    discounted net return per unit of capital of entering now, stop-loss included; NaN
    otherwise).
    """
    a = np.asarray(log_a, dtype=np.float64).ravel()
    b = np.asarray(log_b, dtype=np.float64).ravel()
    if a.size != b.size:
        raise ValueError(f"log_a and log_b differ in length: {a.size} != {b.size}")
    n = a.size
    want = (
        np.ones(n, dtype=bool)
        if compute is None
        else np.broadcast_to(np.asarray(compute, dtype=bool), (n,))
    )
    out = {f: np.full(n, np.nan) for f in PAIR_FIELDS}
    if n == 0 or not want.any():
        return out
    ok = np.isfinite(a) & np.isfinite(b)
    first = int(np.flatnonzero(want)[0])
    start = max(0, first - max(int(memory), int(half_life_history)))
    hl = np.full(n, np.nan)
    ou_ok = np.zeros(n, dtype=bool)
    dt = 1.0 / TRADING_DAYS
    for i in range(start, n):
        lo = max(0, i - int(max_window) + 1)
        if not ok[i] or int(ok[lo : i + 1].sum()) < int(min_window):
            continue
        res = engle_granger(a[lo : i + 1], b[lo : i + 1], dt=dt)
        if not res["valid"]:
            continue
        out["hedge_ratio"][i] = res["hedge_ratio"]
        out["intercept"][i] = res["intercept"]
        out["p_value"][i] = res["p_value"]
        out["adf_stat"][i] = res["adf_stat"]
        out["n_obs"][i] = res["n"]
        out["spread"][i] = res["spread_last"]
        if res["ou_valid"]:
            ou_ok[i] = True
            theta, sigma = float(res["theta"]), float(res["sigma"])
            out["theta"][i], out["mu"][i], out["sigma"][i] = theta, res["mu"], sigma
            hl[i] = float(res["half_life_periods"])
            sd = sigma / math.sqrt(2.0 * theta)
            out["stationary_sd"][i] = sd
            out["z_score"][i] = (res["spread_last"] - res["mu"]) / sd
    out["half_life_days"] = hl.copy()
    p = out["p_value"]
    selected = np.where(np.isfinite(p), p < p_select, False)
    out["is_selected"] = np.where(np.isfinite(p), selected.astype(float), np.nan)
    # active: selected within the last ``memory`` rows and no health exit since the last
    # selection; run from ``start`` (every selection and health exit that can reach a wanted
    # row lies after it), so a wanted row's state equals that of a full run
    last_selected, retired = -int(memory), False
    for i in range(start, n):
        if selected[i]:
            last_selected, retired = i, False
        active = i - last_selected < int(memory) and not retired
        health_fails = active and bool(np.isfinite(p[i]) and (p[i] > p_warn or not ou_ok[i]))
        if want[i]:
            _pair_row(
                out,
                i,
                active,
                hl,
                p,
                ou_ok,
                half_life_history,
                half_life_ratio,
                p_warn,
                cost,
                rate,
                stop_sd,
            )
        retired = retired or health_fails
    for f in PAIR_FIELDS:
        out[f][~want] = np.nan
    return out


def _pair_row(
    out, i, active, hl, p, ou_ok, half_life_history, half_life_ratio, p_warn, cost, rate, stop_sd
) -> None:
    """Row i's activity, half-life median, health flags and decision (in place)."""
    out["is_active"][i] = float(active)
    hist = hl[max(0, i - int(half_life_history)) : i]
    hist = hist[np.isfinite(hist)]
    med = float(np.median(hist)) if hist.size >= 5 else np.nan
    out["half_life_median"][i] = med
    if not active or not np.isfinite(p[i]):
        return
    warn_coint = bool(p[i] > p_warn)
    warn_hl = bool(np.isfinite(hl[i]) and np.isfinite(med) and hl[i] > half_life_ratio * med)
    out["warn_cointegration"][i] = float(warn_coint)
    out["warn_half_life"][i] = float(warn_hl)
    _pair_decision(out, i, warn_coint, warn_hl, ou_ok[i], p_warn, cost, rate, stop_sd)


def _pair_decision(out, i, warn_coint, warn_hl, ou_valid, p_warn, cost, rate, stop_sd) -> None:
    """Levels and the day's decision of an active pair on row i (in place)."""

    def exit_(reason: int, strength: float, confidence: float) -> None:
        out["signal"][i], out["exit_reason"][i] = 2.0, float(reason)
        out["strength"][i], out["confidence"][i] = strength, confidence

    def enter(side: float, levels: dict, x: float) -> None:
        out["signal"][i], out["strength"][i] = side, min(1.0, abs(z) / 3.0)
        out["confidence"][i] = conf
        out["expected_edge"][i] = leung_li_value(x, levels)["entry_value"][0]

    if warn_coint:
        exit_(EXIT_COINTEGRATION_LOST, 1.0, 1.0)
        return
    if not ou_valid:
        exit_(EXIT_OU_INVALID, 1.0, 1.0)
        return
    theta, mu, sigma = out["theta"][i], out["mu"][i], out["sigma"][i]
    sd, u, z = out["stationary_sd"][i], out["spread"][i], out["z_score"][i]
    # long the spread: X = 1 + u; short: X' = 1 - u (same theta, sigma; mean 1 -/+ mu)
    lv = leung_li_levels(theta, 1.0 + mu, sigma, cost, rate, stop_loss=1.0 + mu - stop_sd * sd)
    sv = leung_li_levels(theta, 1.0 - mu, sigma, cost, rate, stop_loss=1.0 - mu - stop_sd * sd)
    if lv["valid"]:
        out["long_entry_lower"][i] = _nan_or(lv["entry_lower"]) - 1.0
        out["long_entry_upper"][i] = lv["entry_upper"] - 1.0
        out["long_exit"][i] = lv["exit"] - 1.0
        out["long_stop"][i] = lv["stop"] - 1.0
    if sv["valid"]:
        out["short_entry_lower"][i] = 1.0 - sv["entry_upper"]
        out["short_entry_upper"][i] = 1.0 - _nan_or(sv["entry_lower"])
        out["short_exit"][i] = 1.0 - sv["exit"]
        out["short_stop"][i] = 1.0 - sv["stop"]
    x_long, x_short = 1.0 + u, 1.0 - u
    conf = min(1.0, max(0.0, 1.0 - out["p_value"][i] / p_warn)) * (0.5 if warn_hl else 1.0)
    if lv["valid"] and x_long <= lv["stop"]:
        exit_(EXIT_STOP_LONG, 1.0, 1.0)
    elif sv["valid"] and x_short <= sv["stop"]:
        exit_(EXIT_STOP_SHORT, 1.0, 1.0)
    elif lv["valid"] and x_long <= lv["entry_upper"]:
        enter(1.0, lv, x_long)
    elif sv["valid"] and x_short <= sv["entry_upper"]:
        enter(-1.0, sv, x_short)
    elif lv["valid"] and x_long >= lv["exit"]:
        exit_(EXIT_TAKE_LONG, 0.5, conf)
    elif sv["valid"] and x_short >= sv["exit"]:
        exit_(EXIT_TAKE_SHORT, 0.5, conf)
    else:
        out["signal"][i] = 0.0


def pair_ou_signals(
    log_a,
    log_b,
    compute,
    max_window,
    min_window,
    p_select,
    p_warn,
    memory,
    cost,
    rate,
    stop_sd,
    half_life_ratio,
    half_life_history,
) -> dict[str, np.ndarray]:
    """SQL shim (quant.pair_ou_signals): ``pair_ou_path`` with every parameter passed as a
    one-element (broadcast) array."""

    def first(v) -> float:
        return float(np.asarray(v).reshape(-1)[0])

    return pair_ou_path(
        log_a,
        log_b,
        compute=compute,
        max_window=int(first(max_window)),
        min_window=int(first(min_window)),
        p_select=first(p_select),
        p_warn=first(p_warn),
        memory=int(first(memory)),
        cost=first(cost),
        rate=first(rate),
        stop_sd=first(stop_sd),
        half_life_ratio=first(half_life_ratio),
        half_life_history=int(first(half_life_history)),
    )


# ----------------------------------------------------------------------------- surface

SURFACE_FIELDS = (
    "divergence",
    "fit_score",
    "liquidity_score",
    "maturity_score",
    "confidence",
    "strength",
    "signal",
    "expected_edge",
)
FIT_RMSE_ZERO = 0.05  # slice RMSE (vol decimal) at which the fit score reaches 0
SPREAD_ZERO = 0.10  # relative bid-ask spread at which the spread score reaches 0
OI_FULL = 1000.0  # open interest (contracts) with a full open-interest score
VOLUME_FULL = 100.0  # session volume (contracts) with a full volume score


def surface_arbitrage_scores(
    market_iv,
    model_iv,
    rmse_vol,
    relative_spread,
    open_interest,
    volume,
    days_to_expiry,
    threshold,
    min_confidence,
) -> dict[str, np.ndarray]:
    """Model-vs-market divergence of each contract and the stochastic-vol design's confidence
    0.4 fit + 0.4 liquidity + 0.2 maturity, elementwise.

    - ``divergence`` = (market_iv - model_iv) / model_iv (relative; > 0: the market prices the
      option richer than the model);
    - ``fit_score`` = max(0, 1 - rmse_vol / 0.05): the slice's calibration RMSE in vol
      decimals (0 vol points -> 1, 5 vol points or worse -> 0);
    - ``liquidity_score`` = 0.5 max(0, 1 - relative_spread / 0.10) + 0.25 min(1,
      log10(1 + OI) / 3) + 0.25 min(1, log10(1 + volume) / 2): the seed's spread score (a
      10 % bid-ask spread scores 0) plus open interest (1000 contracts score 1) and volume
      (100 contracts); a missing OI or volume scores 0;
    - ``maturity_score``: the seed's 0.3 below 7 days to expiry, 1.0 from 30 to 90 days, 0.7
      otherwise;
    - ``confidence`` = 0.4 fit + 0.4 liquidity + 0.2 maturity, in [0, 1];
    - ``signal``: -1 (sell vol: market above model) or +1 (buy vol) when |divergence| >
      ``threshold`` and confidence > ``min_confidence``, else 0;
    - ``strength`` = min(1, (|divergence| - threshold) / (4 threshold)) (0 at the threshold,
      1 at five times it);
    - ``expected_edge`` = |market_iv - model_iv|, vol decimal, the convergence the trade
      expects (NaN when no signal).
    """
    m, mod, rmse, spr, oi, vol, days = (
        np.asarray(v, dtype=np.float64)
        for v in (
            market_iv,
            model_iv,
            rmse_vol,
            relative_spread,
            open_interest,
            volume,
            days_to_expiry,
        )
    )
    thr = float(np.asarray(threshold).reshape(-1)[0])
    min_conf = float(np.asarray(min_confidence).reshape(-1)[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        div = (m - mod) / mod
    fit = np.clip(1.0 - rmse / FIT_RMSE_ZERO, 0.0, 1.0)
    spread_score = np.clip(1.0 - spr / SPREAD_ZERO, 0.0, 1.0)
    oi_score = np.clip(
        np.log10(1.0 + np.where(np.isfinite(oi), np.maximum(oi, 0.0), 0.0)) / 3.0, 0.0, 1.0
    )
    vol_score = np.clip(
        np.log10(1.0 + np.where(np.isfinite(vol), np.maximum(vol, 0.0), 0.0)) / 2.0, 0.0, 1.0
    )
    liquidity = 0.5 * spread_score + 0.25 * oi_score + 0.25 * vol_score
    maturity = np.where(days < 7.0, 0.3, np.where((days >= 30.0) & (days <= 90.0), 1.0, 0.7))
    maturity = np.where(np.isfinite(days), maturity, np.nan)
    conf = 0.4 * fit + 0.4 * liquidity + 0.2 * maturity
    fires = (np.abs(div) > thr) & (conf > min_conf)
    signal = np.where(fires, -np.sign(div), 0.0)
    signal = np.where(np.isfinite(div) & np.isfinite(conf), signal, np.nan)
    strength = np.where(fires, np.clip((np.abs(div) - thr) / (4.0 * thr), 0.0, 1.0), np.nan)
    edge = np.where(fires, np.abs(m - mod), np.nan)
    return {
        "divergence": div,
        "fit_score": fit,
        "liquidity_score": liquidity,
        "maturity_score": maturity,
        "confidence": conf,
        "strength": strength,
        "signal": signal,
        "expected_edge": edge,
    }


# ----------------------------------------------------------------------------- dispersion


def implied_correlation(index_iv: float, weights, constituent_iv) -> float:
    """Average implied correlation of an index: (sigma_I^2 - sum w_i^2 sigma_i^2) /
    sum_{i != j} w_i w_j sigma_i sigma_j, the single correlation that makes the weighted
    constituents' variance equal the index's implied variance. ``weights`` are normalised to
    sum 1 over the constituents with a finite, positive IV. Not clipped (a value above 1 or
    below -1 flags inconsistent inputs); NaN with fewer than 2 constituents."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    s = np.asarray(constituent_iv, dtype=np.float64).ravel()
    if w.size != s.size:
        raise ValueError(f"weights and constituent_iv differ in length: {w.size} != {s.size}")
    keep = np.isfinite(w) & np.isfinite(s) & (s > 0.0) & (w > 0.0)
    w, s = w[keep], s[keep]
    index_iv = float(index_iv)
    if w.size < 2 or not math.isfinite(index_iv) or index_iv <= 0.0:
        return math.nan
    w = w / w.sum()
    ws = w * s
    own = float(np.sum(ws * ws))
    cross = float(ws.sum() ** 2 - own)
    return (index_iv * index_iv - own) / cross if cross > 0.0 else math.nan


def realized_correlation(returns, n_assets: int, weights) -> float:
    """Realized counterpart of ``implied_correlation``: sum_{i != j} w_i w_j s_i s_j rho_ij /
    sum_{i != j} w_i w_j s_i s_j with the sample covariance of the constituents' daily log
    returns (``returns``: row-major days x n_assets, rows with a NaN dropped), i.e. the
    weighted average pairwise correlation with the implied formula's weighting. NaN with
    fewer than 3 complete days or 2 assets with variance."""
    r = np.asarray(returns, dtype=np.float64).reshape(-1, int(n_assets))
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.size != r.shape[1]:
        raise ValueError("weights must have one element per asset")
    r = r[np.isfinite(r).all(axis=1)]
    if r.shape[0] < 3 or r.shape[1] < 2:
        return math.nan
    cov = np.cov(r, rowvar=False, ddof=1)
    s = np.sqrt(np.diag(cov))
    keep = np.isfinite(w) & (w > 0.0) & (s > 0.0)
    if keep.sum() < 2:
        return math.nan
    w = w[keep] / w[keep].sum()
    cov, s = cov[np.ix_(keep, keep)], s[keep]
    ws = w * s
    own = float(np.sum(ws * ws))
    cross = float(ws.sum() ** 2 - own)
    num = float(w @ cov @ w) - float(np.sum(w * w * np.diag(cov)))
    return num / cross if cross > 0.0 else math.nan


# ----------------------------------------------------------------------------- evaluation


def rank_correlation(x, y) -> float:
    """Spearman rank correlation of the finite pairs of ``x`` and ``y`` (average ranks for
    ties): the information coefficient of a score against an outcome. NaN with fewer than 3
    pairs or a constant side."""
    xv = np.asarray(x, dtype=np.float64).ravel()
    yv = np.asarray(y, dtype=np.float64).ravel()
    if xv.size != yv.size:
        raise ValueError(f"x and y differ in length: {xv.size} != {yv.size}")
    keep = np.isfinite(xv) & np.isfinite(yv)
    if keep.sum() < 3:
        return math.nan
    rx, ry = rankdata(xv[keep]), rankdata(yv[keep])
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / den if den > 0.0 else math.nan
