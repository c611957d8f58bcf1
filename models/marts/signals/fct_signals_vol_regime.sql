{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('as_of', '365 days') }}"
    )
}}

{%- set threshold = var('signal_regime_threshold', 0.7) | float -%}

-- Strategy 2, volatility regime (vol-trading seed): the regime model configured by var
-- signal_regime_model (fct_signal_regimes: 'gmm' by default, 'hmm' for the filtered HMM)
-- fires when the most probable state is the high-vol one with probability above 0.7 (sell
-- vol: expect the regime to revert) or the low-vol one above 0.7 (buy vol); nothing in the
-- normal state. confidence = the state probability; strength = (probability - 0.7) / 0.3
-- (0 at the threshold, 1 at certainty). expected_edge (decimal vol): the distance of today's
-- 30-day ATM IV from the normal state's mean IV of the fit in force, in the trade's favour
-- (iv - normal for a sell, normal - iv for a buy). Point in time: the regime of date D comes
-- from a fit on data up to D (fct_signal_regimes).

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
),

regimes as (
    select r.*
    from {{ ref('fct_signal_regimes') }} as r
    where
        r.as_of >= (
            select (rebuild_window.from_ts at time zone '{{ var("market_timezone") }}')::date
            from rebuild_window
        )
        and r.state in (0, 2)
        and r.state_probability > {{ threshold }}
)

select
    r.as_of,
    'vol_regime'::text as strategy,
    r.underlying,
    null::text as pair_id,
    null::text as instrument,
    case when r.state = 2 then 'sell_vol' else 'buy_vol' end as direction,
    least(1.0, (r.state_probability - {{ threshold }}) / (1.0 - {{ threshold }}))::float8
        as strength,
    r.state_probability::float8 as confidence,
    case
        when r.state = 2 then r.iv_atm_30d - r.normal_regime_iv
        else r.normal_regime_iv - r.iv_atm_30d
    end::float8 as expected_edge,
    jsonb_build_object(
        'model', r.regime_model,
        'regime', r.regime,
        'p_low', r.p_low,
        'p_normal', r.p_mid,
        'p_high', r.p_high,
        'fit_as_of', case r.regime_model when 'hmm' then r.hmm_fit_as_of else r.gmm_fit_as_of end,
        'iv_atm_30d', r.iv_atm_30d,
        'vix_ratio_20d', r.vix_ratio_20d,
        'term_slope_60d_30d', r.term_slope_60d_30d,
        'rv_cc_20d', r.rv_cc_20d,
        'normal_regime_iv', r.normal_regime_iv
    ) as metadata,
    ('vol_regime:' || r.regime_model || ':v1')::text as model_version
from regimes as r
