{#
    not_null_where: the column is not null on the rows where `condition` holds, e.g. a load
    report's error text must be set when status = 'failed'.
#}
{% test not_null_where(model, column_name, condition) %}
select *
from {{ model }}
where
    {{ column_name }} is null
    and ({{ condition }})
{% endtest %}
