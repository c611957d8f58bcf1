-- Earnings announcements, one row per (symbol, event_date, source).

with source as (
    select
        symbol,
        event_date,
        timing,
        is_confirmed,
        source
    from {{ source('ref', 'earnings') }}
)

select
    symbol,
    event_date,
    timing,
    is_confirmed,
    source
from source
