-- Labelled benchmark headlines, one row per (source, split, row_no).

with source as (
    select
        source,
        split,
        row_no,
        headline,
        label,
        label_name,
        load_id
    from {{ source('raw', 'sentiment_benchmark') }}
)

select
    source,
    split,
    row_no,
    headline,
    label,
    label_name,
    load_id
from source
