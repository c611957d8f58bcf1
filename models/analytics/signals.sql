-- Analyst view of marts.fct_signals: one row per (as_of, strategy, underlying or pair,
-- instrument), the documented signal columns (definitions and units in the COMMENTs).

select
    as_of,
    strategy,
    underlying,
    pair_id,
    instrument,
    direction,
    strength,
    confidence,
    expected_edge,
    metadata,
    model_version
from {{ ref('fct_signals') }}
