{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['underlying', 'trade_date'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ warm_quant_udfs() }}",
            "set local max_parallel_workers_per_gather = 0"
        ],
        post_hook="{{ make_hypertable('trade_date', '365 days') }}"
    )
}}

{#- rolling windows, in rows = trading days with an options snapshot; the column names carry
    them (volume_zscore_20d, pcr_oi_zscore_60d, oi_change_5d_pct, rv_cc_20d) -#}
{%- set volume_z_days = 20 -%}
{%- set pcr_z_days = 60 -%}
{%- set oi_trend_days = 5 -%}
{%- set rv_days = 20 -%}
{#- news: the 5-session window (sessions of ref.trading_calendar, today included) and the
    sentiment z-score over the previous 60 rows, needing 20 of them with headlines -#}
{%- set news_days = 5 -%}
{%- set news_z_days = 60 -%}
{%- set news_z_min = 20 -%}
{#- rows of history kept before the rebuild window: the longest lookback (252-day IV
    percentile: the 252 previous rows) and one spare -#}
{%- set history_rows = 253 -%}
{%- set tz = var('market_timezone') -%}

-- Options features per (underlying, trade_date): open interest, volume and put/call ratios,
-- dealer positioning, implied-vol level, rank and percentile, smile and term structure, net
-- greeks, implied vs realized vol, the next earnings event and composite signals. Every
-- column is documented in _features__models.yml (definitions and units).
-- Inputs: int_options_chain_daily (the day's closing chain snapshot summarised; positioning
-- and earnings numerics in python_udfs), fct_standardized_surface (constant-maturity IVs at
-- the IvyDB grid), fct_atm_term_structure (the SVI-based constant-maturity ATM vols, in ONE
-- CTE, atm_term_structure), int_underlying_daily_features
-- (closes, 5-day return, GARCH forecast), int_news_sentiment_daily (headline counts and
-- sentiment per session, python_udfs.news_sentiment) and two history functions:
-- quant.iv_rank_percentile (python_udfs.iv_stats) and quant.realized_vol_cc
-- (python_udfs.realized).
-- Point in time: a row of date D reads the snapshot of D and rows of dates <= D only (lag,
-- rolling windows over preceding rows, point-in-time history functions); its news columns
-- count the headlines published before D's close (int_news_sentiment_daily).
-- Incremental: rebuilds the trailing `incremental_lookback_days` dates (delete+insert); the
-- rolling parts read the {{ history_rows }} rows before the window too, so a rebuilt row
-- equals the full build's.

with rebuild_window as (
    {{ rebuild_window('trade_date', is_date=true) }}
),

window_start as (
    select (rebuild_window.from_ts at time zone '{{ tz }}')::date as from_date
    from rebuild_window
),

chain_ranked as (
    select
        c.*,
        row_number() over (
            partition by c.underlying, c.quote_date >= w.from_date
            order by c.quote_date desc
        ) as rows_back
    from {{ ref('int_options_chain_daily') }} as c
    cross join window_start as w
),

chain as (
    -- the rebuild window plus the history its rolling features need
    select c.*
    from chain_ranked as c
    cross join window_start as w
    where c.quote_date >= w.from_date or c.rows_back <= {{ history_rows }}
),

surface as (
    select
        s.underlying,
        s.quote_date,
        s.days,
        s.delta,
        s.is_call,
        s.implied_vol
    from {{ ref('fct_standardized_surface') }} as s
    where
        s.quote_date >= (select min(chain.quote_date) from chain)
        and s.days in (10, 30, 60, 91)
        and (abs(abs(s.delta) - 0.5) < 1e-6 or abs(abs(s.delta) - 0.25) < 1e-6)
),

atm_term_structure as (
    -- THE source of the constant-maturity ATM implied vols (decimal): the SVI surface's
    -- ATM-forward vols at 10, 30, 60 and 90 days (fct_atm_term_structure: linear in ATM total
    -- variance between the day's fitted expiries, flat vol outside them).
    select
        underlying,
        quote_date,
        atm_iv_10d as iv_atm_10d,
        atm_iv_30d as iv_atm_30d,
        atm_iv_60d as iv_atm_60d,
        atm_iv_90d as iv_atm_90d
    from {{ ref('fct_atm_term_structure') }}
    where quote_date >= (select min(chain.quote_date) from chain)
),

smile_30d as (
    -- the 30-day smile of the standardized surface: 25-delta wings and its own ATM
    select
        underlying,
        quote_date,
        min(implied_vol) filter (
            where is_call and abs(delta - 0.25) < 1e-6
        ) as iv_call_25d_30d,
        min(implied_vol) filter (
            where not is_call and abs(delta + 0.25) < 1e-6
        ) as iv_put_25d_30d,
        avg(implied_vol) filter (where abs(abs(delta) - 0.5) < 1e-6) as iv_atm_smile_30d
    from surface
    where days = 30
    group by underlying, quote_date
),

bars_ranked as (
    select
        b.symbol,
        b.trade_date,
        b.close_price,
        b.ret_5d,
        b.garch_forecast_1d,
        row_number() over (
            partition by b.symbol, b.trade_date >= w.from_date
            order by b.trade_date desc
        ) as rows_back
    from {{ ref('int_underlying_daily_features') }} as b
    cross join window_start as w
    where b.symbol in (select distinct chain.underlying from chain)
),

bars as (
    select
        b.symbol,
        b.trade_date,
        b.close_price,
        b.ret_5d,
        b.garch_forecast_1d
    from bars_ranked as b
    cross join window_start as w
    where b.trade_date >= w.from_date or b.rows_back <= {{ history_rows }}
),

realized as (
    -- close-to-close vol over the trailing rv_days returns (python_udfs.realized)
    select
        h.symbol,
        u.trade_date,
        u.rv
    from (
        select
            symbol,
            array_agg(trade_date order by trade_date) as trade_dates,
            array_agg(coalesce(close_price::float8, 'NaN') order by trade_date) as closes
        from bars
        group by symbol
    ) as h
    cross join lateral unnest(
        h.trade_dates, quant.realized_vol_cc(h.closes, {{ rv_days }})
    ) as u (trade_date, rv)
),

news_daily as (
    -- headline counts and mean sentiment per session (python_udfs.news_sentiment)
    select
        n.underlying,
        n.trade_date,
        n.headline_count,
        n.sentiment_mean,
        n.sentiment_sum,
        n.positive_count,
        n.negative_count,
        n.earnings_count
    from {{ ref('int_news_sentiment_daily') }} as n
    where
        n.trade_date >= (select min(chain.quote_date) from chain) - 14
        and n.underlying in (select distinct chain.underlying from chain)
),

news_windows as (
    -- each session with the first session of its {{ news_days }}-session news window
    select
        session_date,
        lag(session_date, {{ news_days - 1 }}) over (order by session_date) as from_date
    from {{ ref('stg_ref__trading_calendars') }}
),

news_5d as (
    -- headlines of the last {{ news_days }} sessions up to and including the row's date
    select
        c.underlying,
        c.quote_date,
        sum(n.headline_count) as news_count_5d,
        sum(n.sentiment_sum) / nullif(sum(n.headline_count), 0) as news_sentiment_5d
    from chain as c
    inner join news_windows as w
        on c.quote_date = w.session_date
    inner join news_daily as n
        on
            c.underlying = n.underlying
            and n.trade_date between w.from_date and c.quote_date
    group by c.underlying, c.quote_date
),

iv_history as (
    -- IV rank / percentile of the 30-day ATM IV over 21 and 252 rows (python_udfs.iv_stats)
    select
        h.underlying,
        u.quote_date,
        u.iv_rank_21,
        u.iv_percentile_21,
        u.iv_rank_252,
        u.iv_percentile_252
    from (
        select
            c.underlying,
            array_agg(c.quote_date order by c.quote_date) as quote_dates,
            array_agg(coalesce(a.iv_atm_30d, 'NaN') order by c.quote_date) as iv
        from chain as c
        left join atm_term_structure as a
            on
                c.underlying = a.underlying
                and c.quote_date = a.quote_date
        group by c.underlying
    ) as h
    cross join lateral quant.iv_rank_percentile(h.iv) as r
    cross join lateral unnest(
        h.quote_dates, r.iv_rank_21, r.iv_percentile_21, r.iv_rank_252, r.iv_percentile_252
    ) as u (quote_date, iv_rank_21, iv_percentile_21, iv_rank_252, iv_percentile_252)
),

joined as (
    select
        c.underlying,
        c.quote_date as trade_date,
        c.quote_ts,
        c.spot,
        c.call_oi,
        c.put_oi,
        c.call_oi + c.put_oi as total_oi,
        c.call_volume,
        c.put_volume,
        c.call_volume + c.put_volume as total_volume,
        c.put_oi / nullif(c.call_oi, 0) as pcr_oi,
        c.put_volume / nullif(c.call_volume, 0) as pcr_volume,
        c.gex_total,
        c.dex_total,
        c.gamma_flip,
        c.gex_top3_share,
        c.gex_herfindahl,
        c.largest_gex_strike,
        c.max_pain_expiration,
        c.max_pain_strike,
        c.front_expiration,
        c.front_oi,
        c.next_expiration,
        c.next_oi,
        c.net_delta_per_oi,
        c.net_gamma_per_oi,
        c.net_vega_per_oi,
        c.net_theta_per_oi,
        c.next_earnings_date,
        c.next_earnings_timing,
        c.earnings_event_variance,
        c.earnings_implied_move,
        c.earnings_implied_move_abs,
        c.earnings_method,
        a.iv_atm_10d,
        a.iv_atm_30d,
        a.iv_atm_60d,
        a.iv_atm_90d,
        s.iv_call_25d_30d,
        s.iv_put_25d_30d,
        s.iv_atm_smile_30d,
        h.iv_rank_21,
        h.iv_percentile_21,
        h.iv_rank_252,
        h.iv_percentile_252,
        b.close_price,
        b.ret_5d,
        b.garch_forecast_1d,
        rv.rv as rv_cc_20d,
        coalesce(nd.headline_count, 0) as news_count,
        coalesce(nd.positive_count, 0) as news_positive_count,
        coalesce(nd.negative_count, 0) as news_negative_count,
        coalesce(nd.earnings_count, 0) as news_earnings_count,
        nd.sentiment_mean as news_sentiment,
        coalesce(n5.news_count_5d, 0) as news_count_5d,
        n5.news_sentiment_5d
    from chain as c
    left join atm_term_structure as a
        on
            c.underlying = a.underlying
            and c.quote_date = a.quote_date
    left join smile_30d as s
        on
            c.underlying = s.underlying
            and c.quote_date = s.quote_date
    left join iv_history as h
        on
            c.underlying = h.underlying
            and c.quote_date = h.quote_date
    left join bars as b
        on
            c.underlying = b.symbol
            and c.quote_date = b.trade_date
    left join realized as rv
        on
            c.underlying = rv.symbol
            and c.quote_date = rv.trade_date
    left join news_daily as nd
        on
            c.underlying = nd.underlying
            and c.quote_date = nd.trade_date
    left join news_5d as n5
        on
            c.underlying = n5.underlying
            and c.quote_date = n5.quote_date
),

rolled as (
    select
        j.*,
        lag(j.total_oi) over by_date as total_oi_prev,
        lag(j.total_oi, {{ oi_trend_days }}) over by_date as total_oi_trend_base,
        lag(j.pcr_oi) over by_date as pcr_oi_prev,
        lag(j.pcr_volume) over by_date as pcr_volume_prev,
        lag(j.iv_atm_30d) over by_date as iv_atm_30d_prev,
        avg(j.total_volume) over volume_window as volume_mean,
        stddev_samp(j.total_volume) over volume_window as volume_sd,
        count(j.total_volume) over volume_window as volume_n,
        avg(j.pcr_oi) over pcr_window as pcr_oi_mean,
        stddev_samp(j.pcr_oi) over pcr_window as pcr_oi_sd,
        count(j.pcr_oi) over pcr_window as pcr_oi_n,
        avg(j.pcr_volume) over pcr_window as pcr_volume_mean,
        stddev_samp(j.pcr_volume) over pcr_window as pcr_volume_sd,
        count(j.pcr_volume) over pcr_window as pcr_volume_n,
        avg(j.news_sentiment) over news_window as news_sentiment_hist_mean,
        stddev_samp(j.news_sentiment) over news_window as news_sentiment_hist_sd,
        count(j.news_sentiment) over news_window as news_sentiment_hist_n
    from joined as j
    window
        by_date as (partition by j.underlying order by j.trade_date),
        volume_window as (
            by_date rows between {{ volume_z_days }} preceding and 1 preceding
        ),
        pcr_window as (
            by_date rows between {{ pcr_z_days }} preceding and 1 preceding
        ),
        news_window as (
            by_date rows between {{ news_z_days }} preceding and 1 preceding
        )
),

features as (
    select
        r.*,
        (r.total_volume - r.volume_mean) / nullif(r.volume_sd, 0) as volume_zscore_raw,
        (r.pcr_oi - r.pcr_oi_mean) / nullif(r.pcr_oi_sd, 0) as pcr_oi_zscore_raw,
        (r.pcr_volume - r.pcr_volume_mean) / nullif(r.pcr_volume_sd, 0)
            as pcr_volume_zscore_raw,
        r.total_oi / nullif(r.total_oi_trend_base, 0) - 1 as oi_change_trend_pct,
        (r.news_sentiment - r.news_sentiment_hist_mean) / nullif(r.news_sentiment_hist_sd, 0)
            as news_sentiment_zscore_raw,
        (r.gamma_flip - r.spot) / nullif(r.spot * r.iv_atm_30d / sqrt(252.0), 0)
            as gamma_flip_distance_sd
    from rolled as r
)

select
    f.underlying,
    f.trade_date,
    f.quote_ts,
    f.spot,
    f.close_price,
    -- open interest and volume
    f.call_oi,
    f.put_oi,
    f.total_oi,
    f.call_volume,
    f.put_volume,
    f.total_volume,
    f.total_oi / nullif(f.total_oi_prev, 0) - 1 as oi_change_pct,
    f.oi_change_trend_pct as oi_change_5d_pct,
    case
        when f.volume_n = {{ volume_z_days }} then f.volume_zscore_raw
    end as volume_zscore_20d,
    -- put/call ratios
    f.pcr_oi,
    f.pcr_volume,
    case when f.pcr_oi_n = {{ pcr_z_days }} then f.pcr_oi_zscore_raw end
        as pcr_oi_zscore_60d,
    case when f.pcr_volume_n = {{ pcr_z_days }} then f.pcr_volume_zscore_raw end
        as pcr_volume_zscore_60d,
    f.pcr_oi < 0.7 as is_pcr_oi_extreme_low,
    f.pcr_oi > 1.0 as is_pcr_oi_extreme_high,
    f.pcr_oi - f.pcr_oi_prev as pcr_oi_change,
    f.pcr_volume - f.pcr_volume_prev as pcr_volume_change,
    -- dealer positioning
    f.gex_total,
    f.dex_total,
    f.gamma_flip,
    (f.gamma_flip - f.spot) / f.spot as gamma_flip_distance_pct,
    f.gex_top3_share,
    f.gex_herfindahl,
    f.largest_gex_strike,
    (f.largest_gex_strike - f.spot) / f.spot as largest_gex_distance_pct,
    f.max_pain_expiration,
    f.max_pain_strike,
    (f.max_pain_strike - f.spot) / f.spot as max_pain_distance_pct,
    -- implied-vol level and history
    f.iv_atm_30d,
    f.iv_atm_30d - f.iv_atm_30d_prev as iv_atm_30d_change,
    f.iv_rank_21 as iv_rank_21d,
    f.iv_percentile_21 as iv_percentile_21d,
    f.iv_rank_252 as iv_rank_252d,
    f.iv_percentile_252 as iv_percentile_252d,
    -- smile and term structure
    f.iv_call_25d_30d,
    f.iv_put_25d_30d,
    f.iv_call_25d_30d - f.iv_put_25d_30d as risk_reversal_25d_30d,
    (f.iv_call_25d_30d + f.iv_put_25d_30d) / 2 - f.iv_atm_smile_30d as butterfly_25d_30d,
    f.iv_put_25d_30d / nullif(f.iv_call_25d_30d, 0) as put_call_iv_ratio_25d_30d,
    f.iv_atm_10d,
    f.iv_atm_60d,
    f.iv_atm_90d,
    f.iv_atm_60d - f.iv_atm_30d as term_slope_60d_30d,
    f.iv_atm_30d - 2 * f.iv_atm_60d + f.iv_atm_90d as term_curvature_30d_60d_90d,
    f.iv_atm_60d > f.iv_atm_30d as is_contango,
    f.front_expiration,
    f.front_oi,
    f.next_expiration,
    f.next_oi,
    f.front_oi / nullif(f.next_oi, 0) as roll_ratio,
    -- net greeks of the open interest
    f.net_delta_per_oi,
    f.net_gamma_per_oi,
    f.net_vega_per_oi,
    f.net_theta_per_oi,
    -- implied vs realized
    f.rv_cc_20d,
    f.garch_forecast_1d,
    f.iv_atm_30d - f.rv_cc_20d as vrp_20d,
    f.iv_atm_30d - f.garch_forecast_1d as vrp_garch,
    f.iv_atm_30d / nullif(f.rv_cc_20d, 0) as iv_hv_ratio_20d,
    -- earnings
    f.next_earnings_date,
    f.next_earnings_timing,
    f.next_earnings_date - f.trade_date as days_to_earnings,
    f.earnings_event_variance,
    f.earnings_implied_move,
    f.earnings_implied_move_abs,
    f.earnings_method,
    case
        when f.iv_atm_30d is null then null
        when
            f.earnings_event_variance is not null
            and f.next_earnings_date
            + case when f.next_earnings_timing = 'BMO' then 0 else 1 end
            <= f.trade_date + 30
            then quant.ex_event_vol(f.iv_atm_30d, 30 / 365.0, f.earnings_event_variance)
        else f.iv_atm_30d
    end as ex_earnings_iv_30d,
    -- news
    f.news_count,
    f.news_positive_count,
    f.news_negative_count,
    f.news_earnings_count,
    f.news_sentiment,
    f.news_count_5d,
    f.news_sentiment_5d,
    case
        when f.news_sentiment_hist_n >= {{ news_z_min }} then f.news_sentiment_zscore_raw
    end as news_sentiment_z_60d,
    -- composite signals
    f.ret_5d,
    case
        when f.oi_change_trend_pct is null or f.ret_5d is null then null
        when f.oi_change_trend_pct > 0.05 and f.ret_5d > 0.02 then 1.0
        when f.oi_change_trend_pct > 0.05 and f.ret_5d < -0.02 then -1.0
        when f.oi_change_trend_pct < -0.05 and f.ret_5d > 0.02 then -0.5
        when f.oi_change_trend_pct < -0.05 and f.ret_5d < -0.02 then 0.5
        else 0.0
    end as trend_signal,
    case
        when f.pcr_oi_n < {{ pcr_z_days }} or f.pcr_oi_zscore_raw is null then null
        when f.pcr_oi_zscore_raw > 2 then 1
        when f.pcr_oi_zscore_raw < -2 then -1
        else 0
    end as sentiment_signal,
    f.gamma_flip_distance_sd,
    case
        when f.gex_total is null or f.iv_atm_30d is null then null
        when abs(f.gamma_flip_distance_sd) <= 1 then 1
        else 0
    end as gamma_signal
from features as f
cross join window_start as w
where f.trade_date >= w.from_date
