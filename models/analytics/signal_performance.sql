-- Analyst view of the signals' evaluation over every date: per (strategy, direction,
-- strength_bucket), the sums of marts.fct_signal_performance (hit rates over all evaluated
-- signals, means weighted by signal counts) and the strategy's information coefficients
-- averaged over the dates that have one. Forward-looking: an evaluation, never a signal input.

with daily_ic as (
    select distinct
        as_of,
        strategy,
        ic_5d,
        ic_20d
    from {{ ref('fct_signal_performance') }}
),

strategy_ic as (
    select
        strategy,
        avg(ic_5d) as mean_ic_5d,
        avg(ic_20d) as mean_ic_20d,
        count(ic_5d) as ic_days_5d,
        count(ic_20d) as ic_days_20d
    from daily_ic
    group by strategy
),

totals as (
    select
        strategy,
        direction,
        strength_bucket,
        min(as_of) as first_as_of,
        max(as_of) as last_as_of,
        sum(n_signals) as n_signals,
        sum(n_evaluated_5d) as n_evaluated_5d,
        sum(n_evaluated_20d) as n_evaluated_20d,
        sum(n_hits_5d) as n_hits_5d,
        sum(n_hits_20d) as n_hits_20d,
        sum(mean_fwd_return_5d * n_returns_5d) / nullif(sum(n_returns_5d), 0)
            as mean_fwd_return_5d,
        sum(mean_fwd_return_20d * n_returns_20d) / nullif(sum(n_returns_20d), 0)
            as mean_fwd_return_20d,
        sum(mean_signed_outcome_5d * n_evaluated_5d) / nullif(sum(n_evaluated_5d), 0)
            as mean_signed_outcome_5d,
        sum(mean_signed_outcome_20d * n_evaluated_20d) / nullif(sum(n_evaluated_20d), 0)
            as mean_signed_outcome_20d
    from {{ ref('fct_signal_performance') }}
    group by strategy, direction, strength_bucket
)

select
    t.strategy,
    t.direction,
    t.strength_bucket,
    t.first_as_of,
    t.last_as_of,
    t.n_signals::int as n_signals,
    t.n_evaluated_5d::int as n_evaluated_5d,
    t.n_evaluated_20d::int as n_evaluated_20d,
    (t.n_hits_5d::float8 / nullif(t.n_evaluated_5d, 0)) as hit_rate_5d,
    (t.n_hits_20d::float8 / nullif(t.n_evaluated_20d, 0)) as hit_rate_20d,
    t.mean_fwd_return_5d::float8 as mean_fwd_return_5d,
    t.mean_fwd_return_20d::float8 as mean_fwd_return_20d,
    t.mean_signed_outcome_5d::float8 as mean_signed_outcome_5d,
    t.mean_signed_outcome_20d::float8 as mean_signed_outcome_20d,
    i.mean_ic_5d::float8 as mean_ic_5d,
    i.mean_ic_20d::float8 as mean_ic_20d,
    i.ic_days_5d::int as ic_days_5d,
    i.ic_days_20d::int as ic_days_20d
from totals as t
left join strategy_ic as i
    on t.strategy = i.strategy
