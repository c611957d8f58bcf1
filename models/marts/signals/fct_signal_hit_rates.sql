{{
    config(
        materialized='table',
        post_hook="{{ make_hypertable('as_of', '365 days') }}"
    )
}}

-- Point-in-time historical hit rates per (as_of, strategy, direction, strength_bucket), for
-- the nightly ranking: computed ONLY from signals whose 20-trading-day forward window ended
-- on or before as_of (fct_signal_outcomes.fwd_date_20d <= as_of), so a row of date D uses
-- data up to D. Expanding window (every closed signal since the first). One row per exchange
-- session (stg_ref__trading_calendars) from the first window close to the last date with
-- options data, for every group with at least one closed signal. Exit signals (no side) count
-- in n_signals but not in the hit rates.

with closed as (
    select
        o.strategy,
        o.direction,
        o.strength_bucket,
        o.fwd_date_20d as closed_on,
        count(*) as n_signals,
        count(o.hit_5d) as n_eval_5d,
        count(*) filter (where o.hit_5d) as n_hits_5d,
        count(o.hit_20d) as n_eval_20d,
        count(*) filter (where o.hit_20d) as n_hits_20d,
        count(o.fwd_return_5d) as n_ret_5d,
        sum(o.fwd_return_5d) as sum_ret_5d,
        count(o.fwd_return_20d) as n_ret_20d,
        sum(o.fwd_return_20d) as sum_ret_20d,
        count(o.outcome_5d) filter (where o.sign <> 0) as n_out_5d,
        sum(o.sign * o.outcome_5d) filter (where o.sign <> 0) as sum_out_5d,
        count(o.outcome_20d) filter (where o.sign <> 0) as n_out_20d,
        sum(o.sign * o.outcome_20d) filter (where o.sign <> 0) as sum_out_20d
    from {{ ref('fct_signal_outcomes') }} as o
    where o.fwd_date_20d is not null
    group by o.strategy, o.direction, o.strength_bucket, o.fwd_date_20d
),

sessions as (
    -- exchange sessions, plus any date a window closed on (a bar off the calendar)
    select c.session_date
    from {{ ref('stg_ref__trading_calendars') }} as c
    where
        c.session_date >= (select min(closed.closed_on) from closed)
        and c.session_date <= (
            select max(f.trade_date) from {{ ref('fct_options_features') }} as f
        )
    union
    select closed.closed_on from closed
),

groups as (
    select distinct
        strategy,
        direction,
        strength_bucket
    from closed
),

running as (
    select
        s.session_date as as_of,
        g.strategy,
        g.direction,
        g.strength_bucket,
        sum(coalesce(c.n_signals, 0)) over w as n_signals,
        sum(coalesce(c.n_eval_5d, 0)) over w as n_eval_5d,
        sum(coalesce(c.n_hits_5d, 0)) over w as n_hits_5d,
        sum(coalesce(c.n_eval_20d, 0)) over w as n_eval_20d,
        sum(coalesce(c.n_hits_20d, 0)) over w as n_hits_20d,
        sum(coalesce(c.n_ret_5d, 0)) over w as n_ret_5d,
        sum(c.sum_ret_5d) over w as sum_ret_5d,
        sum(coalesce(c.n_ret_20d, 0)) over w as n_ret_20d,
        sum(c.sum_ret_20d) over w as sum_ret_20d,
        sum(coalesce(c.n_out_5d, 0)) over w as n_out_5d,
        sum(c.sum_out_5d) over w as sum_out_5d,
        sum(coalesce(c.n_out_20d, 0)) over w as n_out_20d,
        sum(c.sum_out_20d) over w as sum_out_20d
    from sessions as s
    cross join groups as g
    left join closed as c
        on
            g.strategy = c.strategy
            and g.direction = c.direction
            and g.strength_bucket = c.strength_bucket
            and s.session_date = c.closed_on
    window w as (
        partition by g.strategy, g.direction, g.strength_bucket
        order by s.session_date
    )
)

select
    as_of,
    strategy,
    direction,
    strength_bucket,
    n_signals::int as n_signals,
    (n_hits_5d::float8 / nullif(n_eval_5d, 0)) as hit_rate_5d,
    (n_hits_20d::float8 / nullif(n_eval_20d, 0)) as hit_rate_20d,
    (sum_ret_5d / nullif(n_ret_5d, 0))::float8 as mean_fwd_return_5d,
    (sum_ret_20d / nullif(n_ret_20d, 0))::float8 as mean_fwd_return_20d,
    (sum_out_5d / nullif(n_out_5d, 0))::float8 as mean_signed_outcome_5d,
    (sum_out_20d / nullif(n_out_20d, 0))::float8 as mean_signed_outcome_20d,
    n_eval_20d::int as n_evaluated_20d
from running
where n_signals > 0
