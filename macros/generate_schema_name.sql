{#
    Use a model's custom schema verbatim (`staging`, not `<target schema>_staging`): the
    warehouse layers are fixed schemas created by the migrations (001_schemas.sql).

    The var `schema_suffix` (default '') is appended to every schema, sources included
    (models/staging/_sources.yml), so that a test run can build an isolated copy of the project,
    e.g. --vars '{schema_suffix: _scratch}' reads raw_scratch/ref_scratch and writes
    staging_scratch/intermediate_scratch, leaving the shared schemas alone.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set suffix = var("schema_suffix", "") -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema ~ suffix }}
    {%- else -%}
        {{ (custom_schema_name | trim) ~ suffix }}
    {%- endif -%}
{%- endmacro %}
