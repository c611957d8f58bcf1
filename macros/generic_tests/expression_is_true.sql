{#
    expression_is_true: a boolean SQL expression holds for every row. Model level
    (`expression: "ask >= bid"`) or column level, where the expression is appended to the
    column (`expression: ">= 0"`). Rows where the expression is NULL pass, as in SQL CHECK
    constraints; guard nullable inputs explicitly when that matters.
#}
{% test expression_is_true(model, expression, column_name=none) %}
{%- set full_expression = (column_name ~ " " ~ expression) if column_name else expression %}

select *
from {{ model }}
where not ({{ full_expression }})
{% endtest %}
