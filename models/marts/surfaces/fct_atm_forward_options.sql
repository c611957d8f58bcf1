-- IvyDB-style standardized at-the-money-forward options per (underlying, quote_date, days,
-- call/put): for each day of the standardized grid (10, 30, 60, 91, 122, 152, 182, 273, 365,
-- 547, 730) a call and a put struck at the forward S e^{(r - q) t}, implied vol from the day's
-- SVI surface at k = 0 (linear in ATM total variance between expiries, flat vol outside),
-- premium and the eight Black-Scholes greeks (quant.atm_forward_options). Rates: the day's
-- zero rates at its fitted expiries (as a curve in days); yield: their median parity yield.

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
        min(spot) as spot,
        array_agg(t_years order by t_years) as slice_t,
        array_agg(svi_a order by t_years) as a,
        array_agg(svi_b order by t_years) as b,
        array_agg(svi_rho order by t_years) as rho,
        array_agg(svi_m order by t_years) as m,
        array_agg(svi_sigma order by t_years) as sigma,
        array_agg(t_years * 365.0 order by t_years) as rate_days,
        array_agg(rate order by t_years) as rates,
        percentile_cont(0.5) within group (
            order by rate - ln(forward / spot) / t_years
        ) as q
    from slices
    where rate is not null
    group by underlying, quote_date
),

computed as materialized (
    select
        underlying,
        quote_date,
        spot,
        quant.atm_forward_options(
            slice_t, a, b, rho, m, sigma, spot, rate_days, rates, coalesce(q, 0.0)
        ) as o
    from surfaces
)

select
    c.underlying,
    c.quote_date,
    (c.o -> 'days' ->> g.i)::float8::int as days,
    (c.o -> 'is_call' ->> g.i)::boolean as is_call,
    (c.o -> 't' ->> g.i)::float8 as t_years,
    c.spot,
    (c.o -> 'forward' ->> g.i)::float8 as forward,
    (c.o -> 'strike' ->> g.i)::float8 as strike,
    (c.o -> 'rate' ->> g.i)::float8 as rate,
    (c.o -> 'iv' ->> g.i)::float8 as implied_vol,
    (c.o -> 'premium' ->> g.i)::float8 as premium,
    (c.o -> 'delta' ->> g.i)::float8 as delta,
    (c.o -> 'gamma' ->> g.i)::float8 as gamma,
    (c.o -> 'vega' ->> g.i)::float8 as vega,
    (c.o -> 'theta' ->> g.i)::float8 as theta,
    (c.o -> 'rho' ->> g.i)::float8 as rho,
    (c.o -> 'vanna' ->> g.i)::float8 as vanna,
    (c.o -> 'volga' ->> g.i)::float8 as volga,
    (c.o -> 'charm' ->> g.i)::float8 as charm,
    (c.o -> 'extrapolated' ->> g.i)::boolean as is_extrapolated
from computed as c
cross join lateral generate_series(0, jsonb_array_length(c.o -> 'iv') - 1) as g (i)
