{#
    bounds_predicate(expression, min_value, max_value, inclusive=true): SQL predicate that
    `expression` lies within the bounds, e.g. "n_rows >= 1 and n_rows <= 100". Either bound may
    be none, not both. Shared by the accepted_range and row_count_between tests.
#}
{% macro bounds_predicate(expression, min_value=none, max_value=none, inclusive=true) -%}
    {%- if min_value is none and max_value is none -%}
        {{ exceptions.raise_compiler_error(
            "range test on " ~ expression ~ ": give min_value and/or max_value") }}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- if min_value is not none -%}
        {%- do parts.append(expression ~ (" >= " if inclusive else " > ") ~ min_value) -%}
    {%- endif -%}
    {%- if max_value is not none -%}
        {%- do parts.append(expression ~ (" <= " if inclusive else " < ") ~ max_value) -%}
    {%- endif -%}
    {{ parts | join(" and ") }}
{%- endmacro %}
