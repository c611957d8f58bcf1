-- One SABR smile per (underlying, quote_date, expiration) at fixed beta (var sabr_beta,
-- default 0.5), fitted by quant.sabr_fit (python_udfs.sabr.sabr_fit: Hagan et al. 2002
-- lognormal vols as published) to the closing snapshot's clean OTM mid implied vols of the
-- expiry. Slices with fewer than var sabr_min_quotes quotes keep fit_status too_few_quotes.

{%- set beta = var('sabr_beta', 0.5) | float %}
{%- set min_quotes = var('sabr_min_quotes', 4) | int %}

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
        count(*) as n_quotes,
        array_agg(strike::float8 order by strike) as strikes,
        array_agg(iv_mid order by strike) as vols
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
                then quant.sabr_fit(
                        slices.forward, slices.strikes, slices.t_years, slices.vols, {{ beta }}
                    )
        end as fit
    from slices
)

select
    underlying,
    quote_date,
    expiration,
    quote_ts,
    t_years,
    forward,
    n_quotes,
    {{ beta }}::float8 as sabr_beta,
    (fit ->> 'alpha')::float8 as sabr_alpha,
    (fit ->> 'rho')::float8 as sabr_rho,
    (fit ->> 'nu')::float8 as sabr_nu,
    100.0 * (fit ->> 'rmse')::float8 as rmse_vol_points,
    (fit ->> 'converged')::boolean as is_converged,
    (fit ->> 'iterations')::int as iterations,
    case
        when n_quotes < {{ min_quotes }} then 'too_few_quotes'
        when fit ->> 'alpha' is null then 'fit_failed'
        else 'ok'
    end as fit_status,
    fit ->> 'message' as fit_message
from fitted
