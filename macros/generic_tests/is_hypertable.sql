{#
    is_hypertable: the model's relation is a TimescaleDB hypertable partitioned on
    `time_column` (and, when given, with chunks of `chunk_interval`, e.g. '30 days').
    Model-level test; returns one row when the expectation is not met. Does not support a
    `where` config (it inspects the catalogue, not the rows).
#}
{% test is_hypertable(model, time_column, chunk_interval=none) %}
{%- set interval_check = (
    "and dims.time_interval = interval '" ~ chunk_interval ~ "'"
) if chunk_interval is not none else "" %}

with expected as (
    select
        '{{ model.schema }}'::text as schema_name,
        '{{ model.identifier }}'::text as table_name,
        '{{ time_column }}'::text as time_column
)

select
    expected.schema_name,
    expected.table_name,
    expected.time_column
from expected
where not exists (
    select 1
    from timescaledb_information.dimensions as dims
    where
        dims.hypertable_schema = expected.schema_name
        and dims.hypertable_name = expected.table_name
        and dims.column_name = expected.time_column
        and dims.dimension_number = 1
        {{ interval_check }}
)
{% endtest %}
