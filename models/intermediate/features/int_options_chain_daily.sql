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
        post_hook="{{ make_hypertable('quote_date', '365 days') }}"
    )
}}

-- One row per (underlying, quote_date): the day's closing option-chain snapshot summarised
-- for the options features (fct_options_features). The snapshot is the one the surface
-- models use (int_option_surface_quotes): the last quote_ts of the date with a clean quote;
-- every contract quoted at that instant counts (clean or not) for open interest and volume
-- (raw columns, from stg_raw__option_quotes), greeks from int_option_quotes_iv.
-- - OI / volume sums per right, front and next expiry OI;
-- - net greeks: sum(greek x OI) / sum(OI) over the lines with greeks (SQL aggregates);
-- - dealer positioning (GEX, DEX, gamma flip, GEX concentration, largest-|GEX| strike, max
--   pain of the nearest monthly expiry): ONE quant.options_positioning call per row
--   (python_udfs.options_features.chain_positioning -> python_udfs.positioning);
-- - the next earnings event (ref.earnings) and its implied move from the snapshot's ATM term
--   structure: ONE quant.earnings_implied_move call per row with a pending event.
-- Point in time: a row reads that date's snapshot only (and the earnings calendar).
-- Incremental: the trailing `incremental_lookback_days` dates are rebuilt (delete+insert).

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

iv_quotes as (
    select
        quote_ts,
        quote_date,
        underlying,
        contract_symbol,
        expiration,
        t_years,
        strike,
        option_right,
        spot,
        rate,
        implied_dividend_yield,
        log_moneyness,
        iv_mid,
        delta,
        gamma,
        vega,
        theta,
        is_quality_ok
    from {{ ref('int_option_quotes_iv') }}
    where quote_ts >= (select rebuild_window.from_ts from rebuild_window)
),

snapshot as (
    -- the closing snapshot: the last instant of the date with a clean quote
    select
        underlying,
        quote_date,
        max(quote_ts) as quote_ts
    from iv_quotes
    where is_quality_ok
    group by underlying, quote_date
),

oi_volume as (
    select
        contract_symbol,
        quote_ts,
        open_interest,
        volume
    from {{ ref('stg_raw__option_quotes') }}
    where quote_ts >= (select rebuild_window.from_ts from rebuild_window)
),

contracts as (
    select
        contract_symbol,
        multiplier
    from {{ ref('stg_ref__option_contracts') }}
),

lines as (
    select
        q.underlying,
        q.quote_date,
        q.quote_ts,
        q.contract_symbol,
        q.expiration,
        q.t_years,
        q.strike::float8 as strike,
        q.option_right = 'C' as is_call,
        q.spot,
        q.rate,
        q.implied_dividend_yield,
        q.log_moneyness,
        q.iv_mid,
        q.delta,
        q.gamma,
        q.vega,
        q.theta,
        q.is_quality_ok,
        v.open_interest::float8 as open_interest,
        v.volume::float8 as volume,
        coalesce(c.multiplier, 100)::float8 as contract_size
    from iv_quotes as q
    inner join snapshot as s
        on
            q.underlying = s.underlying
            and q.quote_date = s.quote_date
            and q.quote_ts = s.quote_ts
    left join oi_volume as v
        on
            q.contract_symbol = v.contract_symbol
            and q.quote_ts = v.quote_ts
    left join contracts as c
        on q.contract_symbol = c.contract_symbol
),

expiries as (
    select
        underlying,
        quote_date,
        expiration,
        sum(open_interest) as expiry_oi,
        row_number() over (
            partition by underlying, quote_date order by expiration
        ) as expiry_rank,
        -- standard monthly: the 3rd Friday, or the Thursday before it when that Friday is an
        -- exchange holiday (then no Friday expiry is listed that week)
        (
            extract(isodow from expiration) = 5
            and extract(day from expiration) between 15 and 21
        )
        or (
            extract(isodow from expiration) = 4
            and extract(day from expiration + 1) between 15 and 21
        ) as is_monthly
    from lines
    where expiration >= quote_date
    group by underlying, quote_date, expiration
),

expiry_summary as (
    select
        underlying,
        quote_date,
        count(*) as n_expirations,
        min(expiration) filter (where expiry_rank = 1) as front_expiration,
        sum(expiry_oi) filter (where expiry_rank = 1) as front_oi,
        min(expiration) filter (where expiry_rank = 2) as next_expiration,
        sum(expiry_oi) filter (where expiry_rank = 2) as next_oi,
        min(expiration) filter (where is_monthly) as max_pain_expiration
    from expiries
    group by underlying, quote_date
),

earnings as (
    -- one row per announced event (several sources: the earliest timing wins, BMO first)
    select distinct on (symbol, event_date)
        symbol,
        event_date,
        timing
    from {{ ref('stg_ref__earnings') }}
    order by symbol asc, event_date asc, timing = 'BMO' desc, source asc
),

days as (
    select
        l.underlying,
        l.quote_date,
        min(l.quote_ts) as quote_ts,
        min(l.spot) as spot,
        count(*) as n_contracts,
        count(l.open_interest) as n_contracts_with_oi,
        sum(l.open_interest) filter (where l.is_call) as call_oi,
        sum(l.open_interest) filter (where not l.is_call) as put_oi,
        sum(l.volume) filter (where l.is_call) as call_volume,
        sum(l.volume) filter (where not l.is_call) as put_volume,
        sum(l.open_interest * l.delta) filter (where l.delta is not null)
        / nullif(sum(l.open_interest) filter (where l.delta is not null), 0)
            as net_delta_per_oi,
        sum(l.open_interest * l.gamma) filter (where l.gamma is not null)
        / nullif(sum(l.open_interest) filter (where l.gamma is not null), 0)
            as net_gamma_per_oi,
        sum(l.open_interest * l.vega) filter (where l.vega is not null)
        / nullif(sum(l.open_interest) filter (where l.vega is not null), 0)
            as net_vega_per_oi,
        sum(l.open_interest * l.theta) filter (where l.theta is not null)
        / nullif(sum(l.open_interest) filter (where l.theta is not null), 0)
            as net_theta_per_oi
    from lines as l
    group by l.underlying, l.quote_date
),

next_event as (
    -- the next earnings event still to move the stock after the snapshot: a BMO event of
    -- the snapshot's date has already happened (before the open); AMC and UNK (taken as AMC)
    -- events of that date are still to come
    select
        d.underlying,
        d.quote_date,
        e.event_date,
        e.timing
    from days as d
    inner join lateral (
        select
            earnings.event_date,
            earnings.timing
        from earnings
        where
            earnings.symbol = d.underlying
            and (
                earnings.event_date > d.quote_date
                or (earnings.event_date = d.quote_date and earnings.timing != 'BMO')
            )
        order by earnings.event_date
        limit 1
    ) as e on true
),

chain_arrays as (
    select
        l.underlying,
        l.quote_date,
        min(l.spot) as spot,
        array_agg(l.strike order by l.contract_symbol) as strike,
        array_agg(coalesce(l.t_years, 'NaN') order by l.contract_symbol) as t,
        array_agg(coalesce(l.rate, 'NaN') order by l.contract_symbol) as r,
        array_agg(coalesce(l.implied_dividend_yield, 'NaN') order by l.contract_symbol) as q,
        array_agg(coalesce(l.iv_mid, 'NaN') order by l.contract_symbol) as vol,
        array_agg(l.is_call order by l.contract_symbol) as is_call,
        array_agg(coalesce(l.open_interest, 'NaN') order by l.contract_symbol) as oi,
        array_agg(coalesce(l.gamma, 'NaN') order by l.contract_symbol) as gamma,
        array_agg(coalesce(l.delta, 'NaN') order by l.contract_symbol) as delta,
        array_agg(l.contract_size order by l.contract_symbol) as contract_size,
        array_agg(
            coalesce(l.expiration = x.max_pain_expiration, false) order by l.contract_symbol
        ) as in_max_pain_expiry
    from lines as l
    inner join expiry_summary as x
        on
            l.underlying = x.underlying
            and l.quote_date = x.quote_date
    group by l.underlying, l.quote_date
),

positioning as (
    select
        a.underlying,
        a.quote_date,
        p.*
    from chain_arrays as a
    cross join lateral quant.options_positioning(
        a.spot, a.strike, a.t, a.r, a.q, a.vol, a.is_call, a.oi, a.gamma, a.delta,
        a.contract_size, a.in_max_pain_expiry
    ) as p
),

event_arrays as (
    -- the snapshot's clean out-of-the-money quotes (the side the smile fits use)
    select
        l.underlying,
        l.quote_date,
        array_agg(l.t_years order by l.contract_symbol) as t,
        array_agg(l.log_moneyness order by l.contract_symbol) as log_moneyness,
        array_agg(l.iv_mid order by l.contract_symbol) as iv,
        array_agg(
            l.expiration > e.event_date
            or (l.expiration = e.event_date and e.timing = 'BMO')
            order by l.contract_symbol
        ) as after_event
    from lines as l
    inner join next_event as e
        on
            l.underlying = e.underlying
            and l.quote_date = e.quote_date
    where
        l.is_quality_ok
        and l.iv_mid is not null
        and l.log_moneyness is not null
        and l.t_years > 0
        and (
            (l.is_call and l.log_moneyness >= 0)
            or (not l.is_call and l.log_moneyness < 0)
        )
    group by l.underlying, l.quote_date
),

event_moves as (
    select
        a.underlying,
        a.quote_date,
        m.*
    from event_arrays as a
    cross join lateral quant.earnings_implied_move(
        a.t, a.log_moneyness, a.iv, a.after_event
    ) as m
)

select
    d.underlying,
    d.quote_date,
    d.quote_ts,
    d.spot,
    d.n_contracts,
    d.n_contracts_with_oi,
    x.n_expirations,
    d.call_oi,
    d.put_oi,
    d.call_volume,
    d.put_volume,
    x.front_expiration,
    x.front_oi,
    x.next_expiration,
    x.next_oi,
    d.net_delta_per_oi,
    d.net_gamma_per_oi,
    d.net_vega_per_oi,
    d.net_theta_per_oi,
    p.gex_total,
    p.dex_total,
    p.gamma_flip,
    p.gex_top3_share,
    p.gex_herfindahl,
    p.largest_gex_strike,
    p.largest_gex,
    x.max_pain_expiration,
    p.max_pain_strike,
    p.max_pain_payout,
    p.n_gex_lines::integer as n_gex_lines,
    e.event_date as next_earnings_date,
    e.timing as next_earnings_timing,
    m.event_variance as earnings_event_variance,
    m.implied_move as earnings_implied_move,
    m.implied_move_abs as earnings_implied_move_abs,
    m.diffusive_vol as earnings_diffusive_vol,
    m.t_before as earnings_t_before,
    m.t_after as earnings_t_after,
    m.method::integer as earnings_method
from days as d
left join expiry_summary as x
    on
        d.underlying = x.underlying
        and d.quote_date = x.quote_date
left join positioning as p
    on
        d.underlying = p.underlying
        and d.quote_date = p.quote_date
left join next_event as e
    on
        d.underlying = e.underlying
        and d.quote_date = e.quote_date
left join event_moves as m
    on
        d.underlying = m.underlying
        and d.quote_date = m.quote_date
