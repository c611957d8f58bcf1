-- Equity top-of-book quotes, one row per (symbol, quote_ts, seq), with the session date, mid
-- and spread.

with source as (
    select
        ts,
        symbol,
        seq,
        bid,
        ask,
        bid_size,
        ask_size,
        exchange,
        load_id
    from {{ source('raw', 'equity_quotes') }}
)

select
    ts as quote_ts,
    {{ market_date('ts') }} as quote_date,
    symbol,
    seq,
    bid,
    ask,
    -- null when either side is missing
    (bid + ask) / 2 as mid,
    ask - bid as spread,
    bid_size,
    ask_size,
    exchange,
    load_id
from source
