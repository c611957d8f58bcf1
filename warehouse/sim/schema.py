"""Canonical columns of the ``sim.*`` truth tables (the loader contract, see
``warehouse/loaders/tables.py``) and their Arrow types for the simulator's Parquet files.

Importing this module registers the ``TableSpec`` of every ``sim`` table (mode ``upsert``).
Migration ``005_sim.sql`` creates the same tables; units are in its COMMENTs.
"""

from __future__ import annotations

import pyarrow as pa

from warehouse.loaders.tables import TableSpec, register

ARROW_TYPES: dict[str, pa.DataType] = {
    "ts": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "float": pa.float64(),
    "int": pa.int64(),
    "text": pa.string(),
    "bool": pa.bool_(),
    "text[]": pa.list_(pa.string()),
    "json": pa.string(),
}


def arrow_schema(spec: TableSpec) -> pa.Schema:
    return pa.schema([pa.field(name, ARROW_TYPES[kind]) for name, kind in spec.columns])


def _f(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, "float") for n in names)


RUNS = register(
    TableSpec(
        name="sim.runs",
        columns=(
            ("run_sha256", "text"),
            ("seed", "int"),
            ("preset", "text"),
            ("arguments", "json"),
            ("start_date", "date"),
            ("end_date", "date"),
            ("n_underlyings", "int"),
            ("n_sessions", "int"),
            ("format_version", "int"),
            ("files", "json"),
        ),
        key=("run_sha256",),
        required=("run_sha256", "seed", "preset", "arguments"),
        mode="upsert",
    )
)

UNDERLYINGS = register(
    TableSpec(
        name="sim.underlyings",
        columns=(
            ("symbol", "text"),
            ("sector", "text"),
            *_f(
                "s0",
                "drift",
                "dividend_yield",
                "dividend_amount",
                "heston_kappa",
                "heston_theta",
                "heston_xi",
                "heston_rho",
                "heston_v0",
                "jump_intensity",
                "jump_mean",
                "jump_std",
                "quote_half_spread",
                "trade_noise_std",
                "noise_var",
                "ssvi_rho",
                "ssvi_eta",
                "ssvi_gamma",
                "variance_risk_premium",
                "earnings_std",
            ),
            ("earnings_timing", "text"),
            *_f("news_impact"),
            ("news_horizon_minutes", "int"),
            *_f(
                "trades_per_day",
                "quotes_per_day",
                "news_per_day",
                "option_popularity",
                "option_half_spread_base",
            ),
        ),
        key=("symbol",),
        required=("symbol",),
        mode="upsert",
    )
)

FACTOR_LOADINGS = register(
    TableSpec(
        name="sim.factor_loadings",
        columns=(("symbol", "text"), ("factor", "text"), ("loading", "float")),
        key=("symbol", "factor"),
        required=("symbol", "factor", "loading"),
        mode="upsert",
    )
)

EARNINGS_EVENTS = register(
    TableSpec(
        name="sim.earnings_events",
        columns=(
            ("symbol", "text"),
            ("event_date", "date"),
            ("timing", "text"),
            ("event_std", "float"),
            ("event_variance", "float"),
            ("jump_ts", "ts"),
            ("jump_logret", "float"),
            ("in_run", "bool"),
        ),
        key=("symbol", "event_date"),
        required=("symbol", "event_date"),
        mode="upsert",
    )
)

UNDERLYING_DAYS = register(
    TableSpec(
        name="sim.underlying_days",
        columns=(
            ("symbol", "text"),
            ("session_date", "date"),
            ("open_ts", "ts"),
            ("close_ts", "ts"),
            ("snapshot_ts", "ts"),
            *_f(
                "prev_close_price",
                "open_price",
                "snapshot_price",
                "close_price",
                "open_variance",
                "snapshot_variance",
                "close_variance",
                "overnight_logret",
                "overnight_variance",
                "dividend_logret",
                "earnings_logret",
                "news_gap_logret",
                "news_session_logret",
                "session_integrated_variance",
            ),
            ("n_jumps", "int"),
            *_f("jump_logret_sum"),
            ("n_trades", "int"),
            ("n_quotes", "int"),
        ),
        key=("symbol", "session_date"),
        required=("symbol", "session_date"),
        mode="upsert",
    )
)

EFFICIENT_PRICES = register(
    TableSpec(
        name="sim.efficient_prices",
        columns=(("symbol", "text"), ("ts", "ts"), ("price", "float"), ("variance", "float")),
        key=("symbol", "ts"),
        required=("symbol", "ts", "price"),
        mode="upsert",
    )
)

SURFACE_PARAMS = register(
    TableSpec(
        name="sim.surface_params",
        columns=(
            ("symbol", "text"),
            ("quote_date", "date"),
            ("expiration", "date"),
            ("quote_ts", "ts"),
            *_f(
                "t_years",
                "spot",
                "forward",
                "rate",
                "div_yield",
                "pv_dividends",
                "atm_total_variance",
                "atm_vol",
                "event_variance",
                "ssvi_phi",
                "svi_a",
                "svi_b",
                "svi_rho",
                "svi_m",
                "svi_sigma",
                "strike_increment",
            ),
            ("n_strikes", "int"),
        ),
        key=("symbol", "quote_date", "expiration"),
        required=("symbol", "quote_date", "expiration"),
        mode="upsert",
    )
)

NEWS_SENTIMENT = register(
    TableSpec(
        name="sim.news_sentiment",
        columns=(
            ("source", "text"),
            ("vendor_id", "text"),
            ("symbol", "text"),
            ("published_ts", "ts"),
            ("kind", "text"),
            ("sentiment", "float"),
            ("sentiment_label", "text"),
            ("impact_logret", "float"),
            ("effect_start_ts", "ts"),
            ("effect_minutes", "int"),
        ),
        key=("source", "vendor_id", "symbol"),
        required=("source", "vendor_id", "symbol", "published_ts", "sentiment"),
        mode="upsert",
    )
)

SIM_TABLES: tuple[TableSpec, ...] = (
    RUNS,
    UNDERLYINGS,
    FACTOR_LOADINGS,
    EARNINGS_EVENTS,
    UNDERLYING_DAYS,
    EFFICIENT_PRICES,
    SURFACE_PARAMS,
    NEWS_SENTIMENT,
)
