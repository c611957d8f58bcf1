{#
    row_count_between: the number of rows (per group when group_by_columns is given) lies within
    [min_value, max_value]; either bound may be omitted. Without groups an empty model has
    0 rows (fails when min_value > 0); with groups an empty model has no groups and passes.
#}
{% test row_count_between(model, min_value=none, max_value=none, group_by_columns=[]) %}
{%- set group_list = group_by_columns | join(", ") -%}
{%- set select_groups = (group_list ~ ", ") if group_by_columns else "" -%}
{%- set group_clause = (" group by " ~ group_list) if group_by_columns else "" %}

with counts as (
    select {{ select_groups }}count(*) as n_rows
    from {{ model }}{{ group_clause }}
)

select *
from counts
where not ({{ bounds_predicate("n_rows", min_value, max_value) }})
{% endtest %}
