-- Option quote snapshots, one row per (contract_symbol, quote_ts), as landed plus trivial
-- derived columns: session date, mid, spread, time to expiry.
-- Key columns keep their source types (char(21), char(1)) so that predicates on this view
-- still use the raw hypertable's indexes and chunk exclusion.
-- Pricing math (implied vol, greeks, forwards) lives in python_udfs / intermediate models.

with source as (
    select
        quote_ts,
        underlying,
        contract_symbol,
        expiration,
        strike,
        option_right,
        bid,
        ask,
        bid_size,
        ask_size,
        last,
        volume,
        open_interest,
        underlying_bid,
        underlying_ask,
        underlying_last,
        vendor_iv,
        vendor_delta,
        vendor_gamma,
        vendor_vega,
        vendor_theta,
        load_id
    from {{ source('raw', 'option_quotes') }}
),

dated as (
    select
        quote_ts,
        {{ market_date('quote_ts') }} as quote_date,
        underlying,
        contract_symbol,
        expiration,
        strike,
        option_right,
        bid,
        ask,
        bid_size,
        ask_size,
        last as last_price,
        volume,
        open_interest,
        underlying_bid,
        underlying_ask,
        underlying_last,
        vendor_iv,
        vendor_delta,
        vendor_gamma,
        vendor_vega,
        vendor_theta,
        load_id
    from source
)

select
    quote_ts,
    quote_date,
    underlying,
    contract_symbol,
    expiration,
    strike,
    option_right,
    bid,
    ask,
    -- mid and spread only for two-sided markets (null when either side is missing)
    (bid + ask) / 2 as mid,
    ask - bid as spread,
    case when bid + ask > 0 then (ask - bid) / ((bid + ask) / 2) end as relative_spread,
    bid_size,
    ask_size,
    last_price,
    volume,
    open_interest,
    underlying_bid,
    underlying_ask,
    (underlying_bid + underlying_ask) / 2 as underlying_mid,
    underlying_last,
    vendor_iv,
    vendor_delta,
    vendor_gamma,
    vendor_vega,
    vendor_theta,
    -- calendar days from the quote's session date to expiration (0 on expiration day)
    expiration - quote_date as days_to_expiry,
    -- ACT/365 year fraction of days_to_expiry; intraday time to the settlement instant is
    -- left to the intermediate layer (it needs the AM/PM settlement of the contract)
    ((expiration - quote_date) / 365.0)::double precision as t_years,
    load_id
from dated
