{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ warm_quant_udfs() }}",
            "set local max_parallel_workers_per_gather = 0"
        ],
        post_hook="{{ make_hypertable('as_of', '30 days') }}"
    )
}}

{%- set threshold = var('signal_surface_divergence', 0.10) | float -%}
{%- set min_confidence = var('signal_surface_min_confidence', 0.6) | float -%}

-- Strategy 4, surface arbitrage (stochastic-vol design seed): per contract of the closing
-- snapshot (int_option_surface_quotes: clean quotes, out-of-the-money side, the quotes the
-- smiles are fitted to), the model implied vol of its expiry slice against the market mid
-- implied vol. Model: the slice's SABR fit (fct_sabr_slices, Hagan 2002 via
-- quant.sabr_vol_batch) when its fit is ok, else the slice's SVI fit (fct_svi_slices, via
-- quant.svi_total_variance_batch); a Heston calibration (fct_heston_params) is not read yet.
-- Scores (quant.surface_arbitrage_scores, python_udfs.signals.surface_arbitrage_scores):
-- divergence = (market - model) / model; confidence = 0.4 fit + 0.4 liquidity + 0.2 maturity
-- with fit = max(0, 1 - slice RMSE / 5 vol points), liquidity = 0.5 spread score (1 - relative
-- spread / 10 %) + 0.25 open-interest score (log10(1 + OI) / 3) + 0.25 volume score (log10(1 +
-- volume) / 2), maturity 0.3 below 7 days, 1 for 30-90 days, 0.7 otherwise. Fires when
-- |divergence| > 10 % and confidence > 0.6: market above model -> sell vol on the contract,
-- below -> buy vol. strength = min(1, (|divergence| - 0.1) / 0.4). expected_edge (decimal
-- vol): |market IV - model IV|, the convergence the trade expects. instrument = the OCC
-- contract symbol. Point in time: the date's snapshot and that date's fits only.

with rebuild_window as (
    {{ rebuild_window('as_of', is_date=true) }}
),

quotes as (
    select
        q.underlying,
        q.quote_date,
        q.quote_ts,
        q.expiration,
        q.contract_symbol,
        q.strike::float8 as strike,
        q.option_right,
        q.t_years,
        q.forward,
        q.log_moneyness,
        q.iv_mid,
        q.relative_spread
    from {{ ref('int_option_surface_quotes') }} as q
    where
        q.quote_ts >= (select rebuild_window.from_ts from rebuild_window)
        and q.is_otm
),

oi_volume as (
    select
        s.contract_symbol,
        s.quote_ts,
        s.open_interest::float8 as open_interest,
        s.volume::float8 as volume
    from {{ ref('stg_raw__option_quotes') }} as s
    where s.quote_ts >= (select rebuild_window.from_ts from rebuild_window)
),

lines as (
    select
        q.*,
        v.open_interest,
        v.volume,
        (q.expiration - q.quote_date)::float8 as days_to_expiry,
        sb.sabr_alpha,
        sb.sabr_beta,
        sb.sabr_rho,
        sb.sabr_nu,
        sb.rmse_vol_points / 100.0 as sabr_rmse,
        sv.svi_a,
        sv.svi_b,
        sv.svi_rho,
        sv.svi_m,
        sv.svi_sigma,
        sv.rmse_vol_points / 100.0 as svi_rmse
    from quotes as q
    left join oi_volume as v
        on
            q.contract_symbol = v.contract_symbol
            and q.quote_ts = v.quote_ts
    left join {{ ref('fct_sabr_slices') }} as sb
        on
            q.underlying = sb.underlying
            and q.quote_date = sb.quote_date
            and q.expiration = sb.expiration
            and sb.fit_status = 'ok'
    left join {{ ref('fct_svi_slices') }} as sv
        on
            q.underlying = sv.underlying
            and q.quote_date = sv.quote_date
            and q.expiration = sv.expiration
            and sv.fit_status = 'ok'
    where sb.sabr_alpha is not null or sv.svi_a is not null
),

batch as (
    select
        quote_date,
        array_agg(contract_symbol order by contract_symbol) as contracts,
        array_agg(forward order by contract_symbol) as forward,
        array_agg(strike order by contract_symbol) as strike,
        array_agg(t_years order by contract_symbol) as t_years,
        array_agg(log_moneyness order by contract_symbol) as k,
        array_agg(sabr_alpha order by contract_symbol) as alpha,
        array_agg(sabr_beta order by contract_symbol) as beta,
        array_agg(sabr_rho order by contract_symbol) as sabr_rho,
        array_agg(sabr_nu order by contract_symbol) as nu,
        array_agg(svi_a order by contract_symbol) as svi_a,
        array_agg(svi_b order by contract_symbol) as svi_b,
        array_agg(svi_rho order by contract_symbol) as svi_rho,
        array_agg(svi_m order by contract_symbol) as svi_m,
        array_agg(svi_sigma order by contract_symbol) as svi_sigma
    from lines
    group by quote_date
),

model_ivs as (
    select
        b.quote_date,
        u.contract_symbol,
        u.sabr_iv,
        sqrt(greatest(u.svi_w, 0) / u.t_years) as svi_iv
    from batch as b
    cross join lateral unnest(
        b.contracts,
        b.t_years,
        quant.sabr_vol_batch(b.forward, b.strike, b.t_years, b.alpha, b.beta, b.sabr_rho, b.nu),
        quant.svi_total_variance_batch(b.k, b.svi_a, b.svi_b, b.svi_rho, b.svi_m, b.svi_sigma)
    ) as u (contract_symbol, t_years, sabr_iv, svi_w)
),

candidates as (
    select
        l.*,
        m.sabr_iv,
        m.svi_iv,
        case when m.sabr_iv > 0 then 'sabr' else 'svi' end as model_name,
        case when m.sabr_iv > 0 then m.sabr_iv else m.svi_iv end as model_iv,
        case when m.sabr_iv > 0 then l.sabr_rmse else l.svi_rmse end as model_rmse
    from lines as l
    inner join model_ivs as m
        on
            l.quote_date = m.quote_date
            and l.contract_symbol = m.contract_symbol
    where coalesce(m.sabr_iv, m.svi_iv) > 0
),

scored_batch as (
    select
        quote_date,
        array_agg(contract_symbol order by contract_symbol) as contracts,
        array_agg(iv_mid order by contract_symbol) as market_iv,
        array_agg(model_iv order by contract_symbol) as model_iv,
        array_agg(model_rmse order by contract_symbol) as rmse,
        array_agg(relative_spread order by contract_symbol) as rel_spread,
        array_agg(coalesce(open_interest, 'NaN') order by contract_symbol) as oi,
        array_agg(coalesce(volume, 'NaN') order by contract_symbol) as vol,
        array_agg(days_to_expiry order by contract_symbol) as days
    from candidates
    group by quote_date
),

scores as (
    select
        b.quote_date,
        u.*
    from scored_batch as b
    cross join
        lateral quant.surface_arbitrage_scores(
            b.market_iv, b.model_iv, b.rmse, b.rel_spread, b.oi, b.vol, b.days,
            array[{{ threshold }}::float8], array[{{ min_confidence }}::float8]
        ) as s
    cross join lateral unnest(
        b.contracts, s.divergence, s.fit_score, s.liquidity_score, s.maturity_score,
        s.confidence, s.strength, s.signal, s.expected_edge
    ) as u (
        contract_symbol, divergence, fit_score, liquidity_score, maturity_score,
        confidence, strength, signal, expected_edge
    )
)

select
    c.quote_date as as_of,
    'surface_arbitrage'::text as strategy,
    c.underlying,
    null::text as pair_id,
    rtrim(c.contract_symbol)::text as instrument,
    case when s.signal < 0 then 'sell_vol' else 'buy_vol' end as direction,
    s.strength::float8 as strength,
    s.confidence::float8 as confidence,
    s.expected_edge::float8 as expected_edge,
    jsonb_build_object(
        'model', c.model_name,
        'market_iv', c.iv_mid,
        'model_iv', c.model_iv,
        'divergence', s.divergence,
        'sabr_iv', c.sabr_iv,
        'svi_iv', c.svi_iv,
        'slice_rmse_vol', c.model_rmse,
        'fit_score', s.fit_score,
        'liquidity_score', s.liquidity_score,
        'maturity_score', s.maturity_score,
        'relative_spread', c.relative_spread,
        'open_interest', c.open_interest,
        'volume', c.volume,
        'days_to_expiry', c.days_to_expiry,
        'expiration', c.expiration,
        'strike', c.strike,
        'option_right', c.option_right,
        'log_moneyness', c.log_moneyness
    ) as metadata,
    ('surface_arbitrage:' || c.model_name || ':v1')::text as model_version
from scores as s
inner join candidates as c
    on
        s.quote_date = c.quote_date
        and s.contract_symbol = c.contract_symbol
where s.signal <> 0
