-- Audit trail of fct_vix_index: one row per strike that entered the near or next term's
-- variance, with the option used (C, P, or C/P averaged at K0), its price Q(K), dK and its
-- contribution (2/T) dK/K^2 e^{RT} Q(K) to the term's variance (before the K0 correction and
-- the interpolation weights), decimal^2 per year.

with rebuild_window as (
    {{ rebuild_window('quote_date', is_date=true) }}
),

idx as (
    select
        underlying,
        quote_date,
        details -> 'contributions' as c
    from {{ ref('fct_vix_index') }}
    where
        quote_date >= {{ rebuild_from_date() }}
        {{ watch_list_filter('underlying') }}
        and jsonb_typeof(details -> 'contributions') = 'object'
)

select
    idx.underlying,
    idx.quote_date,
    i.i + 1 as strike_index,
    idx.c -> 'term' ->> i.i as term,
    (idx.c -> 't' ->> i.i)::float8 as t_years,
    (idx.c -> 'strike' ->> i.i)::float8 as strike,
    idx.c -> 'option_type' ->> i.i as option_type,
    (idx.c -> 'q' ->> i.i)::float8 as price,
    (idx.c -> 'dk' ->> i.i)::float8 as delta_strike,
    (idx.c -> 'contribution' ->> i.i)::float8 as contribution
from idx
cross join lateral generate_series(0, jsonb_array_length(idx.c -> 'strike') - 1) as i (i)
