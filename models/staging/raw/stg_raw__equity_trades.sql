-- Equity trade prints, one row per (symbol, trade_ts, seq), with the session date and the
-- trade's notional value.

with source as (
    select
        ts,
        symbol,
        seq,
        price,
        size,
        exchange,
        conditions,
        load_id
    from {{ source('raw', 'equity_trades') }}
)

select
    ts as trade_ts,
    {{ market_date('ts') }} as trade_date,
    symbol,
    seq,
    price,
    size,
    price * size as notional,
    exchange,
    conditions,
    load_id
from source
