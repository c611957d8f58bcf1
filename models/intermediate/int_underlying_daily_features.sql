{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['symbol'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('trade_date', '365 days') }}",
        pre_hook="{{ warm_quant_udfs() }}"
    )
}}

{#- feature columns, in the order of python_udfs.features.DAILY_FEATURES -#}
{%- set rv_windows = [10, 14, 30, 60, 91, 122, 152, 182, 273, 365] -%}
{%- set features = ['ret_1d', 'ret_5d', 'ret_20d',
                    'sma_5', 'sma_10', 'sma_20', 'sma_50', 'sma_200',
                    'ewma_10', 'ewma_20', 'ewma_60',
                    'rsi_14', 'macd_line', 'macd_signal', 'macd_hist', 'volume_sma_20'] -%}
{%- for est in ['cc', 'pk', 'gk', 'rs', 'yz'] -%}
    {%- for w in rv_windows -%}
        {%- do features.append('rv_' ~ est ~ '_' ~ w) -%}
    {%- endfor -%}
{%- endfor -%}
{%- do features.extend(['skew_20', 'skew_60', 'kurt_20', 'kurt_60',
                        'garch_vol', 'garch_forecast_1d']) -%}

-- Daily technical and volatility features per symbol and trade date from the daily bars
-- (bar_seconds = 86400). Every formula is python_udfs.features.daily_features, deployed as
-- quant.underlying_daily_features: called ONCE per symbol on its whole daily history (arrays
-- ordered by trade date) and unnested back to one row per (symbol, trade_date). Point in
-- time: a row uses the symbol's bars up to and including its trade date only.
-- Incremental by symbol: the GARCH refits make a symbol's history one computation, so a run
-- recomputes (delete+insert) exactly the symbols whose daily bars changed since the last
-- build (row count, last date or sum of closes differ) and leaves the others alone.

with daily_bars as (
    select
        symbol,
        bar_date as trade_date,
        open_price::float8 as open_price,
        high_price::float8 as high_price,
        low_price::float8 as low_price,
        close_price::float8 as close_price,
        volume::float8 as volume
    from {{ ref('stg_raw__equity_bars') }}
    where bar_seconds = 86400
),

bar_stats as (
    select
        symbol,
        count(*) as n_bars,
        max(trade_date) as last_date,
        round(sum(close_price)::numeric, 4) as close_sum
    from daily_bars
    group by symbol
),

built_stats as (
    -- what the last build holds per symbol (nothing on a full build)
    {% if is_incremental() -%}
        select
            symbol,
            count(*) as n_bars,
            max(trade_date) as last_date,
            round(sum(close_price)::numeric, 4) as close_sum
        from {{ this }}
        group by symbol
    {%- else -%}
        select
            null::text as symbol,
            null::bigint as n_bars,
            null::date as last_date,
            null::numeric as close_sum
        where false
    {%- endif %}
),

changed_symbols as (
    select bar_stats.symbol
    from bar_stats
    left join built_stats
        on bar_stats.symbol = built_stats.symbol
    where
        built_stats.symbol is null
        or built_stats.n_bars <> bar_stats.n_bars
        or built_stats.last_date <> bar_stats.last_date
        or built_stats.close_sum is distinct from bar_stats.close_sum
),

histories as (
    select
        symbol,
        array_agg(trade_date order by trade_date) as trade_dates,
        array_agg(open_price order by trade_date) as open_prices,
        array_agg(high_price order by trade_date) as high_prices,
        array_agg(low_price order by trade_date) as low_prices,
        array_agg(close_price order by trade_date) as close_prices,
        array_agg(volume order by trade_date) as volumes
    from daily_bars
    where symbol in (select changed_symbols.symbol from changed_symbols)
    group by symbol
)

select
    h.symbol,
    u.trade_date,
    u.ord::integer as history_days,
    u.open_price,
    u.high_price,
    u.low_price,
    u.close_price,
    u.volume,
{%- for f in features %}
    u.{{ f }}{{ ',' if not loop.last }}
{%- endfor %}
from histories as h
cross join
    lateral quant.underlying_daily_features(
        h.open_prices, h.high_prices, h.low_prices, h.close_prices, h.volumes
    ) as f
cross join lateral unnest(
    h.trade_dates,
    h.open_prices,
    h.high_prices,
    h.low_prices,
    h.close_prices,
    h.volumes,
    {%- for f in features %}
        f.{{ f }}{{ ',' if not loop.last }}
    {%- endfor %}
) with ordinality as u (
    trade_date,
    open_price,
    high_price,
    low_price,
    close_price,
    volume,
    {%- for f in features %}
        {{ f }},
    {%- endfor %}
    ord
)
