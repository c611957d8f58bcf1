{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['underlying', 'quote_date'],
        on_schema_change='append_new_columns',
        post_hook="{{ make_hypertable('quote_date', '30 days') }}"
    )
}}

-- Option quote counts per underlying and session date. A small incremental model that also
-- demonstrates the make_hypertable post-hook (hypertable on quote_date, 30-day chunks).
-- Incremental runs recount the trailing `incremental_lookback_days` session dates already in
-- the table and every later one (delete+insert on the key), so late loads are picked up.

with recount_window as (
    -- start of the session dates to (re)count: everything on a full build or an empty table
    {{ rebuild_window('quote_date', is_date=true) }}
),

quotes as (
    select
        underlying,
        quote_date,
        quote_ts,
        contract_symbol,
        expiration,
        bid,
        ask
    from {{ ref('stg_raw__option_quotes') }}
    -- on quote_ts, not quote_date: TimescaleDB then skips the older raw chunks at run time
    where quote_ts >= (select recount_window.from_ts from recount_window)
)

select
    underlying,
    quote_date,
    count(*) as n_quotes,
    count(distinct contract_symbol) as n_contracts,
    count(distinct expiration) as n_expirations,
    count(*) filter (where bid is not null and ask is not null) as n_two_sided_quotes,
    min(quote_ts) as first_quote_ts,
    max(quote_ts) as last_quote_ts
from quotes
group by underlying, quote_date
