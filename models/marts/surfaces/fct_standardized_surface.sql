-- The standardized volatility surface as OptionMetrics IvyDB defines it, per (underlying,
-- quote_date, days, delta): one quant.standardized_surface call per day's closing snapshot
-- (python_udfs.standardized.standardized_surface): vega-weighted Gaussian kernel smoothing of
-- the snapshot's clean implied vols over ln(days), call-equivalent delta and call/put, on
-- days {10, 30, 60, 91, 122, 152, 182, 273, 365, 547, 730} x call deltas 0.10..0.90 and put
-- deltas -0.10..-0.90, with each point's implied strike and premium. Rates: the snapshot's
-- own zero rates at its expiries (as a curve in days); dividend yield: the median implied
-- yield of the snapshot's expiries. Point in time: one snapshot per (underlying, date).

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

quotes as (
    select *
    from {{ ref('int_option_surface_quotes') }}
    where
        quote_ts >= (select rebuild_window.from_ts from rebuild_window)
        {{ watch_list_filter('underlying') }}
        and delta is not null
        and vega is not null
),

curve as (
    select
        underlying,
        quote_date,
        array_agg(t_years * 365.0 order by t_years) as rate_days,
        array_agg(rate order by t_years) as rates,
        percentile_cont(0.5) within group (
            order by implied_dividend_yield
        ) as q
    from (
        select distinct
            underlying,
            quote_date,
            t_years,
            rate,
            implied_dividend_yield
        from quotes
        where rate is not null
    ) as expiries
    group by underlying, quote_date
),

inputs as (
    select
        q.underlying,
        q.quote_date,
        min(q.quote_ts) as quote_ts,
        min(q.spot) as spot,
        count(*) as n_quotes,
        array_agg(q.t_years * 365.0 order by q.contract_symbol) as days_obs,
        array_agg(q.delta order by q.contract_symbol) as delta_obs,
        array_agg(q.is_call order by q.contract_symbol) as is_call_obs,
        array_agg(q.iv_mid order by q.contract_symbol) as iv_obs,
        array_agg(q.vega order by q.contract_symbol) as vega_obs
    from quotes as q
    group by q.underlying, q.quote_date
),

computed as materialized (
    select
        i.underlying,
        i.quote_date,
        i.quote_ts,
        i.spot,
        i.n_quotes,
        quant.standardized_surface(
            i.days_obs, i.delta_obs, i.is_call_obs, i.iv_obs, i.vega_obs, i.spot,
            c.rate_days, c.rates, coalesce(c.q, 0.0)
        ) as s
    from inputs as i
    inner join curve as c
        on
            i.underlying = c.underlying
            and i.quote_date = c.quote_date
)

select
    computed.underlying,
    computed.quote_date,
    computed.quote_ts,
    (computed.s -> 'days' ->> g.i)::float8::int as days,
    (computed.s -> 'delta' ->> g.i)::float8 as delta,
    (computed.s -> 'is_call' ->> g.i)::boolean as is_call,
    (computed.s -> 'iv' ->> g.i)::float8 as implied_vol,
    (computed.s -> 'strike' ->> g.i)::float8 as implied_strike,
    (computed.s -> 'premium' ->> g.i)::float8 as implied_premium,
    (computed.s -> 'forward' ->> g.i)::float8 as forward,
    (computed.s -> 'rate' ->> g.i)::float8 as rate,
    (computed.s -> 'dispersion' ->> g.i)::float8 as dispersion,
    (computed.s -> 'weight_sum' ->> g.i)::float8 as kernel_weight_sum,
    (computed.s -> 'n_effective' ->> g.i)::float8 as n_effective,
    computed.spot,
    computed.n_quotes
from computed
cross join lateral generate_series(0, jsonb_array_length(computed.s -> 'iv') - 1) as g (i)
