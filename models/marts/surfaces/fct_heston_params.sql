-- The Heston parameter store: one calibration per (underlying, quote_date) with its fit
-- quality, method, time, warm or cold start and fallback flag; history is kept (one row per
-- day). quant.heston_calibrate (python_udfs.heston) fits the closing snapshot's clean OTM
-- quotes with |k| <= var heston_max_abs_k (0.5) and t >= var surface_min_t_years, as European
-- prices (American quotes are de-Americanised: Black-Scholes at their American implied vol).
-- Warm start: each day starts from the previous day's result, chained day by day in a
-- recursive CTE per underlying (on an incremental run the chain starts from the last stored
-- row before the rebuild window); a day whose calibration does not converge keeps the previous
-- parameters with is_fallback = true. The first day of an underlying is a cold start (seeded
-- global search, seed 0), so the chain is deterministic.

{%- set max_abs_k = var('heston_max_abs_k', 0.5) | float %}
{%- set min_options = var('heston_min_options', 8) | int %}

with recursive rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

quotes as (
    select
        q.underlying,
        q.quote_date,
        q.spot,
        q.strike::float8 as strike,
        q.t_years,
        q.rate,
        coalesce(q.implied_dividend_yield, 0.0) as q,
        q.is_call,
        case
            when q.exercise_style = 'E' then q.mid::float8
            else quant.bs_price(
                    q.spot, q.strike::float8, q.t_years, q.rate,
                    coalesce(q.implied_dividend_yield, 0.0), q.iv_mid, q.is_call
                )
        end as price
    from {{ ref('int_option_surface_quotes') }} as q
    where
        q.quote_ts >= (select rebuild_window.from_ts from rebuild_window)
        {{ watch_list_filter('q.underlying') }}
        and q.is_otm
        and abs(q.log_moneyness) <= {{ max_abs_k }}
        and q.rate is not null
),

surfaces as (
    select
        underlying,
        quote_date,
        min(spot) as spot,
        count(*) as n_options,
        array_agg(strike order by t_years, strike) as strikes,
        array_agg(t_years order by t_years, strike) as t,
        array_agg(rate order by t_years, strike) as r,
        array_agg(q order by t_years, strike) as q,
        array_agg(price order by t_years, strike) as prices,
        array_agg(is_call order by t_years, strike) as is_call,
        row_number() over (partition by underlying order by quote_date) as day_index
    from quotes
    where price > 0
    group by underlying, quote_date
    having count(*) >= {{ min_options }}
),

previous as (
    -- the last stored parameters before the rebuild window (incremental runs only)
    {%- if is_incremental() %}
        select distinct on (h.underlying)
            h.underlying,
            h.params
        from {{ this }} as h
        cross join rebuild_window as w
        where h.quote_date < (w.from_ts at time zone '{{ var("market_timezone") }}')::date
        order by h.underlying asc, h.quote_date desc
    {%- else %}
        select
            null::text as underlying,
            null::jsonb as params
        where false
    {%- endif %}
),

chain as (
    select
        s.underlying,
        s.quote_date,
        s.day_index,
        s.n_options,
        quant.heston_calibrate(
            s.spot, s.strikes, s.t, s.r, s.q, s.prices, s.is_call, p.params, 0
        ) as fit
    from surfaces as s
    left join previous as p on s.underlying = p.underlying
    where s.day_index = 1
    union all
    select
        s.underlying,
        s.quote_date,
        s.day_index,
        s.n_options,
        quant.heston_calibrate(
            s.spot, s.strikes, s.t, s.r, s.q, s.prices, s.is_call, c.fit, 0
        ) as fit
    from chain as c
    inner join surfaces as s
        on
            c.underlying = s.underlying
            and s.day_index = c.day_index + 1
)

select
    underlying,
    quote_date,
    n_options,
    (fit ->> 'kappa')::float8 as kappa,
    (fit ->> 'theta')::float8 as theta,
    (fit ->> 'sigma')::float8 as sigma,
    (fit ->> 'rho')::float8 as rho,
    (fit ->> 'v0')::float8 as v0,
    100.0 * (fit ->> 'rmse_iv')::float8 as rmse_iv_points,
    100.0 * (fit ->> 'max_iv_error')::float8 as max_iv_error_points,
    (fit ->> 'converged')::boolean as is_converged,
    (fit ->> 'feller')::boolean as is_feller_satisfied,
    (fit ->> 'fallback')::boolean as is_fallback,
    fit ->> 'start' as start_kind,
    fit ->> 'method' as method,
    (fit ->> 'iterations')::int as iterations,
    (fit ->> 'seconds')::float8 as calibration_seconds,
    fit ->> 'message' as fit_message,
    jsonb_build_object(
        'kappa', fit -> 'kappa', 'theta', fit -> 'theta', 'sigma', fit -> 'sigma',
        'rho', fit -> 'rho', 'v0', fit -> 'v0'
    ) as params
from chain
