"""Nightly ranking: the trade plan of one order candidate (targets, stops, probability,
sizing, expected edge after costs, risk-adjusted score) and its plain-text rationale.

Pure numpy; every sizing and cost rule comes from ``python_udfs.sizing`` (vol-scaled weight,
options-informed swing target / stop with half-Kelly size, order costs, passive limit prices),
risk from ``python_udfs.risk_calls`` (the warehouse's Monte Carlo factor model) and repricing
from ``python_udfs.revaluation``. The rules of this module (documented in ``candidate_plan``):

- **hit rate**: the historical hit rate of the signal's strategies and strength buckets
  (``fct_signal_hit_rates``, 5-day for directional, 20-day for volatility picks), shrunk
  towards the prior ``PRIOR_HIT_RATE`` = 0.55 with ``PRIOR_WEIGHT`` = 20 pseudo-signals
  (beta-binomial); with no history at all the prior itself, flagged ``prior``;
- **directional** picks (``long`` / ``short``, a vertical spread): the swing plan on the
  underlying over ``holding_days`` (5 trading days, the hit rate's horizon): returns normal
  with sigma = 30-day ATM IV x sqrt(H / 252) and the drift the hit rate implies (mu = sigma
  Phi^-1(hit rate)); ``sizing.swing_trade_plan`` gives the options-informed target, stop,
  reward/risk and the half-Kelly size at the **probability of the target**, the first-passage
  probability of the target before the stop under that drift (``target_probability``: the
  binary bet the Kelly formula assumes); the expected edge per unit is p x P&L(target) +
  (1 - p) x P&L(stop), the spread revalued at the target and stop spots after H days
  (``revaluation.revalue_book``);
- **volatility** picks (``sell_vol``: short strangle / iron condor, ``buy_vol``: long
  straddle): a premium plan, take profit at 50 % of the premium (credit kept / debit gained),
  stop at 50 % of it lost; the probability of the target is the hit rate; half-Kelly on that
  bet (``sizing.half_kelly_size``: a hit rate at or below 0.5 gives no size, the pick is not
  tradable); the expected edge per unit is the options model's, |vega| (USD per vol point) x
  the vol points between the forecast vol (GARCH forecast, else 21-day realized) and the
  structure's implied vol, in the trade's favour (the vega P&L of a delta-hedged position
  held to expiry; the hit rate of a vol signal measures the direction of the IV, not this
  carry); the plan's own expectation (p x 0.5 - (1 - p) x 0.5) x premium is reported as
  ``plan_edge_per_unit``;
- **size**: half-Kelly size x the vol-scaled weight (``sizing.vol_scaled_weight``: 15 % target,
  21-day realized vol, clip [0.2, 2.0]), capped at 10 % of capital; units = size x capital /
  exposure per unit (directional: |dollar delta|; volatility: |premium| x multiplier), at
  most ``max_units``; each unit carries its delta hedge in the underlying;
- **costs** per leg (``sizing.order_costs``): half spread + $0.65 + $0.02 per contract, plus
  square-root impact above 5 % of the contract's 20-day ADV (option daily vol taken as its
  elasticity |delta| S / mid x the underlying's daily vol); units are also capped at
  ``max_participation`` (10 %) of the thinnest leg's 20-day ADV; limit prices ``sizing.limit_price``
  (buy bid + 0.3 spread, sell ask - 0.3 spread);
- **score** (the ranking key): net edge after costs / 10-day 99 % Monte Carlo VaR of the sized
  position with its hedge (``risk_calls.portfolio_var_one``);
- a candidate without a Kelly size (the calibrated probability gives the plan no edge) is not
  tradable (``units`` 0, ``status`` rejected) but is still evaluated, for one unit
  (``evaluated_units``), so that the ranking can show it with its economics and score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

__all__ = [
    "PREMIUM_PLANS",
    "PRIOR_HIT_RATE",
    "PRIOR_WEIGHT",
    "calibrated_hit_rate",
    "candidate_plan",
    "ranking_score",
    "rationale",
    "target_probability",
]

PRIOR_HIT_RATE = 0.55  # the hit rate a strategy is admitted with, used until it has history
PRIOR_WEIGHT = 20.0  # pseudo-signals of the prior in the calibration
# premium plans of the volatility structures: target / stop as a fraction of the premium
PREMIUM_PLANS = {
    "credit": {"target": 0.5, "stop": -0.5},  # buy back at 50 % of the credit / at 150 %
    "debit": {"target": 0.5, "stop": -0.5},  # sell at 150 % of the debit / at 50 %
}
MAX_SIZE = 0.10
Z90 = 1.2815515655446004  # standard normal 90 % quantile
VOL_SIDES = ("sell_vol", "buy_vol")
DIRECTIONAL_SIDES = ("long", "short")


def _num(x, default=math.nan) -> float:
    if x is None:
        return default
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def _plain(x):
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        v = float(x)
        return v if math.isfinite(v) else None
    return x


def calibrated_hit_rate(hit_rate, n_signals, prior: float = PRIOR_HIT_RATE) -> dict:
    """The historical hit rate of ``n_signals`` past signals shrunk towards ``prior`` with
    ``PRIOR_WEIGHT`` pseudo-signals, (h n + w prior) / (n + w) (beta-binomial); ``source`` is
    ``calibrated`` with history, ``prior`` without (n = 0 or no rate: the prior itself)."""
    n = _num(n_signals, 0.0)
    h = _num(hit_rate)
    if n <= 0 or not math.isfinite(h):
        return {"hit_rate": prior, "source": "prior", "n_signals": 0}
    return {
        "hit_rate": (h * n + PRIOR_WEIGHT * prior) / (n + PRIOR_WEIGHT),
        "source": "calibrated",
        "n_signals": int(n),
    }


def target_probability(hit_rate, target, stop, sigma) -> float:
    """Probability that a trade reaches its ``target`` (return > 0) before its ``stop``
    (return < 0), both over a holding period of return volatility ``sigma``, when the
    probability of a positive return over that period is ``hit_rate``.

    The trade's log value is taken as a Brownian motion with drift: the hit rate fixes the
    drift per unit of volatility, z = Phi^-1(hit_rate) (P(X_H > 0) = Phi(mu_H / sigma_H)), and
    the first passage of X over a = target before -b = stop is (Karlin & Taylor 1975)
    (1 - exp(2 z b / sigma)) / (exp(-2 z a / sigma) - exp(2 z b / sigma)); b / (a + b) with no
    drift. The holding period drops out: only the ratios a / sigma and b / sigma matter.
    NaN for invalid inputs.
    """
    from scipy.special import ndtri

    h, a, b, s = _num(hit_rate), _num(target), abs(_num(stop)), _num(sigma)
    if not (0.0 < h < 1.0 and a > 0 and b > 0 and s > 0):
        return math.nan
    z = float(ndtri(h))
    if abs(z) < 1e-12:
        return b / (a + b)
    up, down = 2.0 * z * b / s, -2.0 * z * a / s
    if max(up, down) > 700.0:  # numerically certain
        return 1.0 if z > 0 else 0.0
    return (1.0 - math.exp(up)) / (math.exp(down) - math.exp(up))


def ranking_score(net_edge, risk) -> float:
    """Risk-adjusted expected edge: net edge after costs / risk (both USD); NaN when the risk
    is not positive."""
    e, r = _num(net_edge), _num(risk)
    return e / r if r > 0 else math.nan


# ------------------------------------------------------------------------------ the plan


def _leg_arrays(legs):
    sign = np.array([1.0 if leg["side"] == "buy" else -1.0 for leg in legs])
    ratio = np.array([_num(leg.get("ratio"), 1.0) for leg in legs])
    f = {
        k: np.array([_num(leg.get(k)) for leg in legs])
        for k in (
            "strike",
            "t",
            "r",
            "q",
            "iv",
            "bid",
            "ask",
            "mid",
            "delta",
            "gamma",
            "vega",
            "theta",
            "multiplier",
            "adv_contracts",
        )
    }
    f["multiplier"] = np.where(np.isfinite(f["multiplier"]), f["multiplier"], 100.0)
    f["r"] = np.nan_to_num(f["r"])
    f["q"] = np.nan_to_num(f["q"])
    f["is_call"] = np.array([bool(leg["is_call"]) for leg in legs])
    return sign, ratio, f


def _unit_book(spot, sign, ratio, f, units=1.0, hedge_shares=0.0) -> dict:
    return {
        "spot": [spot],
        "underlying": np.zeros(sign.size, dtype=np.int64),
        "strike": f["strike"],
        "t": f["t"],
        "r": f["r"],
        "q": f["q"],
        "vol": f["iv"],
        "is_call": f["is_call"],
        "quantity": sign * ratio * units,
        "multiplier": f["multiplier"],
        "stock_quantity": [hedge_shares],
    }


def candidate_plan(inputs: Mapping) -> dict:
    """The trade plan of one candidate (see the module docstring). ``inputs``:

    ``side`` (sell_vol / buy_vol / long / short), ``structure``, ``spot``, ``rv_21d``,
    ``forecast_vol``, ``iv_atm_30d``, ``hit_rate`` and ``n_signals`` (history of the
    strategy / strength bucket, null without), ``holding_days``,
    ``max_pain_distance``, ``gamma_concentration``, ``pcr_extreme``, ``iv_percentile``,
    ``avg_dollar_volume``, ``capital``, ``max_units``, ``legs`` (``contract_symbol``,
    ``side`` buy/sell, ``ratio``, ``strike``, ``t``, ``r``, ``q``, ``iv``, ``is_call``,
    ``bid``, ``ask``, ``mid``, ``delta``, ``gamma``, ``vega`` (per 1.00 of vol), ``theta``,
    ``multiplier``, ``adv_contracts``), optionally ``market`` (the underlying's
    ``ops.risk_book_inputs`` market JSON, for the VaR), ``risk_paths``, ``seed``.

    Returns plain JSON: ``status`` (accepted / rejected) and ``reject_reason``, the prices
    and percentages (``entry_price``, ``target_price``, ``stop_price``, ``target_pct``,
    ``stop_pct``; directional: on the underlying; volatility: on the structure's premium per
    share), ``reward_risk``, ``hit_rate``, ``probability`` (of the target) and
    ``probability_source``, ``kelly``,
    ``half_kelly``, ``vol_weight``, ``size_pct``, ``units``, ``legs`` (with ``quantity`` and
    ``limit_price``), ``hedge_shares``, unit greeks, ``edge_per_unit``, ``gross_edge``,
    ``costs``, ``net_edge``, ``risk_var_99_10d``, ``score``.
    """
    from python_udfs import sizing
    from python_udfs.revaluation import portfolio_greeks, revalue_book

    side = str(inputs["side"])
    legs = list(inputs.get("legs") or [])
    out: dict = {"side": side, "structure": inputs.get("structure"), "status": "rejected"}
    if side not in VOL_SIDES + DIRECTIONAL_SIDES:
        out["reject_reason"] = f"unknown side {side!r}"
        return _plain(out)
    if not legs:
        out["reject_reason"] = "no listed contracts for the structure"
        return _plain(out)
    spot = _num(inputs.get("spot"))
    sign, ratio, f = _leg_arrays(legs)
    if not (spot > 0) or not np.all(np.isfinite(f["iv"])) or not np.all(f["iv"] > 0):
        out["reject_reason"] = "no spot or implied vol for a leg"
        return _plain(out)
    if not (np.all(np.isfinite(f["bid"])) and np.all(np.isfinite(f["ask"]))):
        out["reject_reason"] = "a leg has no two-sided quote"
        return _plain(out)
    capital = _num(inputs.get("capital"), 5e6)
    max_units = int(_num(inputs.get("max_units"), 25.0))
    hold = _num(inputs.get("holding_days"), 10.0)
    iv30 = _num(inputs.get("iv_atm_30d"))
    rv = _num(inputs.get("rv_21d"))
    iv_pct = _num(inputs.get("iv_percentile"))
    pcr_extreme = bool(inputs.get("pcr_extreme") or False)
    adv_dollar = _num(inputs.get("avg_dollar_volume"))
    cal = calibrated_hit_rate(inputs.get("hit_rate"), inputs.get("n_signals"))
    out.update(
        {
            "hit_rate": cal["hit_rate"],
            "probability_source": cal["source"],
            "probability_n_signals": cal["n_signals"],
        }
    )

    mult = f["multiplier"]
    premium = float(np.sum(sign * ratio * f["mid"]))  # per share of one unit: + debit, - credit
    unit = portfolio_greeks(_unit_book(spot, sign, ratio, f))["total"]
    unit_dollar_delta = unit["dollar_delta"]
    out.update(
        {
            "entry_premium": premium,
            "unit_delta_shares": unit["delta"],
            "unit_dollar_delta": unit_dollar_delta,
            "unit_gamma": unit["gamma"],
            "unit_vega": unit["vega"],
            "unit_theta": unit["theta"],
        }
    )
    vol_weight = float(sizing.vol_scaled_weight(rv if rv > 0 else iv30))
    if not math.isfinite(vol_weight):
        vol_weight = 1.0
    out["vol_weight"] = vol_weight

    if side in DIRECTIONAL_SIDES:
        direction = 1.0 if side == "long" else -1.0
        sigma_h = (iv30 if iv30 > 0 else rv) * math.sqrt(hold / 252.0)
        from scipy.special import ndtri

        mu = float(ndtri(cal["hit_rate"])) * sigma_h  # the drift the hit rate implies
        mpd = _num(inputs.get("max_pain_distance"))
        args = (
            mu - Z90 * sigma_h,
            mu,
            mu + Z90 * sigma_h,
            sigma_h,
        )
        options = (
            direction * mpd,
            _num(inputs.get("gamma_concentration")),
            pcr_extreme,
            iv_pct,
            adv_dollar,
        )
        levels = sizing.swing_trade_plan(*args, 0.5, *options)  # target / stop only
        p = target_probability(cal["hit_rate"], levels["target"], levels["stop"], sigma_h)
        plan = sizing.swing_trade_plan(*args, p, *options)
        target, stop = _num(plan["target"]), _num(plan["stop"])
        target_price = spot * (1.0 + direction * target)
        stop_price = spot * (1.0 + direction * stop)
        moves = np.array([[target_price / spot - 1.0], [stop_price / spot - 1.0]])
        pnl = revalue_book(_unit_book(spot, sign, ratio, f), moves, 0.0, horizon_days=hold)
        edge_unit = p * float(pnl[0]) + (1.0 - p) * float(pnl[1])
        kelly_size = _num(plan["size"], 0.0)
        out.update(
            {
                "entry_price": spot,
                "target_price": target_price,
                "stop_price": stop_price,
                "target_pct": direction * target,
                "stop_pct": direction * stop,
                "reward_risk": _num(plan["reward_risk"]),
                "kelly": _num(plan["kelly"]),
                "half_kelly": _num(plan["half_kelly"]),
                "iv_regime": plan["iv_regime"],
                "pnl_at_target": float(pnl[0]),
                "pnl_at_stop": float(pnl[1]),
                "holding_days": hold,
            }
        )
        exposure_unit = abs(unit_dollar_delta)
    else:
        kind = "credit" if premium < 0 else "debit"
        pp = PREMIUM_PLANS[kind]
        entry = abs(premium)
        if kind == "credit":
            target_price, stop_price = entry * (1 - pp["target"]), entry * (1 - pp["stop"])
        else:
            target_price, stop_price = entry * (1 + pp["target"]), entry * (1 + pp["stop"])
        p = cal["hit_rate"]
        k = sizing.half_kelly_size(p, pp["target"], pp["stop"], pcr_extreme, adv_dollar)
        kelly_size = float(np.nan_to_num(k["size"]))
        forecast = _num(inputs.get("forecast_vol"))
        if not forecast > 0:
            forecast = rv
        vega_w = np.abs(sign * ratio * f["vega"] * mult)
        struct_iv = float(np.sum(vega_w * f["iv"]) / np.sum(vega_w)) if np.sum(vega_w) else iv30
        edge_pts = (forecast - struct_iv) * 100.0 * (1.0 if side == "buy_vol" else -1.0)
        premium_value = entry * float(np.max(mult))
        edge_unit = abs(unit["vega"]) * edge_pts if math.isfinite(edge_pts) else math.nan
        out.update(
            {
                "entry_price": entry,
                "target_price": target_price,
                "stop_price": stop_price,
                "target_pct": pp["target"],
                "stop_pct": pp["stop"],
                "reward_risk": abs(pp["target"] / pp["stop"]),
                "kelly": _num(float(np.asarray(k["kelly"]))),
                "half_kelly": _num(float(np.asarray(k["half_kelly"]))),
                "premium_kind": kind,
                "structure_iv": struct_iv,
                "forecast_vol": forecast,
                "edge_vol_points": edge_pts,
                "plan_edge_per_unit": (p * pp["target"] + (1.0 - p) * pp["stop"]) * premium_value,
            }
        )
        exposure_unit = entry * float(np.max(mult))
    size_pct = min(kelly_size * vol_weight, MAX_SIZE)
    out["probability"] = p
    out["kelly_size"] = kelly_size
    out["size_pct"] = size_pct
    out["edge_per_unit"] = edge_unit
    no_trade = None
    if not (size_pct > 0):
        no_trade = (
            "no Kelly edge (half-Kelly size 0 at the calibrated probability; the economics "
            "are those of one unit)"
        )
    elif not (exposure_unit > 0):
        no_trade = "no exposure per unit"
    if no_trade is None:
        units = min(max_units, math.floor(size_pct * capital / exposure_unit))
        max_part = _num(inputs.get("max_participation"), 0.10)
        adv = f["adv_contracts"] / ratio
        if np.any(np.isfinite(adv)) and max_part > 0:  # liquidity cap: the thinnest leg's ADV
            units = min(units, math.floor(max_part * float(np.nanmin(adv))))
        units = max(int(units), 1)
    else:
        units = 1  # not tradable: the economics below are those of one unit
    out["units"] = units if no_trade is None else 0
    out["evaluated_units"] = units

    # legs: quantities, limit prices, costs
    daily_vol_u = (rv if rv > 0 else iv30) / math.sqrt(252.0)
    out_legs, totals = [], {"spread": 0.0, "commission": 0.0, "fees": 0.0, "impact": 0.0}
    for i, leg in enumerate(legs):
        qty = round(float(ratio[i]) * units)
        mid = f["mid"][i]
        elasticity = abs(f["delta"][i]) * spot / mid if mid > 0 else math.nan
        c = sizing.order_costs(
            f["bid"][i],
            f["ask"][i],
            qty,
            mult[i],
            0.65,
            0.02,
            f["adv_contracts"][i],
            elasticity * daily_vol_u,
        )
        for key in totals:
            totals[key] += _num(c[key], 0.0) * qty
        out_legs.append(
            {
                "contract_symbol": leg.get("contract_symbol"),
                "side": leg["side"],
                "quantity": qty,
                "strike": f["strike"][i],
                "expiration": leg.get("expiration"),
                "is_call": bool(f["is_call"][i]),
                "t": f["t"][i],
                "r": f["r"][i],
                "q": f["q"][i],
                "limit_price": _num(sizing.limit_price(f["bid"][i], f["ask"][i], leg["side"])),
                "multiplier": int(mult[i]),
                "bid": f["bid"][i],
                "ask": f["ask"][i],
                "mid": mid,
                "iv": f["iv"][i],
                "delta": f["delta"][i],
                "participation": c["participation"],
                "cost": _num(c["total"], 0.0),
            }
        )
    out["legs"] = out_legs
    hedge = -round(unit["delta"] * units)
    out["hedge_shares"] = int(hedge)
    cost_total = float(sum(totals.values()))
    gross = edge_unit * units
    net = gross - cost_total
    out["costs"] = {**totals, "total": cost_total}
    out["gross_edge"] = gross
    out["net_edge"] = net
    risk = math.nan
    market = inputs.get("market")
    if market and inputs.get("underlying") in (market.get("underlyings") or []):
        from python_udfs.risk_calls import portfolio_var_one

        und = inputs["underlying"]
        book = {
            "positions": [
                {
                    "instrument": leg.get("contract_symbol"),
                    "kind": "option",
                    "underlying": und,
                    "strike": f["strike"][i],
                    "t": f["t"][i],
                    "r": f["r"][i],
                    "q": f["q"][i],
                    "vol": f["iv"][i],
                    "is_call": bool(f["is_call"][i]),
                    "quantity": sign[i] * ratio[i] * units,
                    "multiplier": mult[i],
                }
                for i, leg in enumerate(legs)
            ]
        }
        if hedge:
            book["positions"].append(
                {
                    "instrument": und,
                    "kind": "stock",
                    "underlying": und,
                    "quantity": hedge,
                    "multiplier": 1,
                }
            )
        res = portfolio_var_one(
            book,
            market,
            0.99,
            10,
            "mc",
            int(_num(inputs.get("risk_paths"), 2000.0)),
            int(_num(inputs.get("seed"), 0.0)),
        )
        risk = _num(res.get("var"))
    out["risk_var_99_10d"] = risk
    out["score"] = ranking_score(net, risk)
    if no_trade is not None:
        out["reject_reason"] = no_trade
    elif not math.isfinite(gross):
        out["reject_reason"] = "no expected edge (missing price at the target or stop)"
    elif net <= 0:
        out["reject_reason"] = (
            f"edge does not cover costs: gross {gross:,.2f} - costs {cost_total:,.2f} = "
            f"{net:,.2f} USD"
        )
    else:
        out["status"] = "accepted"
        out["reject_reason"] = None
    return _plain(out)


# ------------------------------------------------------------------------------ rationale


def _pct(x, digits=1, signed=False) -> str:
    v = _num(x)
    if not math.isfinite(v):
        return "n/a"
    return f"{v:+.{digits}%}" if signed else f"{v:.{digits}%}"


def _money(x) -> str:
    v = _num(x)
    return "n/a" if not math.isfinite(v) else f"${v:,.0f}"


def _px(x) -> str:
    v = _num(x)
    return "n/a" if not math.isfinite(v) else f"{v:,.2f}"


STRUCTURE_NAMES = {
    "short_strangle": "short strangle",
    "iron_condor": "iron condor",
    "long_straddle": "long straddle",
    "bull_call_spread": "bull call spread",
    "bear_put_spread": "bear put spread",
}
SIDE_NAMES = {
    "sell_vol": "sell volatility",
    "buy_vol": "buy volatility",
    "long": "bullish",
    "short": "bearish",
}


def _units(g) -> str:
    units = int(_num(g("units"), 0))
    if units == 0 and _num(g("evaluated_units"), 0) >= 1:
        return "1 unit (not tradable)"
    return f"{units} unit{'s' if units != 1 else ''}"


def rationale(inputs: Mapping) -> str:
    """Plain-text rationale of a pick from its inputs (templates, no model): one sentence per
    line on the signal, the plan, the volatility context, the positioning, the economics and
    the risks. Keys (missing ones are left out or shown as n/a): ``underlying``, ``side``,
    ``structure``, ``strategies`` (list), ``strength``, ``confidence``, ``probability``,
    ``probability_source``, ``probability_n_signals``, ``entry_price``, ``target_price``,
    ``stop_price``, ``target_pct``, ``stop_pct``, ``reward_risk``, ``iv_atm_30d``, ``rv_21d``,
    ``iv_rank``, ``iv_percentile``, ``regime``, ``pcr_oi``, ``pcr_extreme``,
    ``max_pain_strike``, ``max_pain_distance``, ``gamma_flip``, ``gamma_flip_distance``,
    ``net_delta``, ``gross_edge``, ``costs``, ``net_edge``, ``units``, ``size_pct``,
    ``kelly_size``, ``vol_weight``, ``risk``, ``score``, ``days_to_earnings``,
    ``expiration``, ``dte``, ``no_trade_reason``."""
    g = inputs.get
    side = str(g("side") or "")
    und = g("underlying") or "?"
    struct = STRUCTURE_NAMES.get(str(g("structure")), str(g("structure") or "structure"))
    strategies = ", ".join(g("strategies") or []) or "aggregated"
    lines = [
        f"{und}: {SIDE_NAMES.get(side, side)} with {'an' if struct[:1] in 'aeiou' else 'a'} "
        f"{struct}"
        + (f" expiring {g('expiration')} ({int(_num(g('dte'), 0))} DTE)" if g("expiration") else "")
        + f"; signal from {strategies} (strength {_num(g('strength')):.2f}, confidence "
        f"{_num(g('confidence')):.2f})."
    ]
    if g("probability_source") == "prior":
        prob_note = "prior, no signal history yet"
    else:
        prob_note = f"calibrated on {int(_num(g('probability_n_signals'), 0))} past signals"
    basis = "underlying" if side in DIRECTIONAL_SIDES else "premium per share"
    lines.append(
        f"Plan on the {basis}: entry {_px(g('entry_price'))}, target {_px(g('target_price'))} "
        f"({_pct(g('target_pct'), 1, True)}), stop {_px(g('stop_price'))} "
        f"({_pct(g('stop_pct'), 1, True)}); reward/risk {_num(g('reward_risk')):.2f}; "
        f"probability of the target {_pct(g('probability'), 0)} ({prob_note})."
    )
    iv, rv = _num(g("iv_atm_30d")), _num(g("rv_21d"))
    vrp = (iv - rv) * 100.0 if math.isfinite(iv) and math.isfinite(rv) else math.nan
    vol_line = f"30-day ATM IV {_pct(iv)} vs 21-day realized {_pct(rv)}"
    if math.isfinite(vrp):
        rich = "rich" if vrp > 0 else "cheap"
        vol_line += f" (options {rich} by {abs(vrp):.1f} vol points)"
    vol_line += f"; IV rank {_pct(g('iv_rank'), 0)}, IV percentile {_pct(g('iv_percentile'), 0)}"
    if g("regime"):
        vol_line += f"; regime {g('regime')}"
    lines.append(vol_line + ".")
    pos = f"Positioning: put/call OI ratio {_num(g('pcr_oi')):.2f}"
    if g("pcr_extreme"):
        pos += " (extreme)"
    pos += (
        f"; max pain {_px(g('max_pain_strike'))} ({_pct(g('max_pain_distance'), 1, True)} from "
        f"spot); gamma flip {_px(g('gamma_flip'))} ({_pct(g('gamma_flip_distance'), 1, True)})"
        f"; net delta per OI {_num(g('net_delta')):+.2f}."
    )
    lines.append(pos)
    lines.append(
        f"Economics: expected edge {_money(g('gross_edge'))} - costs {_money(g('costs'))} = "
        f"{_money(g('net_edge'))} for {_units(g)}; size "
        f"{_pct(g('size_pct'))} of capital (half-Kelly {_pct(g('kelly_size'))} after the "
        f"10 % cap and PCR / liquidity cuts, x vol scaling {_num(g('vol_weight')):.2f}); "
        f"10-day VaR99 {_money(g('risk'))}, risk-adjusted edge "
        f"{_num(g('score')):.3f}."
    )
    risks = []
    mpd = _num(g("max_pain_distance"))
    if math.isfinite(mpd) and abs(mpd) < 0.05:
        risks.append("max pain within 5 % of spot may pin the price")
    dte_e = _num(g("days_to_earnings"))
    dte = _num(g("dte"))
    if math.isfinite(dte_e) and (not math.isfinite(dte) or dte_e <= dte):
        risks.append(f"earnings in {int(dte_e)} days, inside the trade's life")
    if side == "sell_vol" and g("structure") == "short_strangle":
        risks.append("undefined risk beyond the short strikes (delta-hedged daily)")
    if g("probability_source") == "prior":
        risks.append("probability is a prior, not yet calibrated")
    if risks:
        lines.append("Risks: " + "; ".join(risks) + ".")
    if g("no_trade_reason"):
        lines.append(f"No order: {g('no_trade_reason')}.")
    return "\n".join(lines)
