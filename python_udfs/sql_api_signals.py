"""SQL registry of the trading-signal functions (``python_udfs.signals``).

Appended to ``python_udfs.sql_api`` (its ``EXTENSIONS``). Called by the signal marts
(models/marts/signals):

- ``quant.vol_regime_gmm`` / ``quant.vol_regime_hmm`` (batch, one call per underlying on its
  daily history) -> ``quant.vol_regime_arrays``: point-in-time 3-state regime probabilities
  (expanding window, refitted every ``refit_every`` complete rows);
- ``quant.composite_vol_score`` (batch, elementwise) -> ``quant.composite_vol_score_arrays``;
- ``quant.pair_ou_signals`` (batch, one call per pair on its daily history) ->
  ``quant.pair_ou_arrays``: rolling Engle-Granger, OU fit, Leung-Li levels, the day's decision;
- ``quant.surface_arbitrage_scores`` (batch, elementwise) -> ``quant.surface_arbitrage_arrays``;
- ``quant.implied_correlation``, ``quant.realized_correlation``, ``quant.rank_correlation``:
  scalar functions on whole arrays.

Batch conventions (``python_udfs.sql_api``): per-element arrays of equal length (a
one-element array broadcasts, so the parameters are passed as ``ARRAY[x]``); a NULL element
leaves that element out of the call, so the time-series functions must get 'NaN', never
NULL, for a missing value (``coalesce(x, 'NaN')``) to keep the rows in place. Whole-array
arguments of the scalar functions must not contain NULL either.
"""

from __future__ import annotations

from python_udfs.signals import COMPOSITE_FIELDS, PAIR_FIELDS, REGIME_FIELDS, SURFACE_FIELDS
from python_udfs.sql_api import Arg, CompositeType, Function

__all__ = ["FUNCTIONS", "TYPES"]


def _elem(name: str, doc: str, sql_type: str = "float8[]") -> Arg:
    return Arg(name, sql_type, doc)


def _whole(name: str, doc: str, sql_type: str = "float8[]") -> Arg:
    return Arg(name, sql_type, doc, per_option=False)


_REGIME_NOTE = (
    "Point-in-time volatility regimes of ONE underlying's daily history (date order; 'NaN' "
    "for a missing feature, never NULL) on the features flagged in use_features (iv always): "
    "3 states sorted by the mean implied vol (0 low, 1 "
    "mid, 2 high; stable labels). Expanding window: the k-th fit uses the complete rows up to "
    "the row at which the count of complete rows reaches min_rows + k refit_every; the rows "
    "from there to the next refit are classified by it, so a row never uses later data. "
    "Fields: p_low, p_mid, p_high (state probabilities), state (argmax 0/1/2), fit_row "
    "(0-based row of the fit used), n_fit (complete rows in it), mean_iv_low/mid/high (the "
    "fit's mean implied vol per state, decimal); NULL before the first fit, on incomplete "
    "rows and where compute is false (only the fits the computed rows need are run)."
)
_REGIME_ARGS = (
    _elem("iv", "30-day ATM implied vol per day, decimal (the state-ordering feature)"),
    _elem("vix_ratio", "VIX-style index / its 20-day mean per day, dimensionless"),
    _elem("term_slope", "60-day minus 30-day ATM implied vol per day, decimal"),
    _elem("rv", "realized vol per day, annualised decimal"),
    _elem("compute", "true for the rows to return (e.g. the rebuild window)", "boolean[]"),
    _elem("refit_every", "refit every N complete rows (ARRAY[N])"),
    _elem("min_rows", "complete rows before the first fit (ARRAY[N], >= 15)"),
    _whole(
        "use_features",
        "1/0 flags for iv, vix_ratio, term_slope, rv (iv is always used: it orders the states)",
    ),
)

_PAIR_NOTE = (
    "OU pair trading on ONE pair's daily log prices (date order, 'NaN' when a leg has no "
    "bar; python_udfs.signals.pair_ou_path). Per row: Engle-Granger of log_a on log_b over "
    "the last max_window rows (>= min_window complete), exact OU fit of the residual spread "
    "u; selected when p < p_select, active for memory rows after a selection; on active rows "
    "Leung-Li (2015) levels of the long-spread position X = 1 + u and the short X' = 1 - u "
    "with cost per trade (units of X ~ decimal of capital), discount rate per year and a "
    "stop stop_sd stationary sds from the mean; decision: exit when p > p_warn, the OU fit "
    "is invalid or a stop is hit, long when u <= long_entry_upper, short when u >= "
    "short_entry_lower, exit at a take-profit, else 0. Fields: hedge_ratio, intercept, "
    "p_value, adf_stat, n_obs, theta (per year), mu, sigma (per sqrt(year)), half_life_days, "
    "stationary_sd, spread, z_score, is_selected, is_active, half_life_median, "
    "warn_cointegration, warn_half_life (1/0), long_/short_ entry_lower, entry_upper, exit, "
    "stop (spread units), signal (1 long, -1 short, 2 exit, 0 none), exit_reason (1 stop "
    "long, 2 stop short, 3 take-profit long, 4 take-profit short, 5 cointegration lost, 6 no "
    "mean reversion), strength, confidence (0..1), expected_edge (Leung-Li J(X) = V(X) - X - "
    "c of an entry, decimal of capital)."
)

TYPES: tuple[CompositeType, ...] = (
    CompositeType(
        "vol_regime_arrays",
        tuple((f, "float8[]") for f in REGIME_FIELDS),
        "Regime probabilities of one daily history (quant.vol_regime_gmm / _hmm), one array "
        "per field in input order. " + _REGIME_NOTE,
    ),
    CompositeType(
        "composite_vol_score_arrays",
        tuple((f, "float8[]") for f in COMPOSITE_FIELDS),
        "Composite volatility score components (quant.composite_vol_score), one array per "
        "field in input order: s_iv_rank, s_regime, s_momentum, s_term (each in [-1, 1], > 0 "
        "buy vol), score (0.3/0.3/0.2/0.2 weighted sum), agreement (|score| / gross).",
    ),
    CompositeType(
        "pair_ou_arrays",
        tuple((f, "float8[]") for f in PAIR_FIELDS),
        "OU pair-trading path of one pair (quant.pair_ou_signals), one array per field in "
        "input order. " + _PAIR_NOTE,
    ),
    CompositeType(
        "surface_arbitrage_arrays",
        tuple((f, "float8[]") for f in SURFACE_FIELDS),
        "Model-vs-market divergence and confidence per contract "
        "(quant.surface_arbitrage_scores), one array per field in input order.",
    ),
)

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "vol_regime_gmm",
        _REGIME_ARGS,
        "quant.vol_regime_arrays",
        "python_udfs.signals:vol_regime_gmm",
        "Gaussian-mixture (EM, full covariances, python_udfs.regime.gmm_fit) version: the "
        "posterior of each row under the fit in force. " + _REGIME_NOTE,
        batch=True,
        cost=10000000,
    ),
    Function(
        "vol_regime_hmm",
        _REGIME_ARGS,
        "quant.vol_regime_arrays",
        "python_udfs.signals:vol_regime_hmm",
        "Gaussian hidden Markov model (Baum-Welch, python_udfs.regime.hmm_fit) version: the "
        "FILTERED probability P(s_t | x_0..x_t) under the fit in force (forward pass from the "
        "first row). " + _REGIME_NOTE,
        batch=True,
        cost=10000000,
    ),
    Function(
        "composite_vol_score",
        (
            _elem("iv_rank", "IV rank, 0..1"),
            _elem("p_low", "probability of the low-vol regime"),
            _elem("p_high", "probability of the high-vol regime"),
            _elem("iv_30d", "30-day ATM implied vol today, decimal"),
            _elem("iv_30d_lag5", "30-day ATM implied vol 5 rows earlier, decimal"),
            _elem("iv_60d", "60-day ATM implied vol today, decimal"),
        ),
        "quant.composite_vol_score_arrays",
        "python_udfs.signals:composite_vol_score",
        "Composite volatility score (vol-trading seed weights 0.3 IV rank + 0.3 regime + 0.2 "
        "momentum + 0.2 term structure), elementwise, each component in [-1, 1] with > 0 = "
        "buy vol: s_iv_rank = 1 - 2 rank; s_regime = p_low - p_high; s_momentum = "
        "tanh(ln(iv_30d / iv_30d_lag5) / 0.10); s_term = -tanh((iv_60d / iv_30d - 1) / 0.05). "
        "agreement = |score| / sum |w_i s_i| (1 when all components agree).",
        batch=True,
    ),
    Function(
        "pair_ou_signals",
        (
            _elem("log_a", "ln close of the first leg per day"),
            _elem("log_b", "ln close of the second leg per day"),
            _elem("compute", "true for the rows to return", "boolean[]"),
            _elem("max_window", "rolling window, rows (ARRAY[N])"),
            _elem("min_window", "minimum complete rows in the window (ARRAY[N], >= 20)"),
            _elem("p_select", "Engle-Granger p-value below which the pair is selected"),
            _elem("p_warn", "p-value above which an active pair fails its health check"),
            _elem("memory", "rows a selection keeps the pair active"),
            _elem("cost", "cost per trade, units of X (decimal of capital)"),
            _elem("rate", "discount rate, continuous decimal per year"),
            _elem("stop_sd", "stop-loss distance from the mean, stationary sds"),
            _elem("half_life_ratio", "half-life warning ratio to its median history"),
            _elem("half_life_history", "rows of half-life history for the median"),
        ),
        "quant.pair_ou_arrays",
        "python_udfs.signals:pair_ou_signals",
        _PAIR_NOTE,
        batch=True,
        cost=100000000,
    ),
    Function(
        "surface_arbitrage_scores",
        (
            _elem("market_iv", "market mid implied vol, decimal"),
            _elem("model_iv", "model implied vol (SABR / SVI / Heston), decimal"),
            _elem("rmse_vol", "calibration RMSE of the contract's slice, vol decimal"),
            _elem("relative_spread", "(ask - bid) / mid"),
            _elem("open_interest", "open interest, contracts ('NaN' if unknown)"),
            _elem("volume", "session volume, contracts ('NaN' if unknown)"),
            _elem("days_to_expiry", "calendar days to expiry"),
            _elem("threshold", "relative divergence threshold (ARRAY[0.10])"),
            _elem("min_confidence", "confidence threshold (ARRAY[0.6])"),
        ),
        "quant.surface_arbitrage_arrays",
        "python_udfs.signals:surface_arbitrage_scores",
        "Surface-arbitrage scores per contract (stochastic-vol design seed): divergence = "
        "(market_iv - model_iv) / model_iv; fit_score = max(0, 1 - rmse_vol / 0.05); "
        "liquidity_score = 0.5 max(0, 1 - relative_spread / 0.10) + 0.25 min(1, log10(1 + "
        "OI) / 3) + 0.25 min(1, log10(1 + volume) / 2); maturity_score 0.3 (< 7 days), 1.0 "
        "(30-90 days), 0.7 otherwise; confidence = 0.4 fit + 0.4 liquidity + 0.2 maturity; "
        "signal -1 (sell vol, market above model) / +1 (buy vol) when |divergence| > "
        "threshold and confidence > min_confidence, else 0; strength = min(1, (|divergence| "
        "- threshold) / (4 threshold)); expected_edge = |market_iv - model_iv| (vol decimal) "
        "when it fires.",
        batch=True,
    ),
    Function(
        "implied_correlation",
        (
            Arg("index_iv", "float8", "index ATM implied vol, decimal"),
            _whole("weights", "constituent index weights (normalised over usable ones)"),
            _whole("constituent_iv", "constituent ATM implied vols, decimal ('NaN' if none)"),
        ),
        "float8",
        "python_udfs.signals:implied_correlation",
        "Average implied correlation of an index: (sigma_I^2 - sum w_i^2 sigma_i^2) / "
        "sum_{i != j} w_i w_j sigma_i sigma_j over the constituents with an IV (weights "
        "renormalised); not clipped; NULL with fewer than 2 constituents.",
        plain_scalars=True,
    ),
    Function(
        "realized_correlation",
        (
            _whole("returns", "daily log returns, row-major days x n_assets ('NaN' if missing)"),
            Arg("n_assets", "integer", "number of assets (columns)"),
            _whole("weights", "asset weights"),
        ),
        "float8",
        "python_udfs.signals:realized_correlation",
        "Realized counterpart of quant.implied_correlation: sum_{i != j} w_i w_j s_i s_j "
        "rho_ij / sum_{i != j} w_i w_j s_i s_j from the sample covariance of the complete "
        "days (the weighted average pairwise correlation); NULL with fewer than 3 days.",
    ),
    Function(
        "rank_correlation",
        (
            _whole("x", "scores ('NaN' pairs are skipped)"),
            _whole("y", "outcomes"),
        ),
        "float8",
        "python_udfs.signals:rank_correlation",
        "Spearman rank correlation (average ranks for ties) of the finite pairs: the "
        "information coefficient of a signal against its outcome; NULL with fewer than 3 "
        "pairs or a constant side.",
    ),
)
