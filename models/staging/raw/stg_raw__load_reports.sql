-- Load attempts, one row per load_id, with duration and a success flag.

with source as (
    select
        load_id,
        source,
        file_path,
        file_sha256,
        file_bytes,
        status,
        started_at,
        finished_at,
        rows_read,
        rows_loaded,
        rows_duplicate,
        rows_quarantined,
        quarantined_by_reason,
        rows_by_table,
        error
    from {{ source('raw', 'load_reports') }}
)

select
    load_id,
    source,
    file_path,
    file_sha256,
    file_bytes,
    status,
    status = 'loaded' as is_loaded,
    started_at,
    finished_at,
    extract(epoch from finished_at - started_at)::double precision as duration_seconds,
    rows_read,
    rows_loaded,
    rows_duplicate,
    rows_quarantined,
    quarantined_by_reason,
    rows_by_table,
    error
from source
