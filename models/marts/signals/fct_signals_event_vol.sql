{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('as_of', '365 days') }}"
    )
}}

{%- set sell_ratio = var('signal_event_sell_ratio', 1.5) | float -%}
{%- set buy_ratio = var('signal_event_buy_ratio', 0.7) | float -%}
{%- set max_days = var('signal_event_max_days', 120) | int -%}
{%- set tz = var('market_timezone') -%}

-- Strategy 6, event volatility (options handbook seed): the options-implied move of the next
-- earnings event against the underlying's own history of earnings-day moves. Implied: the
-- expected absolute log move fct_options_features.earnings_implied_move_abs (= sqrt(2 / pi) x
-- the implied standard deviation earnings_implied_move, so that it compares with an average
-- of absolute moves). Historical: the mean |log return| of the reaction session of every past
-- event of the underlying (ref.earnings; reaction session = the first session on or after the
-- event date for BMO, the first session after it for AMC / UNK; log return from the previous
-- session's close to the reaction session's close, int_underlying_daily_features), counting
-- only reactions on or before as_of (point in time). ratio = implied / historical: > 1.5 sell
-- vol (the event is overpriced), < 0.7 buy vol. Only for events at most 120 calendar days
-- ahead. strength: sells min(1, (ratio - 1.5) / 1.5), buys min(1, (0.7 - ratio) / 0.7).
-- confidence = n / (n + 2), n = past events measured (1 event: 0.33; 8: 0.8). expected_edge
-- (decimal log return): |implied - historical| expected absolute move, in the trade's favour.

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
),

events as (
    select distinct
        e.symbol,
        e.event_date,
        e.timing
    from {{ ref('stg_ref__earnings') }} as e
    where e.symbol in (select distinct f.underlying from {{ ref('fct_options_features') }} as f)
),

bars as materialized (
    select
        d.symbol,
        d.trade_date,
        d.close_price::float8 as close_price,
        lag(d.close_price::float8) over (
            partition by d.symbol order by d.trade_date
        ) as prev_close
    from {{ ref('int_underlying_daily_features') }} as d
    where d.symbol in (select distinct events.symbol from events)
),

reaction_dates as (
    -- the reaction session: the event date itself for BMO, the next session for AMC / UNK
    select
        e.symbol,
        e.event_date,
        e.timing,
        min(b.trade_date) as reaction_date
    from events as e
    inner join bars as b
        on
            e.symbol = b.symbol
            and (
                e.event_date < b.trade_date
                or (e.timing = 'BMO' and e.event_date = b.trade_date)
            )
    group by e.symbol, e.event_date, e.timing
),

reactions as materialized (
    select
        r.symbol,
        r.event_date,
        r.timing,
        r.reaction_date,
        ln(b.close_price / b.prev_close) as reaction_move
    from reaction_dates as r
    inner join bars as b
        on
            r.symbol = b.symbol
            and r.reaction_date = b.trade_date
    where b.prev_close > 0 and b.close_price > 0
),

candidates as (
    select
        f.underlying,
        f.trade_date as as_of,
        f.next_earnings_date,
        f.next_earnings_timing,
        f.days_to_earnings,
        f.earnings_implied_move,
        f.earnings_implied_move_abs,
        f.earnings_method,
        h.n_events,
        h.mean_abs_move,
        h.last_event_date
    from {{ ref('fct_options_features') }} as f
    cross join
        lateral (
            select
                count(*) as n_events,
                avg(abs(x.reaction_move)) as mean_abs_move,
                max(x.event_date) as last_event_date
            from reactions as x
            where
                x.symbol = f.underlying
                and x.reaction_date <= f.trade_date
        ) as h
    where
        f.trade_date >= (
            select (rebuild_window.from_ts at time zone '{{ tz }}')::date
            from rebuild_window
        )
        and f.earnings_implied_move_abs > 0
        and f.days_to_earnings <= {{ max_days }}
        and h.n_events > 0
        and h.mean_abs_move > 0
),

rated as (
    select
        c.*,
        c.earnings_implied_move_abs / c.mean_abs_move as ratio
    from candidates as c
)

select
    r.as_of,
    'event_vol'::text as strategy,
    r.underlying,
    null::text as pair_id,
    null::text as instrument,
    case when r.ratio > {{ sell_ratio }} then 'sell_vol' else 'buy_vol' end as direction,
    least(
        1.0,
        case
            when r.ratio > {{ sell_ratio }} then (r.ratio - {{ sell_ratio }}) / {{ sell_ratio }}
            else ({{ buy_ratio }} - r.ratio) / {{ buy_ratio }}
        end
    )::float8 as strength,
    (r.n_events / (r.n_events + 2.0))::float8 as confidence,
    abs(r.earnings_implied_move_abs - r.mean_abs_move)::float8 as expected_edge,
    jsonb_build_object(
        'ratio', r.ratio,
        'implied_move', r.earnings_implied_move,
        'implied_move_abs', r.earnings_implied_move_abs,
        'historical_mean_abs_move', r.mean_abs_move,
        'n_past_events', r.n_events,
        'last_past_event', r.last_event_date,
        'next_earnings_date', r.next_earnings_date,
        'next_earnings_timing', r.next_earnings_timing,
        'days_to_earnings', r.days_to_earnings,
        'earnings_method', r.earnings_method
    ) as metadata,
    'event_vol:v1'::text as model_version
from rated as r
where r.ratio > {{ sell_ratio }} or r.ratio < {{ buy_ratio }}
