{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('as_of', '30 days') }}"
    )
}}

{%- set lookback = var('incremental_lookback_days') | int -%}

-- EVALUATION table (uses data AFTER as_of; never an input of a signal): per signal of
-- fct_signals, what happened over the next 5 and 20 TRADING days of the underlying's own
-- daily-bar sequence (int_underlying_daily_features rows, not calendar days).
-- fwd_return_h = ln(close_{t+h} / close_t) of the underlying; for ou_pairs the spread trade's
-- return ln(A_{t+h} / A_t) - hedge_ratio ln(B_{t+h} / B_t). fwd_rv_h = sqrt(252 / h x sum of
-- the h daily log returns squared) (zero-mean realized vol, annualised decimal).
-- fwd_iv_change_h = iv_atm_30d at the date of bar t+h minus at t (decimal vol).
-- outcome_h: what the signal bets on, positive when a long / buy_vol signal is right:
-- volatility signals (buy_vol / sell_vol) fwd_rv_h - iv_atm_30d at t (realized minus implied:
-- the sign of a delta-hedged option's P&L); directional signals (long / short) fwd_return_h.
-- hit_h = sign x outcome_h > 0 (sign +1 buy_vol / long, -1 sell_vol / short); null for exits
-- and while the window is open. Incremental: rebuilds the signals whose 20-day window was
-- still open (as_of within 60 days of the latest) and the trailing lookback dates.

with bounds as (
    {%- if is_incremental() %}
        select
            least(
                max(as_of) - {{ lookback }},
                coalesce(
                    min(as_of) filter (
                        where fwd_date_20d is null
                        and as_of >= (select max(t.as_of) - 60 from {{ this }} as t)
                    ),
                    max(as_of)
                )
            ) as from_date
        from {{ this }}
    {%- else %}
        select '-infinity'::date as from_date
    {%- endif %}
),

signals as (
    select
        s.*,
        case
            when s.direction in ('buy_vol', 'long') then 1
            when s.direction in ('sell_vol', 'short') then -1
            else 0
        end as sign,
        s.direction in ('buy_vol', 'sell_vol') as is_vol,
        case
            when s.strategy = 'ou_pairs' then split_part(s.pair_id, '/', 2)
        end as leg_b,
        (s.metadata ->> 'hedge_ratio')::float8 as hedge_ratio
    from {{ ref('fct_signals') }} as s
    cross join bounds as b
    where s.as_of >= coalesce(b.from_date, '-infinity'::date)
),

bars as (
    select
        d.symbol,
        d.trade_date,
        d.close_price::float8 as close_price,
        d.ret_1d,
        row_number() over (partition by d.symbol order by d.trade_date) as rn
    from {{ ref('int_underlying_daily_features') }} as d
    where
        d.symbol in (
            select signals.underlying from signals
            union
            select signals.leg_b from signals
        )
),

forward as (
    -- per (symbol, entry date): the closes 5 and 20 bars later and the realized vols between
    select
        b0.symbol,
        b0.trade_date,
        b0.close_price,
        max(b.trade_date) filter (where b.rn = b0.rn + 5) as date_5d,
        max(b.trade_date) filter (where b.rn = b0.rn + 20) as date_20d,
        max(b.close_price) filter (where b.rn = b0.rn + 5) as close_5d,
        max(b.close_price) filter (where b.rn = b0.rn + 20) as close_20d,
        sum(b.ret_1d * b.ret_1d) filter (where b.rn <= b0.rn + 5) as ssq_5d,
        count(b.ret_1d) filter (where b.rn <= b0.rn + 5) as n_5d,
        sum(b.ret_1d * b.ret_1d) filter (where b.rn <= b0.rn + 20) as ssq_20d,
        count(b.ret_1d) filter (where b.rn <= b0.rn + 20) as n_20d
    from bars as b0
    left join bars as b
        on
            b0.symbol = b.symbol
            and b0.rn < b.rn
            and b.rn <= b0.rn + 20
    where (b0.symbol, b0.trade_date) in (
            select
                signals.underlying,
                signals.as_of
            from signals
            union
            select
                signals.leg_b,
                signals.as_of
            from signals
        )
    group by b0.symbol, b0.trade_date, b0.close_price
),

iv as (
    select
        f.underlying,
        f.trade_date,
        f.iv_atm_30d
    from {{ ref('fct_options_features') }} as f
    where f.underlying in (select signals.underlying from signals)
),

joined as (
    select
        s.*,
        fa.close_price as entry_close,
        i0.iv_atm_30d as entry_iv,
        case
            when s.leg_b is null then fa.date_5d
            when fa.date_5d is not null and fb.date_5d is not null
                then greatest(fa.date_5d, fb.date_5d)
        end as fwd_date_5d,
        case
            when s.leg_b is null then fa.date_20d
            when fa.date_20d is not null and fb.date_20d is not null
                then greatest(fa.date_20d, fb.date_20d)
        end as fwd_date_20d,
        ln(fa.close_5d / fa.close_price) as ret_a_5d,
        ln(fa.close_20d / fa.close_price) as ret_a_20d,
        ln(fb.close_5d / fb.close_price) as ret_b_5d,
        ln(fb.close_20d / fb.close_price) as ret_b_20d,
        case
            when fa.n_5d = 5 then sqrt(252.0 / 5 * fa.ssq_5d)
        end as fwd_rv_5d,
        case
            when fa.n_20d = 20 then sqrt(252.0 / 20 * fa.ssq_20d)
        end as fwd_rv_20d,
        i5.iv_atm_30d - i0.iv_atm_30d as fwd_iv_change_5d,
        i20.iv_atm_30d - i0.iv_atm_30d as fwd_iv_change_20d
    from signals as s
    left join forward as fa
        on
            s.underlying = fa.symbol
            and s.as_of = fa.trade_date
    left join forward as fb
        on
            s.leg_b = fb.symbol
            and s.as_of = fb.trade_date
    left join iv as i0
        on
            s.underlying = i0.underlying
            and s.as_of = i0.trade_date
    left join iv as i5
        on
            s.underlying = i5.underlying
            and fa.date_5d = i5.trade_date
    left join iv as i20
        on
            s.underlying = i20.underlying
            and fa.date_20d = i20.trade_date
),

returns as (
    select
        j.*,
        case
            when j.leg_b is null then j.ret_a_5d
            else j.ret_a_5d - j.hedge_ratio * j.ret_b_5d
        end as fwd_return_5d,
        case
            when j.leg_b is null then j.ret_a_20d
            else j.ret_a_20d - j.hedge_ratio * j.ret_b_20d
        end as fwd_return_20d
    from joined as j
),

outcomes as (
    select
        r.*,
        case
            when r.is_vol then r.fwd_rv_5d - r.entry_iv
            when r.sign <> 0 then r.fwd_return_5d
        end as outcome_5d,
        case
            when r.is_vol then r.fwd_rv_20d - r.entry_iv
            when r.sign <> 0 then r.fwd_return_20d
        end as outcome_20d
    from returns as r
)

select
    o.as_of,
    o.strategy,
    o.underlying,
    o.pair_id,
    o.instrument,
    o.direction,
    o.strength,
    case
        when o.strength < 0.33 then '[0,0.33)'
        when o.strength < 0.66 then '[0.33,0.66)'
        when o.strength <= 1 then '[0.66,1]'
    end as strength_bucket,
    o.confidence,
    o.expected_edge,
    o.sign,
    o.entry_close,
    o.entry_iv,
    o.fwd_date_5d,
    o.fwd_date_20d,
    o.fwd_return_5d,
    o.fwd_return_20d,
    o.fwd_rv_5d,
    o.fwd_rv_20d,
    o.fwd_iv_change_5d,
    o.fwd_iv_change_20d,
    o.outcome_5d,
    o.outcome_20d,
    case when o.sign <> 0 and o.outcome_5d is not null then o.sign * o.outcome_5d > 0 end
        as hit_5d,
    case when o.sign <> 0 and o.outcome_20d is not null then o.sign * o.outcome_20d > 0 end
        as hit_20d
from outcomes as o
