"""SQL API extension: rate curves and put-call-parity forwards for the intermediate layer.

Registered through ``python_udfs.sql_api.EXTENSIONS`` (same dataclasses, same conventions:
``t`` years ACT/365, rates and yields continuously compounded decimals per year, prices and
strikes per share). Both functions are batch functions: one call per slice of options, arrays
in, arrays out in the same order.

- ``quant.zero_rate_batch(tenor_days, rates, t)``: one published zero curve (the two curve
  arrays are passed whole, ``per_option=False``) read at every option's ``t`` with
  ``python_udfs.rates.zero_rate`` (linear in tenor days, flat beyond the ends);
- ``quant.implied_forward_batch(grp, strike, is_call, price, spread, spot, t, r)``: the robust
  put-call-parity fit ``python_udfs.parity.implied_forward`` per expiry group of a slice
  (``python_udfs.parity.implied_forward_groups``), broadcast back to every option of its group
  as ``quant.parity_forward_arrays`` (forward, implied_q, n_pairs, scale).
"""

from __future__ import annotations

import sys

import numpy as np

# imported before the registry (not by its _extend): see _register
_IMPORTED_FIRST = "python_udfs.sql_api" not in sys.modules

# Placeholders: when this module is imported before python_udfs.sql_api (e.g. inside the
# server, to call zero_rate_at), importing sql_api below runs its _extend() on this
# partially initialised module, which must then already have the two names; the real
# declarations are added to sql_api's registry at the end of this module (see _register).
FUNCTIONS: tuple = ()
TYPES: tuple = ()

from python_udfs import sql_api  # noqa: E402
from python_udfs.sql_api import Arg, CompositeType, Function  # noqa: E402

__all__ = ["FUNCTIONS", "TYPES", "zero_rate_at"]


def zero_rate_at(tenor_days, rates, t) -> np.ndarray:
    """``python_udfs.rates.zero_rate`` with the SQL argument names (``t`` in years ACT/365;
    ``tenor_days`` in days, ``rates`` continuous decimals: one curve). Returns decimals."""
    from python_udfs.rates import zero_rate

    return zero_rate(tenor_days, rates, t)


_PER_SLICE = (
    " One call per slice: SELECT s.slice_id, u.* FROM slices s CROSS JOIN LATERAL "
    "quant.{name}(...) {alias} CROSS JOIN LATERAL unnest(s.option_ids, {cols}) "
    "WITH ORDINALITY AS u(option_id, ...)."
)

TYPES: tuple[CompositeType, ...] = (
    CompositeType(
        "parity_forward_arrays",
        (
            ("forward", "float8[]"),
            ("implied_q", "float8[]"),
            ("n_pairs", "float8[]"),
            ("scale", "float8[]"),
        ),
        "Put-call-parity fit per expiry group, one array per field in input order "
        "(quant.implied_forward_batch): forward per share, implied_q continuously compounded "
        "dividend yield decimal per year (r - ln(F/S)/t), n_pairs call/put pairs used in the "
        "final robust mean, scale robust dispersion of the per-strike forwards per share. NULL "
        "where the group has no valid pair.",
    ),
)

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "zero_rate_batch",
        (
            Arg("tenor_days", "float8[]", "curve tenors, calendar days", per_option=False),
            Arg("rates", "float8[]", "zero rate at each tenor, continuous decimal", False),
            Arg("t", "float8[]", "maturity per option, years (ACT/365)"),
        ),
        "float8[]",
        "python_udfs.sql_api_curves:zero_rate_at",
        "Zero rate (continuously compounded decimal per year) of one published curve at each "
        "maturity t (years ACT/365): linear in tenor days between published tenors, flat beyond "
        "the first and the last (python_udfs.rates.zero_rate, the simulator's rule). tenor_days "
        "and rates describe ONE curve and are passed whole (equal length, no NULLs); t has one "
        "element per option. Batch form: results in the order of t; a NULL t gives NULL."
        + _PER_SLICE.format(name="zero_rate_batch", alias="AS zr(r)", cols="zr.r"),
        batch=True,
    ),
    Function(
        "implied_forward_batch",
        (
            Arg("grp", "float8[]", "expiry group key per option (e.g. expiration epoch days)"),
            Arg("strike", "float8[]", "strike per share"),
            Arg("is_call", "boolean[]", "true = call, false = put"),
            Arg("price", "float8[]", "option mid per share; NaN = not used in the fit"),
            Arg("spread", "float8[]", "ask - bid per share (inverse-variance weights)"),
            Arg("spot", "float8[]", "underlying price per share"),
            Arg("t", "float8[]", "years to expiry (ACT/365)"),
            Arg("r", "float8[]", "risk-free rate at t, continuously compounded decimal"),
        ),
        "quant.parity_forward_arrays",
        "python_udfs.parity:implied_forward_groups",
        "Forward and implied dividend yield per expiry group of a slice from put-call parity "
        "(C - P = e^{-rt}(F - K)): robust Huber fit over the n_near = 8 near-the-money call/put "
        "pairs of equal strike, weighted by 1/(s_C^2 + s_P^2) "
        "(python_udfs.parity.implied_forward), broadcast to every option of the group. "
        "quant.parity_forward_arrays: forward per share, implied_q = r - ln(F/S)/t "
        "(continuous decimal per year), n_pairs, scale per share. t, r and spot of a group are "
        "those of its first option. Pass NaN (not NULL) for a price that must not enter the "
        "fit: a NULL element gives NULL outputs for that option and leaves it out."
        + _PER_SLICE.format(
            name="implied_forward_batch", alias="pf", cols="pf.forward, pf.implied_q"
        ),
        batch=True,
    ),
)


def _register() -> None:
    """Add the declarations to sql_api's registry if its _extend() saw the placeholders."""
    if _IMPORTED_FIRST and not any(f is FUNCTIONS[0] for f in sql_api.FUNCTIONS):
        sql_api.FUNCTIONS = (*sql_api.FUNCTIONS, *FUNCTIONS)
        sql_api.TYPES = (*sql_api.TYPES, *TYPES)


_register()
