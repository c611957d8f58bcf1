{#
    accepted_range: every non-null value of the column lies within [min_value, max_value]
    (or the open interval when inclusive=false). Either bound may be omitted. Nulls pass
    (pair with not_null when they must not occur).
        - name: strike
          data_tests:
            - accepted_range: {arguments: {min_value: 0, inclusive: false}}
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
with validation as (
    select {{ column_name }} as value_under_test
    from {{ model }}
)

select value_under_test
from validation
where
    value_under_test is not null
    and not ({{ bounds_predicate("value_under_test", min_value, max_value, inclusive) }})
{% endtest %}
