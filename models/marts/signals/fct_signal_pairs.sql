{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['pair_id', 'as_of'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ warm_quant_udfs() }}",
            "set local max_parallel_workers_per_gather = 0"
        ],
        post_hook="{{ make_hypertable('as_of', '365 days') }}"
    )
}}

{#- pair universe: 'same_sector' (ref.instruments.sector, default) or 'all' pairs of the
    underlyings with an options history -#}
{%- set universe = var('signal_pairs_universe', 'same_sector') -%}
{%- set max_window = var('signal_pairs_max_window', 120) | int -%}
{%- set min_window = var('signal_pairs_min_window', 40) | int -%}
{%- set p_select = var('signal_pairs_p_select', 0.01) | float -%}
{%- set p_warn = var('signal_pairs_p_warn', 0.05) | float -%}
{%- set memory = var('signal_pairs_memory', 20) | int -%}
{%- set cost = var('signal_pairs_cost', 0.001) | float -%}
{%- set rate = var('signal_pairs_rate', 0.05) | float -%}
{%- set stop_sd = var('signal_pairs_stop_sd', 3.0) | float -%}
{%- set hl_ratio = var('signal_pairs_half_life_ratio', 1.5) | float -%}
{%- set hl_history = var('signal_pairs_half_life_history', 60) | int -%}
{%- set tz = var('market_timezone') -%}

-- OU pairs (strategy 5's state) per (pair_id, as_of): rolling Engle-Granger cointegration of
-- the log daily closes (int_underlying_daily_features, unadjusted) of two underlyings, the
-- exact OU fit of the residual spread, Leung-Li (2015) entry / take-profit / stop-loss levels
-- with transaction costs, health checks and the day's decision: ONE quant.pair_ou_signals call
-- per pair on its whole aligned daily history (python_udfs.signals.pair_ou_path over
-- python_udfs.cointegration.engle_granger and python_udfs.mean_reversion.leung_li_levels).
-- Pairs: underlyings with an options history (fct_options_features; a pair's rows start on
-- the date both legs have one), both legs in the same ref.instruments sector (its current
-- value: the reference table keeps no history; var signal_pairs_universe = 'same_sector',
-- default) or all pairs ('all'); pair_id = 'A/B' with A < B, A regressed on B (spread
-- u = ln A - intercept - hedge_ratio ln B). Window: the last 120 rows, at least 40 complete
-- (both legs with a bar). Selected when the p-value < 0.01; active for 20 rows after a
-- selection. Health (active rows): cointegration p-value > 0.05 (exit) and half-life > 1.5 x
-- the median of the previous 60 rows (warning, confidence halved). Point in time: every value
-- of date D uses bars up to D.

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
),

window_start as (
    select (rebuild_window.from_ts at time zone '{{ tz }}')::date as from_date
    from rebuild_window
),

symbols as (
    select
        o.underlying as symbol,
        min(o.trade_date) as first_options_date,
        max(i.sector) as sector
    from {{ ref('fct_options_features') }} as o
    left join {{ ref('stg_ref__instruments') }} as i
        on o.underlying = i.symbol
    group by o.underlying
),

candidate_pairs as (
    select
        a.symbol as leg_a,
        b.symbol as leg_b,
        a.symbol || '/' || b.symbol as pair_id,
        greatest(a.first_options_date, b.first_options_date) as first_date
    from symbols as a
    inner join symbols as b
        on
            a.symbol < b.symbol
    {%- if universe == 'same_sector' %}
            and a.sector = b.sector
            {%- endif %}
),

bars as materialized (
    select
        d.symbol,
        d.trade_date,
        ln(d.close_price::float8) as log_close
    from {{ ref('int_underlying_daily_features') }} as d
    where
        d.symbol in (select symbols.symbol from symbols)
        and d.close_price > 0
),

pairs as (
    -- the candidate pairs whose legs share at least min_window bar dates
    select
        p.leg_a,
        p.leg_b,
        p.pair_id,
        p.first_date
    from candidate_pairs as p
    inner join bars as a
        on p.leg_a = a.symbol
    inner join bars as b
        on
            p.leg_b = b.symbol
            and a.trade_date = b.trade_date
    group by p.leg_a, p.leg_b, p.pair_id, p.first_date
    having count(*) >= {{ min_window }}
),

pair_dates as (
    select distinct
        p.pair_id,
        p.leg_a,
        p.leg_b,
        p.first_date,
        d.trade_date
    from pairs as p
    inner join bars as d
        on d.symbol in (p.leg_a, p.leg_b)
),

aligned as (
    -- every date on which either leg has a bar; 'NaN' for a missing leg
    select
        pd.pair_id,
        pd.leg_a,
        pd.leg_b,
        pd.first_date,
        pd.trade_date,
        coalesce(a.log_close, 'NaN') as log_a,
        coalesce(b.log_close, 'NaN') as log_b
    from pair_dates as pd
    left join bars as a
        on
            pd.leg_a = a.symbol
            and pd.trade_date = a.trade_date
    left join bars as b
        on
            pd.leg_b = b.symbol
            and pd.trade_date = b.trade_date
),

histories as (
    select
        s.pair_id,
        min(s.leg_a) as leg_a,
        min(s.leg_b) as leg_b,
        min(s.first_date) as first_date,
        array_agg(s.trade_date order by s.trade_date) as dates,
        array_agg(s.log_a order by s.trade_date) as log_a,
        array_agg(s.log_b order by s.trade_date) as log_b,
        array_agg(s.trade_date >= w.from_date order by s.trade_date) as is_wanted
    from aligned as s
    cross join window_start as w
    group by s.pair_id
    having max(s.trade_date) >= min(w.from_date)
),

computed as (
    select
        h.pair_id,
        h.leg_a,
        h.leg_b,
        h.first_date,
        u.*
    from histories as h
    cross join
        lateral quant.pair_ou_signals(
            h.log_a, h.log_b, h.is_wanted,
            array[{{ max_window }}::float8], array[{{ min_window }}::float8],
            array[{{ p_select }}::float8], array[{{ p_warn }}::float8],
            array[{{ memory }}::float8], array[{{ cost }}::float8], array[{{ rate }}::float8],
            array[{{ stop_sd }}::float8], array[{{ hl_ratio }}::float8],
            array[{{ hl_history }}::float8]
        ) as g
    cross join lateral unnest(
        h.dates, h.log_a, h.log_b, h.is_wanted,
        g.hedge_ratio, g.intercept, g.p_value, g.adf_stat, g.n_obs, g.theta, g.mu, g.sigma,
        g.half_life_days, g.stationary_sd, g.spread, g.z_score, g.is_selected, g.is_active,
        g.half_life_median, g.warn_cointegration, g.warn_half_life,
        g.long_entry_lower, g.long_entry_upper, g.long_exit, g.long_stop,
        g.short_entry_lower, g.short_entry_upper, g.short_exit, g.short_stop,
        g.signal, g.exit_reason, g.strength, g.confidence, g.expected_edge
    ) as u (
        as_of, log_a, log_b, is_wanted,
        hedge_ratio, intercept, p_value, adf_stat, n_obs, theta, mu, sigma,
        half_life_days, stationary_sd, spread, z_score, is_selected, is_active,
        half_life_median, warn_cointegration, warn_half_life,
        long_entry_lower, long_entry_upper, long_exit, long_stop,
        short_entry_lower, short_entry_upper, short_exit, short_stop,
        signal, exit_reason, strength, confidence, expected_edge
    )
)

select
    c.pair_id,
    c.as_of,
    c.leg_a,
    c.leg_b,
    case when c.log_a = 'NaN' then null else c.log_a end as log_close_a,
    case when c.log_b = 'NaN' then null else c.log_b end as log_close_b,
    c.n_obs::int as n_obs,
    c.hedge_ratio,
    c.intercept,
    c.adf_stat,
    c.p_value,
    c.is_selected::int = 1 as is_selected,
    c.is_active::int = 1 as is_active,
    c.theta,
    c.mu,
    c.sigma,
    c.half_life_days,
    c.half_life_median,
    c.stationary_sd,
    c.spread,
    c.z_score,
    c.long_entry_lower,
    c.long_entry_upper,
    c.long_exit,
    c.long_stop,
    c.short_entry_lower,
    c.short_entry_upper,
    c.short_exit,
    c.short_stop,
    c.warn_cointegration::int = 1 as warn_cointegration,
    c.warn_half_life::int = 1 as warn_half_life,
    case
        when c.is_active::int = 1
            then case
                    when c.warn_cointegration::int = 1 then 'cointegration_lost'
                    when c.warn_half_life::int = 1 then 'half_life_increased'
                    when c.theta is null then 'no_mean_reversion'
                    else 'ok'
                end
    end as health,
    case c.signal::int
        when 1 then 'long'
        when -1 then 'short'
        when 2 then 'exit'
    end as decision,
    case c.exit_reason::int
        when 1 then 'stop_loss_long'
        when 2 then 'stop_loss_short'
        when 3 then 'take_profit_long'
        when 4 then 'take_profit_short'
        when 5 then 'cointegration_lost'
        when 6 then 'no_mean_reversion'
    end as exit_reason,
    c.strength,
    c.confidence,
    c.expected_edge
from computed as c
-- rows from the date both legs have an options history (the universe as known on as_of)
where c.is_wanted and c.as_of >= c.first_date
