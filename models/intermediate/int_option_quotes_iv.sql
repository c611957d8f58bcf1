{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['underlying', 'quote_date'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ warm_quant_udfs() }}",
            "set local work_mem = '{{ var('iv_work_mem', '256MB') }}'",
            "set local max_parallel_workers_per_gather = {{ var('iv_parallel_workers', 1) | int }}"
        ],
        post_hook="{{ make_hypertable('quote_ts', '1 day') }}"
    )
}}

-- One row per option quote (contract_symbol, quote_ts) with the time to settlement, the
-- point-in-time zero rate, the put-call-parity forward and implied dividend yield of its
-- expiry, bid/mid/ask implied vols, the greeks at the mid vol and a quality flag.
-- Every formula runs in python_udfs through the quant SQL API, ONE call per quote_ts: the
-- quotes of all its underlyings are aggregated into arrays, quant.option_quote_slice_batch
-- computes the zero rates, the parity fit (groups keyed by underlying and expiry), the
-- bid/mid/ask vols (BSM, or the American tree), the mid status and greeks in one pass (the
-- kernels run in cache-sized blocks: python_udfs.blocks), and the results are unnested in the
-- select list. One call per quote time rather than per (underlying, quote time) slice: a call
-- has a fixed cost of ~1 ms in numpy overheads, i.e. 0.5 s for the reference day's 501 slices.
-- Pre-hooks (this transaction only): the session installs python_udfs first (warm_quant_udfs:
-- its SPI query would fail inside the parallel CREATE TABLE AS), work_mem so the sort does
-- not spill, and var iv_parallel_workers (default 1) parallel workers: they scan, join and
-- sort the quotes while the leader aggregates, calls the function and writes.
-- Incremental: rebuilds the trailing `incremental_lookback_days` session dates already in the
-- table and every later one (delete+insert on underlying, quote_date).

{%- set priorities = var('rate_source_priority', ['sim', 'frb_h15', 'lean']) %}
{%- set wide_spread = var('iv_wide_spread_threshold', 0.5) | float %}
{%- set tz = var('market_timezone') %}
{%- set priority_array -%}
    array[{% for s in priorities %}'{{ s }}'{{ ', ' if not loop.last }}{% endfor %}]::text[]
{%- endset %}

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

quotes as (
    select
        quote_ts,
        quote_date,
        underlying,
        contract_symbol,
        expiration,
        strike,
        option_right,
        bid,
        ask,
        mid,
        spread,
        relative_spread,
        coalesce(underlying_mid, underlying_last) as spot,
        vendor_iv
    from {{ ref('stg_raw__option_quotes') }}
    -- on quote_ts: TimescaleDB skips the older raw chunks at run time
    where
        quote_ts >= (select rebuild_window.from_ts from rebuild_window)
        {{ watch_list_filter('underlying') }}
),

contracts as (
    select
        contract_symbol,
        exercise_style,
        settlement
    from {{ ref('stg_ref__option_contracts') }}
),

instruments as (
    select
        symbol,
        option_exercise_style
    from {{ ref('stg_ref__instruments') }}
),

timed as (
    select
        quotes.quote_ts,
        quotes.quote_date,
        quotes.underlying,
        quotes.contract_symbol,
        quotes.expiration,
        quotes.strike,
        quotes.option_right,
        quotes.bid,
        quotes.ask,
        quotes.mid,
        quotes.spread,
        quotes.relative_spread,
        quotes.spot,
        quotes.vendor_iv,
        -- contract first, then the underlying's default, then American (US equity options)
        coalesce(
            contracts.exercise_style, instruments.option_exercise_style, 'A'
        )::text as exercise_style,
        coalesce(contracts.settlement, 'PM') as settlement,
        (
            quotes.expiration
            + case when contracts.settlement = 'AM' then time '09:30' else time '16:00' end
        ) at time zone '{{ tz }}' as settlement_ts
    from quotes
    left join contracts on quotes.contract_symbol = contracts.contract_symbol
    left join instruments on quotes.underlying = instruments.symbol
),

inputs as (
    select
        *,
        extract(epoch from settlement_ts - quote_ts)::double precision
        / (365.0 * 86400.0) as t_years
    from timed
),

curves as (
    -- one zero curve per (as_of_date, source), tenors ascending
    select
        as_of_date,
        source,
        array_agg(tenor_days::double precision order by tenor_days) as tenor_days,
        array_agg(zero_rate order by tenor_days) as zero_rates
    from {{ ref('stg_ref__rates') }}
    group by as_of_date, source
),

batches as (
    -- one row per quote_ts: every per-option input of all its underlyings as an array, in
    -- (underlying, contract_symbol) order
    select
        quote_ts,
        min(quote_date) as quote_date,
        array_agg(underlying order by underlying, contract_symbol) as underlying,
        array_agg(contract_symbol order by underlying, contract_symbol) as contract_symbol,
        array_agg(strike order by underlying, contract_symbol) as strike,
        array_agg(option_right = 'C' order by underlying, contract_symbol) as is_call,
        array_agg(exercise_style = 'A' order by underlying, contract_symbol) as is_american,
        array_agg(settlement order by underlying, contract_symbol) as settlement,
        array_agg(settlement_ts order by underlying, contract_symbol) as settlement_ts,
        array_agg(t_years order by underlying, contract_symbol) as t_years,
        array_agg(relative_spread order by underlying, contract_symbol) as relative_spread,
        array_agg(vendor_iv order by underlying, contract_symbol) as vendor_iv,
        -- the function's inputs, also unnested for the output columns they stand for
        -- (expiration, option_right and exercise_style by their checked values; quotes and
        -- spot with NaN for none): one array per column
        array_agg(
            (expiration - date '2000-01-01')::double precision
            order by underlying, contract_symbol
        ) as expiry_key,
        array_agg(
            coalesce(spot, 'NaN'::double precision) order by underlying, contract_symbol
        ) as spot_nan,
        array_agg(coalesce(bid, 'NaN'::double precision) order by underlying, contract_symbol)
            as bid_nan,
        array_agg(coalesce(ask, 'NaN'::double precision) order by underlying, contract_symbol)
            as ask_nan,
        array_agg(coalesce(mid, 'NaN'::double precision) order by underlying, contract_symbol)
            as mid_nan,
        array_agg(
            coalesce(spread, 'NaN'::double precision) order by underlying, contract_symbol
        ) as spread_nan
    from inputs
    group by quote_ts
),

solved as (
    select
        batches.quote_ts,
        batches.quote_date,
        date_curves.source as rate_source,
        date_curves.as_of_date as rate_as_of_date,
        -- back to one row per option: the batch's arrays and the function's outputs unnested
        -- side by side in the select list (a ProjectSet, ~2.5x cheaper than a multi-argument
        -- unnest in FROM, which materialises every array in a tuplestore first)
        unnest(batches.underlying) as underlying,
        unnest(batches.spot_nan) as spot_nan,
        unnest(batches.contract_symbol) as contract_symbol,
        unnest(batches.expiry_key) as expiry_key,
        unnest(batches.strike) as strike,
        unnest(batches.is_call) as is_call,
        unnest(batches.is_american) as is_american,
        unnest(batches.settlement) as settlement,
        unnest(batches.settlement_ts) as settlement_ts,
        unnest(batches.t_years) as t_years,
        unnest(batches.bid_nan) as bid_nan,
        unnest(batches.ask_nan) as ask_nan,
        unnest(batches.mid_nan) as mid_nan,
        unnest(batches.spread_nan) as spread_nan,
        unnest(batches.relative_spread) as relative_spread,
        unnest(batches.vendor_iv) as vendor_iv,
        unnest(o.rate) as rate,
        unnest(o.forward) as forward,
        unnest(o.implied_q) as implied_dividend_yield,
        unnest(o.n_pairs) as n_parity_pairs,
        unnest(o.iv_bid) as iv_bid,
        unnest(o.iv_mid) as iv_mid,
        unnest(o.iv_ask) as iv_ask,
        unnest(o.iv_status) as iv_status_code,
        unnest(o.delta) as delta,
        unnest(o.gamma) as gamma,
        unnest(o.vega) as vega,
        unnest(o.theta) as theta,
        unnest(o.rho) as rho,
        unnest(o.vanna) as vanna,
        unnest(o.volga) as volga,
        unnest(o.charm) as charm
    from batches
    -- point in time: the latest curve published on or before the quote's New York date;
    -- same date from several sources: the first in var rate_source_priority
    left join lateral (
        select
            curves.as_of_date,
            curves.source,
            curves.tenor_days,
            curves.zero_rates
        from curves
        where curves.as_of_date <= batches.quote_date
        order by
            curves.as_of_date desc,
            coalesce(
                array_position({{ priority_array }}, curves.source),
                {{ priorities | length + 1 }}
            ),
            curves.source asc
        limit 1
    ) as date_curves on true
    -- the whole slice in one call: zero rate, parity forward and yield, bid/mid/ask vols
    -- (BSM, or the American tree), mid status and greeks
    cross join
        lateral quant.option_quote_slice_batch(
            batches.underlying,
            batches.expiry_key,
            batches.strike,
            batches.is_call,
            batches.is_american,
            batches.bid_nan,
            batches.ask_nan,
            batches.mid_nan,
            batches.spread_nan,
            batches.t_years,
            batches.spot_nan,
            date_curves.tenor_days,
            date_curves.zero_rates
        ) as o
),

merged as (
    select
        quote_ts,
        quote_date,
        underlying,
        contract_symbol,
        date '2000-01-01' + expiry_key::integer as expiration,
        strike,
        (case when is_call then 'C' else 'P' end)::bpchar as option_right,
        case when is_american then 'A' else 'E' end as exercise_style,
        settlement,
        settlement_ts,
        t_years,
        nullif(bid_nan, 'NaN'::double precision) as bid,
        nullif(ask_nan, 'NaN'::double precision) as ask,
        nullif(mid_nan, 'NaN'::double precision) as mid,
        nullif(spread_nan, 'NaN'::double precision) as spread,
        relative_spread,
        nullif(spot_nan, 'NaN'::double precision) as spot,
        rate,
        rate_source,
        rate_as_of_date,
        forward,
        implied_dividend_yield,
        n_parity_pairs::integer as n_parity_pairs,
        ln(strike / forward) as log_moneyness,
        case when is_american then 'american_tree' else 'european_bsm' end as iv_model,
        iv_bid,
        iv_mid,
        iv_ask,
        -- status of the mid inversion (codes of python_udfs.implied_vol.STATUS_CODES); none
        -- without a mid
        case
            when mid_nan = 'NaN'::double precision then null
            when iv_status_code = 0 then 'ok'
            when iv_status_code = 1 then 'nonpositive_input'
            when iv_status_code = 2 then 'below_intrinsic'
            when iv_status_code = 3 then 'above_upper_bound'
        end as iv_status,
        delta,
        gamma,
        vega,
        theta,
        rho,
        vanna,
        volga,
        charm,
        vendor_iv
    from solved
),

flagged as (
    select
        quote_ts,
        quote_date,
        underlying,
        contract_symbol,
        expiration,
        strike,
        option_right,
        exercise_style,
        settlement,
        settlement_ts,
        t_years,
        bid,
        ask,
        mid,
        spread,
        relative_spread,
        spot,
        rate,
        rate_source,
        rate_as_of_date,
        forward,
        implied_dividend_yield,
        n_parity_pairs,
        log_moneyness,
        iv_model,
        iv_bid,
        iv_mid,
        iv_ask,
        iv_status,
        delta,
        gamma,
        vega,
        theta,
        rho,
        vanna,
        volga,
        charm,
        vendor_iv,
        iv_mid - vendor_iv as iv_vendor_diff,
        nullif(
            concat_ws(
                ',',
                case when mid is null then 'no_quote' end,
                case when coalesce(bid, 0) <= 0 then 'no_bid' end,
                case when relative_spread > {{ wide_spread }} then 'wide_spread' end,
                case when t_years <= 0 then 'expired' end,
                case when t_years > 0 and forward is null then 'no_forward' end,
                case when iv_status != 'ok' then iv_status end
            ),
            ''
        ) as quality_reason
    from merged
)

select
    *,
    quality_reason is null as is_quality_ok
from flagged
