"""Argument-order shims between SQL functions and the numerics (no formulas here).

The SQL API (``python_udfs.sql_api*``) fixes argument names and order; where a numeric function
takes them differently (a surface object, a matrix, keyword arguments), the registry points at a
shim here. Imported inside the server on first use; imports nothing from the registry, so it
never triggers the registry's extension loading.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "atm_forward_options_svi",
    "atm_term_structure_svi",
    "heston_calibrate_sql",
    "local_vol_grid_svi",
    "local_vol_mc_price_svi",
    "standardized_surface_points",
    "surface_pca_scores",
    "svi_calendar_check",
    "variance_swap_index_svi",
]


def variance_swap_index_svi(t, forward, r, svi_params, target_days=30.0) -> dict:
    """``python_udfs.vix.variance_swap_index`` with SQL argument order (flat SVI parameters:
    a, b, rho, m, sigma of each expiry in turn)."""
    from python_udfs.vix import variance_swap_index

    target = 30.0 if target_days is None else float(target_days)
    return variance_swap_index(t, forward, svi_params, target_days=target, r=r)


def surface_pca_scores(
    matrix, n_columns, tenor=None, moneyness=None, window_rows=252, min_periods=60
):
    """``python_udfs.term_structure.pca_scores_point_in_time`` on a row-major flat matrix of
    ``n_columns`` columns (rows = dates in order)."""
    from python_udfs.term_structure import pca_scores_point_in_time

    x = np.asarray(matrix, dtype=np.float64).reshape(-1, int(n_columns))
    return pca_scores_point_in_time(
        x,
        window=252 if window_rows is None else int(window_rows),
        min_periods=60 if min_periods is None else int(min_periods),
        tenor=tenor,
        moneyness=moneyness,
    )


def _surface(slice_t, a, b, rho, m, sigma):
    from python_udfs.localvol import svi_surface

    return svi_surface(slice_t, a, b, rho, m, sigma)


def local_vol_grid_svi(k_nodes, t_nodes, slice_t, a, b, rho, m, sigma) -> dict:
    """``python_udfs.localvol.local_vol_grid`` of the SVI surface given slice by slice."""
    from python_udfs.localvol import local_vol_grid

    return local_vol_grid(k_nodes, t_nodes, _surface(slice_t, a, b, rho, m, sigma))


def local_vol_mc_price_svi(
    spot, strike, t, r, q, is_call, slice_t, a, b, rho, m, sigma, paths=20000, steps=100, seed=0
) -> dict:
    """``python_udfs.localvol.local_vol_mc_price`` of one option on the given SVI surface."""
    from python_udfs.localvol import local_vol_mc_price

    return local_vol_mc_price(
        spot,
        strike,
        t,
        r,
        q,
        _surface(slice_t, a, b, rho, m, sigma),
        is_call=is_call,
        paths=20000 if paths is None else int(paths),
        steps=100 if steps is None else int(steps),
        seed=0 if seed is None else int(seed),
    )


def atm_term_structure_svi(slice_t, a, b, rho, m, sigma) -> dict:
    """``python_udfs.standardized.atm_term_structure`` with the default day grids."""
    from python_udfs.standardized import atm_term_structure

    return atm_term_structure(_surface(slice_t, a, b, rho, m, sigma))


def atm_forward_options_svi(slice_t, a, b, rho, m, sigma, spot, rate_days, rates, q) -> dict:
    """``python_udfs.standardized.atm_forward_options`` on the IvyDB day grid."""
    from python_udfs.standardized import atm_forward_options

    return atm_forward_options(_surface(slice_t, a, b, rho, m, sigma), spot, rate_days, rates, q)


def standardized_surface_points(
    days_obs, delta_obs, is_call_obs, iv_obs, vega_obs, spot, rate_days, rates, q
) -> dict:
    """``python_udfs.standardized.standardized_surface`` on the IvyDB grid (arrays -> lists)."""
    from python_udfs.standardized import standardized_surface

    return standardized_surface(
        days_obs, delta_obs, is_call_obs, iv_obs, vega_obs, spot, rate_days, rates, q
    )


def svi_calendar_check(t, a, b, rho, m, sigma, k_min=None, k_max=None) -> dict:
    """``python_udfs.svi.calendar_violations`` on |k| <= 1.5, or on 101 points spanning
    [k_min, k_max] when both are given (e.g. the moneyness range the quotes cover)."""
    from python_udfs.svi import calendar_violations

    k = None
    if k_min is not None and k_max is not None and k_max > k_min:
        k = np.linspace(float(k_min), float(k_max), 101)
    return calendar_violations(t, a, b, rho, m, sigma, k=k)


def heston_calibrate_sql(spot, strike, t, r, q, price, is_call, start=None, seed=0) -> dict:
    """``python_udfs.heston.heston_calibrate`` with its keyword-only ``start`` / ``seed`` as
    trailing SQL arguments (``start``: a previous result or any dict with the five
    parameters; None = cold start)."""
    from python_udfs.heston import heston_calibrate

    return heston_calibrate(
        spot, strike, t, r, q, price, is_call, start=start, seed=0 if seed is None else int(seed)
    )
