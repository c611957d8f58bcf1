-- OCC option contracts, one row per contract_symbol.

with source as (
    select
        contract_symbol,
        root,
        underlying,
        expiration,
        option_right,
        strike,
        multiplier,
        exercise_style,
        settlement,
        first_seen
    from {{ source('ref', 'option_contracts') }}
)

select
    contract_symbol,
    root,
    underlying,
    expiration,
    option_right,
    strike,
    multiplier,
    exercise_style,
    settlement,
    first_seen as first_seen_ts
from source
