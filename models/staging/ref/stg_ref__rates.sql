-- Zero-rate curve points, one row per (as_of_date, tenor_days, source).

with source as (
    select
        as_of,
        tenor_days,
        zero_rate,
        source
    from {{ source('ref', 'rates') }}
)

select
    as_of as as_of_date,
    tenor_days,
    -- ACT/365, the convention zero_rate is quoted in
    (tenor_days / 365.0)::double precision as tenor_years,
    zero_rate,
    source
from source
