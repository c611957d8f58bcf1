{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ warm_quant_udfs() }}",
            "set local max_parallel_workers_per_gather = 0"
        ]
    )
}}

-- depends_on: {{ ref('fct_risk_option_marks') }}
-- depends_on: {{ ref('fct_risk_factor_history') }}

{#- The as-of date: var risk_as_of (YYYY-MM-DD), else the latest session with option marks.
    Monte Carlo paths and seed: vars risk_mc_paths / risk_mc_seed, else ops.risk_parameters. -#}
{%- set as_of = var('risk_as_of', none) -%}
{%- set paths = var('risk_mc_paths', none) -%}
{%- set seed = var('risk_mc_seed', none) -%}

-- The portfolio risk of the book (ops.positions, netted per instrument over the accounts) at
-- one as-of date per run, history kept per as_of: one row with the book's size and value,
-- greeks (dollar delta, dollar gamma per 1 %, vega per vol point, theta per day, rho per
-- point), VaR and ES at 95 / 99 % over 1 and 10 trading days by full-revaluation Monte Carlo
-- (with standard errors), historical full revaluation (<= 252 days: ~60 in the demo) and the
-- delta-gamma-vega Cornish-Fisher approximation, the worst stress scenario, the day's P&L,
-- the limit metrics and the whole report (jsonb) that fct_portfolio_risk_positions,
-- fct_portfolio_greeks and fct_stress_results unpack. Computed by ops.portfolio_risk_report
-- (migration 009: ops.risk_book_inputs gathers the book and the market, the PL/Python kernel
-- risk.portfolio_risk_kernel computes). The book is the one held when the model runs: a
-- rebuilt past as_of revalues today's positions on that day's market.
-- Equity curve: equity = capital (ops.risk_parameters) + the cumulative daily P&L of the
-- books held on this and the earlier as_of rows already in the table; drawdown = 1 -
-- equity / its running peak (point in time: only rows before this as_of count). History is
-- built night by night, so a rebuilt past as_of leaves later rows' equity as they were.

with as_of as (
    select
        {% if as_of -%}
            '{{ as_of }}'::date
        {%- else -%}
            (select max(m.quote_date) from {{ ref('fct_risk_option_marks') }} as m)
        {%- endif %} as as_of
),

report as materialized (
    select
        as_of.as_of,
        ops.portfolio_risk_report(
            as_of.as_of,
            {{ paths if paths is not none else 'null' }}::integer,
            {{ seed if seed is not none else 'null' }}::bigint
        ) as report
    from as_of
    where as_of.as_of is not null
),

earlier as (
    -- the equity curve up to the previous as_of: cumulative P&L and its running peak (from
    -- daily_pnl alone, so rows written before these columns existed count too)
    {% if is_incremental() -%}
        select
            coalesce(sum(c.daily_pnl), 0)::float8 as cumulative_pnl,
            ops.risk_parameter('capital') + greatest(max(c.running_pnl), 0) as peak_equity
        from (
            select
                p.daily_pnl,
                sum(coalesce(p.daily_pnl, 0)) over (order by p.as_of) as running_pnl
            from {{ this }} as p
            inner join as_of on p.as_of < as_of.as_of
        ) as c
    {%- else -%}
        select
            0::float8 as cumulative_pnl,
            null::float8 as peak_equity
    {%- endif %}
),

curve as (
    select
        r.as_of,
        r.report,
        earlier.cumulative_pnl + coalesce((r.report ->> 'daily_pnl')::float8, 0) as cumulative_pnl,
        ops.risk_parameter('capital') as capital,
        earlier.peak_equity
    from report as r
    cross join earlier
)

select
    as_of,
    (report ->> 'n_positions')::int as n_positions,
    (report ->> 'n_options')::int as n_options,
    (report ->> 'n_underlyings')::int as n_underlyings,
    jsonb_array_length(report -> 'excluded') as n_excluded,
    (report ->> 'book_value')::float8 as book_value,
    (report ->> 'market_value')::float8 as market_value,
    (report ->> 'daily_pnl')::float8 as daily_pnl,
    (report -> 'total' ->> 'delta')::float8 as delta_shares,
    (report -> 'total' ->> 'dollar_delta')::float8 as dollar_delta,
    (report -> 'total' ->> 'dollar_gamma')::float8 as dollar_gamma,
    (report -> 'total' ->> 'vega')::float8 as vega,
    (report -> 'total' ->> 'theta')::float8 as theta,
    (report -> 'total' ->> 'rho')::float8 as rho,
    (report -> 'var' -> 'mc' -> '95_1d' ->> 'var')::float8 as var_95_1d,
    (report -> 'var' -> 'mc' -> '95_1d' ->> 'es')::float8 as es_95_1d,
    (report -> 'var' -> 'mc' -> '99_1d' ->> 'var')::float8 as var_99_1d,
    (report -> 'var' -> 'mc' -> '99_1d' ->> 'es')::float8 as es_99_1d,
    (report -> 'var' -> 'mc' -> '95_10d' ->> 'var')::float8 as var_95_10d,
    (report -> 'var' -> 'mc' -> '95_10d' ->> 'es')::float8 as es_95_10d,
    (report -> 'var' -> 'mc' -> '99_10d' ->> 'var')::float8 as var_99_10d,
    (report -> 'var' -> 'mc' -> '99_10d' ->> 'es')::float8 as es_99_10d,
    (report -> 'var' -> 'mc' -> '99_1d' ->> 'var_se')::float8 as var_99_1d_se,
    (report -> 'var' -> 'mc' -> '99_1d' ->> 'es_se')::float8 as es_99_1d_se,
    (report -> 'var' -> 'historical' -> '95_1d' ->> 'var')::float8 as hist_var_95_1d,
    (report -> 'var' -> 'historical' -> '99_1d' ->> 'var')::float8 as hist_var_99_1d,
    (report -> 'var' -> 'historical' -> '99_1d' ->> 'es')::float8 as hist_es_99_1d,
    (report -> 'var' -> 'historical' -> '99_10d' ->> 'var')::float8 as hist_var_99_10d,
    (report -> 'var' -> 'historical' -> '99_1d' ->> 'n_scenarios')::int as hist_n_scenarios_1d,
    (report -> 'var' -> 'parametric' -> '95_1d' ->> 'var')::float8 as dgv_var_95_1d,
    (report -> 'var' -> 'parametric' -> '99_1d' ->> 'var')::float8 as dgv_var_99_1d,
    (report -> 'var' -> 'parametric' -> '99_1d' ->> 'es')::float8 as dgv_es_99_1d,
    (report -> 'var' -> 'parametric' -> '99_10d' ->> 'var')::float8 as dgv_var_99_10d,
    report ->> 'worst_stress' as worst_stress_scenario,
    (report ->> 'worst_stress_pnl')::float8 as worst_stress_pnl,
    (report -> 'metrics' ->> 'gross_leverage')::float8 as gross_leverage,
    (report -> 'metrics' ->> 'net_exposure')::float8 as net_exposure,
    (report -> 'metrics' ->> 'concentration_underlying')::float8 as concentration_underlying,
    (report -> 'factor_info' ->> 'shrinkage')::float8 as correlation_shrinkage,
    (report -> 'factor_info' ->> 'window_days')::int as factor_window_days,
    (report -> 'params' ->> 'paths')::int as mc_paths,
    (report -> 'params' ->> 'seed')::bigint as mc_seed,
    report -> 'metrics' as limit_metrics,
    cumulative_pnl,
    capital + cumulative_pnl as equity,
    greatest(coalesce(peak_equity, capital), capital + cumulative_pnl) as peak_equity,
    case
        when capital > 0
            then
                1.0 - (capital + cumulative_pnl)
                / greatest(coalesce(peak_equity, capital), capital + cumulative_pnl)
    end as drawdown,
    report,
    clock_timestamp() as computed_at
from curve
