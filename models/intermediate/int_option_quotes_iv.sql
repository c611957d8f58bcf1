{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['underlying', 'quote_date'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ warm_quant_udfs() }}",
            "set local work_mem = '{{ var('iv_work_mem', '256MB') }}'",
            "set local max_parallel_workers_per_gather = {{ var('iv_parallel_workers', 2) | int }}",
            "set local parallel_setup_cost = {{ var('iv_parallel_setup_cost', 20000) | int }}"
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
-- The underlyings are split into var iv_batch_buckets (default 2) branches by a hash of the
-- symbol, one call per quote_ts per branch, and the branches run side by side under a
-- Parallel Append: one process per branch scans, joins, sorts, aggregates, calls and unnests,
-- while the leader writes (reference day: CREATE TABLE AS 2.7 s -> 1.7 s on 2 cores). The CTEs
-- every branch reads are NOT MATERIALIZED (a CTE scan cannot run in a parallel worker), and
-- nothing in a branch is a LIMIT, window or correlated subquery (those keep it out of the
-- parallel plan: hence curve_spans).
-- Pre-hooks (this transaction only): the session installs python_udfs first (warm_quant_udfs:
-- its SPI query would fail inside the parallel CREATE TABLE AS), work_mem so the sorts do not
-- spill, var iv_parallel_workers (default 2) parallel workers and var iv_parallel_setup_cost
-- (default 20000): with the default 1000 the planner parallelises only the scan below each
-- branch's aggregate (the aggregate sorts only its cheapest input) and runs the branches one
-- after the other.
-- Incremental: rebuilds the trailing `incremental_lookback_days` session dates already in the
-- table and every later one (delete+insert on underlying, quote_date).

{%- set priorities = var('rate_source_priority', ['sim', 'frb_h15', 'lean']) %}
{%- set wide_spread = var('iv_wide_spread_threshold', 0.5) | float %}
{%- set tz = var('market_timezone') %}
{%- set buckets = [var('iv_batch_buckets', 2) | int, 1] | max %}
{%- set priority_array -%}
    array[{% for s in priorities %}'{{ s }}'{{ ', ' if not loop.last }}{% endfor %}]::text[]
{%- endset %}

with rebuild_window as not materialized (
    {{ rebuild_window('quote_date', is_date=true) }}
),

quotes as not materialized (
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

contracts as not materialized (
    select
        contract_symbol,
        exercise_style,
        settlement
    from {{ ref('stg_ref__option_contracts') }}
),

instruments as not materialized (
    select
        symbol,
        option_exercise_style
    from {{ ref('stg_ref__instruments') }}
),

timed as not materialized (
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

inputs as not materialized (
    select
        *,
        extract(epoch from settlement_ts - quote_ts)::double precision
        / (365.0 * 86400.0) as t_years
    from timed
),

curves as not materialized (
    -- one zero curve per (as_of_date, source), tenors ascending
    select
        as_of_date,
        source,
        array_agg(tenor_days::double precision order by tenor_days) as tenor_days,
        array_agg(zero_rate order by tenor_days) as zero_rates
    from {{ ref('stg_ref__rates') }}
    group by as_of_date, source
),

preferred_curves as not materialized (
    -- one curve per as_of_date: same date from several sources, the first in var
    -- rate_source_priority
    select distinct on (as_of_date)
        as_of_date,
        source,
        tenor_days,
        zero_rates
    from curves
    order by
        as_of_date asc,
        coalesce(
            array_position({{ priority_array }}, source),
            {{ priorities | length + 1 }}
        ),
        source asc
),

next_curve_dates as not materialized (
    -- each preferred curve's date and the next one's (a self-join on the dates, not a window:
    -- a window keeps the branches below out of a parallel plan)
    select
        earlier.as_of_date,
        min(later.as_of_date) as next_as_of_date
    from preferred_curves as earlier
    inner join preferred_curves as later on earlier.as_of_date < later.as_of_date
    group by earlier.as_of_date
),

curve_spans as not materialized (
    -- the New York quote dates each preferred curve serves: [as_of_date, next_as_of_date)
    select
        preferred_curves.as_of_date,
        preferred_curves.source,
        preferred_curves.tenor_days,
        preferred_curves.zero_rates,
        next_curve_dates.next_as_of_date
    from preferred_curves
    left join next_curve_dates on preferred_curves.as_of_date = next_curve_dates.as_of_date
),

{#- one branch per bucket of underlyings: array expressions shared by its arrays and call #}
{%- set order_by = 'order by underlying, contract_symbol' %}
{%- set arrays = [
    ('underlying', 'underlying'),
    ('contract_symbol', 'contract_symbol'),
    ('expiry_key', "(expiration - date '2000-01-01')::double precision"),
    ('strike', 'strike'),
    ('is_call', "option_right = 'C'"),
    ('is_american', "exercise_style = 'A'"),
    ('settlement', 'settlement'),
    ('settlement_ts', 'settlement_ts'),
    ('t_years', 't_years'),
    ('bid_nan', "coalesce(bid, 'NaN'::double precision)"),
    ('ask_nan', "coalesce(ask, 'NaN'::double precision)"),
    ('mid_nan', "coalesce(mid, 'NaN'::double precision)"),
    ('spread_nan', "coalesce(spread, 'NaN'::double precision)"),
    ('relative_spread', 'relative_spread'),
    ('spot_nan', "coalesce(spot, 'NaN'::double precision)"),
    ('vendor_iv', 'vendor_iv'),
] %}
{%- set agg = {} %}
{%- for name, expr in arrays %}
    {%- do agg.update({name: 'array_agg(' ~ expr ~ ' ' ~ order_by ~ ')'}) %}
{%- endfor %}
{%- set outputs = [
    ('rate', 'rate'), ('forward', 'forward'), ('implied_q', 'implied_dividend_yield'),
    ('n_pairs', 'n_parity_pairs'), ('iv_bid', 'iv_bid'), ('iv_mid', 'iv_mid'),
    ('iv_ask', 'iv_ask'), ('iv_status', 'iv_status_code'), ('delta', 'delta'),
    ('gamma', 'gamma'), ('vega', 'vega'), ('theta', 'theta'), ('rho', 'rho'),
    ('vanna', 'vanna'), ('volga', 'volga'), ('charm', 'charm'),
] %}

-- noqa: disable=LT02
{%- for bucket in range(buckets) %}

batches_{{ bucket }} as (
    -- one row per quote_ts for the underlyings of bucket {{ bucket }}: every per-option
    -- input as an array in (underlying, contract_symbol) order
    select
        quote_ts,
        min(quote_date) as quote_date,
        {%- for name, expr in arrays %}
        {{ agg[name] }} as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from inputs
    where mod(hashtext(underlying)::bigint + 2147483648, {{ buckets }}) = {{ bucket }}
    group by quote_ts
),

solved_{{ bucket }} as (
    -- back to one row per option: arrays and outputs unnested side by side in the select
    -- list (a ProjectSet, ~2.5x cheaper than a multi-argument unnest in FROM)
    select
        batches.quote_ts,
        batches.quote_date,
        date_curves.source as rate_source,
        date_curves.as_of_date as rate_as_of_date,
        {%- for name, expr in arrays %}
        unnest(batches.{{ name }}) as {{ name }},
        {%- endfor %}
        {%- for field, column in outputs %}
        unnest(o.{{ field }}) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from batches_{{ bucket }} as batches
    -- point in time: the latest curve published on or before the quote's New York date
    left join curve_spans as date_curves
        on
            batches.quote_date >= date_curves.as_of_date
            and (
                date_curves.next_as_of_date is null
                or batches.quote_date < date_curves.next_as_of_date
            )
    -- the whole batch in one call: zero rate, parity forward and yield, bid/mid/ask vols
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
{%- endfor %}

solved as (
    {%- for bucket in range(buckets) %}
    select * from solved_{{ bucket }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),
-- noqa: enable=LT02

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
