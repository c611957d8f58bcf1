-- Analyst view of the portfolio risk per as-of (marts.fct_portfolio_risk without the report
-- jsonb) with the outcome of the limit checks made on that as-of (ops.risk_checks,
-- ops.limit_breaches): breaches found and whether a check halted trading.

with checks as (
    select
        c.as_of,
        count(*) as n_checks,
        bool_or(c.halted_now) as halted_by_check,
        max(c.checked_at) as last_checked_at
    from {{ source('risk_ops', 'risk_checks') }} as c
    group by c.as_of
),

breaches as (
    select
        b.as_of,
        count(*) as n_breaches,
        string_agg(distinct b.limit_name, ', ' order by b.limit_name) as breached_limits
    from {{ source('risk_ops', 'limit_breaches') }} as b
    group by b.as_of
)

select
    r.as_of,
    r.n_positions,
    r.n_options,
    r.n_underlyings,
    r.book_value,
    r.market_value,
    r.daily_pnl,
    r.dollar_delta,
    r.dollar_gamma,
    r.vega,
    r.theta,
    r.rho,
    r.var_95_1d,
    r.es_95_1d,
    r.var_99_1d,
    r.es_99_1d,
    r.var_95_10d,
    r.es_95_10d,
    r.var_99_10d,
    r.es_99_10d,
    r.hist_var_95_1d,
    r.hist_var_99_1d,
    r.hist_var_99_10d,
    r.dgv_var_95_1d,
    r.dgv_var_99_1d,
    r.dgv_var_99_10d,
    r.worst_stress_scenario,
    r.worst_stress_pnl,
    r.gross_leverage,
    r.net_exposure,
    r.concentration_underlying,
    coalesce(c.n_checks, 0) as n_checks,
    coalesce(b.n_breaches, 0) as n_breaches,
    b.breached_limits,
    coalesce(c.halted_by_check, false) as halted_by_check,
    c.last_checked_at,
    r.computed_at
from {{ ref('fct_portfolio_risk') }} as r
left join checks as c on r.as_of = c.as_of
left join breaches as b on r.as_of = b.as_of
