{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ warm_quant_udfs() }}",
            "set local max_parallel_workers_per_gather = 0"
        ]
    )
}}

-- depends_on: {{ ref('fct_risk_option_marks') }}
-- depends_on: {{ ref('fct_risk_factor_history') }}

{#- The signal marts of models/marts/signals: fct_signal_decisions, fct_signals and
    fct_signal_hit_rates (the signals contract). -#}
{%- set as_of = var('risk_as_of', none) -%}
{%- set dte_min = var('ranking_dte_min', 30) | int -%}
{%- set dte_max = var('ranking_dte_max', 45) | int -%}
{%- set dte_target = var('ranking_dte_target', 37) | int -%}
{%- set directional_days = var('ranking_directional_holding_days', 5) | int -%}
{%- set max_units = var('ranking_max_units', 25) | int -%}
{%- set max_participation = var('ranking_max_participation', 0.10) | float -%}
{%- set risk_paths = var('ranking_risk_paths', 2000) | int -%}
{%- set seed = var('ranking_seed', 7) | int -%}

-- Order candidates of the night: every 'enter' decision of fct_signal_decisions on the as-of
-- date becomes one candidate per structure of its side, built from the contracts listed that
-- day (fct_risk_option_marks: two-sided quotes, clean IV), on the expiry with {{ dte_min }}-{{
-- dte_max }} calendar days closest to {{ dte_target }}:
--   sell_vol -> short strangle (sell the 20-delta call and put) and iron condor (plus the
--               10-delta wings);
--   buy_vol  -> long straddle (call and put at the strike nearest the forward);
--   long     -> bull call spread (buy the 50-delta call, sell the 25-delta call);
--   short    -> bear put spread (buy the 50-delta put, sell the 25-delta put);
-- each with its delta hedge in the underlying. risk.candidate_plan (python_udfs.ranking) sizes
-- and costs it: target / stop / calibrated probability (fct_signal_hit_rates of the signal's
-- strategies and strength buckets, the prior flagged without history), half-Kelly x
-- vol-scaled size, units, limit prices (buy bid + 0.3 spread, sell ask - 0.3 spread),
-- expected edge, costs (half spread + $0.65 + $0.02 per contract + impact), net edge, 10-day
-- VaR99 and the risk-adjusted score. status = rejected (reject_stage structure / sizing /
-- costs, reject_reason) when no structure is listed, the Kelly size is 0 or the edge does not
-- cover the costs; ops.run_strategy_dispatch copies those to ops.rejected_candidates.
-- One as-of per run (var risk_as_of, else the latest decision date); history kept.

with as_of as (
    select
        {% if as_of -%}
            '{{ as_of }}'::date as as_of
        {%- else -%}
            max(d.as_of) as as_of
        from {{ ref('fct_signal_decisions') }} as d
        {%- endif %}
),

decisions as (
    select
        d.as_of,
        d.underlying,
        d.side,
        d.strength,
        d.strategies,
        d.signal_count,
        d.metadata,
        case
            when d.side in ('buy_vol', 'long') then d.long_confidence
            else d.short_confidence
        end as confidence
    from {{ ref('fct_signal_decisions') }} as d
    inner join as_of on d.as_of = as_of.as_of
    where d.action = 'enter' and d.side in ('sell_vol', 'buy_vol', 'long', 'short')
),

templates as (
    -- legs of each structure: right, side, target delta (null: the straddle strike) and the
    -- anchor leg a wing / short spread leg must lie beyond (further out of the money)
    select *
    from (
        values
        ('sell_vol', 'short_strangle', 1, 'C', 'sell', 0.20, null),
        ('sell_vol', 'short_strangle', 2, 'P', 'sell', -0.20, null),
        ('sell_vol', 'iron_condor', 1, 'C', 'sell', 0.20, null),
        ('sell_vol', 'iron_condor', 2, 'P', 'sell', -0.20, null),
        ('sell_vol', 'iron_condor', 3, 'C', 'buy', 0.10, 1),
        ('sell_vol', 'iron_condor', 4, 'P', 'buy', -0.10, 2),
        ('buy_vol', 'long_straddle', 1, 'C', 'buy', null, null),
        ('buy_vol', 'long_straddle', 2, 'P', 'buy', null, null),
        ('long', 'bull_call_spread', 1, 'C', 'buy', 0.50, null),
        ('long', 'bull_call_spread', 2, 'C', 'sell', 0.25, 1),
        ('short', 'bear_put_spread', 1, 'P', 'buy', -0.50, null),
        ('short', 'bear_put_spread', 2, 'P', 'sell', -0.25, 1)
    ) as t (side, structure, leg_no, option_right, leg_side, target_delta, beyond_leg)
),

structures as (
    select distinct
        side,
        structure
    from templates
),

chain as (
    select m.*
    from {{ ref('fct_risk_option_marks') }} as m
    inner join as_of on m.quote_date = as_of.as_of
    where
        m.underlying in (select decisions.underlying from decisions)
        and m.is_quality_ok
        and m.bid > 0
        and m.ask > m.bid
        and m.iv > 0
        and m.delta is not null
),

expiries as (
    select
        c.underlying,
        c.expiration,
        c.expiration - c.quote_date as dte,
        row_number() over (
            partition by c.underlying
            order by abs(c.expiration - c.quote_date - {{ dte_target }}), c.expiration
        ) as pick
    from chain as c
    where c.expiration - c.quote_date between {{ dte_min }} and {{ dte_max }}
    group by c.underlying, c.expiration, c.quote_date
),

atm as (
    -- the straddle strike: nearest the forward among strikes with a clean call and put
    select distinct on (c.underlying)
        c.underlying,
        c.strike
    from chain as c
    inner join expiries as e
        on c.underlying = e.underlying and c.expiration = e.expiration and e.pick = 1
    group by c.underlying, c.strike, c.forward
    having count(distinct c.option_right) = 2
    order by c.underlying asc, abs(c.strike - c.forward) asc, c.strike asc
),

candidates as (
    select
        d.*,
        t.structure,
        d.underlying || ':' || t.structure || ':' || coalesce(e.expiration::text, 'none')
            as candidate_id,
        e.expiration,
        e.dte
    from decisions as d
    inner join structures as t on d.side = t.side
    left join expiries as e on d.underlying = e.underlying and e.pick = 1
),

anchor_legs as (
    select
        k.candidate_id,
        t.leg_no,
        t.leg_side,
        l.*
    from candidates as k
    inner join templates as t on k.side = t.side and k.structure = t.structure
    left join atm as a on k.underlying = a.underlying
    cross join
        lateral (
            select c.*
            from chain as c
            where
                c.underlying = k.underlying
                and c.expiration = k.expiration
                and c.option_right = t.option_right
                and (t.target_delta is not null or c.strike = a.strike)
            order by abs(c.delta - coalesce(t.target_delta, c.delta)), c.strike
            limit 1
        ) as l
    where t.beyond_leg is null
),

wing_legs as (
    -- wings and short spread legs: strictly beyond their anchor's strike
    select
        k.candidate_id,
        t.leg_no,
        t.leg_side,
        l.*
    from candidates as k
    inner join templates as t on k.side = t.side and k.structure = t.structure
    inner join anchor_legs as a on k.candidate_id = a.candidate_id and t.beyond_leg = a.leg_no
    cross join lateral (
        select c.*
        from chain as c
        where
            c.underlying = k.underlying
            and c.expiration = k.expiration
            and c.option_right = t.option_right
            and (
                (t.option_right = 'C' and c.strike > a.strike)
                or (t.option_right = 'P' and c.strike < a.strike)
            )
        order by abs(c.delta - t.target_delta), c.strike
        limit 1
    ) as l
),

legs as (
    select * from anchor_legs
    union all
    select * from wing_legs
),

template_size as (
    select
        side,
        structure,
        count(*) as n_template_legs
    from templates
    group by side, structure
),

adv as (
    select
        m.contract_symbol,
        avg(m.volume) as adv_contracts
    from {{ ref('fct_risk_option_marks') }} as m
    cross join as_of
    where
        m.quote_date > as_of.as_of - 30
        and m.quote_date <= as_of.as_of
        and m.contract_symbol in (select legs.contract_symbol from legs)
    group by m.contract_symbol
),

leg_json as (
    select
        l.candidate_id,
        count(*) as n_legs,
        count(distinct l.contract_symbol) as n_contracts,
        min(l.quote_ts) as quote_ts,
        jsonb_agg(
            jsonb_build_object(
                'contract_symbol', l.contract_symbol::text,
                'side', l.leg_side,
                'ratio', 1,
                'strike', l.strike,
                'expiration', l.expiration,
                't', l.t_years,
                'r', l.rate,
                'q', l.dividend_yield,
                'iv', l.iv,
                'is_call', l.is_call,
                'bid', l.bid,
                'ask', l.ask,
                'mid', l.mid,
                'delta', l.delta,
                'gamma', l.gamma,
                'vega', l.vega,
                'theta', l.theta,
                'multiplier', l.multiplier,
                'adv_contracts', v.adv_contracts
            )
            order by l.leg_no
        ) as legs
    from legs as l
    left join adv as v on l.contract_symbol = v.contract_symbol
    group by l.candidate_id
),

bucketed as (
    -- the strength bucket of each contributing signal, as fct_signal_outcomes buckets it
    select
        s.underlying,
        s.strategy,
        s.direction,
        case
            when s.strength < 0.33 then '[0,0.33)'
            when s.strength < 0.66 then '[0.33,0.66)'
            when s.strength <= 1 then '[0.66,1]'
        end as strength_bucket
    from {{ ref('fct_signals') }} as s
    inner join as_of on s.as_of = as_of.as_of
    where s.underlying in (select decisions.underlying from decisions)
),

latest_hit_rates as (
    select distinct on (h.strategy, h.direction, h.strength_bucket)
        h.strategy,
        h.direction,
        h.strength_bucket::text as strength_bucket,
        h.n_signals,
        h.hit_rate_5d,
        h.hit_rate_20d,
        h.mean_fwd_return_5d
    from {{ ref('fct_signal_hit_rates') }} as h
    cross join as_of
    where h.as_of <= as_of.as_of
    order by h.strategy asc, h.direction asc, h.strength_bucket asc, h.as_of desc
),

calibration as (
    -- pooled over the decision's contributing signals: hits and counts add up
    select
        d.underlying,
        sum(h.n_signals) as n_signals,
        sum(
            h.n_signals * case
                when d.side in ('long', 'short') then h.hit_rate_5d else h.hit_rate_20d
            end
        ) / nullif(sum(h.n_signals), 0) as hit_rate,
        sum(h.n_signals * h.mean_fwd_return_5d) / nullif(sum(h.n_signals), 0)
            as mean_fwd_return
    from decisions as d
    inner join bucketed as b
        on
            d.underlying = b.underlying
            and d.side = b.direction
            and b.strategy = any(d.strategies)
    inner join latest_hit_rates as h
        on
            b.strategy = h.strategy
            and b.direction = h.direction
            and b.strength_bucket = h.strength_bucket
    group by d.underlying
),

context as (
    select
        k.candidate_id,
        f.spot as feature_spot,
        f.iv_atm_30d,
        f.max_pain_distance_pct,
        f.gex_top3_share,
        coalesce(f.is_pcr_oi_extreme_low or f.is_pcr_oi_extreme_high, false) as pcr_extreme,
        coalesce(f.iv_percentile_252d, f.iv_percentile_21d) as iv_percentile,
        r.rv_cc_21d,
        coalesce(u.garch_forecast_1d, r.rv_cc_21d) as forecast_vol,
        u.volume_sma_20 * u.close_price as avg_dollar_volume,
        r.close_price
    from candidates as k
    left join {{ ref('fct_options_features') }} as f
        on k.underlying = f.underlying and k.as_of = f.trade_date
    left join {{ ref('fct_risk_factor_history') }} as r
        on k.underlying = r.symbol and k.as_of = r.trade_date
    left join {{ ref('int_underlying_daily_features') }} as u
        on k.underlying = u.symbol and k.as_of = u.trade_date
),

inputs as (
    select
        k.*,
        j.legs,
        j.quote_ts,
        case
            when k.expiration is null
                then 'no expiry with {{ dte_min }}-{{ dte_max }} days to expiry listed'
            when j.candidate_id is null then 'no clean quotes for the legs'
            when j.n_legs < z.n_template_legs
                then 'no listed contract beyond the short strikes for every leg'
            when j.n_contracts < j.n_legs then 'two legs fell on the same contract'
        end as structure_problem,
        jsonb_build_object(
            'underlying', k.underlying,
            'side', k.side,
            'structure', k.structure,
            'rv_21d', x.rv_cc_21d,
            'forecast_vol', x.forecast_vol,
            'iv_atm_30d', x.iv_atm_30d,
            'hit_rate', c.hit_rate,
            'n_signals', coalesce(c.n_signals, 0),
            'mean_fwd_return', c.mean_fwd_return,
            'holding_days', {{ directional_days }},
            'max_pain_distance', x.max_pain_distance_pct,
            'gamma_concentration', x.gex_top3_share,
            'pcr_extreme', x.pcr_extreme,
            'iv_percentile', x.iv_percentile,
            'avg_dollar_volume', x.avg_dollar_volume,
            'capital', coalesce(ops.risk_parameter('capital'), 5000000),
            'max_units', {{ max_units }},
            'max_participation', {{ max_participation }},
            'risk_paths', {{ risk_paths }},
            'seed', {{ seed }},
            'legs', j.legs
        ) as plan_inputs,
        x.close_price
    from candidates as k
    left join leg_json as j on k.candidate_id = j.candidate_id
    left join template_size as z on k.side = z.side and k.structure = z.structure
    left join calibration as c on k.underlying = c.underlying
    left join context as x on k.candidate_id = x.candidate_id
),

spots as (
    select
        m.underlying,
        max(m.spot) as spot
    from chain as m
    group by m.underlying
),

planned as materialized (
    select
        i.*,
        case
            when i.structure_problem is null
                then risk.candidate_plan(
                        i.plan_inputs || jsonb_build_object(
                            'spot', coalesce(s.spot, i.close_price),
                            'market', ops.risk_market_inputs(i.as_of, array[i.underlying])
                        )
                    )
        end as plan,
        coalesce(s.spot, i.close_price) as spot
    from inputs as i
    left join spots as s on i.underlying = s.underlying
)

select
    p.as_of,
    p.candidate_id,
    p.underlying,
    p.side,
    p.structure,
    p.strategies,
    p.signal_count,
    p.strength,
    p.confidence,
    p.expiration,
    p.dte,
    p.quote_ts,
    p.spot,
    coalesce(p.plan ->> 'status', 'rejected') as status,
    case
        when p.structure_problem is not null then 'structure'
        when p.plan ->> 'status' = 'accepted' then null
        when p.plan ->> 'reject_reason' like 'no Kelly%' then 'sizing'
        when p.plan ->> 'reject_reason' like '%edge%' then 'costs'
        else 'structure'
    end as reject_stage,
    coalesce(p.structure_problem, p.plan ->> 'reject_reason') as reject_reason,
    (p.plan ->> 'units')::int as units,
    (p.plan ->> 'size_pct')::float8 as position_size_pct,
    (p.plan ->> 'probability')::float8 as probability,
    p.plan ->> 'probability_source' as probability_source,
    (p.plan ->> 'gross_edge')::float8 as expected_edge,
    (p.plan -> 'costs' ->> 'total')::float8 as execution_costs,
    (p.plan ->> 'net_edge')::float8 as net_edge,
    (p.plan ->> 'risk_var_99_10d')::float8 as risk_var_99_10d,
    (p.plan ->> 'score')::float8 as score,
    (p.plan ->> 'hedge_shares')::int as hedge_shares,
    coalesce(p.plan -> 'legs', p.legs) as legs,
    p.plan,
    p.plan_inputs,
    p.metadata as decision_metadata
from planned as p
