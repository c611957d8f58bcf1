{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['underlying', 'quote_date'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('quote_ts', '7 days') }}"
    )
}}

-- The quotes every surface model fits: per (underlying, quote_date), the day's closing
-- snapshot (the last quote_ts with clean quotes), clean quotes only (is_quality_ok), with the
-- total implied variance, the fit weight and is_otm (puts below the forward, calls at or above
-- it: the side the smile fits use). Point in time: a row uses that snapshot only.
-- Incremental: the trailing `incremental_lookback_days` dates are rebuilt (delete+insert).

{%- set min_t = var('surface_min_t_years', 0.0055) | float %}

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

clean as (
    select q.*
    from {{ ref('int_option_quotes_iv') }} as q
    where
        q.quote_ts >= (select rebuild_window.from_ts from rebuild_window)
        {{ watch_list_filter('q.underlying') }}
        and q.is_quality_ok
        and q.t_years >= {{ min_t }}
),

snapshot as (
    select
        underlying,
        quote_date,
        max(quote_ts) as quote_ts
    from clean
    group by underlying, quote_date
)

select
    q.underlying,
    q.quote_date,
    q.quote_ts,
    q.expiration,
    q.settlement_ts,
    q.t_years,
    q.contract_symbol,
    q.strike,
    q.option_right,
    q.option_right = 'C' as is_call,
    q.exercise_style,
    q.spot,
    q.forward,
    q.rate,
    q.implied_dividend_yield,
    q.log_moneyness,
    q.bid,
    q.ask,
    q.mid,
    q.relative_spread,
    q.iv_bid,
    q.iv_mid,
    q.iv_ask,
    q.delta,
    q.vega,
    q.iv_mid * q.iv_mid * q.t_years as total_variance,
    (q.option_right = 'C' and q.log_moneyness >= 0)
    or (q.option_right = 'P' and q.log_moneyness < 0) as is_otm,
    1.0 / greatest(coalesce(q.iv_ask - q.iv_bid, 0.05), 0.002) as fit_weight
from clean as q
inner join snapshot as s
    on
        q.underlying = s.underlying
        and q.quote_date = s.quote_date
        and q.quote_ts = s.quote_ts
