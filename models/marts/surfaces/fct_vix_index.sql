-- Cboe-VIX-style model-free implied volatility index per (underlying, quote_date), from the
-- day's closing snapshot of the whole chain (zero bids included: the white paper's
-- two-consecutive-zero-bids stop needs them). One quant.vix_index call per snapshot
-- (python_udfs.vix.vix_index): near/next terms around var vix_target_days (default 30),
-- minute-precision time to settlement (AM/PM honoured upstream), forward from the strike
-- with the smallest |C - P|, K0, OTM mids with dK weights, interpolation to the target.
-- Sources without a two-sided market (end-of-day closes only) use the last price as both
-- bid and ask; price_basis says which was used. The per-strike contributions are kept in
-- `details` and unnested by fct_vix_contributions. Point in time: one snapshot per row.

{%- set target_days = var('vix_target_days', 30) %}

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

chain as (
    select
        q.underlying,
        q.quote_date,
        q.quote_ts,
        q.t_years,
        q.strike,
        q.option_right = 'C' as is_call,
        q.rate,
        s.last_price,
        q.bid,
        q.ask
    from {{ ref('int_option_quotes_iv') }} as q
    inner join {{ ref('stg_raw__option_quotes') }} as s
        on
            q.contract_symbol = s.contract_symbol
            and q.quote_ts = s.quote_ts
    where
        q.quote_ts >= (select rebuild_window.from_ts from rebuild_window)
        {{ watch_list_filter('q.underlying') }}
        and s.quote_ts >= (select rebuild_window.from_ts from rebuild_window)
        and q.t_years > 0
        and q.rate is not null
),

snapshot as (
    select
        underlying,
        quote_date,
        max(quote_ts) as quote_ts
    from chain
    group by underlying, quote_date
),

priced as (
    select
        c.*,
        bool_or(c.ask is not null) over (
            partition by c.underlying, c.quote_date
        ) as has_quotes
    from chain as c
    inner join snapshot as s
        on
            c.underlying = s.underlying
            and c.quote_date = s.quote_date
            and c.quote_ts = s.quote_ts
),

inputs as (
    select
        underlying,
        quote_date,
        min(quote_ts) as quote_ts,
        bool_or(has_quotes) as has_quotes,
        count(*) as n_quotes,
        array_agg(t_years order by t_years, strike, is_call) as t,
        array_agg(strike::float8 order by t_years, strike, is_call) as strike,
        array_agg(is_call order by t_years, strike, is_call) as is_call,
        array_agg(
            coalesce(case when has_quotes then bid else last_price end, 0)::float8
            order by t_years, strike, is_call
        ) as bid,
        array_agg(
            coalesce(case when has_quotes then ask else last_price end, 0)::float8
            order by t_years, strike, is_call
        ) as ask,
        array_agg(rate order by t_years, strike, is_call) as r
    from priced
    where has_quotes or last_price is not null
    group by underlying, quote_date
),

computed as materialized (
    select
        underlying,
        quote_date,
        quote_ts,
        n_quotes,
        case when has_quotes then 'bid_ask' else 'last' end as price_basis,
        quant.vix_index(t, strike, is_call, bid, ask, r, {{ target_days }}) as details
    from inputs
)

select
    underlying,
    quote_date,
    quote_ts,
    {{ target_days }}::float8 as target_days,
    (details ->> 'index')::float8 as vix_index,
    (details ->> 'variance')::float8 as variance,
    details ->> 'mode' as interpolation_mode,
    (details ->> 'near_days')::float8 as near_days,
    (details ->> 'next_days')::float8 as next_days,
    (details ->> 'near_forward')::float8 as near_forward,
    (details ->> 'next_forward')::float8 as next_forward,
    (details ->> 'near_k0')::float8 as near_k0,
    (details ->> 'next_k0')::float8 as next_k0,
    (details ->> 'near_variance')::float8 as near_variance,
    (details ->> 'next_variance')::float8 as next_variance,
    (details ->> 'near_n_strikes')::int as near_n_strikes,
    (details ->> 'next_n_strikes')::int as next_n_strikes,
    coalesce((details ->> 'thin')::boolean, true) as is_thin,
    coalesce((details ->> 'extrapolated')::boolean, false) as is_extrapolated,
    coalesce((details ->> 'standard_window')::boolean, false) as is_standard_window,
    n_quotes,
    price_basis,
    array(select jsonb_array_elements_text(details -> 'reasons')) as reasons,
    details
from computed
