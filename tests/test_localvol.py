"""Tests of python_udfs.localvol: Dupire local vol of a per-expiry SVI surface (flat surface,
finite differences of call prices in strike and expiry), the surface interpolation, and the
local-vol Monte Carlo (reprices the surface's own Black-Scholes prices; deterministic per seed).
"""

from __future__ import annotations

import numpy as np
import pytest

from python_udfs.black_scholes import bs_price
from python_udfs.localvol import (
    LOCAL_VOL_STATUS,
    dupire_local_vol,
    dupire_local_vol_with_status,
    local_vol_grid,
    local_vol_mc_price,
    ssvi_surface,
    surface_implied_vol,
    surface_total_variance,
    surface_total_variance_derivatives,
    svi_surface,
)
from python_udfs.svi import svi_durrleman_g

SPOT, R, Q = 100.0, 0.03, 0.01
SLICES = np.array([0.1, 0.25, 0.5, 1.0, 2.0])
ATM_VOL = np.array([0.24, 0.22, 0.21, 0.20, 0.195])


def equity_surface():
    """Arbitrage-free SSVI (rho -0.6, eta 1, gamma 0.45: eta (1 + |rho|) <= 2) with a falling
    ATM vol term structure whose total variance still increases."""
    return ssvi_surface(SLICES, ATM_VOL**2 * SLICES, rho=-0.6, eta=1.0, gamma=0.45)


def flat_surface(vol: float):
    n = SLICES.size
    return svi_surface(SLICES, vol**2 * SLICES, np.zeros(n), np.zeros(n), np.zeros(n), np.ones(n))


def test_equity_surface_is_arbitrage_free() -> None:
    s = equity_surface()
    k = np.linspace(-3.0, 3.0, 601)
    for i in range(s.t.size):
        assert svi_durrleman_g(k, s.a[i], s.b[i], s.rho[i], s.m[i], s.sigma[i]).min() > 0.2
    w = surface_total_variance(s, k[:, None], SLICES[None, :])
    assert np.all(np.diff(w, axis=1) > 0.0)


def test_flat_surface_gives_flat_local_vol() -> None:
    vol = 0.23
    k = np.linspace(-2.0, 2.0, 41)[:, None]
    t = np.array([0.01, 0.1, 0.17, 0.25, 0.6, 1.0, 2.0, 3.5])[None, :]  # before, on, between, after
    lv, status = dupire_local_vol_with_status(k, t, flat_surface(vol))
    assert np.all(status == 0)
    np.testing.assert_allclose(lv, vol, rtol=1e-13)


def test_interpolation_linear_in_total_variance_and_flat_vol_outside() -> None:
    s = equity_surface()
    k = np.linspace(-1.0, 0.6, 9)
    w_a = surface_total_variance(s, k, 0.25)
    w_b = surface_total_variance(s, k, 0.5)
    np.testing.assert_allclose(surface_total_variance(s, k, 0.3), w_a + 0.2 * (w_b - w_a))
    # flat implied vol at fixed k before the first and after the last slice
    np.testing.assert_allclose(surface_implied_vol(s, k, 0.02), surface_implied_vol(s, k, 0.1))
    np.testing.assert_allclose(surface_implied_vol(s, k, 5.0), surface_implied_vol(s, k, 2.0))
    np.testing.assert_allclose(surface_implied_vol(s, 0.0, SLICES), ATM_VOL, rtol=1e-14)


def _d1(f, x, h):
    """Five-point central first derivative (error O(h^4))."""
    return (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (12 * h)


def _d2(f, x, h):
    """Five-point central second derivative (error O(h^4))."""
    return (-f(x - 2 * h) + 16 * f(x - h) - 30 * f(x) + 16 * f(x + h) - f(x + 2 * h)) / (12 * h * h)


def test_total_variance_derivatives_match_finite_differences() -> None:
    s = equity_surface()
    k = np.linspace(-1.2, 0.8, 11)
    for t in (0.05, 0.18, 0.7, 1.6, 2.5):
        _, w1, w2, wt = surface_total_variance_derivatives(s, k, t)
        np.testing.assert_allclose(
            w1,
            _d1(lambda kk, t=t: surface_total_variance(s, kk, t), k, 1e-3),
            rtol=1e-8,
            atol=1e-12,
        )
        np.testing.assert_allclose(
            w2, _d2(lambda kk, t=t: surface_total_variance(s, kk, t), k, 1e-3), rtol=1e-6
        )
        np.testing.assert_allclose(
            wt, _d1(lambda tt: surface_total_variance(s, k, tt), t, 1e-4), rtol=1e-9
        )


@pytest.mark.parametrize("t", [0.05, 0.18, 0.4, 0.7, 1.3, 2.5])
def test_local_vol_matches_dupire_in_strike_by_finite_differences(t: float) -> None:
    """sigma^2 = 2 (dC/dT + (r - q) K dC/dK + q C) / (K^2 d2C/dK2) from five-point central
    differences of the surface's call prices (away from the slice times, where dC/dT jumps)."""
    s = equity_surface()
    fwd = SPOT * np.exp((R - Q) * t)
    strikes = fwd * np.exp(np.linspace(-0.6, 0.4, 11) * np.sqrt(t))

    def call(kk, tt):
        vol = surface_implied_vol(s, np.log(kk / (SPOT * np.exp((R - Q) * tt))), tt)
        return bs_price(SPOT, kk, tt, R, Q, vol, True)

    hk = 3e-3 * strikes * np.sqrt(t)
    c = call(strikes, t)
    dc_dk = _d1(lambda kk: call(kk, t), strikes, hk)
    d2c_dk2 = _d2(lambda kk: call(kk, t), strikes, hk)
    dc_dt = _d1(lambda tt: call(strikes, tt), t, 1e-3 * t)
    fd_var = 2 * (dc_dt + (R - Q) * strikes * dc_dk + Q * c) / (strikes**2 * d2c_dk2)
    lv = dupire_local_vol(np.log(strikes / fwd), t, s)
    np.testing.assert_allclose(lv, np.sqrt(fd_var), rtol=3e-7)  # measured <= 1e-7


def test_status_flags_butterfly_and_calendar_arbitrage() -> None:
    # slice 2 has less total variance than slice 1 near the money: negative dw/dt between them
    n = 2
    s = svi_surface([0.5, 1.0], [0.04, 0.02], [0.1, 0.1], [0.0, 0.0], [0.0, 0.0], [0.1, 0.1])
    _, status = dupire_local_vol_with_status(0.0, 0.7, s)
    assert LOCAL_VOL_STATUS[int(status)] == "negative_dwdt"
    # a steep slice (b (1 + |rho|) large) violates the butterfly condition in the wing
    steep = svi_surface([1.0], [0.01], [2.0], [-0.9], [0.0], [0.05])
    lv, status = dupire_local_vol_with_status(np.linspace(-0.5, 0.5, 21), 1.0, steep)
    assert np.any(status == LOCAL_VOL_STATUS.index("nonpositive_denominator"))
    assert np.all(np.isnan(lv[status != 0]))
    _, status = dupire_local_vol_with_status([np.nan, 0.0], [1.0, 0.0], flat_surface(0.2))
    assert [LOCAL_VOL_STATUS[int(v)] for v in status] == ["invalid_input"] * n
    grid = local_vol_grid(np.linspace(-0.5, 0.5, 21), [0.5, 1.0], steep)
    assert grid["n_invalid"] == grid["n_nonpositive_denominator"] > 0
    # the Monte Carlo falls back to the implied vol where the local vol is undefined
    res = local_vol_mc_price(SPOT, 100.0, 1.0, R, Q, steep, True, paths=2000, steps=10, seed=1)
    assert res["n_fallback"] > 0 and np.isfinite(res["price"])


def test_denominator_is_durrleman_g_at_the_slices() -> None:
    """At a slice time w is the slice's SVI smile, so dw/dt / sigma_loc^2 is its g(k)."""
    s = equity_surface()
    k = np.linspace(-2.0, 1.5, 36)
    for i in range(SLICES.size):
        _, _, _, wt = surface_total_variance_derivatives(s, k, SLICES[i])
        g = svi_durrleman_g(k, s.a[i], s.b[i], s.rho[i], s.m[i], s.sigma[i])
        np.testing.assert_allclose(wt / dupire_local_vol(k, SLICES[i], s) ** 2, g, rtol=1e-12)


def test_local_vol_grid_is_plain_python() -> None:
    grid = local_vol_grid(np.linspace(-1, 1, 5), [0.1, 0.5, 1.0], equity_surface())
    assert len(grid["local_vol"]) == 5 and all(len(row) == 3 for row in grid["local_vol"])
    assert all(type(v) is float for row in grid["local_vol"] for v in row)
    assert grid["n_invalid"] == 0 and type(grid["n_invalid"]) is int
    np.testing.assert_allclose(
        grid["local_vol"][2], dupire_local_vol(0.0, [0.1, 0.5, 1.0], equity_surface())
    )


def _mc_vs_surface(t: float, paths: int, steps: int, seed: int):
    """z-scores (MC - surface BS price) / std error of calls and puts at 90, 100, 110."""
    s = equity_surface()
    strikes = np.array([90.0, 100.0, 110.0, 90.0, 100.0, 110.0])
    is_call = np.array([True, True, True, False, False, False])
    res = local_vol_mc_price(SPOT, strikes, t, R, Q, s, is_call, paths, steps, seed)
    fwd = SPOT * np.exp((R - Q) * t)
    vol = surface_implied_vol(s, np.log(strikes / fwd), t)
    target = bs_price(SPOT, strikes, t, R, Q, vol, is_call)
    z = (np.array(res["price"]) - target) / np.array(res["std_error"])
    return res, z


@pytest.mark.parametrize("t", [0.3, 0.75])
def test_mc_reprices_surface_within_three_standard_errors(t: float) -> None:
    """20 000 paths, 100 steps: std errors 0.5-2 % of the prices; the log-Euler bias at 100
    steps (measured ~0.01 on the 110 call) is below half a standard error."""
    res, z = _mc_vs_surface(t, paths=20000, steps=100, seed=11)
    assert np.all(np.abs(z) < 3.0), z
    assert res["n_fallback"] == 0 and res["n_capped"] == 0
    assert abs(res["mc_forward"] / res["forward"] - 1.0) < 5e-3
    assert res["steps"] >= 100 and res["paths"] == 20000


@pytest.mark.slow
@pytest.mark.parametrize("t", [0.3, 1.5])
def test_mc_reprices_surface_many_paths(t: float) -> None:
    """200 000 paths, 400 steps (~5 s each): std errors ~4x smaller, bias ~0.5 of them."""
    _, z = _mc_vs_surface(t, paths=200000, steps=400, seed=5)
    assert np.all(np.abs(z) < 3.0), z


def test_mc_flat_surface_is_black_scholes() -> None:
    res = local_vol_mc_price(
        SPOT, [80.0, 100.0, 125.0], 1.0, R, Q, flat_surface(0.3), True, paths=20000, steps=4, seed=3
    )
    target = bs_price(SPOT, np.array([80.0, 100.0, 125.0]), 1.0, R, Q, 0.3, True)
    z = (np.array(res["price"]) - target) / np.array(res["std_error"])
    assert np.all(np.abs(z) < 3.0), z


def test_mc_deterministic_per_seed() -> None:
    s = equity_surface()
    a = local_vol_mc_price(SPOT, 100.0, 0.5, R, Q, s, True, paths=2001, steps=20, seed=42)
    b = local_vol_mc_price(SPOT, 100.0, 0.5, R, Q, s, True, paths=2001, steps=20, seed=42)
    c = local_vol_mc_price(SPOT, 100.0, 0.5, R, Q, s, True, paths=2001, steps=20, seed=43)
    assert np.float64(a["price"]).tobytes() == np.float64(b["price"]).tobytes()
    assert a == b
    assert a["price"] != c["price"]
    assert type(a["price"]) is float and type(a["std_error"]) is float
    assert a["paths"] == 2002  # odd path counts round up to whole antithetic pairs


def test_svi_surface_validates() -> None:
    with pytest.raises(ValueError):
        svi_surface([0.5, 0.5], [0.01, 0.02], [0.1, 0.1], [0, 0], [0, 0], [0.1, 0.1])
    with pytest.raises(ValueError):
        svi_surface([0.5], [0.01], [0.1], [1.01], [0.0], [0.1])
    # |rho| = 1 is a valid (limiting) raw SVI slice: the fitter may return it at its bound
    assert svi_surface([0.5], [0.01], [0.1], [-1.0], [0.0], [0.1]).rho[0] == -1.0
    s = svi_surface([1.0, 0.5], [0.02, 0.01], [0.1, 0.1], [0, 0], [0, 0], [0.1, 0.1])
    np.testing.assert_array_equal(s.t, [0.5, 1.0])
    np.testing.assert_array_equal(s.a, [0.01, 0.02])
