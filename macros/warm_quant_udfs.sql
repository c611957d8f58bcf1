{#
    warm_quant_udfs()

    Pre-hook for models that call the quant.* PL/Python functions. A session installs the
    python_udfs package on its first quant call, reading the module sources with SPI, and
    PostgreSQL refuses SPI commands inside a parallel plan ("cannot start commands during a
    parallel operation"). Installing it in a pre-hook (quant.udf_warm: the sources, no module
    imported yet), on the model's own connection and outside any parallel plan, makes the
    model's query safe whatever plan the planner picks; each function then imports just the
    modules it needs (numpy and scipy.special for the IV model: ~0.15 s, not the whole
    package's ~0.4 s).
#}
{% macro warm_quant_udfs() -%}
    select quant.udf_warm() is not null as quant_udfs_ready
{%- endmacro %}
