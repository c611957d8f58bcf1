-- Dupire local volatility per (underlying, quote_date, k, days) from the day's fitted SVI
-- slices (fct_svi_slices, fit_status ok): quant.local_vol_grid (python_udfs.localvol), in
-- Gatheral's total-variance form with analytic SVI k-derivatives and the interpolation's
-- analytic dw/dt (total variance linear in t at fixed k between slices). Grid: log-forward
-- moneyness var local_vol_k_nodes x maturities var local_vol_days. Null where the local
-- variance is undefined (non-positive denominator or decreasing total variance).
-- quant.local_vol_mc_price prices a European option under this local vol by Monte Carlo.

{%- set k_nodes = var('local_vol_k_nodes', [-0.5, -0.4, -0.3, -0.2, -0.15, -0.1, -0.05, 0.0,
                                           0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5]) %}
{%- set days = var('local_vol_days', [10, 30, 60, 91, 182, 365, 730]) %}

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
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
        array_agg(svi_sigma order by t_years) as sigma
    from {{ ref('fct_svi_slices') }}
    where
        quote_date >= {{ rebuild_from_date() }}
        {{ watch_list_filter('underlying') }}
        and fit_status = 'ok'
    group by underlying, quote_date
),

computed as materialized (
    select
        underlying,
        quote_date,
        n_slices,
        quant.local_vol_grid(
            array[{{ k_nodes | join(', ') }}]::float8[],
            array(
                select d.d / 365.0 from unnest(array[{{ days | join(', ') }}]::float8[]) as d (d)
            ),
            slice_t, a, b, rho, m, sigma
        ) as grid
    from surfaces
)

select
    c.underlying,
    c.quote_date,
    (c.grid -> 'k' ->> ik.i)::float8 as log_moneyness,
    round((c.grid -> 't' ->> it.i)::numeric * 365)::int as days,
    (c.grid -> 't' ->> it.i)::float8 as t_years,
    (c.grid -> 'local_vol' -> ik.i ->> it.i)::float8 as local_vol,
    c.n_slices
from computed as c
cross join lateral generate_series(0, jsonb_array_length(c.grid -> 'k') - 1) as ik (i)
cross join lateral generate_series(0, jsonb_array_length(c.grid -> 't') - 1) as it (i)
