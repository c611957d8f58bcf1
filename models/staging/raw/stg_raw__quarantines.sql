-- Quarantined (rejected) records, one row per quarantine_id, with the number of failing
-- reasons.

with source as (
    select
        quarantine_id,
        load_id,
        source,
        target_table,
        source_file,
        line_no,
        reason,
        reasons,
        raw_record,
        quarantined_at
    from {{ source('raw', 'quarantine') }}
)

select
    quarantine_id,
    load_id,
    source,
    target_table,
    source_file,
    line_no,
    reason,
    reasons,
    cardinality(reasons) as n_reasons,
    raw_record,
    quarantined_at
from source
