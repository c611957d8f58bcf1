{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('as_of', '30 days') }}"
    )
}}

{%- set strategies = [
    'fct_signals_iv_rank',
    'fct_signals_vol_regime',
    'fct_signals_composite',
    'fct_signals_surface_arbitrage',
    'fct_signals_ou_pairs',
    'fct_signals_event_vol',
    'fct_signals_dispersion',
] -%}

-- All trading signals in one long table: one row per (as_of, strategy, underlying or pair,
-- instrument), the union of the per-strategy models (fct_signals_<strategy>, each documenting
-- its rule, strength, confidence and expected_edge). Point in time: every row of as_of D is
-- computed from data available at the end of D; nothing here reads the evaluation tables
-- (fct_signal_outcomes / performance / hit rates). Incremental (delete+insert on as_of): the
-- trailing incremental_lookback_days dates are re-read from the strategy models.

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
),

window_start as (
    select (rebuild_window.from_ts at time zone '{{ var("market_timezone") }}')::date as from_date
    from rebuild_window
)

{% for model in strategies %}
    select
        s.as_of,
        s.strategy,
        s.underlying,
        s.pair_id,
        s.instrument,
        s.direction,
        s.strength,
        s.confidence,
        s.expected_edge,
        s.metadata,
        s.model_version
    from {{ ref(model) }} as s
    cross join window_start as w
    where s.as_of >= w.from_date
    {% if not loop.last %}union all{% endif %}
{% endfor %}
