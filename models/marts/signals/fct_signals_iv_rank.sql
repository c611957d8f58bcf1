{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('as_of', '365 days') }}"
    )
}}

{%- set tz = var('market_timezone') -%}

-- Strategy 1, IV-rank mean reversion (vol-trading seed): per (underlying, as_of) with an IV
-- rank, on the 0-100 scale: > 80 sell vol (strong), > 60 sell vol (moderate), < 20 buy vol
-- (strong), < 40 buy vol (moderate), nothing in [40, 60]. The rank is
-- fct_options_features.iv_rank_252d; while the underlying has fewer than 252 rows of history
-- (e.g. the 60-day demo) the 21-day rank iv_rank_21d is used instead (metadata.window_days
-- says which). strength: linear in the rank beyond the moderate threshold, (rank - 0.6) / 0.4
-- for sells, (0.4 - rank) / 0.4 for buys (0.5 at the strong thresholds 80 / 20, 1 at 100 / 0).
-- confidence: 0.8 on the 252-day window, 0.5 on the 21-day fallback, + 0.2 when the IV
-- percentile of the same window confirms (above 0.6 for a sell, below 0.4 for a buy).
-- expected_edge (decimal vol): the implied-realized spread in the trade's favour, iv_atm_30d -
-- rv_cc_20d for a sell, rv_cc_20d - iv_atm_30d for a buy (null without rv_cc_20d).
-- Point in time: one fct_options_features row of the same date.

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
),

ranked as (
    select
        f.underlying,
        f.trade_date as as_of,
        f.iv_atm_30d,
        f.rv_cc_20d,
        coalesce(f.iv_rank_252d, f.iv_rank_21d) as iv_rank,
        case
            when f.iv_rank_252d is not null then f.iv_percentile_252d
            else f.iv_percentile_21d
        end as iv_percentile,
        case when f.iv_rank_252d is not null then 252 else 21 end as window_days
    from {{ ref('fct_options_features') }} as f
    where
        f.trade_date >= (
            select (rebuild_window.from_ts at time zone '{{ tz }}')::date
            from rebuild_window
        )
        and coalesce(f.iv_rank_252d, f.iv_rank_21d) is not null
),

classified as (
    select
        r.*,
        case
            when r.iv_rank * 100 > 60 then 'sell_vol'
            when r.iv_rank * 100 < 40 then 'buy_vol'
        end as direction,
        case
            when r.iv_rank * 100 > 80 or r.iv_rank * 100 < 20 then 'strong'
            when r.iv_rank * 100 > 60 or r.iv_rank * 100 < 40 then 'moderate'
        end as signal_label
    from ranked as r
)

select
    c.as_of,
    'iv_rank_mean_reversion'::text as strategy,
    c.underlying,
    null::text as pair_id,
    null::text as instrument,
    c.direction,
    least(
        1.0,
        case
            when c.direction = 'sell_vol' then (c.iv_rank - 0.6) / 0.4
            else (0.4 - c.iv_rank) / 0.4
        end
    )::float8 as strength,
    (
        case when c.window_days = 252 then 0.8 else 0.5 end
        + case
            when c.direction = 'sell_vol' and c.iv_percentile > 0.6 then 0.2
            when c.direction = 'buy_vol' and c.iv_percentile < 0.4 then 0.2
            else 0.0
        end
    )::float8 as confidence,
    case
        when c.direction = 'sell_vol' then c.iv_atm_30d - c.rv_cc_20d
        else c.rv_cc_20d - c.iv_atm_30d
    end::float8 as expected_edge,
    jsonb_build_object(
        'iv_rank', c.iv_rank * 100,
        'window_days', c.window_days,
        'iv_percentile', c.iv_percentile * 100,
        'label', c.signal_label,
        'iv_atm_30d', c.iv_atm_30d,
        'rv_cc_20d', c.rv_cc_20d
    ) as metadata,
    'iv_rank_mean_reversion:v1'::text as model_version,
    c.signal_label
from classified as c
where c.direction is not null
