"""Ornstein-Uhlenbeck mean reversion: exact maximum-likelihood fit, simulation, optimal
entry / exit / stop-loss levels (Leung & Li 2015) and optimal thresholds (Bertram 2010).

Pure numpy + scipy. Model (notation of this module, used by every function):

    dX_t = theta (mu - X_t) dt + sigma dW_t,

theta > 0 the speed of mean reversion (per unit of time), mu the long-run mean (units of X),
sigma the volatility (units of X per sqrt(unit of time)). Time is in years when ``dt`` is (the
default ``dt`` = 1 / 252: one observation per trading day), so theta is per year, sigma per
sqrt(year) and the half-life ln 2 / theta in years (``half_life_periods`` = in observations).
The stationary distribution is N(mu, sigma^2 / (2 theta)); ``stationary_sd`` is its sd.
Leung & Li write the same process as dX = mu (theta - X) dt + sigma dB: their mu is our theta
and their theta our mu.

Exact discretisation (observations dt apart): X_{t+1} = a + b X_t + eps_t, eps_t ~ N(0, s^2)
i.i.d., with b = exp(-theta dt), a = mu (1 - b), s^2 = sigma^2 (1 - b^2) / (2 theta). The
conditional (on X_0) maximum-likelihood estimates are therefore the OLS estimates of a and b,
s^2 = mean squared residual (divisor n, the MLE), mapped back by the invariance of the MLE:
theta = -ln b / dt, mu = a / (1 - b), sigma = s sqrt(2 theta / (1 - b^2)) (the exact sigma, not
the Euler approximation s / sqrt(dt), which is biased low by a factor ~ 1 - theta dt / 2). The
map exists only for 0 < b < 1: b >= 1 is a unit root / explosive series (no mean reversion),
b <= 0 an oscillating one; ``ou_fit`` then returns ``valid=False`` and a reason instead of
numbers.

Optimal trading levels, for a long position in X (Bertram's criterion is symmetric: the short
trade mirrors its levels about mu; Leung & Li treat the long position only). Levels are in
the units of X; ``c`` is the cost of ONE transaction in units of X (paid at entry and again
at exit, so a round trip costs 2c); ``r`` is the continuous discount rate per unit of time
(per year with dt in years), r > 0.

- ``leung_li_levels``: Leung & Li (2015), "Optimal mean reversion trading with transaction
  costs and stop-loss exit", Int. J. Theor. Appl. Finance 18(3). Optimal double stopping:
  exit value V(x) = sup_tau E_x[e^{-r tau} (X_tau - c)] (with a stop-loss L the exit time is
  tau ^ tau_L, tau_L the first time X <= L), entry value J(x) = sup_nu E_x[e^{-r nu}
  (V(X_nu) - X_nu - c)]. With the fundamental solutions of theta (mu - x) u' + sigma^2 / 2 u''
  = r u, z = sqrt(2 theta) (x - mu) / sigma (x in stationary sds) and nu = r / theta,

      F(x) = int_0^inf u^{nu - 1} exp(z u - u^2 / 2) du   (increasing),
      G(x) = int_0^inf u^{nu - 1} exp(-z u - u^2 / 2) du  (decreasing)

  (evaluated with ``scipy.integrate.quad``, algebraic weight u^{nu-1}), E_x[e^{-r tau_b}] =
  F(x) / F(b) for x < b and G(x) / G(d) for x > d. Without a stop-loss, the exit level b*
  maximises (b - c) / F(b), i.e. solves F(b) - (b - c) F'(b) = 0, and V = (b* - c) F / F(b*)
  below b*; the entry region is x <= d*, d* maximising (V(d) - d - c) / G(d), i.e. solving
  G(d) (V'(d) - 1) = G'(d) (V(d) - d - c). With a stop-loss L (their section 4), V(x) =
  A F(x) + B G(x) on (L, b*_L) with V(L) = L - c, V(b*_L) = b*_L - c and smooth pasting
  V'(b*_L) = 1; the entry region is the interval [a*_L, d*_L] inside (L, b*_L), a*_L
  maximising (V(a) - a - c) / F(a) (F(a) (V'(a) - 1) = F'(a) (V(a) - a - c)) and d*_L as
  above. Each level is located as the maximiser of its objective on a grid of stationary sds
  and then refined as the root of the first-order condition with ``scipy.optimize.brentq``.
  The rewards are the discounted levels themselves (x - c at exit, x + c paid at entry), so
  the problem is not invariant to shifting x: as in Leung & Li, x is the value of the traded
  position (a portfolio long one asset and short beta of another, positive), not a spread
  centred on zero; for a zero-mean spread add the capital committed per unit first, or use
  Bertram's undiscounted criterion, which is shift invariant.
- ``bertram_levels``: Bertram (2010), "Analytic solutions for optimal statistical arbitrage
  trading", Physica A 389(11). Enter long at mu - delta, exit at mu + delta, wait for the
  next entry; the expected cycle time is E[T] = (pi / theta) (erfi(k m) - erfi(k a)) with
  k = sqrt(theta) / sigma and a, m the entry and exit levels relative to mu, and the expected
  return per unit time (m - a - 2c) / E[T] is maximised at the symmetric a = -m = -delta
  solving 2 D(k delta) = k (2 delta - 2c), D(x) = exp(-x^2) int_0^x exp(t^2) dt Dawson's
  function (erfi(x) = 2 D(x) exp(x^2) / sqrt(pi); the stable form of Bertram's condition).
  No discounting, no stop-loss.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq, minimize_scalar
from scipy.signal import lfilter
from scipy.special import dawsn

__all__ = [
    "TRADING_DAYS",
    "bertram_cycle_time",
    "bertram_levels",
    "leung_li_levels",
    "leung_li_value",
    "ou_fit",
    "ou_loglik",
    "ou_simulate",
]

TRADING_DAYS = 252.0
_LOG_2PI = math.log(2.0 * math.pi)
_LN2 = math.log(2.0)
_Z_MAX = 30.0  # optimal levels further than 30 stationary sds from mu are reported invalid
_GRID = 161  # grid points per level search


# --------------------------------------------------------------------------- fit / simulate


def _pairs(x) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive observations (x_t, x_{t+1}) with both finite."""
    v = np.asarray(x, dtype=np.float64).ravel()
    x0, x1 = v[:-1], v[1:]
    ok = np.isfinite(x0) & np.isfinite(x1)
    return x0[ok], x1[ok]


def ou_fit(x, dt: float = 1.0 / TRADING_DAYS) -> dict:
    """Exact (conditional on X_0) maximum-likelihood fit of an OU process to ``x``.

    ``x``: observations equally spaced ``dt`` apart (years by default: 1/252, one per trading
    day); pairs (x_t, x_{t+1}) with a NaN are dropped. Returns a dict of plain Python values:

    - ``valid`` (bool) and ``reason`` (None or why no OU parameters are reported);
    - ``theta`` (speed, per unit of dt's time), ``mu`` (long-run mean, units of x),
      ``sigma`` (units of x per sqrt(time)), ``half_life`` = ln 2 / theta (time units of dt),
      ``half_life_periods`` = half_life / dt (observations), ``stationary_sd`` =
      sigma / sqrt(2 theta) (units of x);
    - ``se_theta``, ``se_mu``, ``se_sigma``: asymptotic standard errors (delta method from the
      AR(1) asymptotics Var(b) = (1 - b^2) / n, Var(a / (1 - b)) = s^2 / (n (1 - b)^2),
      Var(ln s^2) = 2 / n, b and s^2 independent);
    - ``a``, ``b``, ``sd_eps``: the AR(1) X_{t+1} = a + b X_t + eps (sd_eps = MLE residual sd);
    - ``loglik``: the Gaussian log-likelihood of the transitions at the MLE,
      -n / 2 (ln 2 pi + ln sd_eps^2 + 1); ``aic`` = 6 - 2 loglik; ``n`` (transitions); ``dt``.

    ``valid`` is False (OU fields None) with fewer than 3 transitions, no variation, b >= 1
    (unit root or explosive: no mean reversion) or b <= 0 (oscillation: not an OU process
    sampled at dt). A finite sample of a random walk usually gives b slightly below 1
    (Dickey-Fuller bias), hence a "valid" fit with a long half-life: whether the series
    mean-reverts at all is a unit-root question (``cointegration.adf_test``,
    ``cointegration.engle_granger``), not one this fit answers.
    """
    dt = float(dt)
    if not dt > 0.0:
        raise ValueError(f"dt must be > 0, got {dt}")
    x0, x1 = _pairs(x)
    n = int(x0.size)
    out: dict = {
        "valid": False,
        "reason": None,
        "theta": None,
        "mu": None,
        "sigma": None,
        "half_life": None,
        "half_life_periods": None,
        "stationary_sd": None,
        "se_theta": None,
        "se_mu": None,
        "se_sigma": None,
        "a": None,
        "b": None,
        "sd_eps": None,
        "loglik": None,
        "aic": None,
        "n": n,
        "dt": dt,
    }
    if n < 3:
        out["reason"] = "fewer than 3 transitions"
        return out
    d0 = x0 - x0.mean()
    sxx = float(d0 @ d0)
    if not sxx > 0.0:
        out["reason"] = "no variation in x"
        return out
    b = float(d0 @ (x1 - x1.mean())) / sxx
    a = float(x1.mean()) - b * float(x0.mean())
    e = x1 - a - b * x0
    s2 = float(e @ e) / n
    out.update(a=a, b=b, sd_eps=math.sqrt(s2))
    if s2 > 0.0:  # (an exact fit has an unbounded likelihood: left None)
        loglik = -0.5 * n * (_LOG_2PI + math.log(s2) + 1.0)
        out.update(loglik=loglik, aic=6.0 - 2.0 * loglik)
    if b >= 1.0:
        out["reason"] = f"b = {b:.6g} >= 1: unit root or explosive, no mean reversion"
        return out
    if b <= 0.0:
        out["reason"] = f"b = {b:.6g} <= 0: negative lag-1 autocorrelation (oscillation)"
        return out
    if not s2 > 0.0:
        out["reason"] = "zero residual variance (deterministic path)"
        return out
    lnb = math.log(b)
    theta = -lnb / dt
    one_b2 = 1.0 - b * b
    sigma = math.sqrt(s2 * 2.0 * theta / one_b2)
    var_b = one_b2 / n
    dlnsig_db = 0.5 * (1.0 / (b * lnb) + 2.0 * b / one_b2)
    out.update(
        valid=True,
        theta=theta,
        mu=a / (1.0 - b),
        sigma=sigma,
        half_life=_LN2 / theta,
        half_life_periods=_LN2 / theta / dt,
        stationary_sd=math.sqrt(s2 / one_b2),
        se_theta=math.sqrt(var_b) / (b * dt),
        se_mu=math.sqrt(s2 / n) / (1.0 - b),
        se_sigma=sigma * math.sqrt(0.5 / n + dlnsig_db**2 * var_b),
    )
    return out


def ou_loglik(x, theta: float, mu: float, sigma: float, dt: float = 1.0 / TRADING_DAYS) -> float:
    """Exact Gaussian log-likelihood of the transitions of ``x`` (conditional on X_0) under
    dX = theta (mu - X) dt + sigma dW: X_{t+1} | X_t ~ N(mu + (X_t - mu) e^{-theta dt},
    sigma^2 (1 - e^{-2 theta dt}) / (2 theta)). NaN pairs are dropped."""
    x0, x1 = _pairs(x)
    b = math.exp(-theta * dt)
    var = sigma * sigma * -math.expm1(-2.0 * theta * dt) / (2.0 * theta)
    e = x1 - mu - (x0 - mu) * b
    return float(-0.5 * np.sum(_LOG_2PI + math.log(var) + e * e / var))


def ou_simulate(
    n: int,
    theta: float,
    mu: float,
    sigma: float,
    dt: float = 1.0 / TRADING_DAYS,
    x0: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Exact simulation of ``n`` OU observations dt apart (the AR(1) transition above).

    Starts at ``x0`` (default: a draw from the stationary distribution). Deterministic per
    ``seed`` (``numpy.random.Generator(PCG64(seed))``).
    """
    g = np.random.Generator(np.random.PCG64(seed))
    b = math.exp(-theta * dt)
    sd_eps = sigma * math.sqrt(-math.expm1(-2.0 * theta * dt) / (2.0 * theta))
    z = g.standard_normal(int(n))
    start = mu + sigma / math.sqrt(2.0 * theta) * z[0] if x0 is None else float(x0)
    # y_t = x_t - mu: y_0 = start - mu, y_t = b y_{t-1} + sd_eps z_t
    drive = sd_eps * z
    drive[0] = start - mu
    return mu + lfilter([1.0], [1.0, -b], drive)


# --------------------------------------------------------------------------- Leung & Li


class _OU:
    """Fundamental solutions F, G of the OU generator equation L u = r u and derivatives."""

    def __init__(self, theta: float, mu: float, sigma: float, r: float) -> None:
        self.theta, self.mu, self.sigma, self.r = theta, mu, sigma, r
        self.k = math.sqrt(2.0 * theta) / sigma  # z = k (x - mu): x in stationary sds
        self.nu = r / theta
        self._cache: dict[tuple[float, float], float] = {}

    def z(self, x: float) -> float:
        return self.k * (x - self.mu)

    def x(self, z: float) -> float:
        return self.mu + z / self.k

    def _int(self, p: float, z: float) -> float:
        """int_0^inf u^p exp(z u - u^2 / 2) du, p > -1 (QUADPACK qawse, weight u^p)."""
        key = (p, z)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        upper = max(z, 0.0) + 14.0  # exp(-(u - z)^2 / 2) < 1e-42 beyond
        val, _ = quad(
            lambda u: math.exp(z * u - 0.5 * u * u),
            0.0,
            upper,
            weight="alg",
            wvar=(p, 0.0),
            epsabs=0.0,
            epsrel=1e-12,
            limit=200,
        )
        self._cache[key] = val
        return val

    def F(self, x: float) -> float:
        return self._int(self.nu - 1.0, self.z(x))

    def dF(self, x: float) -> float:
        return self.k * self._int(self.nu, self.z(x))

    def G(self, x: float) -> float:
        return self._int(self.nu - 1.0, -self.z(x))

    def dG(self, x: float) -> float:
        return -self.k * self._int(self.nu, -self.z(x))


def _maximise(obj, foc, lo: float, hi: float, n: int = _GRID) -> tuple[float, bool]:
    """Maximiser of ``obj`` on [lo, hi]: the best of an n-point grid refined as the root of
    ``foc`` (same sign as obj') with brentq, or a bounded scalar search when the first-order
    condition does not change sign there. Returns (level, interior): interior False when the
    maximum is at an end of [lo, hi]."""
    grid = np.linspace(lo, hi, n)
    vals = np.array([obj(float(g)) for g in grid])
    i = int(np.nanargmax(vals))
    if i == 0 or i == n - 1:
        return float(grid[i]), False
    left, right = float(grid[i - 1]), float(grid[i + 1])
    f_left, f_right = foc(left), foc(right)
    if f_left > 0.0 > f_right:
        return float(brentq(foc, left, right, xtol=1e-14, rtol=1e-13, maxiter=200)), True
    res = minimize_scalar(lambda v: -obj(v), bounds=(left, right), method="bounded")
    return float(res.x), True


_LEVEL_KEYS = {
    "leung_li_2015": (
        "exit_no_stop",
        "value_at_entry",
        "exit_value_at_entry",
        "entry_value_at_mean",
        "exit_coef",
        "entry_coef",
        "z_entry_upper",
        "z_exit",
    ),
    "bertram_2010": (
        "delta",
        "z_delta",
        "expected_cycle_time",
        "expected_return_per_cycle",
        "expected_return_rate",
        "trades_per_year",
    ),
}


def _invalid(method: str, reason: str, **fields) -> dict:
    """An invalid result with the same keys as a valid one (None where undefined)."""
    out = {
        "method": method,
        "valid": False,
        "reason": reason,
        "entry_lower": None,
        "entry_upper": None,
        "exit": None,
        "stop": None,
    }
    out.update(dict.fromkeys(_LEVEL_KEYS[method]))
    out.update(fields)
    return out


def leung_li_levels(
    theta: float,
    mu: float,
    sigma: float,
    c: float,
    r: float = 0.05,
    stop_loss: float | None = None,
) -> dict:
    """Optimal entry and exit levels of a long position in an OU spread (Leung & Li 2015).

    Parameters: OU ``theta`` (per year), ``mu`` and ``sigma`` as returned by ``ou_fit``;
    ``c`` transaction cost per trade (units of x, >= 0; entry pays x + c, exit receives
    x - c); ``r`` discount rate per year (> 0); ``stop_loss`` L (units of x) or None.

    Strategy: enter when entry_lower <= x <= entry_upper (entry_lower None = no lower bound,
    the case without stop-loss); exit when x >= exit (take profit) or x <= stop (stop-loss).
    Returns a dict of plain Python values: ``method`` ("leung_li_2015"), ``valid``,
    ``reason``, ``entry_lower`` (a*_L or None), ``entry_upper`` (d*), ``exit`` (b*),
    ``stop`` (L or None), ``exit_no_stop`` (b* of the problem without stop-loss),
    ``value_at_entry`` (J(d*) = V(d*) - d* - c, expected discounted net profit of entering
    at d*), ``exit_value_at_entry`` (V(d*)), ``entry_value_at_mean`` (J(mu), value of
    waiting to enter when x = mu), ``exit_coef`` [A, B] (V = A F + B G below the exit
    level), ``entry_coef`` [P, Q] (J = P F below the entry region, Q G above it), the inputs
    (theta, mu, sigma, c, r) and ``z_entry_upper`` / ``z_exit`` (levels in stationary sds
    from mu). ``leung_li_value`` evaluates V and J from this dict. ``valid`` is False when
    the inputs are out of range, the stop-loss is at or above the exit level (never enter)
    or no entry level has a positive expected value.
    """
    method = "leung_li_2015"
    theta, mu, sigma, c, r = (float(v) for v in (theta, mu, sigma, c, r))
    common = {"theta": theta, "mu": mu, "sigma": sigma, "c": c, "r": r}
    if not (theta > 0.0 and sigma > 0.0 and r > 0.0 and c >= 0.0):
        return _invalid(method, "need theta > 0, sigma > 0, r > 0, c >= 0", **common)
    if not all(math.isfinite(v) for v in (theta, mu, sigma, c, r)):
        return _invalid(method, "non-finite parameter", **common)
    ou = _OU(theta, mu, sigma, r)
    sd = 1.0 / ou.k  # stationary sd

    # exit without stop-loss: b* maximises (b - c) / F(b) over b > c
    z_lo = max(ou.z(c), -_Z_MAX) + 1e-9
    z_hi = max(z_lo, 0.0) + 12.0
    if z_hi > _Z_MAX:
        return _invalid(
            method,
            "c lies more than 18 stationary sds above mu: x must be the (positive) value of "
            "the traded position",
            **common,
        )
    b_free, ok = _maximise(
        lambda b: (b - c) / ou.F(b),
        lambda b: ou.F(b) - (b - c) * ou.dF(b),
        ou.x(z_lo),
        ou.x(z_hi),
    )
    if not ok:
        return _invalid(method, "no interior optimal exit level", **common)

    if stop_loss is None:
        A, B = (b_free - c) / ou.F(b_free), 0.0
        b_star = b_free
        L = None
    else:
        L = float(stop_loss)
        if not math.isfinite(L):
            return _invalid(method, "non-finite stop_loss", **common)
        if b_free <= L:
            return _invalid(
                method, "stop-loss at or above the optimal exit level: never enter", **common
            )
        FL, GL, dFL, dGL = ou.F(L), ou.G(L), ou.dF(L), ou.dG(L)

        def coef(b: float) -> tuple[float, float]:
            den = ou.F(b) * GL - FL * ou.G(b)
            return (
                ((b - c) * GL - (L - c) * ou.G(b)) / den,
                ((L - c) * ou.F(b) - (b - c) * FL) / den,
            )

        def slope_at_stop(b: float) -> float:  # V'(L+; b), maximised by b*_L
            a_, b_ = coef(b)
            return a_ * dFL + b_ * dGL

        def foc_exit(b: float) -> float:  # 1 - V'(b-; b): same sign as d/db of the value
            a_, b_ = coef(b)
            return 1.0 - (a_ * ou.dF(b) + b_ * ou.dG(b))

        lo = L + 1e-6 * sd
        b_star, ok = _maximise(slope_at_stop, foc_exit, lo, b_free + 2.0 * sd)
        if not ok:
            return _invalid(method, "no interior optimal exit level with stop-loss", **common)
        A, B = coef(b_star)

    def V(x: float) -> float:
        return A * ou.F(x) + B * ou.G(x)

    def dV(x: float) -> float:
        return A * ou.dF(x) + B * ou.dG(x)

    def h(x: float) -> float:  # net value of entering at x (inside the continuation region)
        return V(x) - x - c

    # entry: d* maximises h(d) / G(d); with stop-loss a* maximises h(a) / F(a), in (L, b*)
    if L is None:
        d_lo = ou.x(max(ou.z(b_star) - 15.0, -_Z_MAX))
    else:
        d_lo = L + 1e-6 * sd
        grid = np.linspace(d_lo, b_star, _GRID)
        if max(h(float(v)) for v in grid) <= 0.0:
            return _invalid(
                method, "no entry level with a positive expected value", **common, stop=L
            )
    d_star, ok = _maximise(
        lambda d: h(d) / ou.G(d),
        lambda d: ou.G(d) * (dV(d) - 1.0) - ou.dG(d) * h(d),
        d_lo,
        b_star,
    )
    if not ok or h(d_star) <= 0.0:
        return _invalid(method, "no interior optimal entry level", **common, stop=L)
    a_star = None
    P = 0.0
    if L is not None:
        a_star, ok = _maximise(
            lambda a: h(a) / ou.F(a),
            lambda a: ou.F(a) * (dV(a) - 1.0) - ou.dF(a) * h(a),
            d_lo,
            d_star,
        )
        if not ok:  # a* = d*: a single entry level
            a_star = d_star
        P = h(a_star) / ou.F(a_star)
    Q = h(d_star) / ou.G(d_star)
    out = {
        "method": method,
        "valid": True,
        "reason": None,
        "entry_lower": a_star,
        "entry_upper": d_star,
        "exit": b_star,
        "stop": L,
        "exit_no_stop": b_free,
        "value_at_entry": h(d_star),
        "exit_value_at_entry": V(d_star),
        "entry_value_at_mean": 0.0,
        "exit_coef": [A, B],
        "entry_coef": [P, Q],
        "z_entry_upper": ou.z(d_star),
        "z_exit": ou.z(b_star),
    }
    out.update(common)
    out["entry_value_at_mean"] = float(leung_li_value(mu, out)["entry_value"][0])
    return out


def leung_li_value(x, levels: dict) -> dict[str, np.ndarray]:
    """Value functions of a ``leung_li_levels`` result at levels ``x`` (units of x).

    ``exit_value`` V(x): expected discounted exit proceeds of holding one unit at x (x - c in
    the exit region x >= exit, L - c at or below the stop-loss L). ``entry_value`` J(x):
    value of the option to enter (P F(x) below the entry region, V(x) - x - c inside it,
    Q G(x) above it). Arrays aligned with ``x``; NaN when ``levels`` is not valid.
    """
    xs = np.atleast_1d(np.asarray(x, dtype=np.float64))
    v = np.full(xs.shape, np.nan)
    j = np.full(xs.shape, np.nan)
    if not levels.get("valid"):
        return {"exit_value": v, "entry_value": j}
    ou = _OU(levels["theta"], levels["mu"], levels["sigma"], levels["r"])
    c, b, L = levels["c"], levels["exit"], levels["stop"]
    A, B = levels["exit_coef"]
    P, Q = levels["entry_coef"]
    lo, hi = levels["entry_lower"], levels["entry_upper"]

    def V(t: float) -> float:
        if t >= b:
            return t - c
        if L is not None and t <= L:
            return t - c
        return A * ou.F(t) + B * ou.G(t)

    for idx, t in np.ndenumerate(xs):
        t = float(t)
        if not math.isfinite(t):
            continue
        v[idx] = V(t)
        if t > hi:
            j[idx] = Q * ou.G(t)
        elif lo is not None and t < lo:
            j[idx] = P * ou.F(t)
        else:
            j[idx] = V(t) - t - c
    return {"exit_value": v, "entry_value": j}


# --------------------------------------------------------------------------- Bertram


def bertram_cycle_time(entry: float, exit_: float, theta: float, mu: float, sigma: float) -> float:
    """Expected length of a trade cycle entry -> exit -> entry of an OU process (Bertram
    2010): E[T] = (pi / theta) (erfi(k (exit - mu)) - erfi(k (entry - mu))), k =
    sqrt(theta) / sigma, entry < exit (time units of 1 / theta). Evaluated as
    (2 / sqrt(pi)) [D(u) e^{u^2}] differences with Dawson's D to avoid erfi overflow."""
    k = math.sqrt(theta) / sigma
    u_m, u_a = k * (exit_ - mu), k * (entry - mu)

    def erfi(u: float) -> float:
        return 2.0 / math.sqrt(math.pi) * float(dawsn(u)) * math.exp(u * u)

    return math.pi / theta * (erfi(u_m) - erfi(u_a))


def bertram_levels(theta: float, mu: float, sigma: float, c: float) -> dict:
    """Bertram (2010) thresholds maximising the expected return per unit time of a long OU
    trade: enter at ``entry_upper`` = mu - delta, exit at ``exit`` = mu + delta.

    ``c``: cost per transaction (units of x, > 0; a cycle costs 2c, like
    ``leung_li_levels``; without costs the optimal band shrinks to zero width).
    Returns plain Python values: ``method`` ("bertram_2010"), ``valid``, ``reason``,
    ``entry_lower`` (None), ``entry_upper``, ``exit``, ``stop`` (None), ``delta`` (units of
    x), ``z_delta`` (delta in stationary sds), ``expected_cycle_time`` (E[T], years when
    theta is per year), ``expected_return_per_cycle`` (2 delta - 2c), ``expected_return_rate``
    ((2 delta - 2c) / E[T], units of x per year), ``trades_per_year`` (1 / E[T]) and the
    inputs. delta solves 2 D(k delta) = k (2 delta - 2c), k = sqrt(theta) / sigma (the
    first-order condition of (2 delta - 2c) / E[T], Dawson's D).
    """
    method = "bertram_2010"
    theta, mu, sigma, c = (float(v) for v in (theta, mu, sigma, c))
    common = {"theta": theta, "mu": mu, "sigma": sigma, "c": c}
    if not (theta > 0.0 and sigma > 0.0 and c > 0.0) or not math.isfinite(mu + c):
        # c = 0: the return rate grows without bound as the band narrows (delta -> 0)
        return _invalid(method, "need theta > 0, sigma > 0, c > 0", **common)
    k = math.sqrt(theta) / sigma

    def foc(delta: float) -> float:  # > 0: widening the band raises the return rate
        return 2.0 * float(dawsn(k * delta)) - k * (2.0 * delta - 2.0 * c)

    lo = c
    hi = max(2.0 * c, 1.0 / k)
    while foc(hi) > 0.0:
        hi *= 2.0
        if k * hi > 1e3:
            return _invalid(method, "no optimal band", **common)
    delta = float(brentq(foc, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=200))
    t_cycle = bertram_cycle_time(mu - delta, mu + delta, theta, mu, sigma)
    ret = 2.0 * delta - 2.0 * c
    out = {
        "method": method,
        "valid": True,
        "reason": None,
        "entry_lower": None,
        "entry_upper": mu - delta,
        "exit": mu + delta,
        "stop": None,
        "delta": delta,
        "z_delta": delta * math.sqrt(2.0 * theta) / sigma,
        "expected_cycle_time": t_cycle,
        "expected_return_per_cycle": ret,
        "expected_return_rate": ret / t_cycle,
        "trades_per_year": 1.0 / t_cycle,
    }
    out.update(common)
    return out
