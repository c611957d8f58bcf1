{{
    config(
        materialized='table',
        pre_hook="{{ warm_quant_udfs() }}",
        post_hook="{{ make_hypertable('as_of', '365 days') }}"
    )
}}

-- EVALUATION table (forward-looking; never an input of a signal): per (as_of, strategy,
-- direction, strength_bucket) the forward quantities of that day's signals
-- (fct_signal_outcomes: 5 and 20 trading days of the underlying's own bars), hit counts and
-- rates, means, and the day's information coefficients of the strategy (Spearman rank
-- correlation over all its signals of the day of score = sign x strength with outcome_h:
-- quant.rank_correlation; the same value on every row of the (as_of, strategy); null with
-- fewer than 3 evaluated signals). Strength buckets [0,0.33), [0.33,0.66), [0.66,1].
-- Two feature signals of the swing-trading seed are evaluated alongside (strength_bucket
-- 'all', outcome = the underlying's forward return): 'pcr_extreme' (pcr_oi < 0.7: calls
-- crowded, contrarian 'short'; pcr_oi > 1.0: puts crowded, contrarian 'long'; hit = the
-- forward return has the contrarian sign: the seed's PCR-extreme accuracy) and 'gamma_zone'
-- (|max_pain_distance_pct| < 0.05: 'long' when max pain is above spot, 'short' below; hit =
-- the forward return has the sign of the distance, i.e. price moved toward max pain: the
-- seed's gamma-zone accuracy, with max pain the payout-minimising strike, not the seed's
-- largest-|GEX| strike).

with outcomes as (
    select
        o.as_of,
        o.strategy,
        o.underlying,
        coalesce(o.pair_id, '') || '|' || coalesce(o.instrument, '') as line_key,
        o.direction,
        o.strength_bucket,
        o.sign,
        o.strength,
        o.expected_edge,
        o.fwd_return_5d,
        o.fwd_return_20d,
        o.fwd_rv_5d,
        o.fwd_rv_20d,
        o.fwd_iv_change_5d,
        o.fwd_iv_change_20d,
        o.outcome_5d,
        o.outcome_20d,
        o.hit_5d,
        o.hit_20d
    from {{ ref('fct_signal_outcomes') }} as o
),

bars as (
    select
        d.symbol,
        d.trade_date,
        d.close_price::float8 as close_price,
        lead(d.close_price::float8, 5) over by_symbol as close_5d,
        lead(d.close_price::float8, 20) over by_symbol as close_20d
    from {{ ref('int_underlying_daily_features') }} as d
    where d.symbol in (select distinct f.underlying from {{ ref('fct_options_features') }} as f)
    window by_symbol as (partition by d.symbol order by d.trade_date)
),

features as (
    select
        f.trade_date as as_of,
        f.underlying,
        f.pcr_oi,
        f.max_pain_distance_pct,
        ln(b.close_5d / b.close_price) as fwd_return_5d,
        ln(b.close_20d / b.close_price) as fwd_return_20d
    from {{ ref('fct_options_features') }} as f
    inner join bars as b
        on
            f.underlying = b.symbol
            and f.trade_date = b.trade_date
),

feature_signals as (
    select
        x.as_of,
        'pcr_extreme' as strategy,
        x.underlying,
        case when x.pcr_oi < 0.7 then 'short' else 'long' end as direction,
        x.fwd_return_5d,
        x.fwd_return_20d
    from features as x
    where x.pcr_oi < 0.7 or x.pcr_oi > 1.0
    union all
    select
        x.as_of,
        'gamma_zone' as strategy,
        x.underlying,
        case when x.max_pain_distance_pct > 0 then 'long' else 'short' end as direction,
        x.fwd_return_5d,
        x.fwd_return_20d
    from features as x
    where abs(x.max_pain_distance_pct) < 0.05 and x.max_pain_distance_pct <> 0
),

feature_outcomes as (
    select
        s.as_of,
        s.strategy,
        s.underlying,
        ''::text as line_key,
        s.direction,
        'all'::text as strength_bucket,
        case when s.direction = 'long' then 1 else -1 end as sign,
        1.0::float8 as strength,
        null::float8 as expected_edge,
        s.fwd_return_5d,
        s.fwd_return_20d,
        null::float8 as fwd_rv_5d,
        null::float8 as fwd_rv_20d,
        null::float8 as fwd_iv_change_5d,
        null::float8 as fwd_iv_change_20d,
        s.fwd_return_5d as outcome_5d,
        s.fwd_return_20d as outcome_20d,
        case
            when s.fwd_return_5d is not null
                then (case when s.direction = 'long' then 1 else -1 end) * s.fwd_return_5d > 0
        end as hit_5d,
        case
            when s.fwd_return_20d is not null
                then (case when s.direction = 'long' then 1 else -1 end) * s.fwd_return_20d > 0
        end as hit_20d
    from feature_signals as s
),

all_outcomes as (
    select * from outcomes
    union all
    select * from feature_outcomes
),

ic as (
    select
        as_of,
        strategy,
        quant.rank_correlation(
            array_agg(coalesce(sign * strength, 'NaN') order by direction, underlying, line_key),
            array_agg(coalesce(outcome_5d, 'NaN') order by direction, underlying, line_key)
        ) as ic_5d,
        quant.rank_correlation(
            array_agg(coalesce(sign * strength, 'NaN') order by direction, underlying, line_key),
            array_agg(coalesce(outcome_20d, 'NaN') order by direction, underlying, line_key)
        ) as ic_20d
    from all_outcomes
    where sign <> 0
    group by as_of, strategy
    having count(outcome_5d) >= 3
),

grouped as (
    select
        as_of,
        strategy,
        direction,
        strength_bucket,
        count(*) as n_signals,
        count(hit_5d) as n_evaluated_5d,
        count(hit_20d) as n_evaluated_20d,
        count(fwd_return_5d) as n_returns_5d,
        count(fwd_return_20d) as n_returns_20d,
        count(*) filter (where hit_5d) as n_hits_5d,
        count(*) filter (where hit_20d) as n_hits_20d,
        avg(strength) as mean_strength,
        avg(expected_edge) as mean_expected_edge,
        avg(fwd_return_5d) as mean_fwd_return_5d,
        avg(fwd_return_20d) as mean_fwd_return_20d,
        avg(fwd_rv_5d) as mean_fwd_rv_5d,
        avg(fwd_rv_20d) as mean_fwd_rv_20d,
        avg(fwd_iv_change_5d) as mean_fwd_iv_change_5d,
        avg(fwd_iv_change_20d) as mean_fwd_iv_change_20d,
        avg(sign * outcome_5d) filter (where sign <> 0) as mean_signed_outcome_5d,
        avg(sign * outcome_20d) filter (where sign <> 0) as mean_signed_outcome_20d
    from all_outcomes
    group by as_of, strategy, direction, strength_bucket
)

select
    g.as_of,
    g.strategy,
    g.direction,
    g.strength_bucket,
    g.n_signals::int as n_signals,
    g.n_evaluated_5d::int as n_evaluated_5d,
    g.n_evaluated_20d::int as n_evaluated_20d,
    g.n_returns_5d::int as n_returns_5d,
    g.n_returns_20d::int as n_returns_20d,
    g.n_hits_5d::int as n_hits_5d,
    g.n_hits_20d::int as n_hits_20d,
    (g.n_hits_5d::float8 / nullif(g.n_evaluated_5d, 0)) as hit_rate_5d,
    (g.n_hits_20d::float8 / nullif(g.n_evaluated_20d, 0)) as hit_rate_20d,
    g.mean_strength::float8 as mean_strength,
    g.mean_expected_edge::float8 as mean_expected_edge,
    g.mean_fwd_return_5d::float8 as mean_fwd_return_5d,
    g.mean_fwd_return_20d::float8 as mean_fwd_return_20d,
    g.mean_fwd_rv_5d::float8 as mean_fwd_rv_5d,
    g.mean_fwd_rv_20d::float8 as mean_fwd_rv_20d,
    g.mean_fwd_iv_change_5d::float8 as mean_fwd_iv_change_5d,
    g.mean_fwd_iv_change_20d::float8 as mean_fwd_iv_change_20d,
    g.mean_signed_outcome_5d::float8 as mean_signed_outcome_5d,
    g.mean_signed_outcome_20d::float8 as mean_signed_outcome_20d,
    i.ic_5d,
    i.ic_20d
from grouped as g
left join ic as i
    on
        g.as_of = i.as_of
        and g.strategy = i.strategy
