{#
    warm_quant_udfs()

    Pre-hook for models that call the quant.* PL/Python functions. A session imports the
    python_udfs package on its first quant call, reading the module sources with SPI, and
    PostgreSQL refuses SPI commands inside a parallel plan ("cannot start commands during a
    parallel operation"). Importing in a pre-hook, on the model's own connection and outside
    any parallel plan, makes the model's query safe whatever plan the planner picks.
#}
{% macro warm_quant_udfs() -%}
    select quant.udf_info() is not null as quant_udfs_ready
{%- endmacro %}
