{{
    config(
        materialized='table',
        pre_hook=[
            "{{ warm_quant_udfs() }}",
            "set local max_parallel_workers_per_gather = 0"
        ],
        post_hook=[
            "create index if not exists fct_risk_factor_history_symbol_date
             on {{ this }} (symbol, trade_date)"
        ]
    )
}}

-- The risk factors of the portfolio risk engine, one row per (symbol, trade_date): the daily
-- close (int_underlying_daily_features), the 30-day ATM implied vol of the day's SVI surface
-- (fct_atm_term_structure; null for symbols or days without fitted options) and the 21-day
-- close-to-close realized vol (quant.realized_vol_cc, python_udfs.realized). ops.risk_book_inputs
-- reads up to 253 rows per underlying from here: the kernels take daily log returns of the
-- closes and log changes of the ATM IVs (the joint spot / vol factor history, shrunk
-- correlation), the realized vol as the spot vol and the ATM IV as fallback. Point in time: a
-- row of date D uses data up to D only.

with closes as (
    select
        symbol,
        trade_date,
        close_price
    from {{ ref('int_underlying_daily_features') }}
    where close_price > 0
),

realized as (
    select
        h.symbol,
        u.trade_date,
        u.rv_cc_21d
    from (
        select
            symbol,
            array_agg(trade_date order by trade_date) as trade_dates,
            array_agg(close_price order by trade_date) as closes
        from closes
        group by symbol
    ) as h
    cross join lateral unnest(
        h.trade_dates, quant.realized_vol_cc(h.closes, 21)
    ) as u (trade_date, rv_cc_21d)
)

select
    c.symbol,
    c.trade_date,
    c.close_price,
    a.atm_iv_30d,
    r.rv_cc_21d
from closes as c
left join realized as r
    on c.symbol = r.symbol and c.trade_date = r.trade_date
left join {{ ref('fct_atm_term_structure') }} as a
    on c.symbol = a.underlying and c.trade_date = a.quote_date
