{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns'
    )
}}

-- Per-position risk of the book at each as-of of fct_portfolio_risk (unpacked from its
-- report): quantity, market mark and value, the day's P&L, the implied vol used and its
-- source, greeks with contract multipliers (dollar delta, dollar gamma per 1 %, vega per vol
-- point, theta per day, rho per point), the Euler component VaR / ES (sum to the book's) and
-- marginal VaR (per contract or share) of the Monte Carlo VaR at 95 / 99 %, 1 / 10 days, and
-- the stress P&L per scenario (jsonb). Incremental: rebuilds the as_of computed last.

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
)

select
    r.as_of,
    p.value ->> 'instrument' as instrument,
    p.value ->> 'kind' as instrument_kind,
    p.value ->> 'underlying' as underlying,
    (p.value ->> 'quantity')::float8 as quantity,
    (p.value ->> 'multiplier')::float8 as multiplier,
    (p.value ->> 'mark')::float8 as mark,
    (p.value ->> 'market_value')::float8 as market_value,
    (p.value ->> 'day_pnl')::float8 as day_pnl,
    (p.value ->> 'iv')::float8 as implied_vol,
    p.value ->> 'iv_source' as iv_source,
    (p.value ->> 'value')::float8 as model_value,
    (p.value ->> 'delta')::float8 as delta_shares,
    (p.value ->> 'dollar_delta')::float8 as dollar_delta,
    (p.value ->> 'gamma')::float8 as gamma_shares,
    (p.value ->> 'dollar_gamma')::float8 as dollar_gamma,
    (p.value ->> 'vega')::float8 as vega,
    (p.value ->> 'theta')::float8 as theta,
    (p.value ->> 'rho')::float8 as rho,
    (p.value ->> 'component_var_95_1d')::float8 as component_var_95_1d,
    (p.value ->> 'component_var_99_1d')::float8 as component_var_99_1d,
    (p.value ->> 'component_var_99_10d')::float8 as component_var_99_10d,
    (p.value ->> 'component_es_99_1d')::float8 as component_es_99_1d,
    (p.value ->> 'marginal_var_95_1d')::float8 as marginal_var_95_1d,
    (p.value ->> 'marginal_var_99_1d')::float8 as marginal_var_99_1d,
    (p.value ->> 'marginal_var_99_10d')::float8 as marginal_var_99_10d,
    p.value -> 'stress' as stress_pnl
from reports as r
cross join lateral jsonb_array_elements(r.report -> 'positions') as p (value)
