-- Schema of the in-database risk kernels (risk.mc_var_es, ...): PL/Python functions generated
-- from python_udfs.sql_api by `warehouse udfs deploy`, like the quant schema's. The risk marts
-- themselves are dbt models in marts; limits, breaches and the trading state live in ops.
CREATE SCHEMA IF NOT EXISTS risk;
COMMENT ON SCHEMA risk IS
    'Risk kernels (Monte Carlo VaR/ES, revaluation) generated from python_udfs by `warehouse udfs deploy`.';
