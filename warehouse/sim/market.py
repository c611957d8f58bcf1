"""The efficient price: factor-correlated Heston variance with Merton jumps, minute grid.

Clock: the price process runs in trading years of 252 sessions. Each session contributes
``OVERNIGHT_FRAC / 252`` years over the overnight gap before its open (weekends and holidays
included) and ``(1 - OVERNIGHT_FRAC) / (252 * 390)`` years per session minute, so a half day
carries less variance than a full day.

Dynamics of underlying i (log price x, variance v, full-truncation Euler, v+ = max(v, 0)):

    dx = (mu_i - lambda_i kbar_i - v+/2) dt + sqrt(v+) dW_i + dJ_i + news drift
    dv = kappa_i (theta_i - v+) dt + xi_i sqrt(v+) dB_i
    dW_i = beta_m,i dZ_market + beta_s,i dZ_sector(i) + beta_idio,i dZ_i
    dB_i = rho_i dW_i + sqrt(1 - rho_i^2) dZ_perp,i

J is compound Poisson (intensity lambda_i per trading year, log jump N(mu_J, sigma_J^2)),
kbar = E[e^J] - 1. Overnight, the gap also carries discrete dividends (log(1 - D / S)),
earnings jumps and the news impacts due at that open. Jumps fall at minute ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from warehouse.sim.universe import SECTORS, Universe

TRADING_DAYS = 252
FULL_SESSION_MINUTES = 390
OVERNIGHT_FRAC = 0.15
DT_OVERNIGHT = OVERNIGHT_FRAC / TRADING_DAYS
DT_MINUTE = (1.0 - OVERNIGHT_FRAC) / (TRADING_DAYS * FULL_SESSION_MINUTES)


@dataclass
class DayPath:
    """One session's efficient price for all underlyings (arrays are (steps, U))."""

    x: np.ndarray  # (M+1, U) log price at minute boundaries; x[0] = open
    var: np.ndarray  # (M+1, U) variance at the boundaries (decimal^2 per year)
    det: np.ndarray  # (M, U) deterministic log increment of each minute
    sd: np.ndarray  # (M, U) diffusion sd of each minute, sqrt(v+ dt)
    w: np.ndarray  # (M, U) standard normal diffusion shock of each minute
    overnight: dict[str, np.ndarray]  # (U,) components of the gap into the open
    session_iv: np.ndarray  # (U,) integrated variance over the session, sum v+ dt
    n_jumps: np.ndarray  # (U,) jumps in the session and the overnight gap
    jump_sum: np.ndarray  # (U,) sum of those log jumps


def simulate_day(
    u: Universe,
    g: np.random.Generator,
    minutes: int,
    x_prev: np.ndarray,
    v_prev: np.ndarray,
    gap_extra: dict[str, np.ndarray],
    news_drift: np.ndarray,
) -> DayPath:
    """Simulate the overnight gap into the open and the ``minutes`` session minutes.

    ``gap_extra``: log-return components added to the gap (dividend, earnings, news), each
    (U,). ``news_drift``: (minutes, U) log-return added to each minute.
    """
    p = u.p
    n_u = u.n
    steps = minutes + 1
    z_mkt = g.standard_normal(steps)
    z_sec = g.standard_normal((steps, len(SECTORS)))
    z_idio = g.standard_normal((steps, n_u))
    z_perp = g.standard_normal((steps, n_u))
    dt = np.full(steps, DT_MINUTE)
    dt[0] = DT_OVERNIGHT
    n_jump = g.poisson(p["jump_intensity"] * dt[:, None], size=(steps, n_u))
    z_jump = g.standard_normal((steps, n_u))

    w = (
        p["beta_market"] * z_mkt[:, None]
        + p["beta_sector"] * z_sec[:, u.sector_idx]
        + p["beta_idio"] * z_idio
    )
    rho = p["heston_rho"]
    zv = rho * w + np.sqrt(1.0 - rho * rho) * z_perp
    jumps = n_jump * p["jump_mean"] + np.sqrt(n_jump) * p["jump_std"] * z_jump

    kappa, theta, xi = p["heston_kappa"], p["heston_theta"], p["heston_xi"]
    vpos = np.empty((steps, n_u))
    var = np.empty((steps + 1, n_u))
    v = v_prev.copy()
    for i in range(steps):  # sequential in time, vectorised over U
        var[i] = v
        vp = np.maximum(v, 0.0)
        vpos[i] = vp
        v = v + kappa * (theta - vp) * dt[i] + xi * np.sqrt(vp * dt[i]) * zv[i]
    var[steps] = v

    drift = p["drift"] - p["jump_intensity"] * p["jump_kbar"]
    det = (drift - 0.5 * vpos) * dt[:, None]
    sd = np.sqrt(vpos * dt[:, None])
    det[1:] += news_drift
    extra = sum(gap_extra.values(), np.zeros(n_u))
    inc = det + sd * w + jumps
    inc[0] += extra
    x = x_prev + np.cumsum(inc, axis=0)
    overnight = {
        "logret": inc[0],
        "diffusion": det[0] + sd[0] * w[0] + jumps[0],
        "variance": vpos[0] * dt[0],
        **{k: np.asarray(v, dtype=np.float64) for k, v in gap_extra.items()},
    }
    # variance at boundaries: boundary m (0 = open) is the start of session minute m
    var_b = var[1:]
    return DayPath(
        x=x,
        var=var_b,
        det=det[1:],
        sd=sd[1:],
        w=w[1:],
        overnight=overnight,
        session_iv=(vpos[1:] * DT_MINUTE).sum(axis=0),
        n_jumps=n_jump.sum(axis=0),
        jump_sum=jumps.sum(axis=0),
    )
