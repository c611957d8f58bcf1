{#
    watch_list_filter(column)

    For the intraday surface job: when var `watch_list` (a list of underlying symbols, or a
    comma-separated string) is set, `and <column> = any(array[...])`, so the models rebuild
    only the watched underlyings; otherwise nothing (every underlying). The models using it
    are incremental with delete+insert on keys that start with the underlying, so rows of
    other underlyings stay as they are. Symbols are upper-cased and must match
    [A-Z0-9._^-]{1,16} (they are written into the SQL text); anything else is a compilation
    error.
    Usage:  where quote_ts >= ... {{ watch_list_filter('underlying') }}
#}
{% macro watch_list_filter(column) -%}
    {%- set raw = var('watch_list', none) -%}
    {%- if raw is not none and raw | length > 0 -%}
        {%- set symbols = raw.split(',') if raw is string else raw -%}
        {%- set clean = [] -%}
        {%- set allowed = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._^-' -%}
        {%- for s in symbols -%}
            {%- set sym = (s | string).strip().upper() -%}
            {%- set bad = sym | list | reject('in', allowed) | list -%}
            {%- if bad or sym | length == 0 or sym | length > 16 -%}
                {{ exceptions.raise_compiler_error(
                    "watch_list: invalid underlying symbol " ~ (sym | tojson)
                ) }}
            {%- endif -%}
            {%- do clean.append("'" ~ sym ~ "'") -%}
        {%- endfor -%}
        and {{ column }} = any(array[{{ clean | join(', ') }}]::text[])
    {%- endif -%}
{%- endmacro %}
