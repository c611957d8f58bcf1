{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('as_of', '365 days') }}"
    )
}}

{%- set ratio = var('signal_decision_ratio', 1.5) | float -%}
{%- set tz = var('market_timezone') -%}

-- The decision per (as_of, underlying) from every signal on it (stochastic-vol design seed's
-- aggregation, with its exit defect fixed). Each signal is counted on the underlying it trades:
-- its own underlying, and for a pair (ou_pairs) also the second leg with the opposite
-- direction (long the spread = short leg B; exits stay exits). Each strategy votes once per
-- direction with its highest confidence (so that one strategy with many contracts, e.g.
-- surface arbitrage, does not outvote the others). Sides: LONG = buy_vol + long (long
-- volatility or long the underlying), SHORT = sell_vol + short; long_confidence /
-- short_confidence are the summed votes. action:
--   enter    one side's confidence > 1.5 x the other's (and > 0); side = the direction with
--            the larger summed confidence within the winning side (buy_vol before long on a
--            tie, sell_vol before short);
--   exit     no side wins and at least one exit signal;
--   conflict signals on both sides, neither wins, no exit;
--   hold     no signal (every underlying with an options snapshot gets a row).
-- Exits are never dropped: exit_signals counts them and metadata.exits lists them whatever the
-- action (an 'enter' row with exit_signals > 0 also closes those positions).
-- strength: the confidence-weighted mean strength of the winning side's votes (enter), of the
-- exits (exit); 0 for conflict and hold.

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
),

window_start as (
    select (rebuild_window.from_ts at time zone '{{ tz }}')::date as from_date
    from rebuild_window
),

signals as (
    select s.*
    from {{ ref('fct_signals') }} as s
    cross join window_start as w
    where s.as_of >= w.from_date
),

legs as (
    select
        s.as_of,
        s.strategy,
        s.underlying,
        s.pair_id,
        s.instrument,
        s.direction,
        s.strength,
        s.confidence,
        s.metadata ->> 'exit_reason' as exit_reason
    from signals as s
    union all
    select
        s.as_of,
        s.strategy,
        split_part(s.pair_id, '/', 2) as underlying,
        s.pair_id,
        s.instrument,
        case s.direction
            when 'long' then 'short'
            when 'short' then 'long'
            else s.direction
        end as direction,
        s.strength,
        s.confidence,
        s.metadata ->> 'exit_reason' as exit_reason
    from signals as s
    where s.strategy = 'ou_pairs' and s.pair_id like '%/%'
),

votes as (
    select
        as_of,
        underlying,
        strategy,
        direction,
        max(confidence) as confidence,
        (array_agg(strength order by confidence desc nulls last, strength desc nulls last))[1]
            as strength,
        count(*) as n_signals
    from legs
    where direction <> 'exit'
    group by as_of, underlying, strategy, direction
),

sides as (
    select
        as_of,
        underlying,
        coalesce(sum(confidence) filter (where direction = 'buy_vol'), 0) as buy_vol_conf,
        coalesce(sum(confidence) filter (where direction = 'long'), 0) as long_conf,
        coalesce(sum(confidence) filter (where direction = 'sell_vol'), 0) as sell_vol_conf,
        coalesce(sum(confidence) filter (where direction = 'short'), 0) as short_conf,
        sum(confidence * strength) filter (where direction in ('buy_vol', 'long'))
        / nullif(sum(confidence) filter (where direction in ('buy_vol', 'long')), 0)
            as long_strength,
        sum(confidence * strength) filter (where direction in ('sell_vol', 'short'))
        / nullif(sum(confidence) filter (where direction in ('sell_vol', 'short')), 0)
            as short_strength,
        jsonb_agg(
            jsonb_build_object(
                'strategy', strategy,
                'direction', direction,
                'confidence', confidence,
                'strength', strength,
                'n_signals', n_signals
            )
            order by strategy, direction
        ) as votes
    from votes
    group by as_of, underlying
),

counts as (
    select
        as_of,
        underlying,
        count(*) as signal_count,
        count(*) filter (where direction = 'exit') as exit_signals,
        array_agg(distinct strategy order by strategy) as strategies,
        sum(confidence * strength) filter (where direction = 'exit')
        / nullif(sum(confidence) filter (where direction = 'exit'), 0) as exit_strength,
        jsonb_agg(
            jsonb_build_object(
                'strategy', strategy,
                'pair_id', pair_id,
                'instrument', instrument,
                'reason', exit_reason,
                'confidence', confidence,
                'strength', strength
            )
            order by strategy, pair_id, instrument
        ) filter (where direction = 'exit') as exits
    from legs
    group by as_of, underlying
),

universe as (
    select
        f.underlying,
        f.trade_date as as_of
    from {{ ref('fct_options_features') }} as f
    cross join window_start as w
    where f.trade_date >= w.from_date
    union
    select
        c.underlying,
        c.as_of
    from counts as c
),

combined as (
    select
        u.as_of,
        u.underlying,
        coalesce(s.buy_vol_conf, 0) + coalesce(s.long_conf, 0) as long_confidence,
        coalesce(s.sell_vol_conf, 0) + coalesce(s.short_conf, 0) as short_confidence,
        s.buy_vol_conf,
        s.long_conf,
        s.sell_vol_conf,
        s.short_conf,
        s.long_strength,
        s.short_strength,
        s.votes,
        coalesce(c.signal_count, 0) as signal_count,
        coalesce(c.exit_signals, 0) as exit_signals,
        coalesce(c.strategies, array[]::text[]) as strategies,
        c.exit_strength,
        c.exits
    from universe as u
    left join sides as s
        on
            u.as_of = s.as_of
            and u.underlying = s.underlying
    left join counts as c
        on
            u.as_of = c.as_of
            and u.underlying = c.underlying
),

decided as (
    select
        c.*,
        case
            when c.long_confidence > 0 and c.long_confidence > {{ ratio }} * c.short_confidence
                then 'long'
            when c.short_confidence > 0 and c.short_confidence > {{ ratio }} * c.long_confidence
                then 'short'
        end as winner
    from combined as c
)

select
    d.as_of,
    d.underlying,
    case
        when d.winner = 'long' and d.buy_vol_conf >= d.long_conf then 'buy_vol'
        when d.winner = 'long' then 'long'
        when d.winner = 'short' and d.sell_vol_conf >= d.short_conf then 'sell_vol'
        when d.winner = 'short' then 'short'
    end as side,
    case
        when d.winner is not null then 'enter'
        when d.exit_signals > 0 then 'exit'
        when d.long_confidence > 0 or d.short_confidence > 0 then 'conflict'
        else 'hold'
    end as action,  -- noqa: RF04
    d.long_confidence::float8 as long_confidence,
    d.short_confidence::float8 as short_confidence,
    coalesce(
        case
            when d.winner = 'long' then d.long_strength
            when d.winner = 'short' then d.short_strength
            when d.exit_signals > 0 then d.exit_strength
        end,
        0.0
    )::float8 as strength,
    d.strategies,
    d.signal_count::int as signal_count,
    d.exit_signals::int as exit_signals,
    jsonb_build_object(
        'buy_vol_confidence', d.buy_vol_conf,
        'sell_vol_confidence', d.sell_vol_conf,
        'long_directional_confidence', d.long_conf,
        'short_directional_confidence', d.short_conf,
        'ratio_rule', {{ ratio }},
        'votes', coalesce(d.votes, '[]'::jsonb),
        'exits', coalesce(d.exits, '[]'::jsonb)
    ) as metadata
from decided as d
