"""Position sizing and execution costs: volatility-scaled weights, options-informed targets
and stops with half-Kelly sizing, expected order costs and passive limit prices.

Pure numpy. Conventions:

- returns, targets, stops, volatilities: decimals (0.05 = 5 %); ``realized_vol`` is
  annualised (252 trading days, e.g. ``python_udfs.realized.close_to_close_vol(close, 21)``),
  the swing-trading quantities (q10 / q50 / q90, ``volatility``) are per holding period;
- sizes and weights are fractions of capital (0.10 = 10 %);
- prices per share, costs in currency; ``multiplier`` = shares per contract (100 for US
  equity options).

The vectorised functions broadcast numpy arrays and return numpy values; ``swing_trade_plan``,
``order_costs`` and ``limit_price`` return plain Python floats (lists for array inputs) for
SQL.

Sources: vol-scaled exposure after Moreira & Muir, "Volatility-managed portfolios", J. Finance
72 (2017) (they scale by inverse *variance*; the project's rule, from the stochastic-vol design,
scales by inverse volatility and clips to [0.2, 2.0]); target / stop / half-Kelly rules from the
swing-trading design (its Kelly formula is replaced by the exact binary-bet optimum below);
costs from the vol-trading chapter (half spread, $0.65 commission and $0.02 regulatory fees per
contract; its spread cost lacked the contract multiplier) and the square-root impact law
(Almgren et al. 2005; Frazzini, Israel & Moskowitz 2012) above 5 % participation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = [
    "TARGET_STOP_PARAMS",
    "half_kelly_size",
    "kelly_fraction",
    "limit_price",
    "options_informed_target_stop",
    "order_costs",
    "swing_trade_plan",
    "vol_scaled_weight",
]

# Adjustments of the swing-trading target / stop (multipliers; see
# ``options_informed_target_stop``). Override any of them with ``params``.
TARGET_STOP_PARAMS: dict[str, float] = {
    "target_quantile_weight": 0.7,  # target = q50 + w (q90 - q50)
    "max_pain_zone": 0.05,  # |max pain distance| below this: "pinned"
    "max_pain_target_adj": 0.8,
    "gamma_concentration_threshold": 0.7,
    "gamma_concentration_target_adj": 0.9,
    "pcr_target_adj": 0.85,
    "iv_high_percentile": 0.8,
    "iv_low_percentile": 0.2,
    "iv_high_target_adj": 0.9,
    "iv_low_target_adj": 1.1,
    "stop_vol_multiple": 2.0,  # stop = min(-2 vol, q10 - q50)
    "max_pain_below_stop_adj": 0.8,  # tighter stop with max pain (support) just below
    "iv_high_stop_adj": 1.2,  # wider stop in high IV
}


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _plain(x):
    a = np.asarray(x)
    if a.ndim == 0:
        v = a.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v
    return [_plain(v) for v in a.ravel()]


# ------------------------------------------------------------------------------ vol scaling


def vol_scaled_weight(
    realized_vol, target_vol: float = 0.15, min_weight: float = 0.2, max_weight: float = 2.0
) -> np.ndarray:
    """Volatility-scaled exposure w = clip(target_vol / realized_vol, min_weight, max_weight).

    ``realized_vol``: annualised realised volatility of the strategy or asset (decimal),
    e.g. 21-day close-to-close; ``target_vol`` 15 %. A zero realised vol gives
    ``max_weight``; NaN stays NaN. Returns a numpy array (0-d for a scalar input).
    """
    v = _f64(realized_vol)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(v > 0.0, float(target_vol) / np.where(v > 0.0, v, 1.0), np.inf)
    ratio = np.where(np.isnan(v), np.nan, ratio)
    return np.clip(ratio, min_weight, max_weight)


# ----------------------------------------------------------------------- targets and stops


def options_informed_target_stop(
    q10,
    q50,
    q90,
    volatility,
    max_pain_distance=np.nan,
    gamma_concentration=np.nan,
    pcr_extreme=False,
    iv_percentile=np.nan,
    params: Mapping[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Swing-trade target and stop (returns over the holding period) from return quantiles.

    base target = q50 + 0.7 (q90 - q50); base stop = min(-2 volatility, q10 - q50) (negative).
    Multiplicative adjustments (``TARGET_STOP_PARAMS``, overridable by ``params``):

    - gamma: |max_pain_distance| < 5 % (price pinned near max pain, ``max_pain_distance`` =
      (max pain - spot) / spot) -> target x 0.8; else gamma_concentration > 0.7 -> x 0.9;
    - PCR extreme (``pcr_extreme``, contrarian mean-reversion risk) -> target x 0.85;
    - IV regime (``iv_percentile`` in [0, 1]): > 0.8 -> target x 0.9 and stop x 1.2 (wider);
      < 0.2 -> target x 1.1;
    - max pain within 5 % *below* spot (support) -> stop x 0.8 (tighter).

    NaN inputs for the optional features mean "no adjustment". Returns numpy arrays
    ``target``, ``stop`` (negative), ``base_target``, ``base_stop``, ``target_adj``,
    ``stop_adj``.
    """
    p = dict(TARGET_STOP_PARAMS)
    if params:
        unknown = set(params) - set(p)
        if unknown:
            raise ValueError(f"unknown parameters: {sorted(unknown)}")
        p.update({k: float(v) for k, v in params.items()})
    q10, q50, q90, vol = (_f64(x) for x in (q10, q50, q90, volatility))
    mpd = _f64(max_pain_distance)
    gc = _f64(gamma_concentration)
    ivp = _f64(iv_percentile)
    pcr = np.asarray(pcr_extreme, dtype=bool)
    base_target = q50 + p["target_quantile_weight"] * (q90 - q50)
    base_stop = np.minimum(-p["stop_vol_multiple"] * vol, q10 - q50)
    pinned = np.abs(mpd) < p["max_pain_zone"]  # False for NaN
    gamma_adj = np.where(
        pinned,
        p["max_pain_target_adj"],
        np.where(gc > p["gamma_concentration_threshold"], p["gamma_concentration_target_adj"], 1.0),
    )
    pcr_adj = np.where(pcr, p["pcr_target_adj"], 1.0)
    iv_high = ivp > p["iv_high_percentile"]
    iv_adj = np.where(
        iv_high,
        p["iv_high_target_adj"],
        np.where(ivp < p["iv_low_percentile"], p["iv_low_target_adj"], 1.0),
    )
    target_adj = gamma_adj * pcr_adj * iv_adj
    stop_adj = np.where(pinned & (mpd < 0.0), p["max_pain_below_stop_adj"], 1.0) * np.where(
        iv_high, p["iv_high_stop_adj"], 1.0
    )
    return {
        "target": base_target * target_adj,
        "stop": base_stop * stop_adj,
        "base_target": base_target,
        "base_stop": base_stop,
        "target_adj": target_adj,
        "stop_adj": stop_adj,
    }


# ---------------------------------------------------------------------------------- Kelly


def kelly_fraction(hit_prob, win, loss) -> np.ndarray:
    """Kelly fraction of capital for a binary bet: f* = p / |L| - (1 - p) / W.

    The position gains the return W > 0 with probability p (target hit) and loses |L| > 0
    otherwise (stop hit). Maximising the expected log growth p ln(1 + f W) +
    (1 - p) ln(1 - f |L|) gives p W / (1 + f W) = (1 - p) |L| / (1 - f |L|), i.e.
    f* = (p W - (1 - p) |L|) / (W |L|) = p / |L| - (1 - p) / W. Negative = no edge (do not
    take the long side). NaN where W <= 0, L == 0 or p is outside [0, 1].
    """
    p, w, lo = _f64(hit_prob), _f64(win), np.abs(_f64(loss))
    ok = (w > 0.0) & (lo > 0.0) & (p >= 0.0) & (p <= 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = p / lo - (1.0 - p) / w
    return np.where(ok, f, np.nan)


def half_kelly_size(
    hit_prob,
    win,
    loss,
    pcr_extreme=False,
    avg_dollar_volume=np.nan,
    kelly_multiplier: float = 0.5,
    max_size: float = 0.10,
    pcr_multiplier: float = 0.7,
    min_dollar_volume: float = 20e6,
    liquidity_multiplier: float = 0.5,
) -> dict[str, np.ndarray]:
    """Half-Kelly position size (fraction of capital) of the swing-trading design.

    size = clip(0.5 f*, 0, 10 %) (``kelly_fraction``), then x 0.7 on a PCR extreme and x 0.5
    when the average daily dollar volume is below $20M (NaN volume: no liquidity cut). Note
    that with W, |L| of a few percent f* is large (f* ~ p / |L|) and the 10 % cap usually
    binds; a NaN Kelly fraction (invalid W / L / p) gives size 0. Returns numpy arrays
    ``kelly`` (f*), ``half_kelly``, ``size``, ``reward_risk`` (W / |L|), ``capped`` (bool).
    """
    f = kelly_fraction(hit_prob, win, loss)
    half = kelly_multiplier * f
    capped = half > max_size
    size = np.clip(np.nan_to_num(half, nan=0.0), 0.0, max_size)
    size = size * np.where(np.asarray(pcr_extreme, dtype=bool), pcr_multiplier, 1.0)
    adv = _f64(avg_dollar_volume)
    size = size * np.where(adv < min_dollar_volume, liquidity_multiplier, 1.0)
    lo = np.abs(_f64(loss))
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = np.where(lo > 0.0, _f64(win) / np.where(lo > 0.0, lo, 1.0), np.nan)
    return {"kelly": f, "half_kelly": half, "size": size, "reward_risk": rr, "capped": capped}


def swing_trade_plan(
    q10: float,
    q50: float,
    q90: float,
    volatility: float,
    hit_prob: float,
    max_pain_distance: float = math.nan,
    gamma_concentration: float = math.nan,
    pcr_extreme: bool = False,
    iv_percentile: float = math.nan,
    avg_dollar_volume: float = math.nan,
) -> dict:
    """One recommendation: options-informed target and stop, then half-Kelly size with
    W = target and L = stop (``options_informed_target_stop``, ``half_kelly_size``; default
    parameters). Returns plain floats ``target``, ``stop``, ``reward_risk``, ``kelly``,
    ``half_kelly``, ``size`` (fraction of capital; 0 without a long edge), ``capped`` (bool),
    ``iv_regime`` ("high" / "low" / "medium" / None)."""
    ts = options_informed_target_stop(
        q10,
        q50,
        q90,
        volatility,
        max_pain_distance,
        gamma_concentration,
        pcr_extreme,
        iv_percentile,
    )
    k = half_kelly_size(hit_prob, ts["target"], ts["stop"], pcr_extreme, avg_dollar_volume)
    p = TARGET_STOP_PARAMS
    if math.isnan(iv_percentile):
        regime = None
    elif iv_percentile > p["iv_high_percentile"]:
        regime = "high"
    elif iv_percentile < p["iv_low_percentile"]:
        regime = "low"
    else:
        regime = "medium"
    return {
        "target": _plain(ts["target"]),
        "stop": _plain(ts["stop"]),
        "reward_risk": _plain(k["reward_risk"]),
        "kelly": _plain(k["kelly"]),
        "half_kelly": _plain(k["half_kelly"]),
        "size": _plain(k["size"]),
        "capped": bool(k["capped"]),
        "iv_regime": regime,
    }


# ------------------------------------------------------------------------ execution costs


def order_costs(
    bid,
    ask,
    contracts=1.0,
    multiplier=100.0,
    commission: float = 0.65,
    fees: float = 0.02,
    adv_contracts=np.nan,
    daily_vol=np.nan,
    impact_threshold: float = 0.05,
) -> dict:
    """Expected cost of an option order, per contract and for the order (currency).

    Per contract: half spread x multiplier (crossing from mid) + ``commission`` ($0.65) +
    ``fees`` ($0.02 regulatory / exchange fees) + market impact. Impact (square-root law):
    when the participation Q / ADV (``contracts`` / ``adv_contracts``, average daily contract
    volume) exceeds 5 %, mid x ``daily_vol`` x sqrt(Q / ADV) x multiplier, ``daily_vol`` the
    daily volatility of the option's price as a decimal of the price; otherwise (or with NaN
    ADV / vol) 0. Inputs broadcast. Returns plain floats (lists for arrays): ``spread``,
    ``commission``, ``fees``, ``impact``, ``per_contract`` (their sum), ``total``
    (per_contract x |contracts|), ``participation``.
    """
    b, a = _f64(bid), _f64(ask)
    if np.any(a < b):
        raise ValueError("ask must be >= bid")
    q = np.abs(_f64(contracts))
    m = _f64(multiplier)
    mid = 0.5 * (a + b)
    spread = 0.5 * (a - b) * m
    adv = _f64(adv_contracts)
    with np.errstate(divide="ignore", invalid="ignore"):
        part = np.where(adv > 0.0, q / np.where(adv > 0.0, adv, 1.0), np.nan)
        impact = np.where(part > impact_threshold, mid * _f64(daily_vol) * np.sqrt(part) * m, 0.0)
    impact = np.nan_to_num(impact, nan=0.0)
    per = spread + commission + fees + impact
    shape = np.broadcast(b, a, q, m, adv, _f64(daily_vol)).shape
    return {
        "spread": _plain(np.broadcast_to(spread, shape)),
        "commission": _plain(np.broadcast_to(np.float64(commission), shape)),
        "fees": _plain(np.broadcast_to(np.float64(fees), shape)),
        "impact": _plain(np.broadcast_to(impact, shape)),
        "per_contract": _plain(np.broadcast_to(per, shape)),
        "total": _plain(np.broadcast_to(per * q, shape)),
        "participation": _plain(np.broadcast_to(part, shape)),
    }


def limit_price(bid, ask, side: str, tick: float | None = None):
    """Passive limit price: buy at bid + 0.3 spread, sell at ask - 0.3 spread.

    With ``tick`` the price is rounded to the tick grid away from the far side (buy: down,
    sell: up), staying within [bid, ask]. Returns a float (list for array inputs).
    """
    b, a = _f64(bid), _f64(ask)
    if np.any(a < b):
        raise ValueError("ask must be >= bid")
    spread = a - b
    if side == "buy":
        px = b + 0.3 * spread
        if tick:
            px = np.maximum(np.floor(px / tick + 1e-9) * tick, b)
    elif side == "sell":
        px = a - 0.3 * spread
        if tick:
            px = np.minimum(np.ceil(px / tick - 1e-9) * tick, a)
    else:
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    return _plain(px)
