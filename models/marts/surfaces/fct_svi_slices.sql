-- One arbitrage-free raw SVI slice per (underlying, quote_date, expiration), fitted to the
-- day's closing snapshot of clean out-of-the-money quotes (int_option_surface_quotes, is_otm)
-- by quant.svi_fit (python_udfs.svi.svi_fit): total variance vs log-forward moneyness,
-- weighted by 1 / IV bid-ask width. Fitted slices are free of butterfly arbitrage on
-- |k| <= 1.5 by construction (repaired = true when the constrained re-fit was needed). The
-- calendar check compares each slice with the previous expiry of the same day: total
-- variance must not decrease with expiry at fixed k, over the moneyness range the two slices'
-- quotes cover (beyond it both smiles are extrapolations; fct_ssvi_surfaces is the
-- calendar-consistent surface). Slices with fewer than var
-- svi_min_quotes quotes are kept with fit_status = 'too_few_quotes' and no parameters.

{%- set min_quotes = var('svi_min_quotes', 5) | int %}

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

slices as (
    select
        underlying,
        quote_date,
        expiration,
        min(quote_ts) as quote_ts,
        min(t_years) as t_years,
        avg(forward) as forward,
        min(spot) as spot,
        avg(rate) as rate,
        count(*) as n_quotes,
        min(log_moneyness) as k_min,
        max(log_moneyness) as k_max,
        array_agg(log_moneyness order by log_moneyness) as k,
        array_agg(total_variance order by log_moneyness) as w,
        array_agg(fit_weight order by log_moneyness) as weights
    from {{ ref('int_option_surface_quotes') }}
    where
        quote_ts >= (select rebuild_window.from_ts from rebuild_window)
        {{ watch_list_filter('underlying') }}
        and is_otm
    group by underlying, quote_date, expiration
),

fitted as materialized (
    select
        slices.*,
        case
            when slices.n_quotes >= {{ min_quotes }}
                then quant.svi_fit(slices.k, slices.w, slices.weights, slices.t_years)
        end as fit
    from slices
),

params as (
    select
        underlying,
        quote_date,
        expiration,
        quote_ts,
        t_years,
        forward,
        spot,
        rate,
        n_quotes,
        k_min,
        k_max,
        fit,
        (fit ->> 'a')::float8 as svi_a,
        (fit ->> 'b')::float8 as svi_b,
        (fit ->> 'rho')::float8 as svi_rho,
        (fit ->> 'm')::float8 as svi_m,
        (fit ->> 'sigma')::float8 as svi_sigma
    from fitted
),

with_previous as (
    select
        *,
        lag(t_years) over slice_order as prev_t,
        lag(svi_a) over slice_order as prev_a,
        lag(svi_b) over slice_order as prev_b,
        lag(svi_rho) over slice_order as prev_rho,
        lag(svi_m) over slice_order as prev_m,
        lag(svi_sigma) over slice_order as prev_sigma,
        lag(k_min) over slice_order as prev_k_min,
        lag(k_max) over slice_order as prev_k_max
    from params
    where svi_a is not null
    window slice_order as (partition by underlying, quote_date order by t_years)
),

calendar as materialized (
    select
        underlying,
        quote_date,
        expiration,
        quant.svi_calendar_violations(
            array[prev_t, t_years],
            array[prev_a, svi_a],
            array[prev_b, svi_b],
            array[prev_rho, svi_rho],
            array[prev_m, svi_m],
            array[prev_sigma, svi_sigma],
            least(prev_k_min, k_min),
            greatest(prev_k_max, k_max)
        ) as check_result
    from with_previous
    where prev_t is not null
)

select
    p.underlying,
    p.quote_date,
    p.expiration,
    p.quote_ts,
    p.t_years,
    p.forward,
    p.spot,
    p.rate,
    p.n_quotes,
    p.k_min,
    p.k_max,
    p.svi_a,
    p.svi_b,
    p.svi_rho,
    p.svi_m,
    p.svi_sigma,
    (p.fit ->> 'rmse')::float8 as rmse_total_variance,
    100.0 * (p.fit ->> 'rmse_vol')::float8 as rmse_vol_points,
    (p.fit ->> 'iterations')::int as iterations,
    (p.fit ->> 'min_g')::float8 as min_durrleman_g,
    (p.fit ->> 'min_w')::float8 as min_total_variance,
    (p.fit ->> 'butterfly_ok')::boolean as is_butterfly_free,
    (p.fit ->> 'repaired')::boolean as is_repaired,
    coalesce((c.check_result ->> 'count')::int, 0) as calendar_violation_points,
    coalesce((c.check_result ->> 'max_violation')::float8, 0.0) as calendar_max_violation,
    coalesce((c.check_result ->> 'count')::int, 0) = 0 as is_calendar_free,
    case
        when p.n_quotes < {{ min_quotes }} then 'too_few_quotes'
        when p.svi_a is null then 'fit_failed'
        else 'ok'
    end as fit_status,
    p.fit ->> 'message' as fit_message
from params as p
left join calendar as c
    on
        p.underlying = c.underlying
        and p.quote_date = c.quote_date
        and p.expiration = c.expiration
