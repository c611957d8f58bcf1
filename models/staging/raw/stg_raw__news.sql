-- News items, one row per (source, vendor_id, published_ts), with the session date and the
-- number of tagged tickers.

with source as (
    select
        published_ts,
        source,
        vendor_id,
        headline,
        body,
        tickers,
        url,
        load_id
    from {{ source('raw', 'news') }}
)

select
    published_ts,
    {{ market_date('published_ts') }} as published_date,
    source,
    vendor_id,
    headline,
    body,
    tickers,
    cardinality(tickers) as n_tickers,
    url,
    load_id
from source
