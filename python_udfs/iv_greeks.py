"""Implied volatility and the Black-Scholes-Merton greeks at it, in one call.

The Python side of ``quant.implied_vol_greeks_batch`` (declared in ``python_udfs.sql_api``): a
composition of ``implied_vol.implied_vol`` and ``black_scholes.bs_greeks``. Its own module so
that a session calling only this function imports numpy, scipy.special and these two modules,
not the whole registry (a parallel worker pays its imports in every query). Units as in
``black_scholes``: vol decimal per sqrt(year), greeks per share and per unit of the variable.
"""

from __future__ import annotations

import numpy as np

from python_udfs.black_scholes import GREEK_FIELDS, bs_greeks
from python_udfs.blocks import block_slices
from python_udfs.implied_vol import implied_vol

__all__ = ["implied_vol_and_greeks"]


def implied_vol_and_greeks(price, spot, strike, t, r, q, is_call) -> dict[str, np.ndarray]:
    """Implied vol (``python_udfs.implied_vol.implied_vol``) and the BSM greeks at that vol.

    Returns {"iv": ..., "delta": ..., ..., "charm": ...}; where the implied vol is NaN (no
    solution) every greek is NaN too. One call instead of two saves a second pass of the
    inputs across the PL/Python boundary.
    """
    arrays = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (price, spot, strike, t, r, q)),
        np.asarray(is_call, dtype=bool),
    )
    shape = arrays[0].shape
    flat = [a.ravel() for a in arrays]
    n = flat[0].size
    out = {name: np.empty(n) for name in ("iv", *GREEK_FIELDS)}
    for part in block_slices(n):  # cache-sized passes (python_udfs.blocks)
        p, s, k, tt, rr, qq, call = (a[part] for a in flat)
        iv = implied_vol(p, s, k, tt, rr, qq, call)
        missing = np.isnan(iv)
        greeks = bs_greeks(s, k, tt, rr, qq, np.where(missing, 0.0, iv), call)
        out["iv"][part] = iv
        for name in GREEK_FIELDS:
            out[name][part] = greeks[name]
            if missing.any():
                out[name][part][missing] = np.nan
    return {name: v.reshape(shape) for name, v in out.items()}
