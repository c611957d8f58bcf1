-- Exchange trading sessions, one row per session_date.

with source as (
    select
        session_date,
        market_open,
        market_close,
        is_half_day,
        calendar
    from {{ source('ref', 'trading_calendar') }}
)

select
    session_date,
    market_open as market_open_ts,
    market_close as market_close_ts,
    extract(epoch from market_close - market_open)::double precision / 3600 as session_hours,
    is_half_day,
    calendar
from source
