{#
    market_date(ts_column): the exchange-local calendar date of a timestamptz (UTC) column,
    e.g. a quote at 2024-03-08 21:10 UTC is on session date 2024-03-08 in America/New_York.
    The zone is the project var `market_timezone`.
#}
{% macro market_date(ts_column) -%}
    ({{ ts_column }} at time zone '{{ var("market_timezone") }}')::date
{%- endmacro %}
