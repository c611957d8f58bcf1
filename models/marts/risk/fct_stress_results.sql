{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns'
    )
}}

-- Stress P&L of the book at each as-of of fct_portfolio_risk, per scenario and per level
-- (total, underlying, position): instantaneous full revaluation (python_udfs.revaluation.
-- stress_test, no ageing) under the named scenarios crash (spot -20 %, implied vols +50 %
-- relative), vol_spike (-5 %, +100 %), black_swan (-30 %, +200 %), squeeze (+15 %, +30 %)
-- and the historical replays of the loaded data (scenario_kind historical): the worst 1-day
-- and 5-day windows of the equal-weighted spot return of the book's underlyings and the day
-- of the largest average ATM IV rise, each underlying moved by its own compounded spot return
-- and relative IV change over the window (window_start / window_end). Shocks: spot simple
-- return, vol relative change (per underlying for replays; the total row shows null then).
-- Incremental: rebuilds the as_of computed last.

with reports as (
    select
        r.as_of,
        r.report
    from {{ ref('fct_portfolio_risk') }} as r
    {% if is_incremental() -%}
        where r.as_of = (
                select r2.as_of from {{ ref('fct_portfolio_risk') }} as r2
                order by r2.computed_at desc limit 1
            )
    {%- endif %}
),

scenarios as (
    select
        r.as_of,
        s.value ->> 'scenario' as scenario,
        s.value ->> 'kind' as scenario_kind,
        s.value -> 'spot_shock' as spot_shock,
        s.value -> 'vol_shock' as vol_shock,
        (s.value ->> 'window_start')::date as window_start,
        (s.value ->> 'window_end')::date as window_end,
        (s.value ->> 'pnl')::float8 as pnl
    from reports as r
    cross join lateral jsonb_array_elements(r.report -> 'stress') as s (value)
),

underlyings as (
    select
        r.as_of,
        u.ord,
        u.value ->> 'underlying' as underlying,
        u.value -> 'stress' as stress
    from reports as r
    cross join
        lateral jsonb_array_elements(r.report -> 'underlyings')
        with ordinality as u (value, ord)
),

positions as (
    select
        r.as_of,
        p.value ->> 'instrument' as instrument,
        p.value ->> 'underlying' as underlying,
        p.value -> 'stress' as stress
    from reports as r
    cross join lateral jsonb_array_elements(r.report -> 'positions') as p (value)
)

select
    s.as_of,
    s.scenario,
    s.scenario_kind,
    'total' as aggregation_level,
    'total' as level_key,
    null as underlying,
    case when jsonb_typeof(s.spot_shock) = 'number' then (s.spot_shock #>> '{}')::float8 end
        as spot_shock,
    case when jsonb_typeof(s.vol_shock) = 'number' then (s.vol_shock #>> '{}')::float8 end
        as vol_shock,
    s.window_start,
    s.window_end,
    s.pnl
from scenarios as s
union all
select
    s.as_of,
    s.scenario,
    s.scenario_kind,
    'underlying' as aggregation_level,
    u.underlying as level_key,
    u.underlying,
    case
        when jsonb_typeof(s.spot_shock) = 'array' then (s.spot_shock ->> (u.ord - 1)::int)::float8
        else (s.spot_shock #>> '{}')::float8
    end as spot_shock,
    case
        when jsonb_typeof(s.vol_shock) = 'array' then (s.vol_shock ->> (u.ord - 1)::int)::float8
        else (s.vol_shock #>> '{}')::float8
    end as vol_shock,
    s.window_start,
    s.window_end,
    (u.stress ->> s.scenario)::float8 as pnl
from scenarios as s
inner join underlyings as u on s.as_of = u.as_of
union all
select
    s.as_of,
    s.scenario,
    s.scenario_kind,
    'position' as aggregation_level,
    p.instrument as level_key,
    p.underlying,
    null as spot_shock,
    null as vol_shock,
    s.window_start,
    s.window_end,
    (p.stress ->> s.scenario)::float8 as pnl
from scenarios as s
inner join positions as p on s.as_of = p.as_of
