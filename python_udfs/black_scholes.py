"""Black-Scholes-Merton and Black-76 prices and greeks, vectorised over numpy arrays.

The one copy of the option-pricing math in the project: the simulator, the loaders' checks and
the PL/Python functions in the database all call these. Pure functions (numpy + scipy only),
no I/O; every function broadcasts its array inputs and returns numpy arrays.

Units (all inputs broadcast against each other):

- ``spot``, ``forward``, ``strike``: price per share (same currency unit).
- ``t``: time to expiry in years (ACT/365 in this project). ``t <= 0`` gives intrinsic value.
- ``r``: continuously compounded risk-free rate, decimal per year (0.05 = 5 %).
- ``q``: continuous dividend yield, decimal per year.
- ``vol``: Black volatility, decimal per sqrt(year) (0.20 = 20 %). ``vol <= 0`` gives the
  discounted intrinsic value of the forward.
- ``is_call``: boolean (array); False means put.

Accuracy. Prices are computed in normalised Black space: with x = ln(F/K) and total standard
deviation s = vol sqrt(t), price = e^{-rt} (sqrt(F) sqrt(K) b(-|x|, s) + intrinsic), where
b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2) is the normalised price of the
out-of-the-money call (x <= 0). ``normalised_black_otm`` evaluates b to ~4e-15 relative
accuracy (measured against 50-digit arithmetic) everywhere it is representable, including the
far wings where the textbook F N(d1) - K N(d2) loses every significant digit to cancellation:

- b = phi_E * (Y(h + t) - Y(h - t)) with h = x/s, t = s/2, phi_E = exp(-(h^2 + t^2)/2) /
  sqrt(2 pi) and the scaled Mills ratio Y(z) = N(z) / phi(z) = sqrt(pi/2) erfcx(-z/sqrt 2)
  (no overflow while h + t <= 0); (h^2 + t^2)/2 reaches ~700 in the wings and is carried in
  double-double arithmetic so that phi_E keeps full relative precision;
- where the two Y terms would cancel by more than a factor ~10 (t < (|h| + 1.25)/10) the
  difference is replaced by its Taylor series 2 sum_{n odd} Y^(n)(h) t^n / n!, whose
  coefficients come from the recurrence Y^(n+1) = h Y^(n) + n Y^(n-1), run forwards for
  h > -2 and as a backward continued fraction (positive terms only) for h <= -2;
- otherwise, with h + t > 0, b = e^{x/2} N(h + t) - phi_E Y(h - t) (no cancellation beyond a
  factor 10) and its complement e^{x/2} - b = phi_E (Y(-h - t) + Y(h - t)).

The implied-volatility solver (``python_udfs.implied_vol``) inverts exactly this function, so
prices and implied volatilities round-trip to ~1e-13 relative or better.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx, ndtr

__all__ = [
    "GREEK_FIELDS",
    "black76_price",
    "bs_greeks",
    "bs_price",
    "norm_pdf",
    "normalised_black_otm",
]

# the greeks ``bs_greeks`` returns, in the order of the SQL composites quant.greeks /
# quant.greeks_arrays
GREEK_FIELDS = ("delta", "gamma", "vega", "theta", "rho", "vanna", "volga", "charm")

_INV_SQRT_2PI = 0.3989422804014327
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)

# b(x, s): where 10 t < |h| + 1.25 the two Mills-ratio terms would cancel by more than a
# factor ~10 and the Taylor series in t takes over.
_SERIES_RATIO = 10.0
_SPLITTER = 134217729.0  # 2^27 + 1 (Veltkamp split)
_TAYLOR_ORDER = 19  # highest odd power of t kept in the Taylor branch
_CF_START_MAX = 100  # latest start of the backward continued fraction for Y^(n)/Y^(n-1)
# fast mode (the solver's first iterations, re-polished by one accurate evaluation): the
# direct Mills difference down to a cancellation of ~15, the series (to t^11) beyond; the
# forward recurrence for h > -8 (~1e-14 .. 1e-11 relative), the continued fraction below
_FAST_SERIES_RATIO = 30.0
_FAST_TAYLOR_ORDER = 11
_FAST_FORWARD_H = -8.0


def norm_pdf(x: np.ndarray) -> np.ndarray:
    """Standard normal density."""
    x = np.asarray(x, dtype=np.float64)
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _mills(z: np.ndarray) -> np.ndarray:
    """Y(z) = N(z) / phi(z) for z <= ~0 (no overflow): sqrt(pi/2) erfcx(-z / sqrt 2)."""
    return _SQRT_HALF_PI * erfcx(-z * _INV_SQRT2)


def _taylor_difference(h: np.ndarray, t: np.ndarray, fast: bool = False) -> np.ndarray:
    """Y(h + t) - Y(h - t) = 2 sum_{n odd} Y^(n)(h) t^n / n! (used for t < (|h| + 1.25)/10).

    The derivatives Y^(n)(h) = int_0^inf u^n exp(h u - u^2/2) du obey
    Y^(n+1) = h Y^(n) + n Y^(n-1). For h > -2 the forward recurrence is used (little
    cancellation); for h <= -2 it is unstable (Y^(n) is its minimal solution) and the ratios
    r_n = Y^(n) / Y^(n-1) come instead from the backward continued fraction
    r_n = n / (|h| + r_{n+1}) (positive terms only), started at n = 20 + 220/h^2 (at most 100)
    from its large-n limit, with the series summed by Horner's rule on the way down. Terms up
    to t^19 are kept: t (|h| + 1.25)^-1 < 0.1 makes the remainder < 1e-18 relative.

    ``fast``: terms to t^11 (for t (|h| + 1.25)^-1 < 1/30) and the forward recurrence down to
    h = -8 (it loses ~h^2 ulps and more below h = -5: an approximation to be polished).
    """
    out = np.empty_like(h)
    m0 = _mills(h)
    t2 = t * t
    order = _FAST_TAYLOR_ORDER if fast else _TAYLOR_ORDER
    fwd = h > (_FAST_FORWARD_H if fast else -2.0)
    if fwd.any():
        hf, tf = h[fwd], t[fwd]
        t2f = t2[fwd]
        m_prev = m0[fwd]
        m_cur = 1.0 + hf * m_prev  # Y'
        term = tf.copy()
        total = m_cur * term
        for n in range(1, order, 2):
            m_prev, m_cur = m_cur, hf * m_cur + n * m_prev  # Y^(n+1)
            m_prev, m_cur = m_cur, hf * m_cur + (n + 1) * m_prev  # Y^(n+2)
            term = term * t2f / ((n + 1) * (n + 2))
            total = total + m_cur * term
        out[fwd] = 2.0 * total
    bwd = ~fwd
    if bwd.any():
        z = -h[bwd]
        tb = t[bwd]
        t2b = tb * tb
        # every element starts at the deepest start the batch needs (the smallest z): a
        # deeper start only adds terms of a convergent continued fraction, and one pass over
        # all elements costs far fewer numpy calls than per-element starts
        n_top = int(min(_CF_START_MAX, 20 + math.ceil(220.0 / float(z.min()) ** 2)))
        ratio = 0.5 * (np.sqrt(z * z + 4.0 * (n_top + 1)) - z)
        acc = np.ones_like(z)
        r_odd = np.empty_like(z)
        tmp = np.empty_like(z)
        for n in range(n_top, 0, -1):
            np.add(z, ratio, out=tmp)
            np.divide(float(n), tmp, out=ratio)
            if n <= order:
                if n % 2 == 1:
                    r_odd[...] = ratio
                elif n >= 2:
                    # acc_{n-1} = 1 + r_n r_{n+1} t^2 / (n (n+1)) acc_{n+1}
                    np.multiply(ratio, r_odd, out=tmp)
                    tmp *= t2b
                    tmp *= acc
                    tmp *= 1.0 / (n * (n + 1))
                    np.add(tmp, 1.0, out=acc)
        out[bwd] = 2.0 * m0[bwd] * ratio * tb * acc  # Y r_1 t (1 + ...)
    return out


def _mills_difference(h: np.ndarray, t: np.ndarray, fast: bool = False) -> np.ndarray:
    """D(h, t) = Y(h + t) - Y(h - t) > 0 for h <= 0 < t with h + t <= 0 (both Y terms bounded).

    Also valid (series branches only) for small t with h + t > 0. ``fast``: the cheaper,
    less accurate (~1e-14 .. 1e-11) variant (see ``_taylor_difference``).
    """
    out = np.empty_like(h)
    series = (_FAST_SERIES_RATIO if fast else _SERIES_RATIO) * t < np.abs(h) + 1.25
    if not series.any():
        return _mills(h + t) - _mills(h - t)
    direct = ~series
    if direct.any():
        hd, td = h[direct], t[direct]
        out[direct] = _mills(hd + td) - _mills(hd - td)
    out[series] = _taylor_difference(h[series], t[series], fast)
    return out


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dekker's error-free product: p + e == a * b exactly (|a|, |b| < 1e150)."""
    p = a * b
    ca = _SPLITTER * a
    a_hi = ca - (ca - a)
    a_lo = a - a_hi
    cb = _SPLITTER * b
    b_hi = cb - (cb - b)
    b_lo = b - b_hi
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def _exp_neg_half_sq(x: np.ndarray, s: np.ndarray):
    """(h, t, E, exp(-E)) with h = x/s, t = s/2, E = (h^2 + t^2)/2 for exact x/s.

    E reaches ~700 in the far wings, where rounding h and h^2 would cost ~1e-13 in exp(-E);
    E is carried as a double-double (Dekker products) so exp(-E) keeps ~1e-16 relative.
    Returns E rounded (for logs) and exp(-E) to full precision.
    """
    h = x / s
    t = 0.5 * s
    p, pe = _two_prod(h, s)
    h_lo = ((x - p) - pe) / s  # x/s = h + h_lo to ~1e-32 relative
    hh, hh_e = _two_prod(h, h)
    tt, tt_e = _two_prod(t, t)
    big = hh + tt
    bv = big - hh
    big_e = (hh - (big - bv)) + (tt - bv)  # two-sum error
    lo = big_e + hh_e + tt_e + 2.0 * h * h_lo
    e = 0.5 * big
    with np.errstate(over="ignore", invalid="ignore"):
        ex = np.exp(-e) * (1.0 - 0.5 * lo)
    return h, t, e + 0.5 * lo, ex


def _normalised_black_parts(x: np.ndarray, s: np.ndarray, fast: bool = False) -> dict:
    """Normalised OTM call b(x, s) (x <= 0, s > 0, 1-d float arrays) and its companions.

    Returns h, t, ``b``, ``log_b`` (ln b, finite even where b underflows), ``c`` = e^{x/2} - b
    (computed without cancellation), and the ratios ``vb`` = b'(s)/b and ``vc`` = b'(s)/c where
    b'(s) = exp(-(h^2 + t^2)/2) / sqrt(2 pi) is the normalised vega. ``fast``: ~1e-14 ..
    1e-11 relative instead of ~4e-15 (plain exponent, shorter series), for the solver's first
    iterations, which one accurate evaluation then polishes.
    """
    if fast:
        h = x / s
        t = 0.5 * s
        e = 0.5 * (h * h + t * t)
        with np.errstate(over="ignore", invalid="ignore"):
            ex = np.exp(-e)
    else:
        h, t, e, ex = _exp_neg_half_sq(x, s)
    upper_exp = np.exp(0.5 * x)
    b = np.empty_like(x)
    log_b = np.empty_like(x)
    c = np.empty_like(x)
    vb = np.empty_like(x)
    vc = np.empty_like(x)
    vega = _INV_SQRT_2PI * ex
    # Mills-difference form: wherever h + t <= 0, or the series applies (small t)
    ratio = _FAST_SERIES_RATIO if fast else _SERIES_RATIO
    mills_form = (h + t <= 0.0) | (ratio * t < np.abs(h) + 1.25)
    if mills_form.all():
        d = _mills_difference(h, t, fast)
        log_d = np.log(d)
        with np.errstate(divide="ignore", invalid="ignore"):
            b = vega * d
            c = upper_exp - b
            return {
                "h": h,
                "t": t,
                "b": b,
                "log_b": log_d - e - _LOG_SQRT_2PI,
                "c": c,
                "vb": 1.0 / d,
                "vc": vega / c,
            }
    if mills_form.any():
        d = _mills_difference(h[mills_form], t[mills_form], fast)
        bb = vega[mills_form] * d
        cc = upper_exp[mills_form] - bb
        b[mills_form] = bb
        log_b[mills_form] = -e[mills_form] + np.log(d) - _LOG_SQRT_2PI
        c[mills_form] = cc
        vb[mills_form] = 1.0 / d
        with np.errstate(divide="ignore", invalid="ignore"):
            vc[mills_form] = vega[mills_form] / cc
    direct = ~mills_form
    if direct.any():
        hd, td, ud, vd = h[direct], t[direct], upper_exp[direct], vega[direct]
        # e^{-x/2} N(h - t) = vega Y(h - t) and e^{x/2} N(-h - t) = vega Y(-h - t):
        # no overflow of e^{-x/2}, full relative precision of the complement c
        second = vd * _mills(hd - td)
        bb = ud * ndtr(hd + td) - second
        cc = vd * _mills(-hd - td) + second
        b[direct] = bb
        with np.errstate(divide="ignore"):
            log_b[direct] = np.log(bb)
        c[direct] = cc
        vb[direct] = vd / bb
        vc[direct] = vd / cc
    return {"h": h, "t": t, "b": b, "log_b": log_b, "c": c, "vb": vb, "vc": vc}


def normalised_black_otm(x, s) -> np.ndarray:
    """Normalised Black price b(x, s) of the out-of-the-money call, accurate to ~1e-14 relative.

    ``x`` = -|ln(F/K)| (log-moneyness, the sign is ignored) and ``s`` = vol sqrt(t) (total
    standard deviation, decimal). b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2);
    the undiscounted OTM option price is sqrt(F K) b. Returns 0 where s <= 0, e^{x/2} where
    s = inf, NaN for NaN inputs.
    """
    x, s = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(s, dtype=np.float64))
    shape = x.shape
    xf = -np.abs(x.ravel())
    sf = s.ravel()
    out = np.full(xf.shape, np.nan)
    ok = (sf > 0.0) & np.isfinite(sf) & np.isfinite(xf)
    if ok.any():
        out[ok] = _normalised_black_parts(xf[ok], sf[ok])["b"]
    out[(sf <= 0.0) & np.isfinite(xf)] = 0.0
    big = np.isposinf(sf) & np.isfinite(xf)
    out[big] = np.exp(0.5 * xf[big])
    return out.reshape(shape)


def black76_price(forward, strike, t, r, vol, is_call) -> np.ndarray:
    """Black-76 price of a European option on a forward, discounted at ``r``.

    price = exp(-r t) * (F N(d1) - K N(d2)) for a call, exp(-r t) * (K N(-d2) - F N(-d1))
    for a put, with d1 = (ln(F/K) + vol^2 t / 2) / (vol sqrt(t)). Returns price per share,
    evaluated as exp(-r t) (sqrt(F) sqrt(K) b(-|x|, s) + max(+-(F - K), 0)) with the accurate
    normalised OTM price b (see the module docstring), so deep out-of-the-money prices keep
    full relative precision. ``t <= 0`` or ``vol <= 0`` (or F, K <= 0) give the discounted
    intrinsic value of the forward; NaN inputs give NaN.
    """
    forward, strike, t, r, vol, is_call = np.broadcast_arrays(
        np.asarray(forward, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t, dtype=np.float64),
        np.asarray(r, dtype=np.float64),
        np.asarray(vol, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
    )
    shape = forward.shape
    f, k, tt, rr, vv, call = (a.ravel() for a in (forward, strike, t, r, vol, is_call))
    tp = np.maximum(tt, 0.0)
    df = np.exp(-rr * tp)
    sign = np.where(call, 1.0, -1.0)
    intrinsic = np.maximum(sign * (f - k), 0.0)
    price = df * intrinsic
    total_sd = vv * np.sqrt(tp)
    ok = (total_sd > 0.0) & (f > 0.0) & (k > 0.0)
    if ok.any():
        fo, ko = f[ok], k[ok]
        b = normalised_black_otm(-np.abs(np.log(fo / ko)), total_sd[ok])
        price[ok] = df[ok] * (np.sqrt(fo) * np.sqrt(ko) * b + intrinsic[ok])
    nan_in = np.isnan(f) | np.isnan(k) | np.isnan(tt) | np.isnan(rr) | np.isnan(vv)
    price[nan_in] = np.nan
    return price.reshape(shape)


def forward_price(spot, t, r, q) -> np.ndarray:
    """Forward F = spot exp((r - q) max(t, 0)) (the one place the project computes it)."""
    spot = np.asarray(spot, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    return spot * np.exp((r - q) * np.maximum(t, 0.0))


def bs_price(spot, strike, t, r, q, vol, is_call) -> np.ndarray:
    """Black-Scholes-Merton price of a European option with continuous dividend yield ``q``.

    Equivalent to Black-76 on the forward F = spot * exp((r - q) t). Returns price per share.
    """
    return black76_price(forward_price(spot, t, r, q), strike, t, r, vol, is_call)


def bs_greeks(spot, strike, t, r, q, vol, is_call) -> dict[str, np.ndarray]:
    """Black-Scholes-Merton greeks with continuous dividend yield ``q``.

    Returns a dict of arrays (per share, per unit of the variable, not per percent):

    - ``delta``: dV/dS (call in [0, 1], put in [-1, 0]).
    - ``gamma``: d2V/dS2, per (price unit)^-1.
    - ``vega``: dV/dvol per 1.00 of vol (divide by 100 for "per vol point").
    - ``theta``: dV/dt as calendar time passes, per year (negative for a long option in
      most cases; divide by 365 for per day). Equals -dV/dT at fixed S, r, q, vol.
    - ``rho``: dV/dr per 1.00 of rate (divide by 100 for per percentage point).
    - ``vanna``: d(delta)/dvol = d(vega)/dS, per 1.00 of vol.
    - ``volga``: d(vega)/dvol (vomma), per 1.00 of vol squared.
    - ``charm``: d(delta)/dt as calendar time passes, per year (= -d(delta)/dT).

    Where t <= 0 or vol <= 0 the greeks are those of the intrinsic payoff: delta is the
    discounted exercise indicator, the others are 0.
    """
    spot, strike, t, r, q, vol, is_call = np.broadcast_arrays(
        np.asarray(spot, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t, dtype=np.float64),
        np.asarray(r, dtype=np.float64),
        np.asarray(q, dtype=np.float64),
        np.asarray(vol, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
    )
    tt = np.maximum(t, 0.0)
    forward = spot * np.exp((r - q) * tt)
    total_sd = vol * np.sqrt(tt)
    ok = total_sd > 0.0
    safe_sd = np.where(ok, total_sd, 1.0)
    safe_vol = np.where(ok, vol, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (np.log(forward / strike) + 0.5 * safe_sd * safe_sd) / safe_sd
    d2 = d1 - safe_sd
    sqrt_t = np.sqrt(tt)
    dq = np.exp(-q * tt)
    dr = np.exp(-r * tt)
    sign = np.where(is_call, 1.0, -1.0)
    pdf1 = norm_pdf(d1)
    nd1 = ndtr(sign * d1)
    nd2 = ndtr(sign * d2)
    safe_sqrt_t = np.where(ok, sqrt_t, 1.0)

    delta = sign * dq * nd1
    gamma = dq * pdf1 / (spot * safe_sd)
    vega = spot * dq * pdf1 * sqrt_t
    theta = (
        -spot * dq * pdf1 * vol / (2.0 * safe_sqrt_t)
        - sign * r * strike * dr * nd2
        + sign * q * spot * dq * nd1
    )
    rho = sign * strike * tt * dr * nd2
    vanna = -dq * pdf1 * d2 / safe_vol
    volga = vega * d1 * d2 / safe_vol
    # d(delta)/dT = -sign q dq N(sign d1) + dq phi(d1) d(d1)/dT with
    # d(d1)/dT = ((r - q) - d2 vol / (2 sqrt T)) / (vol sqrt T); charm is minus that.
    dd1_dt = ((r - q) - d2 * vol / (2.0 * safe_sqrt_t)) / safe_sd
    charm = sign * q * dq * nd1 - dq * pdf1 * dd1_dt

    itm = sign * (forward - strike) > 0.0
    zero = np.zeros_like(delta)
    return {
        "delta": np.where(ok, delta, np.where(itm, sign * dq, 0.0)),
        "gamma": np.where(ok, gamma, zero),
        "vega": np.where(ok, vega, zero),
        "theta": np.where(ok, theta, zero),
        "rho": np.where(ok, rho, zero),
        "vanna": np.where(ok, vanna, zero),
        "volga": np.where(ok, volga, zero),
        "charm": np.where(ok, charm, zero),
    }
