-- OHLCV bars (minute and daily), one row per (symbol, bar_seconds, bar_start_ts).

with source as (
    select
        ts,
        symbol,
        bar_seconds,
        open,
        high,
        low,
        close,
        volume,
        adj_close,
        load_id
    from {{ source('raw', 'equity_bars') }}
)

select
    ts as bar_start_ts,
    -- daily bars are stamped at the 09:30 New York open (loaders); their end is the session
    -- close (ref.trading_calendar), not start + 24 h, so it is left null here
    case
        when bar_seconds < 86400 then ts + make_interval(secs => bar_seconds)
    end as bar_end_ts,
    {{ market_date('ts') }} as bar_date,
    symbol,
    bar_seconds,
    bar_seconds = 86400 as is_daily,
    open as open_price,
    high as high_price,
    low as low_price,
    close as close_price,
    volume,
    adj_close as adj_close_price,
    load_id
from source
