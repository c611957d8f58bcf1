{#
    rebuild_window(column, is_date=false)

    The body of an incremental model's "rebuild window" CTE: one row, `from_ts`, the instant
    from which the model re-reads its source. On a full build (or a new table) it is
    -infinity; on an incremental run it is the latest `column` already built minus
    `incremental_lookback_days`, so late-arriving rows of recent days are picked up again
    (the models use delete+insert on their keys, which makes the overlap idempotent).

    `column` is a timestamptz column, or a New York session date with is_date=true (the
    window then starts at midnight America/New_York, var market_timezone, of that date).
    Usage:  with rebuild_window as ({{ rebuild_window('quote_date', is_date=true) }}), ...
    and filter the source on its time column (not a date) so TimescaleDB skips old chunks:
    where quote_ts >= (select rebuild_window.from_ts from rebuild_window)
#}
{% macro rebuild_window(column, is_date=false) -%}
    {%- set lookback = var('incremental_lookback_days') | int -%}
    {%- set tz = var('market_timezone') -%}
    {%- set date_start = "(max(" ~ column ~ ") - " ~ lookback ~ ")::timestamp at time zone '"
        ~ tz ~ "'" -%}
    {%- set ts_start = "max(" ~ column ~ ") - interval '" ~ lookback ~ " days'" -%}
    {%- set start = date_start if is_date else ts_start -%}
    {%- if is_incremental() -%}
        select coalesce({{ start }}, '-infinity'::timestamptz) as from_ts from {{ this }}
    {%- else -%}
        select '-infinity'::timestamptz as from_ts
    {%- endif -%}
{%- endmacro %}

{#
    rebuild_from_date(): the rebuild window's start as a New York session date, for models
    whose source is keyed by a date column (e.g. another mart's quote_date):
        where quote_date >= {{ rebuild_from_date() }}
    Needs the model's `rebuild_window` CTE.
#}
{% macro rebuild_from_date() -%}
    ((select rebuild_window.from_ts from rebuild_window) at time zone '{{ var("market_timezone") }}')::date
{%- endmacro %}
