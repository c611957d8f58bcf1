-- Files loaded successfully, one row per (source, file_sha256, file_identity).

with source as (
    select
        source,
        file_sha256,
        file_identity,
        load_id,
        file_path,
        loaded_at
    from {{ source('raw', 'file_manifest') }}
)

select
    source,
    file_sha256,
    file_identity,
    load_id,
    file_path,
    loaded_at
from source
