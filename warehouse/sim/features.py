"""Optional market features for the signal layer (``Preset`` flags, off in ``ci``).

Every draw here comes from streams of its own (``streams.FEATURES``), so a run with the
features off writes the same bytes as before they existed, and the draws of the plain
market (factor shocks, trades, chains) are the same with or without them.

- Index ``SIMIX`` (``index_underlying``): the last underlying of the universe. Its efficient
  price is the basket I = sum_i n_i S_i of every simulated name with fixed share counts
  n_i = (INDEX_BASE / N) / s0_i (equal value weights 1/N at the s0 prices, drifting with
  the prices afterwards); asset class index, European cash-settled options, no dividends,
  earnings or news of its own. Its implied variance (the Heston state fed to the surface,
  with vrp 1 and no jumps) is the basket variance at an implied correlation above the true
  one: v_I = (sum a_i)^2 rho_impl + (1 - rho_impl) sum a_i^2, a_i = w_i sigma_i (current value
  weights, sigma_i^2 = vrp_i v_i + jump variance rate_i), rho_impl = min(0.9, rho_true +
  IMPLIED_CORR_PREMIUM), rho_true = the w-weighted mean pairwise correlation of the factor
  loadings. So implied minus realized correlation is about IMPLIED_CORR_PREMIUM.
- Cointegrated pairs (``cointegrated_pairs`` = P): for j < P, lead 2j and dependent 2j+1
  (moved into the lead's sector): x_dep = a + beta x_lead + s with the OU spread
  ds = -PAIR_THETA s dt + sigma dW (exact steps on the price clock; stationary sd
  PAIR_SPREAD_SD); the dependent's own dividend, earnings and news moves are shocks to s
  (they revert). Trades, quotes, bars and chains of the dependent follow this path.
- Mispriced quotes (``mispriced_share``): see ``chains.build_chain``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from warehouse.sim import streams
from warehouse.sim.market import DayPath
from warehouse.sim.universe import Universe, symbol_for

INDEX_SYMBOL = "SIMIX"
INDEX_BASE = 1000.0  # index level at the s0 prices
INDEX_POPULARITY = 4.0  # option volume / open-interest multiplier of the index
IMPLIED_CORR_PREMIUM = 0.3
# OU speed per trading year: half-life ln 2 / 175 * 252 = 1.0 session. Fast on purpose: with
# 60 sessions, Engle-Granger at 1 % finds a 4.4-session half-life on ~10 % of windows (no
# better than chance pairs on a demo), a 1-session one on most (measured: 67-100 %).
PAIR_THETA = 175.0
PAIR_SPREAD_SD = 0.02  # stationary sd of the spread, log units
PAIR_BETA = (0.7, 1.3)  # uniform range of the hedge ratio
# purposes of streams.FEATURES
SETUP, PAIR_SHOCKS, MISPRICE = 0, 1, 2


@dataclass
class Features:
    index_k: int | None  # universe index of SIMIX (the last), None without an index
    shares: np.ndarray  # (N,) index share counts of the constituents 0..N-1
    weights0: np.ndarray  # (N,) value weights at s0 (sum 1)
    rho_true: float
    rho_impl: float
    lead: np.ndarray  # (P,) universe indices
    dep: np.ndarray  # (P,)
    beta: np.ndarray  # (P,)
    intercept: np.ndarray  # (P,)
    sigma: np.ndarray  # (P,) OU diffusion per sqrt(trading year)
    spread: np.ndarray  # (P,) OU state carried across days

    @property
    def n_constituents(self) -> int:
        return len(self.shares)


def true_corr(u: Universe, k: np.ndarray) -> np.ndarray:
    """Correlation matrix of the factor shocks of underlyings ``k``."""
    p = u.p
    bm, bs, sec = p["beta_market"][k], p["beta_sector"][k], u.sector_idx[k]
    c = np.outer(bm, bm) + np.where(sec[:, None] == sec[None, :], np.outer(bs, bs), 0.0)
    np.fill_diagonal(c, 1.0)
    return c


def setup(u: Universe, seed: int, n_names: int, index: bool, n_pairs: int) -> Features:
    """Mutate the universe (drawn with one extra member when ``index``) for the features."""
    g = streams.rng(seed, streams.FEATURES, SETUP)
    p = u.p
    n_pairs = min(n_pairs, n_names // 2)
    lead = 2 * np.arange(n_pairs)
    dep = lead + 1
    beta = g.uniform(*PAIR_BETA, n_pairs)
    u.sector_idx[dep] = u.sector_idx[lead]
    x0 = np.log(p["s0"])
    intercept = x0[dep] - beta * x0[lead]
    sigma = np.full(n_pairs, PAIR_SPREAD_SD * np.sqrt(2.0 * PAIR_THETA))
    index_k = None
    shares = np.zeros(0)
    w0 = np.zeros(0)
    rho_true = rho_impl = float("nan")
    if index:
        index_k = n_names
        if INDEX_SYMBOL in u.symbols[:n_names]:
            # universes of > 231 names: the stock that symbol_for names SIMIX gets the next
            # unused ticker, so the index's chains never mix with a stock's
            u.symbols[u.symbols.index(INDEX_SYMBOL)] = symbol_for(len(u.symbols))
        u.symbols[index_k] = INDEX_SYMBOL
        names = np.arange(n_names)
        shares = np.round(INDEX_BASE / n_names / p["s0"][names], 6)
        w0 = shares * p["s0"][names]
        w0 = w0 / w0.sum()
        c = true_corr(u, names)
        off = np.outer(w0, w0)
        np.fill_diagonal(off, 0.0)
        rho_true = float((off * c).sum() / off.sum()) if n_names > 1 else 1.0
        rho_impl = min(0.9, rho_true + IMPLIED_CORR_PREMIUM)
        k = index_k
        p["s0"][k] = float(np.round(shares @ p["s0"][names], 2))
        v_long = _index_variance(p, names, w0[None, :], p["heston_theta"][names][None, :], rho_impl)
        for name, value in (
            ("variance_risk_premium", 1.0),
            ("jump_intensity", 0.0),
            ("jump_kbar", 0.0),
            ("dividend_yield", 0.0),
            ("dividend_amount", 0.0),
            ("news_rate", 0.0),
            ("earnings_std", 0.0),
            ("option_popularity", INDEX_POPULARITY),
            ("heston_theta", float(v_long[0])),
            ("vol_long", float(np.sqrt(v_long[0]))),
            ("heston_v0", float(v_long[0])),
        ):
            p[name][k] = value
    return Features(
        index_k=index_k,
        shares=shares,
        weights0=w0,
        rho_true=rho_true,
        rho_impl=rho_impl,
        lead=lead,
        dep=dep,
        beta=beta,
        intercept=intercept,
        sigma=sigma,
        spread=np.zeros(n_pairs),
    )


def strip_schedules(u: Universe, f: Features) -> None:
    """No dividends or earnings events for the index."""
    if f.index_k is None:
        return
    keep = u.div_u != f.index_k
    u.div_u, u.div_amount, u.div_session = u.div_u[keep], u.div_amount[keep], u.div_session[keep]
    u.div_ex = [d for d, k in zip(u.div_ex, keep, strict=True) if k]
    u.div_pay = [d for d, k in zip(u.div_pay, keep, strict=True) if k]
    keep = u.ev_u != f.index_k
    u.ev_u, u.ev_session = u.ev_u[keep], u.ev_session[keep]
    u.ev_jump_session, u.ev_jump = u.ev_jump_session[keep], u.ev_jump[keep]
    u.ev_date = [d for d, k in zip(u.ev_date, keep, strict=True) if k]


def _index_variance(p, names, w, v, rho) -> np.ndarray:
    """Basket variance at correlation ``rho``; w, v: (steps, N)."""
    jump_rate = p["jump_intensity"] * (p["jump_mean"] ** 2 + p["jump_std"] ** 2)
    sig = np.sqrt(p["variance_risk_premium"][names] * np.maximum(v, 0.0) + jump_rate[names])
    a = w * sig
    return rho * a.sum(axis=1) ** 2 + (1.0 - rho) * (a * a).sum(axis=1)


def apply_pairs(
    f: Features,
    path: DayPath,
    seed: int,
    d: int,
    x_prev: np.ndarray,
    gap_extra: dict[str, np.ndarray],
    news_drift: np.ndarray,
) -> None:
    """Replace the dependents' paths by lead + OU spread (in place); advances ``f.spread``."""
    from warehouse.sim.market import DT_MINUTE, DT_OVERNIGHT

    if len(f.dep) == 0:
        return
    g = streams.rng(seed, streams.FEATURES, PAIR_SHOCKS, d)
    minutes = path.det.shape[0]
    z = g.standard_normal((minutes + 1, len(f.dep)))
    lead, dep, beta = f.lead, f.dep, f.beta
    th = PAIR_THETA
    shock = sum(gap_extra.values(), np.zeros(len(x_prev)))[dep]

    def step(dt):
        return np.exp(-th * dt), f.sigma * np.sqrt((1.0 - np.exp(-2.0 * th * dt)) / (2.0 * th))

    e_o, sd_o = step(DT_OVERNIGHT)
    e_m, sd_m = step(DT_MINUTE)
    s = np.empty((minutes + 1, len(dep)))
    det_s = np.empty((minutes, len(dep)))
    s[0] = f.spread * e_o + sd_o * z[0] + shock
    for m in range(minutes):
        det_s[m] = s[m] * (e_m - 1.0) + news_drift[m, dep]
        s[m + 1] = s[m] + det_s[m] + sd_m * z[m + 1]
    x_dep = f.intercept + beta * path.x[:, lead] + s
    sd_l = path.sd[:, lead]
    sd_dep = np.sqrt((beta * sd_l) ** 2 + sd_m**2)
    path.w[:, dep] = (beta * sd_l * path.w[:, lead] + sd_m * z[1:]) / sd_dep
    path.det[:, dep] = beta * path.det[:, lead] + det_s
    path.sd[:, dep] = sd_dep
    path.x[:, dep] = x_dep
    path.overnight["logret"][dep] = x_dep[0] - x_prev[dep]
    path.overnight["diffusion"][dep] = path.overnight["logret"][dep] - shock
    path.overnight["variance"][dep] = (beta**2) * path.overnight["variance"][lead] + sd_o**2
    path.session_iv[dep] = (beta**2) * path.session_iv[lead] + minutes * sd_m**2
    path.n_jumps[dep] = path.n_jumps[lead]
    path.jump_sum[dep] = beta * path.jump_sum[lead]
    f.spread = s[-1]


def apply_index(f: Features, path: DayPath, u: Universe, x_prev: np.ndarray) -> None:
    """Replace the index path by the basket of the constituents' paths (in place)."""
    if f.index_k is None:
        return
    k, n = f.index_k, f.n_constituents
    val = np.exp(path.x[:, :n]) * f.shares
    level = val.sum(axis=1)
    x = np.log(level)
    path.x[:, k] = x
    path.det[:, k] = np.diff(x)  # linear between minute boundaries
    path.sd[:, k] = 0.0
    path.w[:, k] = 0.0
    path.var[:, k] = _index_variance(
        u.p, np.arange(n), val / level[:, None], path.var[:, :n], f.rho_impl
    )
    path.overnight["logret"][k] = x[0] - x_prev[k]
    path.overnight["diffusion"][k] = x[0] - x_prev[k]
    path.overnight["variance"][k] = 0.0
    path.session_iv[k] = float((np.diff(x) ** 2).sum())  # realised, not a model variance
    path.n_jumps[k] = 0
    path.jump_sum[k] = 0.0
