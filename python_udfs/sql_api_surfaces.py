"""SQL registry of the volatility-surface functions (smiles, Heston, local vol, indices).

Appended to ``python_udfs.sql_api`` (its ``EXTENSIONS``). The fits are scalar SQL functions
taking whole arrays (one slice, one surface or one history per call) and returning ``jsonb``
(plain numbers, NaN -> null); the surface marts call them once per (underlying, quote date)
or per expiry slice. Conventions as in ``python_udfs.sql_api``: ``t`` years (ACT/365, or
minutes / 525600 for the VIX-style index), vols and rates decimals, ``k`` = ln(K / F)
log-forward moneyness, total variance ``w`` = vol^2 t.

Where the SQL argument order or shapes differ from the numerics', the callable is a shim in
``python_udfs.sql_calls`` (no formulas there); every formula is in its own module.
"""

from __future__ import annotations

from python_udfs.sql_api import Arg, CompositeType, Function

__all__ = ["FUNCTIONS", "TYPES"]

TYPES: tuple[CompositeType, ...] = ()


def _arr(name: str, doc: str, sql_type: str = "float8[]") -> Arg:
    return Arg(name, sql_type, doc, per_option=False)


_K = _arr("log_moneyness", "k = ln(K/F) per quote")
_W = _arr("total_variance", "w = vol^2 t per quote, decimal^2 * years")
_WEIGHTS = Arg(
    "weights", "float8[]", "least-squares weight per quote (NULL = equal)", False, default="NULL"
)
_JSON_NOTE = " Returns jsonb (numbers; NaN as null)."
_SVI_SURFACE = (
    _arr("slice_t", "expiry of each fitted slice, years (strictly increasing)"),
    _arr("a", "raw SVI a of each slice, decimal^2 * years"),
    _arr("b", "raw SVI b of each slice"),
    _arr("rho", "raw SVI rho of each slice"),
    _arr("m", "raw SVI m of each slice, log-moneyness"),
    _arr("sigma", "raw SVI sigma of each slice, log-moneyness"),
)
_SURFACE_NOTE = (
    " The surface: raw SVI slices (slice_t ascending), total variance linear in t at fixed "
    "k between slices, flat implied vol at fixed k outside them (python_udfs.localvol)."
)
_CURVE = (
    _arr("rate_days", "zero-curve tenors, calendar days"),
    _arr("rates", "zero rates at rate_days, continuous decimals"),
)

_SVI_PARAMS = (
    Arg("a", "float8", "raw SVI a, decimal^2 * years"),
    Arg("b", "float8", "raw SVI b"),
    Arg("rho", "float8", "raw SVI rho"),
    Arg("m", "float8", "raw SVI m, log-moneyness"),
    Arg("sigma", "float8", "raw SVI sigma, log-moneyness"),
)
_SABR_ARGS = (
    Arg("forward", "float8", "forward per share"),
    Arg("strike", "float8", "strike per share"),
    Arg("t", "float8", "years to expiry"),
    Arg("alpha", "float8", "SABR alpha (vol of the forward, in forward^(1-beta) units)"),
    Arg("beta", "float8", "SABR beta, CEV exponent in [0, 1]"),
    Arg("rho", "float8", "SABR rho, forward/vol correlation"),
    Arg("nu", "float8", "SABR nu, vol of vol, decimal per sqrt(year)"),
)


def _batch_args(args: tuple[Arg, ...]) -> tuple[Arg, ...]:
    return tuple(Arg(a.name, a.sql_type + "[]", a.doc) for a in args)


_SVI_TV = "raw SVI total variance w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2))"
_HAGAN = (
    "SABR lognormal implied vol, Hagan, Kumar, Lesniewski & Woodward (2002) eq. 2.17a as "
    "published ((FK)^((1-beta)/2) scaling, the log^2/log^4 denominator, z/x(z) with a "
    "series near z = 0, continuous through K = F where it equals eq. 2.18; "
    "python_udfs.sabr.sabr_vol), decimal per sqrt(year)."
)

_HESTON_ARGS = (
    Arg("spot", "float8", "underlying price per share"),
    Arg("strike", "float8", "strike per share"),
    Arg("t", "float8", "years to expiry"),
    Arg("r", "float8", "zero rate to t, continuous decimal"),
    Arg("q", "float8", "dividend yield to t, continuous decimal"),
    Arg("kappa", "float8", "variance mean-reversion speed, per year"),
    Arg("theta", "float8", "long-run variance, decimal^2 per year"),
    Arg("sigma", "float8", "vol of variance, per sqrt(year)"),
    Arg("rho", "float8", "spot/variance correlation"),
    Arg("v0", "float8", "initial variance, decimal^2 per year"),
    Arg("is_call", "boolean", "true = call, false = put"),
)
_HESTON = (
    "Heston (1993) European option price per share (python_udfs.heston.heston_price): Lewis "
    "(2001) single integral with the Albrecher et al. (2007) 'little trap' characteristic "
    "function and a Black-Scholes control variate, Gauss-Legendre panels per maturity; "
    "accurate to 1e-9 on a spot of 100."
)

FUNCTIONS: tuple[Function, ...] = (
    Function("heston_price", _HESTON_ARGS, "float8", "python_udfs.heston:heston_price", _HESTON),
    Function(
        "heston_price_batch",
        _batch_args(_HESTON_ARGS),
        "float8[]",
        "python_udfs.heston:heston_price",
        "Batch form of quant.heston_price (one element per option; the five model parameters "
        "must be one value, length-1 arrays): " + _HESTON,
        batch=True,
    ),
    Function(
        "heston_calibrate",
        (
            Arg("spot", "float8", "underlying price per share"),
            _arr("strike", "strike per option"),
            _arr("t", "years to expiry per option"),
            _arr("r", "zero rate per option, continuous decimal"),
            _arr("q", "dividend yield per option, continuous decimal"),
            _arr("price", "European option price per option, per share"),
            _arr("is_call", "true = call per option", "boolean[]"),
            Arg("start", "jsonb", "previous parameters (warm start) or NULL", default="NULL"),
            Arg("seed", "bigint", "PCG64 seed of the cold-start search", default="0"),
        ),
        "jsonb",
        "python_udfs.sql_calls:heston_calibrate_sql",
        "Heston calibration to one surface of European prices (python_udfs.heston."
        "heston_calibrate): cold start = seeded Latin-hypercube global search then a "
        "trust-region least squares with the analytic Jacobian on vega-scaled price errors; "
        "warm start (start = the previous day's parameters) goes straight to the local solve "
        "and falls back to a cold start when it fails; if still not converged the start "
        "parameters are returned with fallback = true. Keys: kappa, theta, sigma, rho, v0, "
        "rmse_iv (implied-vol RMSE, decimal), converged, iterations, seconds, feller (2 kappa "
        "theta > sigma^2), method, start (warm/cold), fallback, message, max_iv_error, nfev, "
        "n_options." + _JSON_NOTE,
        strict=False,
        cost=10000000,
    ),
    Function(
        "svi_fit",
        (
            _K,
            _W,
            _WEIGHTS,
            Arg("t", "float8", "slice expiry, years (for rmse_vol)", default="NULL"),
        ),
        "jsonb",
        "python_udfs.svi:svi_fit",
        "Arbitrage-free raw SVI fit of one expiry slice (python_udfs.svi.svi_fit): Zeliade "
        "quasi-explicit least squares on total variance; if Durrleman's g(k) < 0 or w(k) <= 0 "
        "anywhere on |k| <= 1.5 the slice is re-fitted under g >= 0 (repaired = true), so "
        "every returned slice is free of butterfly arbitrage. Keys: a, b, rho, m, sigma, "
        "rmse (total variance), rmse_vol (vol decimal, when t is given), iterations, n, "
        "butterfly_ok, min_g, min_w, repaired, message." + _JSON_NOTE,
        strict=False,
    ),
    Function(
        "svi_total_variance",
        (Arg("k", "float8", "log-forward moneyness ln(K/F)"), *_SVI_PARAMS),
        "float8",
        "python_udfs.svi:svi_total_variance",
        f"The {_SVI_TV} (python_udfs.svi.svi_total_variance), decimal^2 * years; implied vol "
        "= sqrt(w / t).",
    ),
    Function(
        "svi_total_variance_batch",
        _batch_args((Arg("k", "float8", "log-forward moneyness ln(K/F)"), *_SVI_PARAMS)),
        "float8[]",
        "python_udfs.svi:svi_total_variance",
        f"Batch form of quant.svi_total_variance: the {_SVI_TV} per element (parameters per "
        "element or length 1), decimal^2 * years.",
        batch=True,
    ),
    Function(
        "svi_calendar_violations",
        (
            _arr("t", "expiry of each slice, years"),
            _arr("a", "raw SVI a per slice"),
            _arr("b", "raw SVI b per slice"),
            _arr("rho", "raw SVI rho per slice"),
            _arr("m", "raw SVI m per slice"),
            _arr("sigma", "raw SVI sigma per slice"),
            Arg("k_min", "float8", "lower end of the checked k range", default="NULL"),
            Arg("k_max", "float8", "upper end of the checked k range", default="NULL"),
        ),
        "jsonb",
        "python_udfs.sql_calls:svi_calendar_check",
        "Calendar-arbitrage check of a set of raw SVI slices (python_udfs.svi."
        "calendar_violations): total variance must not decrease with expiry at fixed "
        "log-forward moneyness, on |k| <= 1.5 or on [k_min, k_max] when given. Keys: count "
        "(violating grid points), pairs (violating adjacent expiry pairs), max_violation "
        "(decimal^2 * years)." + _JSON_NOTE,
        strict=False,
    ),
    Function(
        "ssvi_fit",
        (_K, _W, _arr("t", "expiry per quote, years"), _WEIGHTS),
        "jsonb",
        "python_udfs.ssvi:ssvi_fit",
        "Arbitrage-free SSVI surface (Gatheral & Jacquier 2014) over all expiries of a day "
        "(python_udfs.ssvi.ssvi_fit): power-law phi(theta) = eta / (theta^gamma (1 + "
        "theta)^(1 - gamma)), one rho, ATM total variance theta per expiry non-decreasing; "
        "0 < gamma <= 1/2 and eta (1 + |rho|) <= 2 make it free of static arbitrage. Keys: "
        "rho, eta, gamma, expiries (years), theta (per expiry), phi, rmse, rmse_vol, "
        "calendar_ok, butterfly_ok, min_g, iterations, n, converged, message." + _JSON_NOTE,
        strict=False,
    ),
    Function("sabr_vol", _SABR_ARGS, "float8", "python_udfs.sabr:sabr_vol", _HAGAN),
    Function(
        "sabr_vol_batch",
        _batch_args(_SABR_ARGS),
        "float8[]",
        "python_udfs.sabr:sabr_vol",
        "Batch form of quant.sabr_vol (one element per option, length 1 broadcasts): " + _HAGAN,
        batch=True,
    ),
    Function(
        "sabr_fit",
        (
            Arg("forward", "float8", "forward per share"),
            _arr("strike", "strike per quote, per share"),
            Arg("t", "float8", "years to expiry"),
            _arr("implied_vol", "market implied vol per quote, decimal"),
            Arg("beta", "float8", "fixed SABR beta (configuration)"),
        ),
        "jsonb",
        "python_udfs.sabr:sabr_fit",
        "SABR fit of one smile at fixed beta (python_udfs.sabr.sabr_fit): alpha, rho, nu "
        "minimising the implied-vol residuals of Hagan's formula, started from the ATM cubic "
        "(West 2005). Keys: alpha, rho, nu, rmse (vol decimal), beta, n, iterations, "
        "converged, message." + _JSON_NOTE,
    ),
    Function(
        "local_vol_grid",
        (
            _arr("k_nodes", "log-forward moneyness nodes"),
            _arr("t_nodes", "time nodes, years"),
            *_SVI_SURFACE,
        ),
        "jsonb",
        "python_udfs.sql_calls:local_vol_grid_svi",
        "Dupire local volatility on a (k, t) grid from an SVI surface, Gatheral's "
        "total-variance form with analytic SVI k-derivatives and the interpolation's "
        "analytic dw/dt (python_udfs.localvol.local_vol_grid). Keys: k, t, local_vol (list "
        "over k of lists over t, decimal per sqrt(year); null where the denominator or dw/dt "
        "is not positive), n_invalid counts." + _SURFACE_NOTE + _JSON_NOTE,
    ),
    Function(
        "local_vol_mc_price",
        (
            Arg("spot", "float8", "underlying price per share"),
            Arg("strike", "float8", "strike per share"),
            Arg("t", "float8", "years to expiry"),
            Arg("r", "float8", "zero rate to t, continuous decimal"),
            Arg("q", "float8", "dividend yield to t, continuous decimal"),
            Arg("is_call", "boolean", "true = call, false = put"),
            *_SVI_SURFACE,
            Arg("paths", "integer", "Monte Carlo paths (antithetic pairs)", default="20000"),
            Arg("steps", "integer", "time steps (slice times added)", default="100"),
            Arg("seed", "bigint", "PCG64 seed", default="0"),
        ),
        "jsonb",
        "python_udfs.sql_calls:local_vol_mc_price_svi",
        "European option price by Monte Carlo under the surface's Dupire local vol "
        "(python_udfs.localvol.local_vol_mc_price): log-Euler on ln(S/F(t)), antithetic "
        "PCG64 normals, deterministic per seed. Keys: price, std_error (per share), "
        "mc_forward, n_fallback, n_capped." + _SURFACE_NOTE + _JSON_NOTE,
        strict=False,
    ),
    Function(
        "atm_term_structure",
        _SVI_SURFACE,
        "jsonb",
        "python_udfs.sql_calls:atm_term_structure_svi",
        "Constant-maturity ATM-forward implied vols at 10, 20, 30, 60, 90, 180 and 365 days "
        "and forward vols 30/20, 60/30, 90/60, 180/90 days of an SVI surface "
        "(python_udfs.standardized.atm_term_structure): linear in ATM total variance "
        "between expiries, flat vol outside; forward vol = sqrt((w2 - w1)/(t2 - t1)), null "
        "with forward_negative_variance where w decreases. Keys: days, atm_iv, "
        "atm_total_variance, extrapolated, forward_start_days, forward_end_days, "
        "forward_vol, forward_negative_variance, n_negative_forward_variance."
        + _SURFACE_NOTE
        + _JSON_NOTE,
    ),
    Function(
        "atm_forward_options",
        (
            *_SVI_SURFACE,
            Arg("spot", "float8", "underlying price per share"),
            *_CURVE,
            Arg("q", "float8", "dividend yield, continuous decimal"),
        ),
        "jsonb",
        "python_udfs.sql_calls:atm_forward_options_svi",
        "IvyDB-style standardized ATM-forward options: for each day of the grid (10, 30, 60, "
        "91, 122, 152, 182, 273, 365, 547, 730) a call and a put struck at the forward "
        "S e^{(r-q)t}, IV from the SVI surface at k = 0, premium per share and the eight "
        "Black-Scholes greeks (python_udfs.standardized.atm_forward_options). Keys: arrays "
        "days, is_call, t, strike, forward, rate, iv, premium, delta, gamma, vega, theta, rho, "
        "vanna, volga, charm, extrapolated." + _SURFACE_NOTE + _JSON_NOTE,
    ),
    Function(
        "standardized_surface",
        (
            _arr("days_obs", "calendar days to expiry per observed option"),
            _arr("delta_obs", "Black-Scholes delta per observed option (puts negative)"),
            _arr("is_call_obs", "true = call", "boolean[]"),
            _arr("iv_obs", "implied vol per observed option, decimal"),
            _arr("vega_obs", "vega per observed option, per share per 1.00 of vol"),
            Arg("spot", "float8", "underlying price per share"),
            *_CURVE,
            Arg("q", "float8", "dividend yield, continuous decimal"),
        ),
        "jsonb",
        "python_udfs.sql_calls:standardized_surface_points",
        "OptionMetrics-IvyDB-style standardized volatility surface "
        "(python_udfs.standardized.standardized_surface): vega-weighted Gaussian kernel "
        "smoother over ln(days), call-equivalent delta and call/put (bandwidths 0.05, 0.005, "
        "0.001; options with vega < 0.5 excluded) on days {10, 30, 60, 91, 122, 152, 182, 273, "
        "365, 547, 730} x call deltas 0.10..0.90 and put deltas -0.10..-0.90 (step 0.05); per "
        "point the implied strike (BS delta inverted) and premium. Keys: arrays days, t, "
        "delta, is_call, iv, strike, premium, forward, rate, dispersion (kernel-weighted "
        "standard deviation of the IVs used, decimal), weight_sum, n_effective; n_used."
        + _JSON_NOTE,
    ),
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
        "python_udfs.sql_calls:variance_swap_index_svi",
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
        "python_udfs.sql_calls:surface_pca_scores",
        "Point-in-time principal components of a history of standardized surface vectors "
        "(python_udfs.term_structure.pca_scores_point_in_time): row i is scored by a PCA "
        "fitted on the trailing window of rows up to i only; signs fixed (level loadings sum "
        "positive, slope positive at the long end, curvature positive in the wings). Keys: "
        "scores (per row: level, slope, curvature), explained_variance_ratio (per row), "
        "n_columns (per row)." + _JSON_NOTE,
        strict=False,
    ),
)
