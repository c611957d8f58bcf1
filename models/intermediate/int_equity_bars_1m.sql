{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['symbol', 'bar_ts'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('bar_ts', '1 day') }}"
    )
}}

-- One-minute OHLCV + VWAP bars per symbol from trade prints (TimescaleDB time_bucket).
-- Incremental: re-aggregates the trailing `incremental_lookback_days` of bars already built
-- and everything later (delete+insert on the key), so late trades land in their bar.

with rebuild_window as (
    {{ rebuild_window('bar_ts') }}
),

trades as (
    select
        symbol,
        trade_ts,
        seq,
        price,
        size,
        notional
    from {{ ref('stg_raw__equity_trades') }}
    where trade_ts >= (select rebuild_window.from_ts from rebuild_window)
)

select
    symbol,
    time_bucket(interval '1 minute', trade_ts) as bar_ts,
    first(price, trade_ts) as open_price,
    max(price) as high_price,
    min(price) as low_price,
    last(price, trade_ts) as close_price,
    sum(size) as volume,
    sum(notional) / nullif(sum(size), 0) as vwap,
    count(*) as n_trades
from trades
group by symbol, time_bucket(interval '1 minute', trade_ts)
