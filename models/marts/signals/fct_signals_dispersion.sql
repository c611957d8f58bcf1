{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        pre_hook="{{ warm_quant_udfs() }}",
        post_hook="{{ make_hypertable('as_of', '365 days') }}"
    )
}}

{#- Index baskets: a list of {index: symbol, constituents: {symbol: weight, ...}}. The warehouse
    has no index-membership table yet (ref has no constituents or weights), so the default is
    none and the strategy produces no rows until a basket is configured, e.g.
    --vars '{signal_dispersion_baskets: [{index: SPX, constituents: {AAPL: 0.07, MSFT: 0.06}}]}'
-#}
{%- set baskets = var('signal_dispersion_baskets', []) -%}
{%- if baskets is string %}{% set baskets = [] %}{% endif -%}
{%- set spread_threshold = var('signal_dispersion_threshold', 0.10) | float -%}
{%- set corr_days = var('signal_dispersion_window', 60) | int -%}
{%- set min_days = var('signal_dispersion_min_days', 40) | int -%}
{%- set tz = var('market_timezone') -%}

-- Strategy 7, dispersion (options handbook seed): per configured index and as_of, the implied
-- correlation from the index and constituent 30-day ATM implied vols (fct_options_features)
-- rho_impl = (sigma_I^2 - sum w_i^2 sigma_i^2) / sum_{i != j} w_i w_j sigma_i sigma_j
-- (quant.implied_correlation; weights renormalised over the constituents with an IV) against
-- the realized correlation of the constituents' daily log returns over the last 60 sessions
-- with the same weighting (quant.realized_correlation: the weighted average pairwise
-- correlation; at least 40 complete days). spread = rho_impl - rho_real: > 0.1 sell index
-- vol / buy constituent vol (short correlation; direction sell_vol on the index), < -0.1 buy
-- index vol (long correlation). One row per index: underlying = pair_id = the index symbol;
-- the constituent legs (opposite vol direction, weights) are in metadata. strength =
-- min(1, (|spread| - 0.1) / 0.3); confidence = the share of the basket weight whose
-- constituents have an IV that day x min(1, complete days / 60); expected_edge = |spread|
-- (correlation points). Point in time: IVs of as_of, returns up to as_of.

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
),

window_start as (
    select (rebuild_window.from_ts at time zone '{{ tz }}')::date as from_date
    from rebuild_window
),

basket as (
    {%- if baskets | length == 0 %}
        select
            null::text as index_symbol,
            null::text as constituent,
            null::float8 as weight
        where false
    {%- else %}
    select
        v.index_symbol,
        v.constituent,
        v.weight
    from (
        values
        {%- for b in baskets %}
            {%- set outer_loop = loop %}
            {%- for symbol, weight in b['constituents'].items() %}
            ('{{ b["index"] }}'::text, '{{ symbol }}'::text, {{ weight }}::float8)
            {%- if not (outer_loop.last and loop.last) %},{% endif %}
            {%- endfor %}
        {%- endfor %}
    ) as v (index_symbol, constituent, weight)
    {%- endif %}
),

index_days as (
    select
        b.index_symbol,
        f.trade_date as as_of,
        f.iv_atm_30d as index_iv
    from (select distinct basket.index_symbol from basket) as b
    inner join {{ ref('fct_options_features') }} as f
        on b.index_symbol = f.underlying
    cross join window_start as w
    where
        f.trade_date >= w.from_date
        and f.iv_atm_30d > 0
),

implied as (
    select
        d.index_symbol,
        d.as_of,
        d.index_iv,
        array_agg(b.constituent order by b.constituent) as constituents,
        array_agg(b.weight order by b.constituent) as weights,
        array_agg(coalesce(f.iv_atm_30d, 'NaN') order by b.constituent) as constituent_iv,
        sum(b.weight) filter (where f.iv_atm_30d > 0) / sum(b.weight) as iv_coverage
    from index_days as d
    inner join basket as b
        on d.index_symbol = b.index_symbol
    left join {{ ref('fct_options_features') }} as f
        on
            b.constituent = f.underlying
            and d.as_of = f.trade_date
    group by d.index_symbol, d.as_of, d.index_iv
),

return_days as (
    -- the last corr_days sessions (dates with a bar of any constituent) up to each as_of
    select
        d.index_symbol,
        d.as_of,
        s.trade_date
    from index_days as d
    cross join lateral (
        select distinct r.trade_date
        from {{ ref('int_underlying_daily_features') }} as r
        inner join basket as b
            on
                r.symbol = b.constituent
                and d.index_symbol = b.index_symbol
        where r.trade_date <= d.as_of
        order by r.trade_date desc
        limit {{ corr_days }}
    ) as s
),

return_matrix as (
    select
        rd.index_symbol,
        rd.as_of,
        array_agg(coalesce(r.ret_1d, 'NaN') order by rd.trade_date, b.constituent) as return_values,
        count(distinct rd.trade_date) as n_days
    from return_days as rd
    inner join basket as b
        on rd.index_symbol = b.index_symbol
    left join {{ ref('int_underlying_daily_features') }} as r
        on
            b.constituent = r.symbol
            and rd.trade_date = r.trade_date
    group by rd.index_symbol, rd.as_of
),

correlations as (
    select
        i.index_symbol,
        i.as_of,
        i.index_iv,
        i.constituents,
        i.weights,
        i.constituent_iv,
        i.iv_coverage,
        m.n_days,
        quant.implied_correlation(i.index_iv, i.weights, i.constituent_iv) as implied_corr,
        quant.realized_correlation(
            m.return_values, cardinality(i.constituents), i.weights
        ) as realized_corr
    from implied as i
    inner join return_matrix as m
        on
            i.index_symbol = m.index_symbol
            and i.as_of = m.as_of
    where m.n_days >= {{ min_days }}
),

spreads as (
    select
        c.*,
        c.implied_corr - c.realized_corr as corr_spread
    from correlations as c
    where c.implied_corr is not null and c.realized_corr is not null
)

select
    s.as_of,
    'dispersion'::text as strategy,
    s.index_symbol as underlying,
    s.index_symbol as pair_id,
    null::text as instrument,
    case when s.corr_spread > 0 then 'sell_vol' else 'buy_vol' end as direction,
    least(1.0, (abs(s.corr_spread) - {{ spread_threshold }}) / 0.3)::float8 as strength,
    (s.iv_coverage * least(1.0, s.n_days / {{ corr_days }}::float8))::float8 as confidence,
    abs(s.corr_spread)::float8 as expected_edge,
    jsonb_build_object(
        'implied_correlation', s.implied_corr,
        'realized_correlation', s.realized_corr,
        'correlation_spread', s.corr_spread,
        'index_iv', s.index_iv,
        'constituents', s.constituents,
        'weights', s.weights,
        'constituent_iv', s.constituent_iv,
        'constituent_direction',
        case when s.corr_spread > 0 then 'buy_vol' else 'sell_vol' end,
        'iv_coverage', s.iv_coverage,
        'return_days', s.n_days
    ) as metadata,
    'dispersion:v1'::text as model_version
from spreads as s
where abs(s.corr_spread) > {{ spread_threshold }}
