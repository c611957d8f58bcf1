{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['symbol', 'trade_date'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('trade_date', '30 days') }}",
        pre_hook="{{ warm_quant_udfs() }}"
    )
}}

-- Intraday realized measures per symbol and session date: realized variance of the 1-minute
-- bar closes (int_equity_bars_1m) and of the trade prices, the microstructure-noise variance
-- and the two-scales realized variance (TSRV) from the trades. Every formula is
-- python_udfs.features.intraday_rv, deployed as quant.underlying_intraday_rv: called once per
-- symbol and calendar week on the week's prices concatenated day by day (per-day counts say
-- where each day ends), then unnested to one row per (symbol, trade_date). Each row uses its
-- own session's prices only. Incremental: recomputes the trailing `incremental_lookback_days`
-- session dates already in the table and every later one (delete+insert on the key).

with rebuild_window as (
    -- start of the session dates to (re)compute: everything on a full build or an empty table
    {{ rebuild_window('trade_date', is_date=true) }}
),

trades as (
    select
        symbol,
        trade_date,
        trade_ts,
        seq,
        price::float8 as price
    from {{ ref('stg_raw__equity_trades') }}
    -- on trade_ts, not trade_date: TimescaleDB then skips the older raw chunks at run time
    where trade_ts >= (select rebuild_window.from_ts from rebuild_window)
),

bars as (
    select
        symbol,
        {{ market_date('bar_ts') }} as trade_date,
        bar_ts,
        close_price::float8 as close_price
    from {{ ref('int_equity_bars_1m') }}
    where bar_ts >= (select rebuild_window.from_ts from rebuild_window)
),

tick_days as (
    select
        symbol,
        trade_date,
        count(*) as n_ticks,
        min(trade_ts) as first_trade_ts,
        max(trade_ts) as last_trade_ts
    from trades
    group by symbol, trade_date
),

bar_days as (
    select
        symbol,
        trade_date,
        count(*) as n_bars
    from bars
    group by symbol, trade_date
),

days as (
    select
        coalesce(t.symbol, b.symbol) as symbol,
        coalesce(t.trade_date, b.trade_date) as trade_date,
        date_trunc('week', coalesce(t.trade_date, b.trade_date))::date as batch_week,
        coalesce(t.n_ticks, 0) as n_ticks,
        coalesce(b.n_bars, 0) as n_bars,
        t.first_trade_ts,
        t.last_trade_ts
    from tick_days as t
    full outer join bar_days as b
        on t.symbol = b.symbol and t.trade_date = b.trade_date
),

day_batches as (
    select
        symbol,
        batch_week,
        array_agg(trade_date order by trade_date) as trade_dates,
        array_agg(n_ticks order by trade_date) as n_ticks,
        array_agg(n_bars order by trade_date) as n_bars,
        array_agg(first_trade_ts order by trade_date) as first_trade_ts,
        array_agg(last_trade_ts order by trade_date) as last_trade_ts,
        array_agg(n_bars::float8 order by trade_date) as bar_counts,
        array_agg(n_ticks::float8 order by trade_date) as tick_counts
    from days
    group by symbol, batch_week
),

tick_batches as (
    select
        symbol,
        date_trunc('week', trade_date)::date as batch_week,
        array_agg(price order by trade_date, trade_ts, seq) as tick_prices
    from trades
    group by symbol, date_trunc('week', trade_date)::date
),

bar_batches as (
    select
        symbol,
        date_trunc('week', trade_date)::date as batch_week,
        array_agg(close_price order by trade_date, bar_ts) as bar_closes
    from bars
    group by symbol, date_trunc('week', trade_date)::date
),

batches as (
    select
        d.symbol,
        d.trade_dates,
        d.n_ticks,
        d.n_bars,
        d.first_trade_ts,
        d.last_trade_ts,
        d.bar_counts,
        d.tick_counts,
        coalesce(b.bar_closes, '{}'::float8[]) as bar_closes,
        coalesce(t.tick_prices, '{}'::float8[]) as tick_prices
    from day_batches as d
    left join tick_batches as t
        on d.symbol = t.symbol and d.batch_week = t.batch_week
    left join bar_batches as b
        on d.symbol = b.symbol and d.batch_week = b.batch_week
)

select
    s.symbol,
    u.trade_date,
    u.n_ticks::integer as n_ticks,
    u.n_bars::integer as n_bars,
    u.first_trade_ts,
    u.last_trade_ts,
    u.rv_1m,
    u.rv_tick,
    u.noise_var,
    u.noise_var_bc,
    u.tsrv
from batches as s
cross join
    lateral quant.underlying_intraday_rv(
        s.bar_counts, s.tick_counts, s.bar_closes, s.tick_prices
    ) as f
cross join lateral unnest(
    s.trade_dates,
    s.n_ticks,
    s.n_bars,
    s.first_trade_ts,
    s.last_trade_ts,
    f.rv_1m,
    f.rv_tick,
    f.noise_var,
    f.noise_var_bc,
    f.tsrv
) with ordinality as u (
    trade_date,
    n_ticks,
    n_bars,
    first_trade_ts,
    last_trade_ts,
    rv_1m,
    rv_tick,
    noise_var,
    noise_var_bc,
    tsrv,
    ord
)
