{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['underlying', 'quote_date'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ warm_quant_udfs() }}",
            "set local max_parallel_workers_per_gather = 0"
        ],
        post_hook=[
            "{{ make_hypertable('quote_date', '365 days') }}",
            "create index if not exists fct_risk_option_marks_contract
             on {{ this }} (contract_symbol, quote_date)"
        ]
    )
}}

-- The marks of every listed option per session: one row per (quote_date, contract_symbol),
-- the contract's last quote of the day (int_option_quotes_iv) with its time to settlement,
-- spot, forward, rate and parity dividend yield, bid / ask / mid, mid implied vol and greeks,
-- volume and open interest, and the implied vol of the day's arbitrage-free SVI slice of its
-- expiry at its strike (fct_svi_slices: sqrt(w(ln(K / F)) / t) with the slice's forward and
-- time, quant.svi_total_variance_batch). `iv` is the vol the risk engine revalues the contract
-- at: the SVI vol where the expiry has a fitted slice, else the mid IV (`iv_source` says
-- which). Read by ops.risk_book_inputs (the book's marks) and fct_order_candidates (the listed
-- contracts a structure is built from). Incremental: the trailing `incremental_lookback_days`
-- session dates are rebuilt (delete+insert on underlying, quote_date).

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

last_quote as (
    select distinct on (q.contract_symbol, q.quote_date)
        q.quote_date,
        q.quote_ts,
        q.underlying,
        q.contract_symbol,
        q.expiration,
        q.strike,
        q.option_right,
        q.option_right = 'C' as is_call,
        q.t_years,
        q.spot,
        q.forward,
        q.rate,
        q.implied_dividend_yield as dividend_yield,
        q.bid,
        q.ask,
        q.mid,
        q.iv_mid,
        q.delta,
        q.gamma,
        q.vega,
        q.theta,
        q.is_quality_ok,
        q.quality_reason
    from {{ ref('int_option_quotes_iv') }} as q
    where q.quote_ts >= (select rebuild_window.from_ts from rebuild_window)
    order by q.contract_symbol asc, q.quote_date asc, q.quote_ts desc
),

with_slice as (
    select
        l.*,
        s.t_years as slice_t,
        ln(l.strike / s.forward) as slice_k,
        s.svi_a,
        s.svi_b,
        s.svi_rho,
        s.svi_m,
        s.svi_sigma
    from last_quote as l
    left join {{ ref('fct_svi_slices') }} as s
        on
            l.underlying = s.underlying
            and l.quote_date = s.quote_date
            and l.expiration = s.expiration
            and s.fit_status = 'ok'
),

slices as (
    select
        quote_date,
        array_agg(contract_symbol order by contract_symbol) as contracts,
        array_agg(slice_k order by contract_symbol) as k,
        array_agg(svi_a order by contract_symbol) as a,
        array_agg(svi_b order by contract_symbol) as b,
        array_agg(svi_rho order by contract_symbol) as rho,
        array_agg(svi_m order by contract_symbol) as m,
        array_agg(svi_sigma order by contract_symbol) as sigma
    from with_slice
    where svi_a is not null and slice_t > 0
    group by quote_date
),

svi_variance as (
    select
        s.quote_date,
        u.contract_symbol,
        u.total_variance
    from slices as s
    cross join lateral unnest(
        s.contracts,
        quant.svi_total_variance_batch(s.k, s.a, s.b, s.rho, s.m, s.sigma)
    ) as u (contract_symbol, total_variance)
)

select
    w.quote_date,
    w.quote_ts,
    w.underlying,
    w.contract_symbol,
    w.expiration,
    w.strike,
    w.option_right,
    w.is_call,
    coalesce(c.multiplier, 100) as multiplier,
    w.t_years,
    w.spot,
    w.forward,
    w.rate,
    w.dividend_yield,
    w.bid,
    w.ask,
    w.mid,
    w.iv_mid,
    case
        when v.total_variance > 0 then sqrt(v.total_variance / w.slice_t)
    end as iv_svi,
    case
        when v.total_variance > 0 then sqrt(v.total_variance / w.slice_t)
        else w.iv_mid
    end as iv,
    case
        when v.total_variance > 0 then 'svi'
        when w.iv_mid is not null then 'mid'
    end as iv_source,
    w.delta,
    w.gamma,
    w.vega,
    w.theta,
    r.volume,
    r.open_interest,
    w.is_quality_ok,
    w.quality_reason
from with_slice as w
left join svi_variance as v
    on w.quote_date = v.quote_date and w.contract_symbol = v.contract_symbol
left join {{ ref('stg_ref__option_contracts') }} as c
    on w.contract_symbol = c.contract_symbol
left join {{ ref('stg_raw__option_quotes') }} as r
    on w.contract_symbol = r.contract_symbol and w.quote_ts = r.quote_ts
