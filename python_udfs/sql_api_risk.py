"""SQL registry of the risk kernels (schema ``risk``; composite types in ``quant``).

Appended to ``python_udfs.sql_api`` (its ``EXTENSIONS``). Conventions: exposures and P&L in
currency, losses reported as positive numbers, vols annualised decimals, horizons in trading
days (252 a year), correlation matrices row-major flattened ``float8[]``; Monte Carlo is
deterministic per ``seed`` (numpy PCG64).

Pure kernels only: every function here computes from its arguments and reads no table. The
functions that gather the book and the market from the warehouse (``ops.risk_book_inputs``,
``ops.portfolio_var``, ``ops.portfolio_risk_report``, ``ops.check_risk_limits``,
``ops.run_strategy_dispatch``) are SQL / PL/pgSQL functions of migration
``009_risk_limits.sql`` that call these kernels with JSON built from the tables
(``python_udfs.risk_calls`` documents the JSON). Sizing and costs (``python_udfs.sizing``)
are exposed one to one for ad-hoc SQL; the ranking's trade plan and rationale come from
``python_udfs.ranking``.
"""

from __future__ import annotations

from python_udfs.sql_api import Arg, CompositeType, Function

__all__ = ["FUNCTIONS", "TYPES"]

TYPES: tuple[CompositeType, ...] = (
    CompositeType(
        "var_es_result",
        (
            ("var", "float8"),
            ("es", "float8"),
            ("var_se", "float8"),
            ("es_se", "float8"),
            ("repaired", "float8"),
            ("min_eigenvalue", "float8"),
            ("n_factors", "float8"),
            ("paths", "float8"),
        ),
        "Monte Carlo VaR / ES of a linear book (risk.mc_var_es): var and es (currency, positive "
        "= loss), their Monte Carlo standard errors var_se / es_se (currency), repaired (1 when "
        "the input correlation was not positive semi-definite and was replaced by the nearest "
        "correlation matrix, else 0), min_eigenvalue of the input correlation, n_factors "
        "(rank used) and paths.",
    ),
)

_BOOK = Arg("book", "jsonb", "positions: ops.risk_book_inputs(as_of) -> 'book'")
_MARKET = Arg("market", "jsonb", "underlyings, spots, vols, history: ops.risk_book_inputs")
_PATHS = Arg("paths", "integer", "Monte Carlo paths")
_SEED = Arg("seed", "bigint", "PCG64 seed")
_CAPITAL = Arg("capital", "float8", "capital (NAV) the leverage and concentration refer to, USD")

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "mc_var_es",
        (
            Arg("exposures", "float8[]", "exposure per factor, currency", per_option=False),
            Arg("vols", "float8[]", "annualised vol per factor, decimal", per_option=False),
            Arg("correlation", "float8[]", "n x n correlation, row-major", per_option=False),
            Arg("confidence", "float8", "VaR confidence, e.g. 0.99"),
            Arg("horizon_days", "integer", "horizon, trading days"),
            Arg("paths", "integer", "Monte Carlo paths"),
            Arg("seed", "bigint", "PCG64 seed"),
        ),
        "quant.var_es_result",
        "python_udfs.risk:mc_var_es",
        "Monte Carlo value at risk and expected shortfall of a linear book (python_udfs.risk."
        "mc_var_es): P&L = sum_i e_i r_i with r ~ N(0, diag(vols) C diag(vols) h / 252), "
        "factor normals drawn in chunks from numpy PCG64(seed) (same seed, same numbers); a "
        "correlation that is not positive semi-definite is repaired to the nearest "
        "correlation matrix (Higham 2002) and reported (repaired = 1), asymmetric or mis-sized "
        "input is an error. Use: SELECT * FROM risk.mc_var_es(...).",
        schema="risk",
        plain_scalars=True,
        cost=1000000,
    ),
    Function(
        "portfolio_risk_kernel",
        (_BOOK, _MARKET, _CAPITAL, _PATHS, _SEED),
        "jsonb",
        "python_udfs.risk_calls:portfolio_risk_report",
        "Risk report of an option + stock book (python_udfs.risk_calls.portfolio_risk_report): "
        "greeks per position / underlying / asset class / total (dollar delta, dollar gamma per "
        "1 %, vega per vol point, theta per day, rho per point); VaR and ES at 95 / 99 %, 1 and "
        "10 days by full-revaluation Monte Carlo (with Euler component and marginal VaR per "
        "position), historical full revaluation (<= 252 days) and delta-gamma-vega "
        "Cornish-Fisher; stress P&L (crash, vol spike, black swan, squeeze, historical "
        "replays) per scenario / underlying / position; the day's P&L; the limit metrics. "
        "Factor model: shrunk (Ledoit-Wolf) correlation of spot returns and ATM IV changes. "
        "Same seed, same numbers. Usually called through ops.portfolio_risk_report(as_of).",
        schema="risk",
        cost=10000000,
    ),
    Function(
        "portfolio_var_kernel",
        (
            _BOOK,
            _MARKET,
            Arg("confidence", "float8", "VaR confidence, e.g. 0.99"),
            Arg("horizon_days", "integer", "horizon, trading days"),
            Arg("method", "text", "mc | historical | parametric"),
            _PATHS,
            _SEED,
        ),
        "jsonb",
        "python_udfs.risk_calls:portfolio_var_one",
        "VaR and ES (USD, positive = loss) of an option + stock book by one method: 'mc' "
        "(full-revaluation Monte Carlo under correlated spot and implied-vol shocks), "
        "'historical' (full revaluation over the last <= 252 days of joint moves; 10-day "
        "windows overlap) or 'parametric' (delta-gamma-vega, Cornish-Fisher); mc and "
        "historical with the Euler component / marginal VaR per position. Usually called "
        "through ops.portfolio_var(as_of, ...).",
        schema="risk",
        cost=10000000,
    ),
    Function(
        "risk_budget_kernel",
        (
            _BOOK,
            _MARKET,
            Arg("candidates", "jsonb", "candidate trades in rank order: legs + hedge_shares"),
            Arg("limits", "jsonb", "enabled ops.risk_limits rows: limit_name, metric, kind"),
            _CAPITAL,
            _PATHS,
            _SEED,
        ),
        "jsonb",
        "python_udfs.risk_calls:risk_budget",
        "Pre-trade risk budget (python_udfs.risk_calls.risk_budget): one set of 1-day Monte "
        "Carlo scenarios revalues the book and every candidate; candidates are accepted "
        "greedily in the given order while no limit they worsen is breached (VaR 95 / 99, "
        "delta, gamma, vega, theta, leverage, net exposure, concentrations); returns per "
        "candidate accepted, reasons, VaR after and marginal VaR (common random numbers).",
        schema="risk",
        cost=10000000,
    ),
    Function(
        "candidate_plan",
        (Arg("inputs", "jsonb", "candidate: side, structure, legs, market context"),),
        "jsonb",
        "python_udfs.ranking:candidate_plan",
        "Trade plan of one order candidate (python_udfs.ranking.candidate_plan): entry / "
        "target / stop prices and percentages, calibrated hit probability (or the flagged "
        "prior), half-Kelly x vol-scaled size, units, legs with limit prices (buy bid + 0.3 "
        "spread, sell ask - 0.3 spread), delta hedge, expected edge, costs (half spread + "
        "$0.65 + $0.02 per contract + square-root impact above 5 % of ADV), net edge, 10-day "
        "VaR99 and the risk-adjusted score; status rejected with the reason when the edge "
        "does not cover the costs.",
        schema="risk",
        cost=1000000,
    ),
    Function(
        "ranking_rationale",
        (Arg("inputs", "jsonb", "the pick's plan, signal and options context"),),
        "text",
        "python_udfs.ranking:rationale",
        "Plain-text rationale of a ranking pick from its inputs (templates, one sentence per "
        "line: signal, plan, volatility context, positioning, economics, risks).",
        schema="risk",
    ),
    Function(
        "vol_scaled_weight",
        (
            Arg("realized_vol", "float8", "annualised realized vol, decimal (e.g. 21-day)"),
            Arg("target_vol", "float8", "target vol, decimal (0.15)"),
            Arg("min_weight", "float8", "lower clip (0.2)"),
            Arg("max_weight", "float8", "upper clip (2.0)"),
        ),
        "float8",
        "python_udfs.sizing:vol_scaled_weight",
        "Volatility-scaled exposure clip(target_vol / realized_vol, min_weight, max_weight) "
        "(python_udfs.sizing.vol_scaled_weight); zero realized vol gives max_weight.",
        schema="risk",
    ),
    Function(
        "swing_trade_plan",
        (
            Arg("q10", "float8", "10 % quantile of the holding-period return, decimal"),
            Arg("q50", "float8", "median holding-period return"),
            Arg("q90", "float8", "90 % quantile"),
            Arg("volatility", "float8", "holding-period volatility, decimal"),
            Arg("hit_prob", "float8", "probability of hitting the target"),
            Arg("max_pain_distance", "float8", "(max pain - spot) / spot; 'NaN' if unknown"),
            Arg("gamma_concentration", "float8", "GEX top-3 share 0..1; 'NaN' if unknown"),
            Arg("pcr_extreme", "boolean", "put/call ratio at an extreme"),
            Arg("iv_percentile", "float8", "IV percentile 0..1; 'NaN' if unknown"),
            Arg("avg_dollar_volume", "float8", "average daily dollar volume; 'NaN' if unknown"),
        ),
        "jsonb",
        "python_udfs.sizing:swing_trade_plan",
        "Options-informed swing target and stop with half-Kelly size (python_udfs.sizing."
        "swing_trade_plan): target = q50 + 0.7 (q90 - q50) and stop = min(-2 vol, q10 - q50) "
        "with the max-pain / gamma / PCR / IV adjustments; size = clip(0.5 Kelly, 0, 10 %), "
        "x 0.7 on a PCR extreme, x 0.5 below $20M daily volume. jsonb: target, stop, "
        "reward_risk, kelly, half_kelly, size, capped, iv_regime.",
        schema="risk",
    ),
    Function(
        "half_kelly_size",
        (
            Arg("hit_prob", "float8", "probability of the win"),
            Arg("win", "float8", "return when right, decimal > 0"),
            Arg("loss", "float8", "return when wrong, decimal (sign ignored)"),
            Arg("pcr_extreme", "boolean", "put/call ratio at an extreme"),
            Arg("avg_dollar_volume", "float8", "average daily dollar volume; 'NaN' if unknown"),
        ),
        "jsonb",
        "python_udfs.risk_calls:half_kelly_size",
        "Half-Kelly size of a binary bet (python_udfs.sizing.half_kelly_size): Kelly f* = p / "
        "|L| - (1 - p) / W, size = clip(0.5 f*, 0, 10 %) with the PCR and liquidity cuts. "
        "jsonb: kelly, half_kelly, size, reward_risk, capped.",
        schema="risk",
    ),
    Function(
        "order_costs",
        (
            Arg("bid", "float8", "bid per share"),
            Arg("ask", "float8", "ask per share"),
            Arg("contracts", "float8", "order size, contracts"),
            Arg("multiplier", "float8", "shares per contract (100)"),
            Arg("commission", "float8", "USD per contract (0.65)"),
            Arg("fees", "float8", "regulatory / exchange fees per contract (0.02)"),
            Arg("adv_contracts", "float8", "average daily volume, contracts; 'NaN' if unknown"),
            Arg("daily_vol", "float8", "daily vol of the option price, decimal; 'NaN' if none"),
        ),
        "jsonb",
        "python_udfs.sizing:order_costs",
        "Expected cost of an option order (python_udfs.sizing.order_costs), USD: half spread x "
        "multiplier + commission + fees per contract, plus impact mid x daily_vol x sqrt(Q / "
        "ADV) x multiplier when Q / ADV > 5 %. jsonb: spread, commission, fees, impact, "
        "per_contract, total, participation.",
        schema="risk",
    ),
    Function(
        "limit_price",
        (
            Arg("bid", "float8", "bid per share"),
            Arg("ask", "float8", "ask per share"),
            Arg("side", "text", "buy | sell"),
        ),
        "float8",
        "python_udfs.sizing:limit_price",
        "Passive limit price per share (python_udfs.sizing.limit_price): buy at bid + 0.3 "
        "spread, sell at ask - 0.3 spread.",
        schema="risk",
    ),
)
