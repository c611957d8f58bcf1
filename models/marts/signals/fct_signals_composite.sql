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

{%- set tz = var('market_timezone') -%}
{%- set momentum_rows = 5 -%}

-- Strategy 3, composite (vol-trading seed): score = 0.3 IV rank + 0.3 regime + 0.2 momentum +
-- 0.2 term structure, each component in [-1, 1] with > 0 = buy vol (quant.composite_vol_score,
-- python_udfs.signals.composite_vol_score, one call per rebuild):
--   IV rank     1 - 2 rank (the rank of strategy 1: 252-day, else the 21-day fallback);
--   regime      p_low - p_high of the configured regime model (fct_signal_regimes);
--   momentum    tanh(ln(iv_atm_30d / iv_atm_30d 5 rows earlier) / 0.10): rising implied vol
--               argues for buying vol (trend in IV);
--   term        -tanh((iv_atm_60d / iv_atm_30d - 1) / 0.05): contango (calm, premium-rich)
--               argues for selling, backwardation (stress) for buying.
-- Thresholds on the score: > 0.3 buy vol (moderate), > 0.6 (strong); < -0.3 sell vol, < -0.6
-- strong. strength = |score|; confidence = agreement = |score| / sum |w_i s_i| (1 when every
-- component points the same way). Fires only when all four components exist.
-- expected_edge (decimal vol): as strategy 1, the implied-realized spread in the trade's
-- favour. Point in time: rows of dates <= as_of only (the 5-row lag reads earlier rows).

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
),

window_start as (
    select (rebuild_window.from_ts at time zone '{{ tz }}')::date as from_date
    from rebuild_window
),

features_ranked as (
    select
        f.underlying,
        f.trade_date,
        f.iv_atm_30d,
        f.iv_atm_60d,
        f.rv_cc_20d,
        coalesce(f.iv_rank_252d, f.iv_rank_21d) as iv_rank,
        case when f.iv_rank_252d is not null then 252 else 21 end as window_days,
        row_number() over (
            partition by f.underlying, f.trade_date >= w.from_date
            order by f.trade_date desc
        ) as rows_back,
        f.trade_date >= w.from_date as is_wanted
    from {{ ref('fct_options_features') }} as f
    cross join window_start as w
),

features as (
    select
        f.*,
        lag(f.iv_atm_30d, {{ momentum_rows }}) over (
            partition by f.underlying order by f.trade_date
        ) as iv_atm_30d_lag5
    from features_ranked as f
    where f.is_wanted or f.rows_back <= {{ momentum_rows }}
),

inputs as (
    select
        f.underlying,
        f.trade_date as as_of,
        f.iv_atm_30d,
        f.iv_atm_30d_lag5,
        f.iv_atm_60d,
        f.rv_cc_20d,
        f.iv_rank,
        f.window_days,
        r.regime_model,
        r.p_low,
        r.p_high
    from features as f
    inner join {{ ref('fct_signal_regimes') }} as r
        on
            f.underlying = r.underlying
            and f.trade_date = r.as_of
    where
        f.is_wanted
        and f.iv_rank is not null
        and r.p_low is not null
        and f.iv_atm_30d is not null
        and f.iv_atm_30d_lag5 is not null
        and f.iv_atm_60d is not null
),

batch as (
    select
        array_agg(underlying order by underlying, as_of) as underlyings,
        array_agg(as_of order by underlying, as_of) as dates,
        array_agg(iv_rank order by underlying, as_of) as iv_rank,
        array_agg(p_low order by underlying, as_of) as p_low,
        array_agg(p_high order by underlying, as_of) as p_high,
        array_agg(iv_atm_30d order by underlying, as_of) as iv_30d,
        array_agg(iv_atm_30d_lag5 order by underlying, as_of) as iv_30d_lag5,
        array_agg(iv_atm_60d order by underlying, as_of) as iv_60d
    from inputs
),

scored as (
    select
        u.underlying,
        u.as_of,
        u.s_iv_rank,
        u.s_regime,
        u.s_momentum,
        u.s_term,
        u.score,
        u.agreement
    from batch as b
    cross join
        lateral quant.composite_vol_score(
            b.iv_rank, b.p_low, b.p_high, b.iv_30d, b.iv_30d_lag5, b.iv_60d
        ) as c
    cross join
        lateral unnest(
            b.underlyings, b.dates, c.s_iv_rank, c.s_regime, c.s_momentum, c.s_term, c.score,
            c.agreement
        ) as u (underlying, as_of, s_iv_rank, s_regime, s_momentum, s_term, score, agreement)
    where b.underlyings is not null
)

select
    s.as_of,
    'composite'::text as strategy,
    s.underlying,
    null::text as pair_id,
    null::text as instrument,
    case when s.score > 0 then 'buy_vol' else 'sell_vol' end as direction,
    least(1.0, abs(s.score))::float8 as strength,
    s.agreement::float8 as confidence,
    case
        when s.score > 0 then i.rv_cc_20d - i.iv_atm_30d
        else i.iv_atm_30d - i.rv_cc_20d
    end::float8 as expected_edge,
    jsonb_build_object(
        'score', s.score,
        'label', case when abs(s.score) > 0.6 then 'strong' else 'moderate' end,
        's_iv_rank', s.s_iv_rank,
        's_regime', s.s_regime,
        's_momentum', s.s_momentum,
        's_term', s.s_term,
        'iv_rank', i.iv_rank * 100,
        'iv_rank_window_days', i.window_days,
        'regime_model', i.regime_model,
        'p_low', i.p_low,
        'p_high', i.p_high,
        'iv_atm_30d', i.iv_atm_30d,
        'iv_atm_30d_lag5', i.iv_atm_30d_lag5,
        'iv_atm_60d', i.iv_atm_60d
    ) as metadata,
    'composite:v1'::text as model_version,
    case when abs(s.score) > 0.6 then 'strong' else 'moderate' end as signal_label
from scored as s
inner join inputs as i
    on
        s.underlying = i.underlying
        and s.as_of = i.as_of
where abs(s.score) > 0.3
