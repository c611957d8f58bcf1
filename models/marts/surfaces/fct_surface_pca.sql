{{ config(unique_key=['underlying']) }}

-- Level, slope and curvature scores of the standardized surface per (underlying,
-- quote_date), point in time: each date is scored by a principal-component analysis fitted
-- on the trailing var surface_pca_window (252) dates up to and including it only
-- (quant.surface_pca_scores, python_udfs.term_structure.pca_scores_point_in_time), once at
-- least var surface_pca_min_days (20) dates exist. The surface vector of a date is the
-- standardized call-side IVs (fct_standardized_surface) at days {30, 60, 91, 182, 365} x call
-- deltas {0.1, 0.3, 0.5, 0.7, 0.9}. Signs: level loadings sum positive, slope positive at the
-- long end, curvature positive in the delta wings. Each run recomputes every underlying with
-- one call over its whole history (delete+insert per underlying); earlier scores never change.

{%- set window_days = var('surface_pca_window', 252) | int %}
{%- set min_days = var('surface_pca_min_days', 20) | int %}

with grid as (
    select
        underlying,
        quote_date,
        days,
        delta,
        implied_vol
    from {{ ref('fct_standardized_surface') }}
    where
        is_call
        {{ watch_list_filter('underlying') }}
        and days in (30, 60, 91, 182, 365)
        and round(delta::numeric, 2) in (0.10, 0.30, 0.50, 0.70, 0.90)
),

vectors as (
    select
        underlying,
        quote_date,
        count(*) as n_points,
        array_agg(coalesce(implied_vol, 'NaN'::float8) order by days, delta) as iv,
        array_agg(days::float8 order by days, delta) as tenor,
        array_agg(0.5 - delta order by days, delta) as moneyness
    from grid
    group by underlying, quote_date
    having count(*) = 25
),

histories as (
    select
        underlying,
        array_agg(quote_date order by quote_date) as dates,
        array_agg(iv order by quote_date) as matrix,
        min(tenor) as tenor,
        min(moneyness) as moneyness
    from vectors
    group by underlying
),

computed as materialized (
    select
        underlying,
        dates,
        quant.surface_pca_scores(
            array(select unnest(matrix)), 25, tenor, moneyness,
            {{ window_days }}, {{ min_days }}
        ) as pca
    from histories
)

select
    c.underlying,
    c.dates[d.i + 1] as quote_date,
    (c.pca -> 'scores' -> d.i ->> 0)::float8 as level_score,
    (c.pca -> 'scores' -> d.i ->> 1)::float8 as slope_score,
    (c.pca -> 'scores' -> d.i ->> 2)::float8 as curvature_score,
    (c.pca -> 'explained_variance_ratio' -> d.i ->> 0)::float8 as level_explained,
    (c.pca -> 'explained_variance_ratio' -> d.i ->> 1)::float8 as slope_explained,
    (c.pca -> 'explained_variance_ratio' -> d.i ->> 2)::float8 as curvature_explained,
    (c.pca -> 'n_columns' ->> d.i)::int as n_grid_points
from computed as c
cross join lateral generate_series(0, cardinality(c.dates) - 1) as d (i)
