{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('as_of', '365 days') }}"
    )
}}

-- Strategy 5, OU mean reversion on cointegrated pairs: the decisions of the active pairs of
-- fct_signal_pairs. long = long the spread (buy leg A, sell hedge_ratio x leg B) when the
-- spread is at or below the Leung-Li long entry level (and above its stop); short = the
-- mirror trade when the spread is at or above the short entry level; exit = close any
-- position on the pair (stop-loss, take-profit level reached, cointegration lost: p-value >
-- 0.05, or no mean reversion). underlying = leg A, pair_id = 'A/B'. strength: entries
-- min(1, |z| / 3) (z: spread in stationary sds from the OU mean), exits 1 (stops, failed
-- health) or 0.5 (take-profit). confidence: clip(1 - p / 0.05, 0, 1), halved under a
-- half-life warning; 1 for stops and failed health. expected_edge (decimal return per unit of
-- capital): entries the Leung-Li value of entering now, V(X) - X - c (discounted, stop-loss
-- and both costs included); null for exits. Point in time: fct_signal_pairs.

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
)

select
    p.as_of,
    'ou_pairs'::text as strategy,
    p.leg_a as underlying,
    p.pair_id,
    null::text as instrument,
    p.decision as direction,
    p.strength,
    p.confidence,
    p.expected_edge,
    jsonb_build_object(
        'leg_a', p.leg_a,
        'leg_b', p.leg_b,
        'hedge_ratio', p.hedge_ratio,
        'intercept', p.intercept,
        'p_value', p.p_value,
        'adf_stat', p.adf_stat,
        'n_obs', p.n_obs,
        'spread', p.spread,
        'z_score', p.z_score,
        'ou_theta', p.theta,
        'ou_mu', p.mu,
        'ou_sigma', p.sigma,
        'half_life_days', p.half_life_days,
        'half_life_median', p.half_life_median,
        'long_entry_upper', p.long_entry_upper,
        'long_exit', p.long_exit,
        'long_stop', p.long_stop,
        'short_entry_lower', p.short_entry_lower,
        'short_exit', p.short_exit,
        'short_stop', p.short_stop,
        'health', p.health,
        'warnings',
        to_jsonb(array_remove(array[
            case when p.warn_cointegration then 'cointegration_p_above_0.05' end,
            case when p.warn_half_life then 'half_life_above_1.5x_median' end
        ], null)),
        'exit_reason', p.exit_reason
    ) as metadata,
    'ou_pairs:leung_li_2015:v1'::text as model_version
from {{ ref('fct_signal_pairs') }} as p
where
    p.as_of >= (
        select (rebuild_window.from_ts at time zone '{{ var("market_timezone") }}')::date
        from rebuild_window
    )
    and p.decision is not null
