{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns'
    )
}}

-- Portfolio greeks at each as-of of fct_portfolio_risk, aggregated per position, per
-- underlying, per asset class and in total (`level`, `level_key`), contract multipliers
-- applied (python_udfs.revaluation.portfolio_greeks): model value (USD), delta (shares),
-- dollar delta (USD per 100 % move: delta x spot), gamma (shares per USD), dollar gamma (USD
-- change of the dollar delta per +1 % move: gamma x spot^2 x 0.01), vega (USD per vol
-- point), theta (USD per calendar day), rho (USD per rate point), and the Monte Carlo
-- component VaR 99 % 1 day (sums to the book's VaR). Incremental: rebuilds the as_of computed
-- last.

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

levels as (
    select
        r.as_of,
        'position' as aggregation_level,
        e.value ->> 'instrument' as level_key,
        e.value ->> 'underlying' as underlying,
        e.value as greeks
    from reports as r
    cross join lateral jsonb_array_elements(r.report -> 'positions') as e (value)
    union all
    select
        r.as_of,
        'underlying' as aggregation_level,
        e.value ->> 'underlying' as level_key,
        e.value ->> 'underlying' as underlying,
        e.value as greeks
    from reports as r
    cross join lateral jsonb_array_elements(r.report -> 'underlyings') as e (value)
    union all
    select
        r.as_of,
        'asset_class' as aggregation_level,
        e.value ->> 'asset_class' as level_key,
        null as underlying,
        e.value as greeks
    from reports as r
    cross join lateral jsonb_array_elements(r.report -> 'asset_classes') as e (value)
    union all
    select
        r.as_of,
        'total' as aggregation_level,
        'total' as level_key,
        null as underlying,
        r.report -> 'total' || jsonb_build_object(
            'component_var_99_1d', r.report -> 'var' -> 'mc' -> '99_1d' -> 'var'
        ) as greeks
    from reports as r
    where r.report -> 'total' <> '{}'::jsonb
)

select
    as_of,
    aggregation_level,
    level_key,
    underlying,
    (greeks ->> 'value')::float8 as model_value,
    (greeks ->> 'delta')::float8 as delta_shares,
    (greeks ->> 'dollar_delta')::float8 as dollar_delta,
    (greeks ->> 'gamma')::float8 as gamma_shares,
    (greeks ->> 'dollar_gamma')::float8 as dollar_gamma,
    (greeks ->> 'vega')::float8 as vega,
    (greeks ->> 'theta')::float8 as theta,
    (greeks ->> 'rho')::float8 as rho,
    (greeks ->> 'component_var_99_1d')::float8 as component_var_99_1d
from levels
