-- Instruments, one row per symbol.

with source as (
    select
        symbol,
        name,
        asset_class,
        exchange,
        currency,
        sector,
        option_multiplier,
        option_exercise_style,
        source,
        updated_at
    from {{ source('ref', 'instruments') }}
)

select
    symbol,
    name as instrument_name,
    asset_class,
    exchange,
    currency,
    sector,
    option_multiplier,
    option_exercise_style,
    source,
    updated_at
from source
