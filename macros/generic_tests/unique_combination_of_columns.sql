{#
    unique_combination_of_columns: no two rows share the same values in all the listed columns
    (a composite natural key). NULLs compare equal here, as in GROUP BY.
        data_tests:
          - unique_combination_of_columns:
              arguments: {combination_of_columns: [contract_symbol, quote_ts]}
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
{%- set columns_csv = combination_of_columns | join(", ") %}

select
    {{ columns_csv }},
    count(*) as n_rows
from {{ model }}
group by {{ columns_csv }}
having count(*) > 1
{% endtest %}
