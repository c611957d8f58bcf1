{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        pre_hook="{{ warm_quant_udfs() }}"
    )
}}

{%- set as_of = var('risk_as_of', none) -%}
{%- set top_k = var('ranking_top_k', 15) | int -%}
{%- set per_underlying = var('ranking_max_per_underlying', 1) | int -%}

-- The nightly ranking of order candidates, history per as_of: the candidates of
-- fct_order_candidates with a listed structure, at most {{ per_underlying }} per underlying (its
-- best: tradable first, then by score), ranked by the risk-adjusted expected edge (score = net
-- edge after costs / 10-day VaR99 of the position with its hedge), the tradable picks first;
-- is_top_k marks the first {{ top_k }} (var ranking_top_k; the publication reads
-- ops.risk_parameters ranking_top_k). is_tradable: the calibrated plan gives a Kelly size and
-- the edge covers the costs; the others follow the tradable picks, by score, with their
-- economics (for one unit when there is no Kelly size) and no_trade_reason, and get no order.
-- Every pick carries: underlying, side, structure, expiry; entry, target and stop prices and
-- percentages (directional: on the underlying; volatility: on the premium per share); the
-- calibrated probability of the target (flagged when it is the prior); position size % of
-- capital and units; the regime (fct_signal_regimes, else the IV percentile band);
-- reward/risk; the options context (PCR, max pain and its distance, gamma flip and its
-- distance, IV rank / percentile, net delta per OI, VRP: fct_options_features); the
-- economics; the legs with limit prices and the delta hedge; and a plain-text rationale
-- generated from those inputs (risk.ranking_rationale, python_udfs.ranking templates).
-- ops.run_strategy_dispatch publishes the top K (ops.nightly_rankings, read by
-- analytics.nightly_ranking) with the order intents of the tradable ones in one transaction.

with evaluated as (
    -- every candidate with a listed structure: tradable ones and those without a Kelly size
    -- or whose edge does not cover the costs (evaluated for one unit)
    select
        c.*,
        c.status = 'accepted' as is_tradable,
        row_number() over (
            partition by c.as_of, c.underlying
            order by c.status = 'accepted' desc, c.score desc nulls last, c.candidate_id asc
        ) as underlying_pick
    from {{ ref('fct_order_candidates') }} as c
    where
        (c.status = 'accepted' or c.reject_stage in ('sizing', 'costs'))
        and c.score is not null
        {% if is_incremental() and as_of -%}
            and c.as_of = '{{ as_of }}'::date
        {%- elif is_incremental() -%}
            and c.as_of = (select max(c2.as_of) from {{ ref('fct_order_candidates') }} as c2)
        {%- endif %}
),

ranked as (
    select
        a.*,
        row_number() over (
            partition by a.as_of
            order by a.is_tradable desc, a.score desc, a.candidate_id asc
        ) as candidate_rank
    from evaluated as a
    where a.underlying_pick <= {{ per_underlying }}
),

context as (
    select
        r.*,
        f.pcr_oi,
        coalesce(f.is_pcr_oi_extreme_low or f.is_pcr_oi_extreme_high, false) as is_pcr_extreme,
        f.max_pain_strike,
        f.max_pain_distance_pct,
        f.gamma_flip,
        f.gamma_flip_distance_pct,
        coalesce(f.iv_rank_252d, f.iv_rank_21d) as iv_rank,
        coalesce(f.iv_percentile_252d, f.iv_percentile_21d) as iv_percentile,
        f.net_delta_per_oi as net_delta,
        f.vrp_20d as vrp,
        f.iv_atm_30d,
        f.days_to_earnings,
        h.rv_cc_21d,
        coalesce(
            g.regime || '_vol',
            r.decision_metadata ->> 'regime',
            case
                when coalesce(f.iv_percentile_252d, f.iv_percentile_21d) > 0.8 then 'high_vol'
                when coalesce(f.iv_percentile_252d, f.iv_percentile_21d) < 0.2 then 'low_vol'
                when coalesce(f.iv_percentile_252d, f.iv_percentile_21d) is not null
                    then 'normal_vol'
            end,
            'unknown'
        ) as regime
    from ranked as r
    left join {{ ref('fct_options_features') }} as f
        on r.underlying = f.underlying and r.as_of = f.trade_date
    left join {{ ref('fct_risk_factor_history') }} as h
        on r.underlying = h.symbol and r.as_of = h.trade_date
    left join {{ ref('fct_signal_regimes') }} as g
        on r.underlying = g.underlying and r.as_of = g.as_of
)

select
    c.as_of,
    c.candidate_rank,
    c.candidate_rank <= {{ top_k }} as is_top_k,
    c.is_tradable,
    case when not c.is_tradable then c.reject_reason end as no_trade_reason,
    c.candidate_id,
    c.underlying,
    c.side,
    c.structure,
    c.strategies,
    c.strength,
    c.confidence,
    c.expiration,
    c.dte,
    c.quote_ts,
    c.spot,
    (c.plan ->> 'entry_price')::float8 as entry_price,
    (c.plan ->> 'target_price')::float8 as target_price,
    (c.plan ->> 'stop_price')::float8 as stop_price,
    (c.plan ->> 'target_pct')::float8 as target_pct,
    (c.plan ->> 'stop_pct')::float8 as stop_pct,
    c.probability,
    c.probability_source,
    c.probability_source = 'prior' as is_probability_prior,
    c.position_size_pct,
    c.units,
    c.regime,
    (c.plan ->> 'reward_risk')::float8 as reward_risk,
    c.pcr_oi,
    c.is_pcr_extreme,
    c.max_pain_strike,
    c.max_pain_distance_pct,
    c.gamma_flip,
    c.gamma_flip_distance_pct,
    c.iv_rank,
    c.iv_percentile,
    c.net_delta,
    c.vrp,
    c.expected_edge,
    c.execution_costs,
    c.net_edge,
    c.risk_var_99_10d,
    c.score,
    c.legs,
    c.hedge_shares,
    risk.ranking_rationale(
        c.plan || jsonb_build_object(
            'underlying', c.underlying,
            'strategies', to_jsonb(c.strategies),
            'strength', c.strength,
            'confidence', c.confidence,
            'expiration', c.expiration,
            'dte', c.dte,
            'iv_atm_30d', c.iv_atm_30d,
            'rv_21d', c.rv_cc_21d,
            'iv_rank', c.iv_rank,
            'iv_percentile', c.iv_percentile,
            'regime', c.regime,
            'pcr_oi', c.pcr_oi,
            'pcr_extreme', c.is_pcr_extreme,
            'max_pain_strike', c.max_pain_strike,
            'max_pain_distance', c.max_pain_distance_pct,
            'gamma_flip', c.gamma_flip,
            'gamma_flip_distance', c.gamma_flip_distance_pct,
            'net_delta', c.net_delta,
            'costs', c.execution_costs,
            'risk', c.risk_var_99_10d,
            'days_to_earnings', c.days_to_earnings,
            'no_trade_reason', case when not c.is_tradable then c.reject_reason end
        )
    ) as rationale,
    c.plan
from context as c
