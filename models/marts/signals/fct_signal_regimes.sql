{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['underlying', 'as_of'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ warm_quant_udfs() }}",
            "set local max_parallel_workers_per_gather = 0"
        ],
        post_hook="{{ make_hypertable('as_of', '365 days') }}"
    )
}}

{#- refit schedule of the expanding-window regime models (complete rows) and the model the
    signals read: 'gmm' (default) or 'hmm' -#}
{%- set refit_every = var('signal_regime_refit_every', 5) | int -%}
{%- set min_rows = var('signal_regime_min_rows', 20) | int -%}
{%- set model = var('signal_regime_model', 'gmm') -%}
{#- features of the regime models among iv, vix_ratio, term_slope, rv (iv always: it orders
    the states). Default iv + rv: on 60-day histories a 3-state full-covariance mixture of all
    four is close to chance against the simulator's variance (see the model description) -#}
{%- set features = var('signal_regime_features', ['iv', 'rv']) -%}
{%- set flags = [] -%}
{%- for f in ['iv', 'vix_ratio', 'term_slope', 'rv'] -%}
    {%- do flags.append('1' if (f in features or f == 'iv') else '0') -%}
{%- endfor -%}
{%- set vix_days = 20 -%}
{%- set vix_min_rows = 5 -%}
{%- set rv_days = 5 -%}
{%- set tz = var('market_timezone') -%}

-- Volatility regime per (underlying, as_of): the day's volatility features and the
-- point-in-time probabilities of three regimes (low / normal / high vol) from a Gaussian
-- mixture AND a Gaussian HMM (filtered probabilities), each refitted on an expanding window of
-- the underlying's own history: ONE quant.vol_regime_gmm and ONE quant.vol_regime_hmm call per
-- underlying on its whole daily history (python_udfs.signals.regime_probabilities_pit over
-- python_udfs.regime). The k-th fit uses the complete rows up to the row where their count
-- reaches min_rows + k x refit_every; rows until the next refit are classified by it, so a row
-- of date D uses a model fitted on data up to D only. States are sorted by their mean implied
-- vol (0 low, 1 normal, 2 high): labels are stable across refits.
-- Candidate features (var signal_regime_features picks them; default iv + rv): iv_atm_30d
-- (decimal); vix_ratio = the VIX-style index (fct_vix_index) over its mean of the last 20 rows
-- (at least 5); term_slope = iv_atm_60d - iv_atm_30d; rv = the realized vol of the last 5
-- sessions from the intraday two-scales realized variance, sqrt(252 x mean tsrv)
-- (int_underlying_intraday_rv), else rv_cc_20d where the underlying has no intraday trades.
-- Incremental: the trailing `incremental_lookback_days` dates are re-emitted; the functions
-- read the whole history and run only the fits those rows need (same values as a full build).

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
),

window_start as (
    select (rebuild_window.from_ts at time zone '{{ tz }}')::date as from_date
    from rebuild_window
),

recent as (
    select distinct f.underlying
    from {{ ref('fct_options_features') }} as f
    cross join window_start as w
    where f.trade_date >= w.from_date
),

intraday as (
    select
        r.symbol,
        r.trade_date,
        case
            when count(r.tsrv) over rv_window = {{ rv_days }}
                then sqrt(252.0 * greatest(avg(r.tsrv) over rv_window, 0))
        end as rv_tsrv_5d
    from {{ ref('int_underlying_intraday_rv') }} as r
    where r.symbol in (select recent.underlying from recent)
    window rv_window as (
        partition by r.symbol order by r.trade_date
        rows between {{ rv_days - 1 }} preceding and current row
    )
),

features as (
    select
        f.underlying,
        f.trade_date,
        f.iv_atm_30d,
        f.term_slope_60d_30d,
        f.rv_cc_20d,
        i.rv_tsrv_5d,
        v.vix_index,
        avg(v.vix_index) over vix_window as vix_mean,
        count(v.vix_index) over vix_window as vix_n
    from {{ ref('fct_options_features') }} as f
    left join {{ ref('fct_vix_index') }} as v
        on
            f.underlying = v.underlying
            and f.trade_date = v.quote_date
    left join intraday as i
        on
            f.underlying = i.symbol
            and f.trade_date = i.trade_date
    where f.underlying in (select recent.underlying from recent)
    window vix_window as (
        partition by f.underlying order by f.trade_date
        rows between {{ vix_days - 1 }} preceding and current row
    )
),

rows_in as (
    select
        f.underlying,
        f.trade_date,
        f.iv_atm_30d,
        f.term_slope_60d_30d,
        f.rv_cc_20d,
        f.rv_tsrv_5d,
        coalesce(f.rv_tsrv_5d, f.rv_cc_20d) as rv,
        f.vix_index,
        case
            when f.vix_n >= {{ vix_min_rows }} then f.vix_index / nullif(f.vix_mean, 0)
        end as vix_ratio_20d,
        f.trade_date >= w.from_date as is_wanted
    from features as f
    cross join window_start as w
),

histories as (
    select
        underlying,
        array_agg(trade_date order by trade_date) as dates,
        array_agg(coalesce(iv_atm_30d, 'NaN') order by trade_date) as iv,
        array_agg(coalesce(vix_ratio_20d, 'NaN') order by trade_date) as vix_ratio,
        array_agg(coalesce(term_slope_60d_30d, 'NaN') order by trade_date) as term_slope,
        array_agg(coalesce(rv, 'NaN') order by trade_date) as rv,
        array_agg(is_wanted order by trade_date) as is_wanted
    from rows_in
    group by underlying
),

gmm as (
    select
        h.underlying,
        u.trade_date,
        u.p_low,
        u.p_mid,
        u.p_high,
        u.state::int as state,
        h.dates[u.fit_row::int + 1] as fit_as_of,
        u.n_fit::int as n_fit,
        u.mean_iv_low,
        u.mean_iv_mid,
        u.mean_iv_high
    from histories as h
    cross join
        lateral quant.vol_regime_gmm(
            h.iv, h.vix_ratio, h.term_slope, h.rv, h.is_wanted,
            array[{{ refit_every }}::float8], array[{{ min_rows }}::float8],
            array[{{ flags | join(", ") }}]::float8[]
        ) as g
    cross join lateral unnest(
        h.dates, g.p_low, g.p_mid, g.p_high, g.state, g.fit_row, g.n_fit,
        g.mean_iv_low, g.mean_iv_mid, g.mean_iv_high
    ) as u (
        trade_date, p_low, p_mid, p_high, state, fit_row, n_fit,
        mean_iv_low, mean_iv_mid, mean_iv_high
    )
),

hmm as (
    select
        h.underlying,
        u.trade_date,
        u.p_low,
        u.p_mid,
        u.p_high,
        u.state::int as state,
        h.dates[u.fit_row::int + 1] as fit_as_of,
        u.n_fit::int as n_fit,
        u.mean_iv_low,
        u.mean_iv_mid,
        u.mean_iv_high
    from histories as h
    cross join
        lateral quant.vol_regime_hmm(
            h.iv, h.vix_ratio, h.term_slope, h.rv, h.is_wanted,
            array[{{ refit_every }}::float8], array[{{ min_rows }}::float8],
            array[{{ flags | join(", ") }}]::float8[]
        ) as g
    cross join lateral unnest(
        h.dates, g.p_low, g.p_mid, g.p_high, g.state, g.fit_row, g.n_fit,
        g.mean_iv_low, g.mean_iv_mid, g.mean_iv_high
    ) as u (
        trade_date, p_low, p_mid, p_high, state, fit_row, n_fit,
        mean_iv_low, mean_iv_mid, mean_iv_high
    )
),

joined as (
    select
        r.underlying,
        r.trade_date as as_of,
        r.iv_atm_30d,
        r.vix_index,
        r.vix_ratio_20d,
        r.term_slope_60d_30d,
        r.rv_cc_20d,
        r.rv_tsrv_5d,
        r.rv,
        '{{ features | join(",") }}'::text as regime_features,
        g.p_low as gmm_p_low,
        g.p_mid as gmm_p_mid,
        g.p_high as gmm_p_high,
        g.state as gmm_state,
        g.fit_as_of as gmm_fit_as_of,
        g.n_fit as gmm_n_fit,
        g.mean_iv_low as gmm_mean_iv_low,
        g.mean_iv_mid as gmm_mean_iv_mid,
        g.mean_iv_high as gmm_mean_iv_high,
        m.p_low as hmm_p_low,
        m.p_mid as hmm_p_mid,
        m.p_high as hmm_p_high,
        m.state as hmm_state,
        m.fit_as_of as hmm_fit_as_of,
        m.n_fit as hmm_n_fit,
        m.mean_iv_low as hmm_mean_iv_low,
        m.mean_iv_mid as hmm_mean_iv_mid,
        m.mean_iv_high as hmm_mean_iv_high
    from rows_in as r
    left join gmm as g
        on
            r.underlying = g.underlying
            and r.trade_date = g.trade_date
    left join hmm as m
        on
            r.underlying = m.underlying
            and r.trade_date = m.trade_date
    where r.is_wanted
)

select
    j.*,
    '{{ model }}'::text as regime_model,
    j.{{ model }}_p_low as p_low,
    j.{{ model }}_p_mid as p_mid,
    j.{{ model }}_p_high as p_high,
    j.{{ model }}_state as state,
    greatest(j.{{ model }}_p_low, j.{{ model }}_p_mid, j.{{ model }}_p_high)
        as state_probability,
    j.{{ model }}_mean_iv_mid as normal_regime_iv,
    case j.{{ model }}_state
        when 0 then 'low'
        when 1 then 'normal'
        when 2 then 'high'
    end as regime
from joined as j
