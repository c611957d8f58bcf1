-- One arbitrage-free SSVI surface (Gatheral & Jacquier 2014) per (underlying, quote_date),
-- the calendar-consistent alternative to the per-expiry SVI slices: quant.ssvi_fit
-- (python_udfs.ssvi.ssvi_fit) over all expiries of the closing snapshot's clean OTM quotes
-- with at least var ssvi_min_quotes_per_expiry quotes, power-law phi, one rho, ATM total
-- variance theta per expiry non-decreasing in t; 0 < gamma <= 1/2 and eta (1 + |rho|) <= 2
-- exclude static arbitrage. The per-expiry thetas are stored as arrays aligned with
-- expiries_years.

{%- set min_quotes = var('ssvi_min_quotes_per_expiry', 3) | int %}
{%- set min_expiries = var('ssvi_min_expiries', 2) | int %}

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

quotes as (
    select
        q.*,
        count(*) over (
            partition by q.underlying, q.quote_date, q.expiration
        ) as n_in_expiry
    from {{ ref('int_option_surface_quotes') }} as q
    where
        q.quote_ts >= (select rebuild_window.from_ts from rebuild_window)
        {{ watch_list_filter('q.underlying') }}
        and q.is_otm
),

surfaces as (
    select
        underlying,
        quote_date,
        min(quote_ts) as quote_ts,
        min(spot) as spot,
        count(*) as n_quotes,
        count(distinct expiration) as n_expiries,
        array_agg(log_moneyness order by t_years, log_moneyness) as k,
        array_agg(total_variance order by t_years, log_moneyness) as w,
        array_agg(t_years order by t_years, log_moneyness) as t,
        array_agg(fit_weight order by t_years, log_moneyness) as weights
    from quotes
    where n_in_expiry >= {{ min_quotes }}
    group by underlying, quote_date
),

fitted as materialized (
    select
        surfaces.*,
        case
            when surfaces.n_expiries >= {{ min_expiries }}
                then quant.ssvi_fit(surfaces.k, surfaces.w, surfaces.t, surfaces.weights)
        end as fit
    from surfaces
)

select
    underlying,
    quote_date,
    quote_ts,
    spot,
    n_quotes,
    n_expiries,
    (fit ->> 'rho')::float8 as ssvi_rho,
    (fit ->> 'eta')::float8 as ssvi_eta,
    (fit ->> 'gamma')::float8 as ssvi_gamma,
    array(
        select e::float8 from jsonb_array_elements_text(fitted.fit -> 'expiries') as e
    ) as expiries_years,
    array(
        select th::float8 from jsonb_array_elements_text(fitted.fit -> 'theta') as th
    ) as theta,
    (fit ->> 'rmse')::float8 as rmse_total_variance,
    100.0 * (fit ->> 'rmse_vol')::float8 as rmse_vol_points,
    (fit ->> 'min_g')::float8 as min_durrleman_g,
    (fit ->> 'butterfly_ok')::boolean as is_butterfly_free,
    (fit ->> 'calendar_ok')::boolean as is_calendar_free,
    (fit ->> 'converged')::boolean as is_converged,
    (fit ->> 'iterations')::int as iterations,
    case
        when n_expiries < {{ min_expiries }} then 'too_few_expiries'
        when fit ->> 'rho' is null then 'fit_failed'
        else 'ok'
    end as fit_status,
    fit ->> 'message' as fit_message
from fitted
