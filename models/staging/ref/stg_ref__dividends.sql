-- Cash dividends, one row per (symbol, ex_date, source).

with source as (
    select
        symbol,
        ex_date,
        amount,
        pay_date,
        is_projected,
        source
    from {{ source('ref', 'dividends') }}
)

select
    symbol,
    ex_date,
    pay_date,
    amount as amount_per_share,
    is_projected,
    source
from source
