"""Option-book risk: full Black-Scholes revaluation under spot / implied-vol shocks, Monte
Carlo and historical VaR / ES with Euler allocation, delta-gamma-vega VaR, stress tests and
aggregated greeks.

Pure numpy + scipy; every option price comes from ``python_udfs.black_scholes`` (``bs_price``,
``bs_greeks``). Conventions of ``python_udfs.risk`` apply (252 trading days per year, losses
positive, the empirical VaR / ES convention and the Euler allocation described there).

The book (``make_book``; the functions accept its dict or any mapping with the same keys,
e.g. parsed from JSON):

- ``spot``: current price per share of each of the n_u underlyings;
- per option (n_o): ``underlying`` (index into ``spot``), ``strike`` (per share), ``t``
  (years to expiry, ACT/365), ``r``, ``q`` (continuously compounded decimals per year),
  ``vol`` (the option's implied vol, decimal per sqrt(year)), ``is_call``, ``quantity``
  (contracts, signed: negative = short) and ``multiplier`` (shares per contract, default 100);
- ``stock_quantity``: shares held (signed) of each underlying, the book's linear positions.

Positions, in the order of every per-position result: the n_o options, then one linear
position per underlying (n_u entries, zero where none is held). Values are Black-Scholes
values at the inputs (model values at the option's IV, not market mids), so P&L is
quantity x multiplier x (price after - price before) for an option and shares x (S' - S)
for a linear position, in currency.

Shocks are per underlying: a spot shock moves the spot of that underlying (and so every
option on it), a vol shock moves the implied vol of every option on it by the same relative
(or absolute) amount (a parallel move of the smile in relative terms). Kinds:

- spot: ``"simple"`` S' = S (1 + x), ``"log"`` S' = S exp(x);
- vol: ``"relative"`` v' = v (1 + y), ``"absolute"`` v' = v + y (decimal: 0.01 = one vol
  point), ``"log"`` v' = v exp(y); a shocked vol <= 0 prices at intrinsic value (the
  ``bs_price`` convention).

Horizon: ``horizon_days`` trading days also age every option by h / 252 years of calendar
time (t' = max(t - h / 252, 0): an option expiring inside the horizon is worth its
intrinsic value), with r and q unchanged; stress tests are instantaneous (no ageing).

Monte Carlo factors: 2 n_u factors, the n_u spot log returns then the n_u implied-vol log
changes, x ~ N(0, diag(s) C diag(s) h / 252) with s = (``spot_vols``, ``vol_of_vols``)
(annualised decimals: the vol of the spot and of ln(implied vol)) and C the 2 n_u x 2 n_u
``joint_correlation`` (spot-spot, spot-vol and vol-vol blocks; repaired to the nearest
correlation matrix when not PSD). S' = S exp(x_spot), v' = v exp(x_vol): zero median moves,
positive spots and vols.

Revaluation is vectorised over paths x options and chunked (``chunk_elements`` prices per
``bs_price`` call, default 32,768: the arrays stay in cache, which is faster than one big
call); the per-position P&L of the tail scenarios is kept by a streaming top-K, so memory
does not grow with the number of paths.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import ndtri

from python_udfs.black_scholes import bs_greeks, bs_price
from python_udfs.risk import (
    TRADING_DAYS,
    _confidence,
    _euler_allocation,
    _float_list,
    _horizon,
    _jsonable,
    _sorted_tail,
    _tail_from_sorted,
    _tail_layout,
    _TailRows,
    correlation_factor,
)

__all__ = [
    "STRESS_SCENARIOS",
    "delta_gamma_vega_var",
    "historical_portfolio_var",
    "make_book",
    "mc_portfolio_var",
    "portfolio_greeks",
    "revalue_book",
    "stress_test",
]

_INV_SQRT_2PI = 0.3989422804014327
CHUNK_ELEMENTS = 32_768  # option prices per bs_price call

# Named stress scenarios: instantaneous spot move (simple return) and relative vol move
# (v' = v (1 + shock)), applied to every underlying.
STRESS_SCENARIOS: dict[str, dict[str, float]] = {
    "crash": {"spot": -0.20, "vol": 0.50},
    "vol_spike": {"spot": -0.05, "vol": 1.00},
    "black_swan": {"spot": -0.30, "vol": 2.00},
    "squeeze": {"spot": 0.15, "vol": 0.30},
}

_SPOT_KINDS = ("simple", "log")
_VOL_KINDS = ("relative", "absolute", "log")


# ------------------------------------------------------------------------------- the book


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def make_book(
    spot,
    underlying=(),
    strike=(),
    t=(),
    r=0.0,
    q=0.0,
    vol=(),
    is_call=(),
    quantity=(),
    multiplier=100.0,
    stock_quantity=None,
) -> dict[str, np.ndarray]:
    """Validated option book as a dict of numpy arrays (see the module docstring for units).

    Per-option inputs broadcast against each other (``r``, ``q``, ``multiplier`` may be
    scalars); ``underlying`` indexes ``spot``; ``stock_quantity`` (shares per underlying)
    defaults to zeros. Adds ``price0`` (Black-Scholes value per share of each option at the
    current inputs). ``ValueError`` on bad shapes, indices or non-finite values.
    """
    s = _f64(spot).ravel()
    n_u = s.size
    if n_u == 0:
        raise ValueError("the book needs at least one underlying spot")
    if not (np.all(np.isfinite(s)) and np.all(s > 0.0)):
        raise ValueError("spot must be finite and > 0")
    und = np.asarray(underlying).ravel()
    n_o = und.size
    integral = np.issubdtype(und.dtype, np.integer) or np.all(np.mod(_f64(und), 1.0) == 0.0)
    if n_o and not integral:
        raise ValueError("underlying must hold integer indices")
    und = und.astype(np.int64)
    if n_o and (und.min() < 0 or und.max() >= n_u):
        raise ValueError(f"underlying indices must be in [0, {n_u})")
    arrays = {}
    for name, value in (
        ("strike", strike),
        ("t", t),
        ("r", r),
        ("q", q),
        ("vol", vol),
        ("quantity", quantity),
        ("multiplier", multiplier),
    ):
        a = _f64(value).ravel()
        if a.size == 1 and n_o != 1:
            a = np.full(n_o, float(a[0]))
        if a.size != n_o:
            raise ValueError(f"{name} has {a.size} elements, expected {n_o}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} has non-finite values")
        arrays[name] = a
    c = np.asarray(is_call).ravel().astype(bool)
    if c.size == 1 and n_o != 1:
        c = np.full(n_o, bool(c[0]))
    if c.size != n_o:
        raise ValueError(f"is_call has {c.size} elements, expected {n_o}")
    if np.any(arrays["strike"] <= 0.0) or np.any(arrays["vol"] < 0.0):
        raise ValueError("strikes must be > 0 and vols >= 0")
    sq = np.zeros(n_u) if stock_quantity is None else _f64(stock_quantity).ravel()
    if sq.size != n_u or not np.all(np.isfinite(sq)):
        raise ValueError(f"stock_quantity must have {n_u} finite elements")
    book = {"spot": s, "underlying": und, "is_call": c, "stock_quantity": sq, **arrays}
    book["price0"] = bs_price(
        s[und], arrays["strike"], arrays["t"], arrays["r"], arrays["q"], arrays["vol"], c
    )
    return book


_BOOK_KEYS = (
    "spot",
    "underlying",
    "strike",
    "t",
    "r",
    "q",
    "vol",
    "is_call",
    "quantity",
    "multiplier",
    "stock_quantity",
)


def _book(book: Mapping) -> dict[str, np.ndarray]:
    if not isinstance(book, Mapping):
        raise TypeError("book must be a mapping (see make_book)")
    if "price0" in book and isinstance(book.get("underlying"), np.ndarray):
        return book  # made by make_book
    return make_book(**{k: book[k] for k in _BOOK_KEYS if k in book and book[k] is not None})


def _quantities(bk: Mapping) -> np.ndarray:
    """Position sizes in the per-position order: contracts, then shares."""
    return np.concatenate((bk["quantity"], bk["stock_quantity"]))


def _by_underlying(bk: Mapping, per_position: np.ndarray) -> np.ndarray:
    """Sum a per-position vector (options then linear positions) per underlying."""
    n_u = bk["spot"].size
    n_o = bk["underlying"].size
    out = np.bincount(bk["underlying"], weights=per_position[:n_o], minlength=n_u)
    return out + per_position[n_o:]


# ----------------------------------------------------------------------------- revaluation


def _spot_after(spot: np.ndarray, shock: np.ndarray, kind: str) -> np.ndarray:
    if kind == "simple":
        return spot * (1.0 + shock)
    if kind == "log":
        return spot * np.exp(shock)
    raise ValueError(f"spot shock kind must be one of {_SPOT_KINDS}, got {kind!r}")


def _vol_after(vol: np.ndarray, shock: np.ndarray, kind: str) -> np.ndarray:
    if kind == "relative":
        out = vol * (1.0 + shock)
    elif kind == "absolute":
        out = vol + shock
    elif kind == "log":
        out = vol * np.exp(shock)
    else:
        raise ValueError(f"vol shock kind must be one of {_VOL_KINDS}, got {kind!r}")
    return np.maximum(out, 0.0)


def _unit_pnl(
    bk: Mapping, spot_new: np.ndarray, vol_shock: np.ndarray, vol_kind: str, t_new: np.ndarray
) -> np.ndarray:
    """P&L per unit of each position (per contract, per share) for rows of shocked spots
    (P x n_u) and vol shocks (P x n_u): a P x (n_o + n_u) array."""
    und = bk["underlying"]
    if und.size:
        s_o = spot_new[:, und]
        v_o = _vol_after(bk["vol"], vol_shock[:, und], vol_kind)
        price = bs_price(s_o, bk["strike"], t_new, bk["r"], bk["q"], v_o, bk["is_call"])
        unit_opt = (price - bk["price0"]) * bk["multiplier"]
    else:
        unit_opt = np.empty((spot_new.shape[0], 0))
    return np.concatenate((unit_opt, spot_new - bk["spot"]), axis=1)


def _shock_rows(shock, n_u: int, name: str) -> np.ndarray:
    a = _f64(shock)
    if a.ndim == 0:
        a = np.full((1, n_u), float(a))
    elif a.ndim == 1:
        if a.size != n_u:
            raise ValueError(f"{name} has {a.size} elements, expected {n_u} (one per underlying)")
        a = a[None, :]
    elif a.ndim != 2 or a.shape[1] != n_u:
        raise ValueError(f"{name} must be (paths, {n_u}), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite values")
    return a


def _chunk_rows(n_o: int, chunk_elements: int) -> int:
    return max(1, int(chunk_elements) // max(n_o, 1))


def revalue_book(
    book: Mapping,
    spot_shocks,
    vol_shocks=0.0,
    spot_shock_kind: str = "simple",
    vol_shock_kind: str = "relative",
    horizon_days: float = 0.0,
    by_position: bool = False,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> np.ndarray:
    """Full Black-Scholes revaluation of the book under shock scenarios (numpy kernel).

    ``spot_shocks`` and ``vol_shocks``: per underlying, a scalar (every underlying, one
    scenario), an (n_u,) vector (one scenario) or a (paths, n_u) array (one row per
    scenario); the two broadcast against each other. Kinds: see the module docstring
    (defaults: simple spot returns, relative vol shocks, the stress-test convention).
    ``horizon_days`` >= 0 ages the options by h / 252 years (0: instantaneous).

    Returns the P&L in currency, shape (paths,), or (paths, n_o + n_u) per position with
    ``by_position`` (options, then the linear position of each underlying).
    """
    bk = _book(book)
    n_u = bk["spot"].size
    ds = _shock_rows(spot_shocks, n_u, "spot_shocks")
    dv = _shock_rows(vol_shocks, n_u, "vol_shocks")
    if ds.shape[0] != dv.shape[0]:
        if ds.shape[0] == 1:
            ds = np.broadcast_to(ds, dv.shape)
        elif dv.shape[0] == 1:
            dv = np.broadcast_to(dv, ds.shape)
        else:
            raise ValueError("spot_shocks and vol_shocks have different numbers of scenarios")
    if vol_shock_kind not in _VOL_KINDS:
        raise ValueError(f"vol shock kind must be one of {_VOL_KINDS}, got {vol_shock_kind!r}")
    h = float(horizon_days)
    if not (h >= 0.0 and math.isfinite(h)):
        raise ValueError("horizon_days must be >= 0")
    t_new = np.maximum(bk["t"] - h / TRADING_DAYS, 0.0)
    qty = _quantities(bk)
    paths = ds.shape[0]
    out = np.empty((paths, qty.size)) if by_position else np.empty(paths)
    step = _chunk_rows(bk["underlying"].size, chunk_elements)
    for start in range(0, paths, step):
        stop = min(paths, start + step)
        spot_new = _spot_after(bk["spot"], ds[start:stop], spot_shock_kind)
        unit = _unit_pnl(bk, spot_new, dv[start:stop], vol_shock_kind, t_new)
        if by_position:
            out[start:stop] = unit * qty
        else:
            out[start:stop] = np.einsum("ij,j->i", unit, qty)
    return out


# --------------------------------------------------------------------------- Monte Carlo


def _joint_setup(bk, spot_vols, vol_of_vols, joint_correlation, horizon_days):
    n_u = bk["spot"].size
    sv = _f64(spot_vols).ravel()
    vv = _f64(vol_of_vols).ravel()
    if sv.size == 1 and n_u > 1:
        sv = np.full(n_u, float(sv[0]))
    if vv.size == 1 and n_u > 1:
        vv = np.full(n_u, float(vv[0]))
    if sv.size != n_u or vv.size != n_u:
        raise ValueError(f"spot_vols and vol_of_vols need {n_u} elements (one per underlying)")
    sig = np.concatenate((sv, vv))
    if not (np.all(np.isfinite(sig)) and np.all(sig >= 0.0)):
        raise ValueError("spot_vols and vol_of_vols must be finite and >= 0")
    h = _horizon(horizon_days)
    c_used, factor, info = correlation_factor(joint_correlation, 2 * n_u)
    a = math.sqrt(h / TRADING_DAYS) * (sig[:, None] * factor)  # 2 n_u x f
    return h, c_used, a, sig, info


def _draw(rng: np.random.Generator, rows: int, a: np.ndarray) -> np.ndarray:
    """rows x 2 n_u factor shocks x = A z (log spot returns, then log vol changes).

    numpy's own einsum loop (not BLAS): each row's bytes do not depend on the chunk size or
    the number of BLAS threads."""
    z = rng.standard_normal((rows, a.shape[1]))
    return np.einsum("ij,kj->ik", z, a)


def mc_portfolio_var(
    book: Mapping,
    spot_vols,
    vol_of_vols,
    joint_correlation,
    confidence: float = 0.99,
    horizon_days: float = 1.0,
    paths: int = 10_000,
    seed: int = 0,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> dict:
    """Full-revaluation Monte Carlo VaR / ES of an option book, with Euler allocation.

    ``spot_vols`` (n_u, annualised spot vols), ``vol_of_vols`` (n_u, annualised vols of
    ln implied vol), ``joint_correlation`` (2 n_u x 2 n_u or flattened row-major: spot factors
    first, then vol factors), ``confidence``, ``horizon_days`` (trading days; also ages the
    options), ``paths``, ``seed``. Scenarios: x = A z, z ~ N(0, I_f) from
    ``Generator(PCG64(seed))`` in chunks of paths (the same stream and the same bytes whatever
    the chunking);
    S' = S exp(x_spot), v' = v exp(x_vol); every option repriced with ``bs_price``.

    Returns plain values: ``var``, ``es`` (currency, positive = loss), ``var_se``, ``es_se``,
    ``mean_pnl``, ``sd_pnl``, ``book_value`` (options at model value + stock), ``paths``,
    ``n_factors``, ``repaired``, ``min_eigenvalue``, and per position (options, then the
    linear position of each underlying) the lists ``marginal_var`` / ``marginal_es``
    (d risk / d quantity: currency per contract or per share, from the tail conditional
    expectations, see ``python_udfs.risk``), ``component_var`` / ``component_es`` (quantity x
    marginal: sum to ``var`` / ``es``), per underlying ``component_var_by_underlying`` /
    ``component_es_by_underlying``, and ``euler_var_scale``.
    """
    bk = _book(book)
    c = _confidence(confidence)
    paths = int(paths)
    if paths < 2:
        raise ValueError("paths must be >= 2")
    h, _, a, _, info = _joint_setup(bk, spot_vols, vol_of_vols, joint_correlation, horizon_days)
    n_u = bk["spot"].size
    qty = _quantities(bk)
    t_new = np.maximum(bk["t"] - h / TRADING_DAYS, 0.0)
    rng = np.random.Generator(np.random.PCG64(seed))
    _, k, _, m = _tail_layout(paths, c)
    keeper = _TailRows(k + m + 1, qty.size)
    pnl = np.empty(paths)
    step = _chunk_rows(bk["underlying"].size, chunk_elements)
    for start in range(0, paths, step):
        rows = min(step, paths - start)
        x = _draw(rng, rows, a)
        spot_new = bk["spot"] * np.exp(x[:, :n_u])
        unit = _unit_pnl(bk, spot_new, x[:, n_u:], "log", t_new)
        chunk = np.einsum("ij,j->i", unit, qty)
        pnl[start : start + rows] = chunk
        keeper.add(-chunk, unit, start)
    losses = -pnl
    tail = _tail_from_sorted(losses[_sorted_tail(losses, k + m + 1)], paths, c)
    alloc = _euler_allocation(keeper.sorted_rows(), qty, paths, c, tail["var"])
    return {
        "var": tail["var"],
        "es": tail["es"],
        "var_se": _jsonable(tail["var_se"]),
        "es_se": _jsonable(tail["es_se"]),
        "mean_pnl": float(pnl.mean()),
        "sd_pnl": float(pnl.std(ddof=1)),
        "book_value": _book_value(bk),
        "paths": paths,
        "n_factors": int(a.shape[1]),
        "repaired": info["repaired"],
        "min_eigenvalue": info["min_eigenvalue"],
        **_allocation_output(bk, alloc),
    }


def _book_value(bk: Mapping) -> float:
    opt = float(np.sum(bk["price0"] * bk["quantity"] * bk["multiplier"]))
    return opt + float(np.sum(bk["spot"] * bk["stock_quantity"]))


def _allocation_output(bk: Mapping, alloc: dict) -> dict:
    return {
        "marginal_var": _float_list(alloc["marginal_var"]),
        "component_var": _float_list(alloc["component_var"]),
        "marginal_es": _float_list(alloc["marginal_es"]),
        "component_es": _float_list(alloc["component_es"]),
        "component_var_by_underlying": _float_list(_by_underlying(bk, alloc["component_var"])),
        "component_es_by_underlying": _float_list(_by_underlying(bk, alloc["component_es"])),
        "euler_var_scale": _jsonable(alloc["euler_var_scale"]),
    }


# ------------------------------------------------------------------------------ historical


def _history(x, n_u: int, name: str) -> np.ndarray:
    a = _f64(x)
    if a.ndim == 1 and n_u == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] != n_u:
        raise ValueError(f"{name} must be (days, {n_u}), got shape {a.shape}")
    return a


def _aggregate(daily: np.ndarray, h: int, kind: str) -> np.ndarray:
    """h-day overlapping shocks from daily ones (oldest first), composed according to kind."""
    if kind in ("simple", "relative"):
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log1p(daily)
        return np.expm1(sliding_window_view(logs, h, axis=0).sum(axis=-1))
    return sliding_window_view(daily, h, axis=0).sum(axis=-1)


def historical_portfolio_var(
    book: Mapping,
    spot_return_history,
    vol_change_history,
    confidence: float = 0.99,
    horizon_days: int = 1,
    window: int = 252,
    horizon_method: str = "overlapping",
    spot_return_kind: str = "log",
    vol_shock_kind: str = "log",
    chunk_elements: int = CHUNK_ELEMENTS,
) -> dict:
    """Historical-simulation VaR / ES of the book by full revaluation, with Euler allocation.

    ``spot_return_history`` and ``vol_change_history``: (days, n_u) daily shocks, oldest
    first, of each underlying's spot (``spot_return_kind``: log returns by default) and
    implied vol (``vol_shock_kind``: log changes of the IV by default; ``"absolute"`` for
    changes in vol points as decimals, ``"relative"`` for simple relative changes). Rows with
    any NaN are dropped, then the last ``window`` (252) days are used.

    Horizon h (trading days; options are aged by h / 252): ``"overlapping"`` applies each
    overlapping h-day window's compounded shock (window - h + 1 scenarios, strongly
    dependent for h > 1), ``"sqrt"`` applies each daily shock scaled by sqrt(h) (window
    scenarios; exact only for additive i.i.d. shocks). VaR / ES follow the empirical
    convention of ``python_udfs.risk.historical_var_es``; Euler allocation as in
    ``mc_portfolio_var`` (a neighbourhood of a few scenarios only: noisy).

    Returns plain values: ``var``, ``es``, ``n_scenarios``, ``worst_scenario`` (index into
    ``pnl``), ``pnl`` (list of scenario P&Ls, in the order of their last day), the allocation
    lists of ``mc_portfolio_var``, and ``book_value``.
    """
    bk = _book(book)
    c = _confidence(confidence)
    n_u = bk["spot"].size
    ds = _history(spot_return_history, n_u, "spot_return_history")
    dv = _history(vol_change_history, n_u, "vol_change_history")
    if ds.shape[0] != dv.shape[0]:
        raise ValueError("the spot and vol histories must have the same number of days")
    if spot_return_kind not in _SPOT_KINDS:
        raise ValueError(f"spot_return_kind must be one of {_SPOT_KINDS}")
    if vol_shock_kind not in _VOL_KINDS:
        raise ValueError(f"vol_shock_kind must be one of {_VOL_KINDS}")
    good = np.all(np.isfinite(ds), axis=1) & np.all(np.isfinite(dv), axis=1)
    ds, dv = ds[good][-int(window) :], dv[good][-int(window) :]
    h_float = _horizon(horizon_days)
    if horizon_method == "overlapping":
        h = round(h_float)
        if h != h_float:
            raise ValueError("overlapping horizons need an integer horizon_days")
        if ds.shape[0] < h + 1:
            raise ValueError(f"need more than {h} complete days of history, got {ds.shape[0]}")
        spot_s = _aggregate(ds, h, spot_return_kind)
        vol_s = _aggregate(dv, h, "simple" if vol_shock_kind == "relative" else vol_shock_kind)
    elif horizon_method == "sqrt":
        if ds.shape[0] < 2:
            raise ValueError("need at least 2 complete days of history")
        spot_s = ds * math.sqrt(h_float)
        vol_s = dv * math.sqrt(h_float)
    else:
        raise ValueError("horizon_method must be 'overlapping' or 'sqrt'")
    qty = _quantities(bk)
    t_new = np.maximum(bk["t"] - h_float / TRADING_DAYS, 0.0)
    unit = np.empty((spot_s.shape[0], qty.size))
    step = _chunk_rows(bk["underlying"].size, chunk_elements)
    for start in range(0, unit.shape[0], step):
        stop = min(unit.shape[0], start + step)
        spot_new = _spot_after(bk["spot"], spot_s[start:stop], spot_return_kind)
        unit[start:stop] = _unit_pnl(bk, spot_new, vol_s[start:stop], vol_shock_kind, t_new)
    pnl = np.einsum("ij,j->i", unit, qty)
    n = pnl.size
    losses = -pnl
    order = _sorted_tail(losses, n)
    tail = _tail_from_sorted(losses[order], n, c)
    alloc = _euler_allocation(unit[order], qty, n, c, tail["var"])
    return {
        "var": tail["var"],
        "es": tail["es"],
        "n_scenarios": int(n),
        "worst_scenario": int(order[0]),
        "pnl": _float_list(pnl),
        "book_value": _book_value(bk),
        **_allocation_output(bk, alloc),
    }


# ----------------------------------------------------------------------- delta-gamma-vega


def _quadratic_coefficients(bk: Mapping, second_order_vol: bool) -> dict:
    """Per-underlying coefficients of the second-order expansion of the book value in the log
    shocks x (spot) and y (implied vol): theta (per year), gx, gy (first order), bxx, byy, bxy
    (second order), greeks x quantity x multiplier (stock: shares)."""
    n_u = bk["spot"].size
    und = bk["underlying"]
    s = bk["spot"]
    g = bs_greeks(s[und], bk["strike"], bk["t"], bk["r"], bk["q"], bk["vol"], bk["is_call"])
    w = bk["quantity"] * bk["multiplier"]
    v = bk["vol"]

    def per_u(x):
        return np.bincount(und, weights=x * w, minlength=n_u)

    delta = per_u(g["delta"]) + bk["stock_quantity"]  # shares
    vega_v = per_u(g["vega"] * v)
    volga_v2 = per_u(g["volga"] * v * v) if second_order_vol else np.zeros(n_u)
    vanna_v = per_u(g["vanna"] * v) if second_order_vol else np.zeros(n_u)
    return {
        "theta": float(np.sum(g["theta"] * w)),
        "gx": delta * s,  # dS = S (x + x^2/2 + ...)
        "bxx": per_u(g["gamma"]) * s * s + delta * s,
        "gy": vega_v,  # dv = v (y + y^2/2 + ...)
        "byy": volga_v2 + vega_v,
        "bxy": vanna_v * s,
    }


def delta_gamma_vega_var(
    book: Mapping,
    spot_vols,
    vol_of_vols,
    joint_correlation,
    confidence: float = 0.99,
    horizon_days: float = 1.0,
    method: str = "cornish_fisher",
    paths: int = 100_000,
    seed: int = 0,
    second_order_vol: bool = True,
) -> dict:
    """VaR / ES of the book's delta-gamma-vega (second-order Taylor) P&L approximation.

    The P&L is expanded to second order in the log shocks of the factor model of
    ``mc_portfolio_var`` (x = ln S'/S, y = ln v'/v per underlying, Gaussian w = (x, y) with
    covariance Omega = diag(s) C diag(s) h / 252 from the same ``spot_vols``,
    ``vol_of_vols``, ``joint_correlation``), i.e. the delta-gamma-vega expansion
    Delta dS + 1/2 Gamma dS^2 + vega dv (+ 1/2 volga dv^2 + vanna dS dv with
    ``second_order_vol``) with dS = S (x + x^2/2), dv = v (y + y^2/2):

        P&L ~ theta dt + sum_u [D_u x_u + 1/2 (G_u + D_u) x_u^2 + V_u y_u
              + 1/2 (V_u + W_u) y_u^2 + X_u x_u y_u] = theta dt + g'w + 1/2 w'Bw,

    with, per underlying u, D = dollar delta (sum of delta S q m, stock S shares), G = gamma
    S^2 q m, V = sum of vega v q m, W = volga v^2 q m and X = vanna S v q m over its
    options (``bs_greeks`` at the current inputs), theta per year and dt = h / 252 years.

    ``method``:

    - ``"cornish_fisher"`` (default): the first four cumulants of the quadratic form are exact,
      kappa_1 = theta dt + tr(B Omega)/2 and, for r >= 2, kappa_r = (r-1)!/2 tr((B Omega)^r) +
      r!/2 g' Omega (B Omega)^(r-2) g (Mathai & Provost 1992); the P&L quantile is the
      Cornish-Fisher expansion q = mean + sd (z + (z^2-1) S/6 + (z^3-3z) K/24 -
      (2z^3-5z) S^2/36) at z = Phi^-1(1 - c) (S skewness, K excess kurtosis); ES integrates
      the same expansion over the tail in closed form. Accurate for moderate skewness and
      kurtosis only (heavily short-gamma books: use ``"mc"``).
    - ``"mc"``: the quadratic evaluated on simulated w, the scenarios of ``mc_portfolio_var``
      for the same ``seed`` (so the difference to full revaluation is the Taylor remainder
      alone); VaR / ES / standard errors by the empirical convention of ``python_udfs.risk``.

    Returns plain values: ``var``, ``es``, ``mean``, ``sd``, ``skewness``,
    ``excess_kurtosis`` (of the approximated P&L: exact cumulants for Cornish-Fisher, sample
    moments for MC), ``method``, ``repaired``; MC also ``var_se``, ``es_se``, ``paths``.
    """
    bk = _book(book)
    c = _confidence(confidence)
    h, _, a, _, info = _joint_setup(bk, spot_vols, vol_of_vols, joint_correlation, horizon_days)
    n_u = bk["spot"].size
    co = _quadratic_coefficients(bk, second_order_vol)
    theta_dt = co["theta"] * h / TRADING_DAYS
    if method == "mc":
        paths = int(paths)
        if paths < 2:
            raise ValueError("paths must be >= 2")
        rng = np.random.Generator(np.random.PCG64(seed))
        pnl = np.empty(paths)
        step = _chunk_rows(bk["underlying"].size, CHUNK_ELEMENTS)
        for start in range(0, paths, step):
            rows = min(step, paths - start)
            w = _draw(rng, rows, a)
            x, y = w[:, :n_u], w[:, n_u:]
            pnl[start : start + rows] = (
                theta_dt
                + x @ co["gx"]
                + y @ co["gy"]
                + 0.5 * ((x * x) @ co["bxx"] + (y * y) @ co["byy"])
                + (x * y) @ co["bxy"]
            )
        losses = -pnl
        _, k, _, m = _tail_layout(paths, c)
        tail = _tail_from_sorted(losses[_sorted_tail(losses, k + m + 1)], paths, c)
        dev = pnl - pnl.mean()
        sd = float(dev.std())
        return {
            "var": tail["var"],
            "es": tail["es"],
            "var_se": _jsonable(tail["var_se"]),
            "es_se": _jsonable(tail["es_se"]),
            "mean": float(pnl.mean()),
            "sd": float(pnl.std(ddof=1)),
            "skewness": _jsonable(np.mean(dev**3) / sd**3) if sd > 0 else 0.0,
            "excess_kurtosis": _jsonable(np.mean(dev**4) / sd**4 - 3.0) if sd > 0 else 0.0,
            "method": "mc",
            "paths": paths,
            "repaired": info["repaired"],
        }
    if method != "cornish_fisher":
        raise ValueError("method must be 'cornish_fisher' or 'mc'")
    grad = np.concatenate((co["gx"], co["gy"]))
    bmat = np.zeros((2 * n_u, 2 * n_u))
    idx = np.arange(n_u)
    bmat[idx, idx] = co["bxx"]
    bmat[n_u + idx, n_u + idx] = co["byy"]
    bmat[idx, n_u + idx] = bmat[n_u + idx, idx] = co["bxy"]
    omega = a @ a.T
    mmat = bmat @ omega
    u = omega @ grad
    bu = bmat @ u
    m2 = mmat @ mmat
    k1 = theta_dt + 0.5 * float(np.trace(mmat))
    k2 = float(grad @ u) + 0.5 * float(np.trace(m2))
    k3 = 3.0 * float(u @ bu) + float(np.trace(m2 @ mmat))
    k4 = 12.0 * float(bu @ omega @ bu) + 3.0 * float(np.trace(m2 @ m2))
    sd = math.sqrt(max(k2, 0.0))
    skew = k3 / sd**3 if sd > 0 else 0.0
    kurt = k4 / sd**4 if sd > 0 else 0.0
    p = 1.0 - c
    z = float(ndtri(p))
    phi = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
    wq = (
        z
        + (z * z - 1.0) * skew / 6.0
        + (z**3 - 3.0 * z) * kurt / 24.0
        - (2.0 * z**3 - 5.0 * z) * skew * skew / 36.0
    )
    i0, i1, i2, i3 = p, -phi, p - z * phi, -(z * z + 2.0) * phi
    tail_int = (
        i1
        + skew / 6.0 * (i2 - i0)
        + kurt / 24.0 * (i3 - 3.0 * i1)
        - skew * skew / 36.0 * (2.0 * i3 - 5.0 * i1)
    )
    return {
        "var": -(k1 + sd * wq),
        "es": -(k1 + sd * tail_int / p),
        "mean": k1,
        "sd": sd,
        "skewness": skew,
        "excess_kurtosis": kurt,
        "method": "cornish_fisher",
        "repaired": info["repaired"],
    }


# ------------------------------------------------------------------------ stress and greeks


def stress_test(book: Mapping, scenarios: Mapping | None = None) -> dict:
    """Instantaneous stress P&L by full revaluation (no ageing), per scenario and position.

    ``scenarios``: name -> {"spot": simple return, "vol": relative vol shock} (each a scalar
    for every underlying or a list with one value per underlying); default
    ``STRESS_SCENARIOS``: crash (-20 % spot, +50 % vol), vol_spike (-5 %, +100 %), black_swan
    (-30 %, +200 %), squeeze (+15 %, +30 %); vol shocks relative, v' = v (1 + shock).

    Returns plain values: ``scenarios``: name -> {``pnl`` (currency), ``position_pnl`` (list:
    options, then linear positions), ``underlying_pnl`` (list per underlying), ``spot``,
    ``vol`` (the shocks)}; ``worst_scenario`` (name of the lowest P&L) and ``worst_pnl``.
    """
    bk = _book(book)
    scen = STRESS_SCENARIOS if scenarios is None else scenarios
    out: dict[str, dict] = {}
    worst, worst_pnl = None, math.inf
    for name, shock in scen.items():
        spot_shock = shock.get("spot", 0.0)
        vol_shock = shock.get("vol", 0.0)
        pos = revalue_book(bk, spot_shock, vol_shock, "simple", "relative", 0.0, True)[0]
        total = float(pos.sum())
        out[str(name)] = {
            "pnl": total,
            "position_pnl": _float_list(pos),
            "underlying_pnl": _float_list(_by_underlying(bk, pos)),
            "spot": float(spot_shock) if np.ndim(spot_shock) == 0 else _float_list(spot_shock),
            "vol": float(vol_shock) if np.ndim(vol_shock) == 0 else _float_list(vol_shock),
        }
        if total < worst_pnl:
            worst, worst_pnl = str(name), total
    return {
        "scenarios": out,
        "worst_scenario": worst,
        "worst_pnl": worst_pnl if worst is not None else None,
    }


_GREEK_KEYS = ("value", "delta", "dollar_delta", "gamma", "dollar_gamma", "vega", "theta", "rho")


def portfolio_greeks(book: Mapping) -> dict:
    """Book greeks per position, per underlying and in total (quantity x multiplier applied).

    Units (currency unless stated):

    - ``value``: model value (options at ``bs_price``, stock at spot);
    - ``delta``: share-equivalents (delta x contracts x multiplier; stock: shares);
    - ``dollar_delta``: delta x spot, the P&L per 1.00 (100 %) relative spot move (divide by
      100 for a 1 % move);
    - ``gamma``: change of ``delta`` (shares) per 1 currency unit of spot;
    - ``dollar_gamma``: gamma x spot^2 x 0.01, the change of ``dollar_delta`` for a +1 % spot
      move (the GEX convention); the second-order P&L of a relative move x is
      50 x dollar_gamma x x^2;
    - ``vega``: P&L per +1 vol point (+0.01 of implied vol);
    - ``theta``: P&L per calendar day passing (theta per year / 365);
    - ``rho``: P&L per +1 percentage point (+0.01) of the rate.

    Returns ``position``, ``underlying`` (dicts of lists: options then linear positions /
    one entry per underlying) and ``total`` (dict of floats), with the keys above.
    """
    bk = _book(book)
    und = bk["underlying"]
    s_o = bk["spot"][und]
    g = bs_greeks(s_o, bk["strike"], bk["t"], bk["r"], bk["q"], bk["vol"], bk["is_call"])
    w = bk["quantity"] * bk["multiplier"]
    sq = bk["stock_quantity"]
    s = bk["spot"]
    zeros = np.zeros_like(sq)
    per_pos = {
        "value": np.concatenate((bk["price0"] * w, s * sq)),
        "delta": np.concatenate((g["delta"] * w, sq)),
        "dollar_delta": np.concatenate((g["delta"] * w * s_o, sq * s)),
        "gamma": np.concatenate((g["gamma"] * w, zeros)),
        "dollar_gamma": np.concatenate((g["gamma"] * w * s_o * s_o * 0.01, zeros)),
        "vega": np.concatenate((g["vega"] * w / 100.0, zeros)),
        "theta": np.concatenate((g["theta"] * w / 365.0, zeros)),
        "rho": np.concatenate((g["rho"] * w / 100.0, zeros)),
    }
    return {
        "position": {k: _float_list(per_pos[k]) for k in _GREEK_KEYS},
        "underlying": {k: _float_list(_by_underlying(bk, per_pos[k])) for k in _GREEK_KEYS},
        "total": {k: float(per_pos[k].sum()) for k in _GREEK_KEYS},
    }
