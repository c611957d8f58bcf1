"""SQL registry of the volatility-surface functions (smiles, Heston, local vol, indices).

Appended to ``python_udfs.sql_api`` (its ``EXTENSIONS``). The fits are scalar SQL functions
taking whole arrays (one slice, one surface or one history per call) and returning ``jsonb``
(plain numbers, NaN -> null); the surface marts call them once per (underlying, quote date)
or per expiry slice. Conventions as in ``python_udfs.sql_api``: ``t`` years (ACT/365, or
minutes / 525600 for the VIX-style index), vols and rates decimals, ``k`` = ln(K / F)
log-forward moneyness, total variance ``w`` = vol^2 t.

The few functions defined here only reorder arguments or reshape flat SQL arrays into the
matrices the numerics take; every formula is in its own module.
"""

from __future__ import annotations

import numpy as np

from python_udfs.sql_api import Arg, CompositeType, Function

__all__ = ["FUNCTIONS", "TYPES", "surface_pca_scores", "variance_swap_index_svi"]

TYPES: tuple[CompositeType, ...] = ()


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


def _arr(name: str, doc: str, sql_type: str = "float8[]") -> Arg:
    return Arg(name, sql_type, doc, per_option=False)


_K = _arr("log_moneyness", "k = ln(K/F) per quote")
_W = _arr("total_variance", "w = vol^2 t per quote, decimal^2 * years")
_WEIGHTS = Arg(
    "weights", "float8[]", "least-squares weight per quote (NULL = equal)", False, default="NULL"
)
_JSON_NOTE = " Returns jsonb (numbers; NaN as null)."

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "vix_index",
        (
            _arr("t", "years to settlement per quote, minutes / 525600"),
            _arr("strike", "strike per quote, points"),
            _arr("is_call", "true = call, false = put", "boolean[]"),
            _arr("bid", "bid per quote, points (0 = zero bid)"),
            _arr("ask", "ask per quote, points"),
            _arr("r", "zero rate of each quote's expiry, continuous decimal"),
            Arg("target_days", "float8", "constant maturity, calendar days", default="30"),
        ),
        "jsonb",
        "python_udfs.vix:vix_index",
        "Cboe-VIX-white-paper model-free implied volatility index of one underlying at one "
        "time (python_udfs.vix.vix_index): near and next expiries bracketing target_days, "
        "forward from the strike with the smallest |C - P|, K0, OTM mids with the two "
        "consecutive zero bids stop, dK weights, minute-precision interpolation; index = 100 "
        "sqrt(variance). Keys: index, variance, mode, near_*/next_* (t, days, forward, k0, "
        "variance, weight, n_strikes, n_quoted, max_gap_sd), thin, extrapolated, "
        "standard_window, reasons, contributions (per-strike audit lists: term, t, strike, "
        "option_type, q, dk, contribution)." + _JSON_NOTE,
        strict=False,
        volatility="IMMUTABLE",
    ),
    Function(
        "variance_swap_index",
        (
            _arr("t", "years to settlement per expiry"),
            _arr("forward", "forward per expiry, points"),
            _arr("r", "zero rate per expiry, continuous decimal"),
            _arr("svi_params", "raw SVI a, b, rho, m, sigma of each expiry, flattened"),
            Arg("target_days", "float8", "constant maturity, calendar days", default="30"),
        ),
        "jsonb",
        "python_udfs.sql_api_surfaces:variance_swap_index_svi",
        "Constant-maturity fair variance-swap level implied by fitted raw SVI slices "
        "(python_udfs.vix.variance_swap_index: (2/T) integral of OTM Black-76 prices / K^2 on "
        "a dense strike grid per slice, interpolated to target_days like the VIX-style "
        "index). Keys: index (100 sqrt(variance)), variance (decimal^2 per year), near_t, "
        "next_t, near_variance, next_variance, extrapolated." + _JSON_NOTE,
        strict=False,
    ),
    Function(
        "term_structure_fit",
        (
            _arr("days", "calendar days to expiry per point"),
            _arr("iv", "implied vol per point, decimal"),
            _WEIGHTS,
        ),
        "jsonb",
        "python_udfs.term_structure:term_structure_fit",
        "Least-squares fit of IV(days) = a days^b + c to one term structure "
        "(python_udfs.term_structure.term_structure_fit). Keys: a, b, c (IV decimal for days "
        "in calendar days), rmse (vol decimal), n, converged, underdetermined (n < 4), "
        "method." + _JSON_NOTE,
        strict=False,
    ),
    Function(
        "surface_pca_scores",
        (
            _arr("matrix", "surface vectors, one row per date in date order, flattened"),
            Arg("n_columns", "integer", "grid points per row"),
            _arr("tenor", "tenor of each column (orients the slope loading), or NULL"),
            _arr("moneyness", "moneyness/delta of each column (orients curvature), or NULL"),
            Arg("window_rows", "integer", "rolling window, rows", default="252"),
            Arg("min_periods", "integer", "minimum rows before scores are produced", default="60"),
        ),
        "jsonb",
        "python_udfs.sql_api_surfaces:surface_pca_scores",
        "Point-in-time principal components of a history of standardized surface vectors "
        "(python_udfs.term_structure.pca_scores_point_in_time): row i is scored by a PCA "
        "fitted on the trailing window of rows up to i only; signs fixed (level loadings sum "
        "positive, slope positive at the long end, curvature positive in the wings). Keys: "
        "scores (per row: level, slope, curvature), explained_variance_ratio (per row), "
        "n_columns (per row)." + _JSON_NOTE,
        strict=False,
    ),
)
