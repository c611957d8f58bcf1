"""Underlying features: daily technicals and volatility per symbol, intraday realized variance.

Pure numpy + scipy; every formula of the ``int_underlying_*`` dbt models lives here, and the
models only aggregate, order, call these functions once per symbol and unnest.

``daily_features(open_, high, low, close, volume)`` takes one symbol's daily bars ordered by
trade date (prices per share, volume in shares) and returns a dict of float arrays aligned
with the input (element i = trade date i). Point in time: element i uses days 0..i only, so
appending later days never changes an earlier element (tested). Units:

- ``ret_1d``, ``ret_5d``, ``ret_20d``: log returns ln(C_i / C_{i-k}), decimal (not annualised);
- ``sma_<n>``: simple moving average of the close over n days, price per share;
- ``ewma_<span>``: exponentially weighted moving average of the close, alpha = 2 / (span + 1),
  recursion m_i = alpha C_i + (1 - alpha) m_{i-1} seeded at m_0 = C_0 (pandas
  ``ewm(span, adjust=False)``), NaN for the first span - 1 days (warm-up), price per share;
- ``rsi_14``: Wilder's relative strength index (1978), 0..100: average gain / loss seeded with
  the simple mean of the first 14 close-to-close changes, then smoothed
  avg_i = (13 avg_{i-1} + x_i) / 14; RSI = 100 - 100 / (1 + gain / loss) (100 when the
  average loss is 0, 50 when both are 0); first value at day 14;
- ``macd_line`` = EMA12 - EMA26 of the close (EMAs as ``ewma``, seeded at C_0), first value at
  day 25; ``macd_signal`` = EMA9 of the line (seeded at its first value, day 25), first value at
  day 33; ``macd_hist`` = line - signal; price per share;
- ``volume_sma_20``: 20-day simple average of the volume, shares;
- ``rv_<est>_<w>``: annualised volatility (decimal per sqrt(year), 252 trading days a year)
  over the trailing w trading days for w in the IvyDB windows (10, 14, 30, 60, 91, 122, 152,
  182, 273, 365) and est in cc (close-to-close, sample sd of log returns, first value at day
  w), pk (Parkinson), gk (Garman-Klass, open-to-close form), rs (Rogers-Satchell), yz
  (Yang-Zhang, with the previous close; first value at day w): ``python_udfs.realized``;
  pk, gk and rs measure the open-to-close (session) variance only, cc and yz include the
  overnight gaps;
- ``skew_<n>``, ``kurt_<n>`` (n = 20, 60): bias-corrected sample skewness and excess kurtosis
  of the trailing n daily log returns (dimensionless);
- ``garch_vol``: GARCH(1,1) conditional volatility of day i's return given returns up to
  day i - 1, annualised decimal; the parameters are fitted (``python_udfs.garch``) only on
  returns before day i: an expanding-window refit every ``GARCH_REFIT_EVERY`` (21) trading
  days once ``GARCH_MIN_OBS`` (250) returns are available (NaN before); within a block the
  variance recursion runs over the whole history with that block's parameters, started at
  the fit sample's mean squared residual;
- ``garch_forecast_1d``: the 1-day-ahead forecast sigma_{i+1} given returns up to and
  including day i, with the same parameters as ``garch_vol`` on day i, annualised decimal.

``intraday_rv(bar_counts, tick_counts, bar_close, tick_price)``: for a batch of days of one
symbol, 1-minute bar closes and trade prices concatenated day after day (each day's in time
order, ``bar_counts`` / ``tick_counts`` observations per day); returns per day (decimal^2 per
session, NOT annualised): ``rv_1m`` (realized variance of the 1-minute bar closes), ``rv_tick``
(of the trade prices), ``noise_var`` (RV_tick / (2 n), n tick returns: Zhang, Mykland &
Ait-Sahalia 2005, eq. (7)), ``noise_var_bc`` ((RV_tick - TSRV) / (2 n): the same with the
integrated-variance bias IV / (2 n) removed) and ``tsrv`` (two-scales realized variance,
K = round(n^(2/3)) sub-grids, small-sample adjusted). NaN with fewer than 2 observations
(RV, noise) or 4 (TSRV, noise_var_bc).
"""

from __future__ import annotations

import math

import numpy as np

from python_udfs import garch, realized

__all__ = [
    "DAILY_FEATURES",
    "EWMA_SPANS",
    "GARCH_MIN_OBS",
    "GARCH_REFIT_EVERY",
    "INTRADAY_FIELDS",
    "MOMENT_WINDOWS",
    "RETURN_HORIZONS",
    "RV_ESTIMATORS",
    "RV_WINDOWS",
    "SMA_WINDOWS",
    "daily_features",
    "ewma",
    "garch_point_in_time",
    "intraday_rv",
    "macd",
    "rsi_wilder",
    "sma",
]

RETURN_HORIZONS = (1, 5, 20)
SMA_WINDOWS = (5, 10, 20, 50, 200)
EWMA_SPANS = (10, 20, 60)
RSI_PERIOD = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
RV_WINDOWS = realized.DEFAULT_WINDOWS
RV_ESTIMATORS = ("cc", "pk", "gk", "rs", "yz")
MOMENT_WINDOWS = (20, 60)
GARCH_MIN_OBS = 250
GARCH_REFIT_EVERY = 21
TRADING_DAYS = realized.TRADING_DAYS

DAILY_FEATURES: tuple[str, ...] = (
    *(f"ret_{h}d" for h in RETURN_HORIZONS),
    *(f"sma_{n}" for n in SMA_WINDOWS),
    *(f"ewma_{s}" for s in EWMA_SPANS),
    "rsi_14",
    "macd_line",
    "macd_signal",
    "macd_hist",
    "volume_sma_20",
    *(f"rv_{e}_{w}" for e in RV_ESTIMATORS for w in RV_WINDOWS),
    *(f"skew_{n}" for n in MOMENT_WINDOWS),
    *(f"kurt_{n}" for n in MOMENT_WINDOWS),
    "garch_vol",
    "garch_forecast_1d",
)

INTRADAY_FIELDS: tuple[str, ...] = ("rv_1m", "rv_tick", "noise_var", "noise_var_bc", "tsrv")


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).ravel()


def sma(x, window: int) -> np.ndarray:
    """Trailing simple moving average over ``window`` values (NaN until full / NaN inside)."""
    return realized.rolling_mean(_f64(x), window)


def _ema_from(x: np.ndarray, alpha: float, start: int) -> np.ndarray:
    """EMA m_i = alpha x_i + (1 - alpha) m_{i-1} seeded at m_start = x_start; NaN before start.

    A NaN input propagates to every later value (the history is broken)."""
    out = np.full(x.size, np.nan)
    if start >= x.size:
        return out
    seg = x[start:]
    # y_i = alpha x_i + (1 - alpha) y_{i-1}, y_{-1} := x_start (so y_0 = x_start)
    from scipy.signal import lfilter  # here: scipy.signal costs ~0.25 s to import

    y, _ = lfilter([alpha], [1.0, -(1.0 - alpha)], seg, zi=np.array([(1.0 - alpha) * seg[0]]))
    out[start:] = y
    return out


def ewma(x, span: int, min_periods: int | None = None) -> np.ndarray:
    """EWMA with alpha = 2 / (span + 1) seeded at the first value (pandas adjust=False);
    NaN for the first ``min_periods`` - 1 values (default ``span``)."""
    x = _f64(x)
    span = int(span)
    if span < 1:
        raise ValueError(f"span must be >= 1, got {span}")
    out = _ema_from(x, 2.0 / (span + 1.0), 0)
    out[: max(0, (span if min_periods is None else int(min_periods)) - 1)] = np.nan
    return out


def rsi_wilder(close, period: int = RSI_PERIOD) -> np.ndarray:
    """Wilder's RSI (0..100) of a close series; first value at index ``period``."""
    c = _f64(close)
    period = int(period)
    out = np.full(c.size, np.nan)
    if c.size <= period:
        return out
    d = np.diff(c)
    gain = np.maximum(d, 0.0)
    loss = np.maximum(-d, 0.0)
    a = 1.0 / period

    # avg_k for k = period - 1 .. : seeded with the simple mean, then Wilder smoothing
    def smooth(x: np.ndarray) -> np.ndarray:
        seed = np.mean(x[:period])
        from scipy.signal import lfilter

        tail, _ = lfilter([a], [1.0, -(1.0 - a)], x[period:], zi=np.array([(1.0 - a) * seed]))
        return np.concatenate(([seed], tail))

    g, lo = smooth(gain), smooth(loss)
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = np.where(
            lo > 0.0,
            100.0 - 100.0 / (1.0 + g / np.where(lo > 0.0, lo, 1.0)),
            np.where(g > 0.0, 100.0, 50.0),
        )
    rsi = np.where(np.isnan(g) | np.isnan(lo), np.nan, rsi)
    out[period:] = rsi
    return out


def macd(
    close, fast: int = MACD_FAST, slow: int = MACD_SLOW, signal: int = MACD_SIGNAL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line, signal, histogram): line = EMA_fast - EMA_slow (seeded at C_0, NaN for the first
    slow - 1 days), signal = EMA_signal of the line seeded at its first value (NaN for the
    next signal - 1 days), histogram = line - signal. Price per share."""
    c = _f64(close)
    line = _ema_from(c, 2.0 / (fast + 1.0), 0) - _ema_from(c, 2.0 / (slow + 1.0), 0)
    line[: slow - 1] = np.nan
    sig = _ema_from(line, 2.0 / (signal + 1.0), slow - 1)
    sig[: slow + signal - 2] = np.nan
    return line, sig, line - sig


def _log_return(c: np.ndarray, k: int) -> np.ndarray:
    lc = realized._log_price(c)
    out = np.full(c.size, np.nan)
    if c.size > k:
        out[k:] = lc[k:] - lc[:-k]
    return out


def garch_point_in_time(
    returns,
    min_obs: int = GARCH_MIN_OBS,
    refit_every: int = GARCH_REFIT_EVERY,
    periods_per_year: float = TRADING_DAYS,
) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1) conditional vol and 1-day forecast without look-ahead (annualised decimal).

    ``returns``: daily log returns aligned with the dates (element 0 is usually NaN). The
    model is refitted on the returns strictly before date i at i = j0 + m refit_every
    (j0: the date after the ``min_obs``-th finite return); those parameters serve dates
    i .. i + refit_every - 1. Returns (vol, forecast): vol[i] = sigma_i (variance of r_i given
    r_<i), forecast[i] = sigma_{i+1} (given r_<=i). NaN returns count as zero shocks in the
    recursion and are left out of the fits.
    """
    r = _f64(returns)
    n = r.size
    vol = np.full(n, np.nan)
    fc = np.full(n, np.nan)
    finite = np.isfinite(r)
    cum = np.cumsum(finite)  # finite returns in r[0..i]
    if n == 0 or cum[-1] < min_obs:
        return vol, fc
    first_ret = int(np.argmax(finite))
    # first date whose strictly earlier returns number min_obs
    j0 = int(np.searchsorted(cum, min_obs)) + 1
    previous: tuple[float, float, float] | None = None
    for start in range(j0, n, int(refit_every)):
        stop = min(start + int(refit_every), n)  # dates start .. stop - 1
        sample = r[:start][finite[:start]]
        # warm start from the previous block's parameters: same data plus refit_every returns
        fit = garch.garch11_fit(sample, periods_per_year=periods_per_year, start=previous)
        om, a, b, mu = (float(fit[k]) for k in ("omega", "alpha", "beta", "mu"))
        if not all(math.isfinite(v) for v in (om, a, b, mu)):
            continue
        previous = (om, a, b) if bool(fit["converged"]) else None
        e_fit = sample - mu
        s0 = float(np.mean(e_fit * e_fit))
        e = np.where(finite[first_ret:stop], r[first_ret:stop] - mu, 0.0)
        # s2[j] = variance of e[j] given e[<j]; s2[len(e)] = the next one
        s2 = garch.garch11_conditional_variance(e, om, a, b, s0)
        idx = np.arange(start, stop) - first_ret
        vol[start:stop] = np.sqrt(s2[idx] * periods_per_year)
        fc[start:stop] = np.sqrt(s2[idx + 1] * periods_per_year)
    return vol, fc


def daily_features(open_, high, low, close, volume) -> dict[str, np.ndarray]:
    """Every daily feature (``DAILY_FEATURES``) of one symbol's daily bars ordered by date.

    Prices per share (> 0; a non-positive price gives NaN wherever it is used), volume in
    shares; a one-element open_/high/low/volume broadcasts. Returns {feature: float64 array
    aligned with the input}; see the module docstring for definitions and units.
    """
    o, h, lo, c, v = (_f64(a) for a in (open_, high, low, close, volume))
    n = c.size
    for name, a in (("open_", o), ("high", h), ("low", lo), ("volume", v)):
        if a.size not in (1, n):
            raise ValueError(f"{name} has {a.size} elements, close has {n}")
    # a one-element array broadcasts (the batch convention of the quant API)
    o, h, lo, v = (np.broadcast_to(a, (n,)) if a.size == 1 else a for a in (o, h, lo, v))
    out: dict[str, np.ndarray] = {}
    for k in RETURN_HORIZONS:
        out[f"ret_{k}d"] = _log_return(c, k)
    for w in SMA_WINDOWS:
        out[f"sma_{w}"] = sma(c, w)
    for s in EWMA_SPANS:
        out[f"ewma_{s}"] = ewma(c, s)
    out["rsi_14"] = rsi_wilder(c, RSI_PERIOD)
    out["macd_line"], out["macd_signal"], out["macd_hist"] = macd(c)
    out["volume_sma_20"] = sma(v, 20)

    prev_c = np.concatenate(([np.nan], c[:-1])) if n else c
    for w in RV_WINDOWS:
        out[f"rv_cc_{w}"] = realized.close_to_close_vol(c, w)
        out[f"rv_pk_{w}"] = realized.parkinson_vol(h, lo, w)
        out[f"rv_gk_{w}"] = realized.garman_klass_vol(o, h, lo, c, w)
        out[f"rv_rs_{w}"] = realized.rogers_satchell_vol(o, h, lo, c, w)
        out[f"rv_yz_{w}"] = realized.yang_zhang_vol(o, h, lo, c, prev_c, w)
    r1 = out["ret_1d"]
    for w in MOMENT_WINDOWS:
        out[f"skew_{w}"] = realized.rolling_skewness(r1, w)
        out[f"kurt_{w}"] = realized.rolling_kurtosis(r1, w)
    out["garch_vol"], out["garch_forecast_1d"] = garch_point_in_time(r1)
    return {k: np.asarray(out[k], dtype=np.float64) for k in DAILY_FEATURES}


def _segments(counts, total: int, what: str) -> np.ndarray:
    c = _f64(counts)
    if np.any(~np.isfinite(c)) or np.any(c < 0) or np.any(c != np.round(c)):
        raise ValueError(f"{what} must be non-negative integers")
    ci = c.astype(np.int64)
    if int(ci.sum()) != total:
        raise ValueError(f"{what} sum to {int(ci.sum())}, but {total} prices were given")
    return np.concatenate(([0], np.cumsum(ci)))


def intraday_rv(bar_counts, tick_counts, bar_close, tick_price) -> dict[str, np.ndarray]:
    """Per-day realized variance, noise variance and TSRV for a batch of one symbol's days.

    ``bar_counts[d]`` / ``tick_counts[d]``: number of 1-minute bars / trades of day d;
    ``bar_close`` / ``tick_price``: the days' bar closes / trade prices concatenated in day
    order, each day's in time order (per share). Returns {field: array, one per day}
    (``INTRADAY_FIELDS``, decimal^2 per session, not annualised).
    """
    bc, tp = _f64(bar_close), _f64(tick_price)
    nd = _f64(bar_counts).size
    if _f64(tick_counts).size != nd:
        raise ValueError("bar_counts and tick_counts must have one element per day")
    bseg = _segments(bar_counts, bc.size, "bar_counts")
    tseg = _segments(tick_counts, tp.size, "tick_counts")
    lb, lt = realized._log_price(bc), realized._log_price(tp)
    out = {f: np.full(nd, np.nan) for f in INTRADAY_FIELDS}
    for d in range(nd):
        xb = lb[bseg[d] : bseg[d + 1]]
        if xb.size >= 2:
            out["rv_1m"][d] = realized.realized_variance(xb)
        xt = lt[tseg[d] : tseg[d + 1]]
        if xt.size >= 2:
            rv = float(realized.realized_variance(xt))
            out["rv_tick"][d] = rv
            out["noise_var"][d] = realized.noise_variance(xt)
            if xt.size >= 4:  # tsrv needs K = 2 < n returns
                ts = float(realized.tsrv(xt))
                out["tsrv"][d] = ts
                out["noise_var_bc"][d] = (rv - ts) / (2.0 * (xt.size - 1))
    return out
