-- The ATM term structure per (underlying, quote_date) from the day's fitted SVI slices
-- (fct_svi_slices, fit_status ok): constant-maturity ATM-forward implied vols at 10, 20, 30,
-- 60, 90, 180 and 365 days and forward vols 30/20, 60/30, 90/60, 180/90 days
-- (quant.atm_term_structure: linear in ATM total variance between expiries, flat vol outside),
-- and the fit IV(days) = a days^b + c over the slices' own ATM vols (quant.term_structure_fit).

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

slices as (
    select *
    from {{ ref('fct_svi_slices') }}
    where
        quote_date >= {{ rebuild_from_date() }}
        {{ watch_list_filter('underlying') }}
        and fit_status = 'ok'
),

surfaces as (
    select
        underlying,
        quote_date,
        count(*) as n_slices,
        array_agg(t_years order by t_years) as slice_t,
        array_agg(svi_a order by t_years) as a,
        array_agg(svi_b order by t_years) as b,
        array_agg(svi_rho order by t_years) as rho,
        array_agg(svi_m order by t_years) as m,
        array_agg(svi_sigma order by t_years) as sigma,
        array_agg(t_years * 365.0 order by t_years) as slice_days,
        array_agg(
            sqrt(quant.svi_total_variance(0.0, svi_a, svi_b, svi_rho, svi_m, svi_sigma) / t_years)
            order by t_years
        ) as slice_atm_iv
    from slices
    group by underlying, quote_date
),

computed as materialized (
    select
        underlying,
        quote_date,
        n_slices,
        quant.atm_term_structure(slice_t, a, b, rho, m, sigma) as ts,
        quant.term_structure_fit(slice_days, slice_atm_iv) as fit
    from surfaces
)

select
    underlying,
    quote_date,
    n_slices,
    (ts -> 'atm_iv' ->> 0)::float8 as atm_iv_10d,
    (ts -> 'atm_iv' ->> 1)::float8 as atm_iv_20d,
    (ts -> 'atm_iv' ->> 2)::float8 as atm_iv_30d,
    (ts -> 'atm_iv' ->> 3)::float8 as atm_iv_60d,
    (ts -> 'atm_iv' ->> 4)::float8 as atm_iv_90d,
    (ts -> 'atm_iv' ->> 5)::float8 as atm_iv_180d,
    (ts -> 'atm_iv' ->> 6)::float8 as atm_iv_365d,
    (ts -> 'forward_vol' ->> 0)::float8 as forward_vol_30_20,
    (ts -> 'forward_vol' ->> 1)::float8 as forward_vol_60_30,
    (ts -> 'forward_vol' ->> 2)::float8 as forward_vol_90_60,
    (ts -> 'forward_vol' ->> 3)::float8 as forward_vol_180_90,
    coalesce((ts ->> 'n_negative_forward_variance')::int, 0) as n_negative_forward_variance,
    (ts -> 'extrapolated' ->> 0)::boolean as is_10d_extrapolated,
    (ts -> 'extrapolated' ->> 6)::boolean as is_365d_extrapolated,
    (fit ->> 'a')::float8 as term_fit_a,
    (fit ->> 'b')::float8 as term_fit_b,
    (fit ->> 'c')::float8 as term_fit_c,
    100.0 * (fit ->> 'rmse')::float8 as term_fit_rmse_vol_points,
    (fit ->> 'underdetermined')::boolean as is_term_fit_underdetermined,
    fit ->> 'method' as term_fit_method
from computed
