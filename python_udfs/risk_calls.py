"""SQL shims of the portfolio risk engine (schema ``risk``): book and market from JSON, the
portfolio risk report, one VaR / ES figure, the pre-trade risk budget and the limit metrics.

Compositions of ``python_udfs.risk`` (tail statistics, shrunk correlation),
``python_udfs.revaluation`` (full revaluation, Monte Carlo / historical / delta-gamma-vega VaR,
stress tests, greeks) and nothing else: no pricing or risk formula is written here. Imported
inside the server on first use (``risk.portfolio_risk_kernel`` ...); imports nothing from the
SQL registry.

Inputs (the SQL function ``ops.risk_book_inputs(as_of)`` builds both from the warehouse):

``book``: ``{"positions": [...]}``, one entry per instrument (quantities netted over the
accounts): ``instrument``, ``kind`` (``option`` or ``stock``), ``underlying``, ``quantity``
(signed contracts or shares), ``multiplier``, ``mark`` and ``prev_mark`` (market prices per
share today and on the previous session, for the day's P&L) and, for options, ``strike``,
``t`` (years), ``r``, ``q``, ``vol`` (the position's implied vol: SVI slice, else mid IV),
``is_call``.

``market``: ``underlyings`` (symbols; the book's and any candidate's), per underlying
``spot``, ``spot_vol`` (21-day realized vol, annualised), ``atm_iv`` (30-day ATM IV),
``asset_class``, and the history ``dates`` (ascending, up to and including the as-of date)
with ``close`` and ``iv`` (one list per underlying aligned with ``dates``; null = missing).

Factor model (``factor_model``): daily log returns of the closes and daily log changes of the
30-day ATM IVs over the last ``window`` (252) dates; the joint 2 n_u x 2 n_u correlation is
Ledoit-Wolf shrunk (``python_udfs.risk.shrunk_correlation``) over the dates where every spot
return exists (a missing IV change counts as no change: an underlying without an IV history
has a flat vol factor); spot vols are the 21-day realized vols (else the sample vol of the
returns, else the ATM IV); vols of vol are the annualised sample standard deviations of the
IV log changes (default 1.0 = 100 % with fewer than 5 changes). Every fallback is counted in
``factor_info``. For what-if analyses and tests the market may also carry ``vol_of_vol`` (per
underlying, overriding the estimate where not null) and ``correlation`` (the whole
2 n_u x 2 n_u joint matrix, flattened row-major: spot factors first, then vol factors).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "CONFIDENCES",
    "HORIZONS",
    "book_arrays",
    "factor_model",
    "half_kelly_size",
    "limit_metrics",
    "portfolio_risk_report",
    "portfolio_var_one",
    "risk_budget",
]

CONFIDENCES = (0.95, 0.99)
HORIZONS = (1, 10)
WINDOW = 252
DEFAULT_VOL_OF_VOL = 1.0  # annualised vol of ln(IV) when the history is too short
MIN_VOL_OF_VOL_OBS = 5
HISTORICAL_REPLAY_DAYS = (1, 5)
_TRADING_DAYS = 252.0


def _floats(x) -> np.ndarray:
    """A float array from JSON values (None -> NaN)."""
    return np.array([math.nan if v is None else float(v) for v in x], dtype=np.float64)


def _plain(x):
    """JSON-safe Python value (NaN / inf -> None; numpy scalars -> Python)."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_plain(v) for v in x.tolist()]
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        v = float(x)
        return v if math.isfinite(v) else None
    return x


def _key(c: float, h: int) -> str:
    return f"{round(c * 100)}_{h}d"


# ------------------------------------------------------------------------------ the book


def book_arrays(book: Mapping, market: Mapping) -> dict:
    """The ``make_book`` inputs and the position map of a JSON book.

    Returns ``book`` (keyword arguments of ``python_udfs.revaluation.make_book``),
    ``positions`` (the JSON entries, options first then stock, in kernel order),
    ``kernel_index`` (per entry: its index among the kernel's positions, options then one
    linear position per underlying), ``underlyings``, ``position_underlying`` (index per
    kernel position).
    """
    unds = [str(u) for u in market["underlyings"]]
    index = {u: i for i, u in enumerate(unds)}
    n_u = len(unds)
    if n_u == 0:
        raise ValueError("the market has no underlyings")
    spot = _floats(market["spot"])
    entries = list(book.get("positions") or [])
    for e in entries:
        if str(e["underlying"]) not in index:
            raise ValueError(f"position {e.get('instrument')}: underlying not in the market")
    options = [e for e in entries if e.get("kind", "option") == "option"]
    stocks = [e for e in entries if e.get("kind") == "stock"]
    stock_qty = np.zeros(n_u)
    for e in stocks:
        u = index[str(e["underlying"])]
        if stock_qty[u] != 0.0:
            raise ValueError(f"two stock positions in {unds[u]}: net them first")
        stock_qty[u] = float(e["quantity"])

    def col(name, default=None):
        return [e.get(name, default) for e in options]

    kwargs = {
        "spot": spot,
        "underlying": np.array([index[str(e["underlying"])] for e in options], dtype=np.int64),
        "strike": _floats(col("strike")),
        "t": _floats(col("t")),
        "r": _floats(col("r", 0.0)),
        "q": _floats(col("q", 0.0)),
        "vol": _floats(col("vol")),
        "is_call": np.array([bool(v) for v in col("is_call")], dtype=bool),
        "quantity": _floats(col("quantity")),
        "multiplier": _floats(col("multiplier", 100.0)),
        "stock_quantity": stock_qty,
    }
    n_o = len(options)
    kernel_index = list(range(n_o)) + [n_o + index[str(e["underlying"])] for e in stocks]
    pos_und = np.concatenate((kwargs["underlying"], np.arange(n_u)))
    return {
        "book": kwargs,
        "positions": options + stocks,
        "kernel_index": kernel_index,
        "underlyings": unds,
        "position_underlying": pos_und,
    }


# ------------------------------------------------------------------------- factor model


def _histories(market: Mapping, window: int) -> tuple[np.ndarray, np.ndarray, list]:
    """(spot log returns, IV log changes) as (days, n_u) arrays over the last ``window``
    days, and the dates each row ends on."""
    from python_udfs.realized import log_returns

    dates = list(market.get("dates") or [])
    n_u = len(market["underlyings"])
    closes = market.get("close") or [[] for _ in range(n_u)]
    ivs = market.get("iv") or [[] for _ in range(n_u)]
    t = len(dates)
    ret = np.full((max(t - 1, 0), n_u), np.nan)
    div = np.full((max(t - 1, 0), n_u), np.nan)
    for u in range(n_u):
        c = _floats(closes[u]) if len(closes[u]) == t else np.full(t, np.nan)
        v = _floats(ivs[u]) if len(ivs[u]) == t else np.full(t, np.nan)
        if t >= 2:
            with np.errstate(invalid="ignore", divide="ignore"):
                c = np.where(c > 0.0, c, np.nan)
                v = np.where(v > 0.0, v, np.nan)
                ret[:, u] = log_returns(c)[1:]
                div[:, u] = log_returns(v)[1:]
    return ret[-window:], div[-window:], dates[1:][-window:]


def factor_model(market: Mapping, window: int = WINDOW) -> dict:
    """Spot vols, vols of vol and the shrunk joint correlation of the market's underlyings
    (see the module docstring). Returns numpy arrays ``spot_vols``, ``vol_of_vols``,
    ``correlation`` (2 n_u x 2 n_u), the histories ``spot_returns``, ``vol_changes``
    ((days, n_u), IV gaps as 0) and ``dates``, and ``info`` (plain values)."""
    from python_udfs.risk import shrunk_correlation

    n_u = len(market["underlyings"])
    ret, dv, dates = _histories(market, window)
    iv_missing = ~np.isfinite(dv)
    dv_filled = np.where(iv_missing, 0.0, dv)
    x = np.concatenate((ret, dv_filled), axis=1)
    complete = int(np.count_nonzero(np.all(np.isfinite(x), axis=1))) if x.size else 0
    if complete >= 2:
        corr, shrink = shrunk_correlation(x)
    else:
        corr = np.eye(2 * n_u)
        shrink = {"shrinkage": None, "mean_correlation": None, "n_obs": complete, "n_dropped": 0}
    rv = _floats(market.get("spot_vol") or [None] * n_u)
    atm = _floats(market.get("atm_iv") or [None] * n_u)
    n_ret = np.count_nonzero(np.isfinite(ret), axis=0) if ret.size else np.zeros(n_u, int)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: handled below
        sample = (
            np.nanstd(np.where(n_ret >= 2, ret, 0.0), axis=0, ddof=1) * math.sqrt(_TRADING_DAYS)
            if ret.shape[0] >= 2
            else np.full(n_u, np.nan)
        )
    spot_vols = np.where(np.isfinite(rv) & (rv > 0), rv, np.where(n_ret >= 2, sample, atm))
    spot_vol_fallback = int(np.count_nonzero(~(np.isfinite(rv) & (rv > 0))))
    spot_vols = np.where(np.isfinite(spot_vols) & (spot_vols > 0), spot_vols, 0.3)
    n_dv = np.count_nonzero(~iv_missing, axis=0) if dv.size else np.zeros(n_u, int)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        vov = (
            np.nanstd(np.where(iv_missing, np.nan, dv), axis=0, ddof=1) * math.sqrt(_TRADING_DAYS)
            if dv.shape[0] >= 2
            else np.full(n_u, np.nan)
        )
    short = (n_dv < MIN_VOL_OF_VOL_OBS) | ~np.isfinite(vov)
    vov = np.where(short, DEFAULT_VOL_OF_VOL, vov)
    given = _floats(market.get("vol_of_vol") or [None] * n_u)  # what-if / test override
    vov = np.where(np.isfinite(given), given, vov)
    if market.get("correlation") is not None:  # what-if / test override, 2 n_u x 2 n_u
        corr = np.asarray(_floats(market["correlation"]), dtype=np.float64).reshape(
            2 * n_u, 2 * n_u
        )
        shrink = {**shrink, "given": True}
    info = {
        "window_days": int(ret.shape[0]),
        "complete_days": complete,
        "first_date": dates[0] if dates else None,
        "last_date": dates[-1] if dates else None,
        "iv_changes_filled": int(np.count_nonzero(iv_missing)),
        "spot_vol_fallbacks": spot_vol_fallback,
        "vol_of_vol_defaults": int(np.count_nonzero(short)),
        **{k: _plain(v) for k, v in shrink.items()},
    }
    return {
        "spot_vols": spot_vols,
        "vol_of_vols": vov,
        "correlation": corr,
        "spot_returns": ret,
        "vol_changes": dv_filled,
        "dates": dates,
        "info": info,
    }


# ---------------------------------------------------------------------------- limits


def limit_metrics(
    dollar_delta,
    dollar_gamma,
    vega,
    theta,
    position_underlying,
    asset_class: Sequence[str],
    capital: float,
    var_95_1d: float | None = None,
    var_99_1d: float | None = None,
    daily_pnl: float | None = None,
) -> dict:
    """The limit metrics of ``ops.risk_limits`` from per-position greeks (the units of
    ``python_udfs.revaluation.portfolio_greeks``; kernel positions, with their underlying
    index) and the capital (USD):

    ``var_95_1d``, ``var_99_1d`` (USD); ``delta_1pct`` = sum of dollar delta x 1 % (USD P&L of
    a +1 % move of every underlying); ``gamma_1pct`` = sum of dollar gamma x 1 % (USD change
    of ``delta_1pct`` for a further +1 % move); ``vega`` (USD per vol point); ``theta`` (USD
    per calendar day); ``gross_leverage`` = sum over positions of |dollar delta| / capital;
    ``net_exposure`` = |sum of dollar delta| / capital; ``concentration_underlying`` = the
    largest gross |dollar delta| of one underlying / capital (``..._name`` says which);
    ``concentration_asset_class`` likewise per asset class; ``daily_loss`` = max(-day P&L, 0).
    """
    dd = np.asarray(dollar_delta, dtype=np.float64)
    pu = np.asarray(position_underlying, dtype=np.int64)
    n_u = len(asset_class)
    gross_u = np.bincount(pu, weights=np.abs(dd), minlength=n_u) if dd.size else np.zeros(n_u)
    classes = sorted(set(asset_class))
    gross_c = {
        c: float(sum(gross_u[i] for i in range(n_u) if asset_class[i] == c)) for c in classes
    }
    cap = float(capital)
    top_u = int(np.argmax(gross_u)) if n_u else -1
    top_c = max(gross_c, key=gross_c.get) if gross_c else None
    return _plain(
        {
            "var_95_1d": var_95_1d,
            "var_99_1d": var_99_1d,
            "delta_1pct": float(np.sum(dd)) * 0.01,
            "gamma_1pct": float(np.sum(dollar_gamma)) * 0.01,
            "vega": float(np.sum(vega)),
            "theta": float(np.sum(theta)),
            "gross_leverage": float(np.sum(np.abs(dd))) / cap,
            "net_exposure": abs(float(np.sum(dd))) / cap,
            "concentration_underlying": float(gross_u[top_u]) / cap if n_u else 0.0,
            "concentration_underlying_name": top_u if n_u else None,
            "concentration_asset_class": (gross_c[top_c] / cap) if top_c else 0.0,
            "concentration_asset_class_name": top_c,
            "daily_loss": None if daily_pnl is None else max(-float(daily_pnl), 0.0),
        }
    )


# ---------------------------------------------------------------------- the risk report


def _empty_report(market: Mapping, capital: float, paths: int, seed: int) -> dict:
    zero = {"var": 0.0, "es": 0.0, "var_se": 0.0, "es_se": 0.0}
    var = {m: {_key(c, h): dict(zero) for c in CONFIDENCES for h in HORIZONS} for m in ("mc",)}
    metrics = limit_metrics([], [], [], [], [], [], capital, 0.0, 0.0, 0.0)
    return {
        "n_positions": 0,
        "n_options": 0,
        "n_underlyings": 0,
        "book_value": 0.0,
        "market_value": 0.0,
        "daily_pnl": 0.0,
        "var": var,
        "positions": [],
        "underlyings": [],
        "asset_classes": [],
        "total": {},
        "stress": [],
        "factor_info": {},
        "metrics": metrics,
        "params": {"paths": int(paths), "seed": int(seed), "capital": float(capital)},
    }


def _replay_scenarios(fm: dict, n_u: int) -> dict:
    """Historical replays: the worst 1- and 5-day windows of the equal-weighted average spot
    log return of the underlyings, and the day with the largest average IV rise, each applied
    as every underlying's own compounded spot return and relative IV change of the window."""
    ret, dv, dates = fm["spot_returns"], fm["vol_changes"], fm["dates"]
    out: dict[str, dict] = {}
    if ret.shape[0] == 0 or n_u == 0:
        return out
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # days without any return: NaN
        market = np.nanmean(ret, axis=1)
        vol_market = np.nanmean(dv, axis=1)
    picks = []
    for h in HISTORICAL_REPLAY_DAYS:
        if ret.shape[0] < h or not np.any(np.isfinite(market)):
            continue
        sums = np.convolve(np.nan_to_num(market), np.ones(h), mode="valid")
        end = int(np.argmin(sums)) + h - 1
        picks.append((f"hist_worst_{h}d", end - h + 1, end))
    if np.any(vol_market != 0.0):
        end = int(np.nanargmax(vol_market))
        picks.append(("hist_vol_spike_1d", end, end))
    for name, start, end in picks:
        s = np.expm1(np.nansum(ret[start : end + 1], axis=0))
        v = np.expm1(np.nansum(dv[start : end + 1], axis=0))
        out[name] = {
            "spot": s.tolist(),
            "vol": v.tolist(),
            "window_start": dates[start],
            "window_end": dates[end],
        }
    return out


def portfolio_risk_report(
    book, market, capital: float = 5e6, paths: int = 10_000, seed: int = 0
) -> dict:
    """Everything the nightly risk run stores for one as-of date, as plain JSON values.

    - greeks (``portfolio_greeks``) per position, per underlying, per asset class and total;
    - VaR and ES at 95 % and 99 %, 1 and 10 trading days, by three methods: ``mc`` (full
      revaluation Monte Carlo, ``mc_portfolio_var``, ``paths`` paths, PCG64 ``seed``; with the
      Euler component / marginal VaR and ES per position), ``historical`` (full revaluation
      over the last 252 days of joint spot / IV moves, ``historical_portfolio_var``; 10-day
      windows overlap; fewer scenarios when the history is shorter, ``n_scenarios`` says
      how many; null when there are fewer than h + 1 days) and ``parametric`` (the
      delta-gamma-vega Cornish-Fisher approximation, ``delta_gamma_vega_var``);
    - stress P&L (``stress_test``) of the four named scenarios and the historical replays
      (``_replay_scenarios``), per scenario, underlying and position;
    - the day's P&L of the book from market marks, and the limit metrics (``limit_metrics``).
    """
    from python_udfs.revaluation import (
        STRESS_SCENARIOS,
        delta_gamma_vega_var,
        historical_portfolio_var,
        make_book,
        mc_portfolio_var,
        portfolio_greeks,
        stress_test,
    )

    book = book or {}
    market = market or {}
    if not (book.get("positions") and market.get("underlyings")):
        return _empty_report(market, capital, paths, seed)
    ba = book_arrays(book, market)
    bk = make_book(**ba["book"])
    unds = ba["underlyings"]
    n_u = len(unds)
    fm = factor_model(market)
    sv, vv, corr = fm["spot_vols"], fm["vol_of_vols"], fm["correlation"]
    greeks = portfolio_greeks(bk)

    var: dict[str, dict] = {"mc": {}, "historical": {}, "parametric": {}}
    alloc: dict[str, dict] = {}
    for c in CONFIDENCES:
        for h in HORIZONS:
            k = _key(c, h)
            res = mc_portfolio_var(bk, sv, vv, corr, c, h, paths, seed)
            var["mc"][k] = {f: res[f] for f in ("var", "es", "var_se", "es_se", "mean_pnl")}
            alloc[k] = res
            if fm["spot_returns"].shape[0] >= h + 1:
                try:
                    hist = historical_portfolio_var(
                        bk, fm["spot_returns"], fm["vol_changes"], c, h, window=WINDOW
                    )
                    var["historical"][k] = {
                        "var": hist["var"],
                        "es": hist["es"],
                        "n_scenarios": hist["n_scenarios"],
                    }
                except ValueError as exc:
                    var["historical"][k] = {"var": None, "es": None, "error": str(exc)}
            else:
                var["historical"][k] = {"var": None, "es": None, "n_scenarios": 0}
            par = delta_gamma_vega_var(bk, sv, vv, corr, c, h, method="cornish_fisher")
            var["parametric"][k] = {
                f: par[f] for f in ("var", "es", "mean", "sd", "skewness", "excess_kurtosis")
            }

    scenarios = {name: dict(shock) for name, shock in STRESS_SCENARIOS.items()}
    replays = _replay_scenarios(fm, n_u)
    scenarios.update({n: {"spot": r["spot"], "vol": r["vol"]} for n, r in replays.items()})
    stress = stress_test(bk, scenarios)

    # per-position rows (JSON entries in kernel order; one stock entry per underlying)
    pg = greeks["position"]
    n_kernel = len(pg["value"])
    marks_value = 0.0
    day_pnl = 0.0
    rows = []
    for e, j in zip(ba["positions"], ba["kernel_index"], strict=True):
        qty = float(e["quantity"])
        mult = float(e.get("multiplier") or 1.0)
        mark, prev = e.get("mark"), e.get("prev_mark")
        mv = qty * mult * float(mark) if mark is not None else None
        pnl = qty * mult * (float(mark) - float(prev)) if None not in (mark, prev) else None
        marks_value += mv or 0.0
        day_pnl += pnl or 0.0
        row = {
            "instrument": e.get("instrument"),
            "kind": e.get("kind", "option"),
            "underlying": e["underlying"],
            "quantity": qty,
            "multiplier": mult,
            "mark": mark,
            "market_value": mv,
            "day_pnl": pnl,
            "iv": e.get("vol"),
            "iv_source": e.get("iv_source"),
        }
        for g in pg:
            row[g] = pg[g][j]
        for k, res in alloc.items():
            row[f"component_var_{k}"] = res["component_var"][j]
            row[f"component_es_{k}"] = res["component_es"][j]
            row[f"marginal_var_{k}"] = res["marginal_var"][j]  # per contract / per share
        row["stress"] = {name: s["position_pnl"][j] for name, s in stress["scenarios"].items()}
        rows.append(row)

    classes = [str(c) for c in (market.get("asset_class") or ["equity"] * n_u)]
    ug = greeks["underlying"]
    und_rows = []
    for u in range(n_u):
        r = {"underlying": unds[u], "asset_class": classes[u]}
        for g in ug:
            r[g] = ug[g][u]
        for k, res in alloc.items():
            r[f"component_var_{k}"] = res["component_var_by_underlying"][u]
            r[f"component_es_{k}"] = res["component_es_by_underlying"][u]
        r["stress"] = {name: s["underlying_pnl"][u] for name, s in stress["scenarios"].items()}
        und_rows.append(r)
    class_rows = []
    for cls in sorted(set(classes)):
        members = [r for r in und_rows if r["asset_class"] == cls]
        r = {"asset_class": cls, "n_underlyings": len(members)}
        for g in ug:
            r[g] = float(sum(m[g] for m in members))
        for k in alloc:
            r[f"component_var_{k}"] = float(sum(m[f"component_var_{k}"] for m in members))
        r["stress"] = {
            name: float(sum(m["stress"][name] for m in members)) for name in stress["scenarios"]
        }
        class_rows.append(r)

    stress_rows = []
    for name, s in stress["scenarios"].items():
        rep = replays.get(name)
        stress_rows.append(
            {
                "scenario": name,
                "kind": "historical" if rep else "named",
                "spot_shock": s["spot"],
                "vol_shock": s["vol"],
                "window_start": rep["window_start"] if rep else None,
                "window_end": rep["window_end"] if rep else None,
                "pnl": s["pnl"],
            }
        )

    metrics = limit_metrics(
        pg["dollar_delta"],
        pg["dollar_gamma"],
        pg["vega"],
        pg["theta"],
        ba["position_underlying"][:n_kernel],
        classes,
        capital,
        var["mc"][_key(0.95, 1)]["var"],
        var["mc"][_key(0.99, 1)]["var"],
        day_pnl,
    )
    if isinstance(metrics.get("concentration_underlying_name"), int):
        metrics["concentration_underlying_name"] = unds[metrics["concentration_underlying_name"]]
    return _plain(
        {
            "n_positions": len(rows),
            "n_options": int(bk["underlying"].size),
            "n_underlyings": n_u,
            "book_value": float(greeks["total"]["value"]),
            "market_value": marks_value,
            "daily_pnl": day_pnl,
            "var": var,
            "euler_var_scale": {k: res["euler_var_scale"] for k, res in alloc.items()},
            "positions": rows,
            "underlyings": und_rows,
            "asset_classes": class_rows,
            "total": greeks["total"],
            "stress": stress_rows,
            "worst_stress": stress["worst_scenario"],
            "worst_stress_pnl": stress["worst_pnl"],
            "factor_info": fm["info"],
            "spot_vols": fm["spot_vols"],
            "vol_of_vols": fm["vol_of_vols"],
            "metrics": metrics,
            "params": {"paths": int(paths), "seed": int(seed), "capital": float(capital)},
        }
    )


# ------------------------------------------------------------------ one VaR figure (SQL)


def portfolio_var_one(
    book,
    market,
    confidence: float = 0.99,
    horizon_days: int = 1,
    method: str = "mc",
    paths: int = 10_000,
    seed: int = 0,
) -> dict:
    """VaR and ES of the book by one method (``mc``, ``historical`` or ``parametric``; see
    ``portfolio_risk_report``) with, for ``mc`` and ``historical``, the Euler component and
    marginal VaR per position (``positions``: instrument, component_var, marginal_var,
    component_es). Plain JSON values; an empty book gives zeros."""
    from python_udfs.revaluation import (
        delta_gamma_vega_var,
        historical_portfolio_var,
        make_book,
        mc_portfolio_var,
    )

    book = book or {}
    market = market or {}
    c, h, paths, seed = float(confidence), int(horizon_days), int(paths), int(seed)
    if method not in ("mc", "historical", "parametric"):
        raise ValueError(f"method must be 'mc', 'historical' or 'parametric', got {method!r}")
    base = {"method": method, "confidence": c, "horizon_days": h}
    if not (book.get("positions") and market.get("underlyings")):
        return {**base, "var": 0.0, "es": 0.0, "n_positions": 0, "positions": []}
    ba = book_arrays(book, market)
    bk = make_book(**ba["book"])
    fm = factor_model(market)
    out: dict = {**base, "n_positions": len(ba["positions"]), "factor_info": fm["info"]}
    if method == "mc":
        res = mc_portfolio_var(
            bk, fm["spot_vols"], fm["vol_of_vols"], fm["correlation"], c, h, paths, seed
        )
        out.update({k: res[k] for k in ("var", "es", "var_se", "es_se", "paths")})
    elif method == "historical":
        res = historical_portfolio_var(bk, fm["spot_returns"], fm["vol_changes"], c, h, WINDOW)
        out.update({k: res[k] for k in ("var", "es", "n_scenarios")})
    else:
        res = delta_gamma_vega_var(bk, fm["spot_vols"], fm["vol_of_vols"], fm["correlation"], c, h)
        out.update({k: res[k] for k in ("var", "es", "mean", "sd", "skewness")})
        res = None
    if res is not None:
        out["positions"] = [
            {
                "instrument": e.get("instrument"),
                "component_var": res["component_var"][j],
                "marginal_var": res["marginal_var"][j],
                "component_es": res["component_es"][j],
            }
            for e, j in zip(ba["positions"], ba["kernel_index"], strict=True)
        ]
    else:
        out["positions"] = []
    return _plain(out)


# ---------------------------------------------------------------- the pre-trade risk budget


def _breached(kind: str, value: float, threshold: float) -> bool:
    if value is None:
        return False
    if kind == "max":
        return value > threshold
    if kind == "max_abs":
        return abs(value) > threshold
    if kind == "min":
        return value < threshold
    raise ValueError(f"unknown limit kind {kind!r}")


def _worse(kind: str, before: float | None, after: float) -> bool:
    if before is None:
        return True
    if kind == "max":
        return after > before
    if kind == "max_abs":
        return abs(after) > abs(before)
    return after < before


def risk_budget(
    book,
    market,
    candidates,
    limits,
    capital: float = 5e6,
    paths: int = 5_000,
    seed: int = 0,
) -> dict:
    """Pre-trade check of candidate trades, in the given (rank) order, against the limits.

    One set of Monte Carlo scenarios (the factor model of ``mc_portfolio_var``: 1 trading day,
    ``paths`` paths, PCG64 ``seed``) revalues the book and every candidate leg in full
    (``revalue_book``); a candidate's delta hedge (``hedge_shares`` of its underlying) moves
    linearly. Greedily, a candidate is accepted when the book plus the candidates accepted so
    far plus it breaches no enabled limit of ``limits`` (entries ``limit_name``, ``metric``
    (a key of ``limit_metrics``), ``kind`` max / max_abs / min, ``threshold``) that it makes
    worse; the VaR metrics come from ``python_udfs.risk.tail_statistics`` of the summed
    scenario P&L, so the marginal VaR of a candidate is VaR(after) - VaR(before) on common
    random numbers. ``daily_loss`` is not affected by a new trade and is not checked here.

    ``candidates``: ``candidate_id``, ``underlying``, ``legs`` (``strike``, ``t``, ``r``,
    ``q``, ``vol``, ``is_call``, ``quantity`` signed contracts, ``multiplier``),
    ``hedge_shares`` (signed). Returns ``base`` (VaR 95 / 99 and metrics of the book) and per
    candidate ``accepted``, ``reasons`` (limits it would breach), ``var_95_1d`` /
    ``var_99_1d`` after, ``marginal_var_95_1d`` / ``marginal_var_99_1d``,
    ``standalone_var_99_1d`` and ``metrics`` after.
    """
    from python_udfs.revaluation import _draw, _joint_setup, make_book, portfolio_greeks
    from python_udfs.revaluation import revalue_book as _revalue
    from python_udfs.risk import tail_statistics

    book = book or {}
    cands = list(candidates or [])
    lims = [x for x in (limits or []) if x.get("enabled", True)]
    unds = [str(u) for u in market["underlyings"]]
    index = {u: i for i, u in enumerate(unds)}
    n_u = len(unds)
    ba = book_arrays(book, market)
    kw = {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in ba["book"].items()}
    n_book_o = kw["underlying"].size
    leg_cols: list[list[int]] = []
    extra = {k: [] for k in ("underlying", "strike", "t", "r", "q", "vol", "is_call")}
    extra["quantity"], extra["multiplier"] = [], []
    col = n_book_o
    for cand in cands:
        u = index[str(cand["underlying"])]
        cols = []
        for leg in cand.get("legs") or []:
            extra["underlying"].append(u)
            for f in ("strike", "t", "vol"):
                extra[f].append(float(leg[f]))
            extra["r"].append(float(leg.get("r") or 0.0))
            extra["q"].append(float(leg.get("q") or 0.0))
            extra["is_call"].append(bool(leg["is_call"]))
            extra["quantity"].append(float(leg["quantity"]))
            extra["multiplier"].append(float(leg.get("multiplier") or 100.0))
            cols.append(col)
            col += 1
        leg_cols.append(cols)
    for f in ("strike", "t", "r", "q", "vol", "quantity", "multiplier"):
        kw[f] = np.concatenate((np.asarray(kw[f], dtype=np.float64), np.array(extra[f], float)))
    kw["underlying"] = np.concatenate((kw["underlying"], np.array(extra["underlying"], int)))
    kw["is_call"] = np.concatenate((kw["is_call"], np.array(extra["is_call"], bool)))
    bk = make_book(**kw)
    n_o = bk["underlying"].size
    fm = factor_model(market)
    _, _, a, _, _ = _joint_setup(bk, fm["spot_vols"], fm["vol_of_vols"], fm["correlation"], 1.0)
    paths = int(paths)
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    base_pnl = np.empty(paths)
    cand_pnl = np.zeros((paths, len(cands)))
    hedge_u = [index[str(c["underlying"])] for c in cands]
    hedge_q = np.array([float(c.get("hedge_shares") or 0.0) for c in cands])
    step = max(1, 32_768 // max(n_o, 1))
    for start in range(0, paths, step):
        rows = min(step, paths - start)
        x = _draw(rng, rows, a)
        pos = _revalue(bk, x[:, :n_u], x[:, n_u:], "log", "log", 1.0, by_position=True)
        base_pnl[start : start + rows] = pos[:, :n_book_o].sum(axis=1) + pos[:, n_o:].sum(axis=1)
        for k, cols in enumerate(leg_cols):
            lin = hedge_q[k] * bk["spot"][hedge_u[k]] * np.expm1(x[:, hedge_u[k]])
            cand_pnl[start : start + rows, k] = pos[:, cols].sum(axis=1) + lin
    g = portfolio_greeks(bk)["position"]
    classes = [str(c) for c in (market.get("asset_class") or ["equity"] * n_u)]
    pos_und = np.concatenate((bk["underlying"], np.arange(n_u)))
    book_cols = list(range(n_book_o)) + list(range(n_o, n_o + n_u))

    def metrics_for(cols: list[int], hedges: list[int], pnl: np.ndarray) -> dict:
        keys = ("dollar_delta", "dollar_gamma", "vega", "theta")
        arrs = {k: [g[k][c] for c in cols] for k in keys}
        und = [int(pos_und[c]) for c in cols]
        for k in hedges:
            arrs["dollar_delta"].append(hedge_q[k] * bk["spot"][hedge_u[k]])
            arrs["dollar_gamma"].append(0.0)
            arrs["vega"].append(0.0)
            arrs["theta"].append(0.0)
            und.append(hedge_u[k])
        v95 = tail_statistics(pnl, 0.95)["var"]
        v99 = tail_statistics(pnl, 0.99)["var"]
        m = limit_metrics(*(arrs[k] for k in keys), und, classes, capital, v95, v99, None)
        if isinstance(m.get("concentration_underlying_name"), int):
            m["concentration_underlying_name"] = unds[m["concentration_underlying_name"]]
        return m

    cols_now = list(book_cols)
    hedges_now: list[int] = []
    pnl_now = base_pnl.copy()
    before = metrics_for(cols_now, hedges_now, pnl_now)
    base = dict(before)
    results = []
    for k, cand in enumerate(cands):
        pnl_try = pnl_now + cand_pnl[:, k]
        after = metrics_for(cols_now + leg_cols[k], [*hedges_now, k], pnl_try)
        reasons = []
        for lim in lims:
            metric = lim["metric"]
            if metric == "daily_loss" or metric not in after:
                continue
            thr = float(lim["threshold"])
            if _breached(lim["kind"], after[metric], thr) and _worse(
                lim["kind"], before.get(metric), after[metric]
            ):
                reasons.append(
                    f"{lim['limit_name']}: {metric} {after[metric]:,.2f} beyond "
                    f"{lim['kind']} {thr:,.2f}"
                )
        accepted = not reasons
        results.append(
            {
                "candidate_id": cand.get("candidate_id"),
                "accepted": accepted,
                "reasons": reasons,
                "var_95_1d": after["var_95_1d"],
                "var_99_1d": after["var_99_1d"],
                "marginal_var_95_1d": after["var_95_1d"] - before["var_95_1d"],
                "marginal_var_99_1d": after["var_99_1d"] - before["var_99_1d"],
                "standalone_var_99_1d": tail_statistics(cand_pnl[:, k], 0.99)["var"],
                "metrics": after,
            }
        )
        if accepted:
            cols_now += leg_cols[k]
            hedges_now.append(k)
            pnl_now = pnl_try
            before = after
    return _plain({"base": base, "candidates": results, "paths": paths, "seed": int(seed)})


# ---------------------------------------------------------------------- sizing shims (SQL)


def half_kelly_size(hit_prob, win, loss, pcr_extreme=False, avg_dollar_volume=math.nan) -> dict:
    """``python_udfs.sizing.half_kelly_size`` for one bet, as plain JSON values."""
    from python_udfs.sizing import half_kelly_size as _half_kelly

    out = _half_kelly(hit_prob, win, loss, pcr_extreme, avg_dollar_volume)
    return _plain({k: np.asarray(v).item() for k, v in out.items()})
