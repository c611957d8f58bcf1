"""SQL registry of the risk kernels (schema ``risk``; composite types in ``quant``).

Appended to ``python_udfs.sql_api`` (its ``EXTENSIONS``). Conventions: exposures and P&L in
currency, losses reported as positive numbers, vols annualised decimals, horizons in trading
days (252 a year), correlation matrices row-major flattened ``float8[]``; Monte Carlo is
deterministic per ``seed`` (numpy PCG64).
"""

from __future__ import annotations

from python_udfs.sql_api import Arg, CompositeType, Function

__all__ = ["FUNCTIONS", "TYPES"]

TYPES: tuple[CompositeType, ...] = (
    CompositeType(
        "var_es_result",
        (
            ("var", "float8"),
            ("es", "float8"),
            ("var_se", "float8"),
            ("es_se", "float8"),
            ("repaired", "float8"),
            ("min_eigenvalue", "float8"),
            ("n_factors", "float8"),
            ("paths", "float8"),
        ),
        "Monte Carlo VaR / ES of a linear book (risk.mc_var_es): var and es (currency, positive "
        "= loss), their Monte Carlo standard errors var_se / es_se (currency), repaired (1 when "
        "the input correlation was not positive semi-definite and was replaced by the nearest "
        "correlation matrix, else 0), min_eigenvalue of the input correlation, n_factors "
        "(rank used) and paths.",
    ),
)

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "mc_var_es",
        (
            Arg("exposures", "float8[]", "exposure per factor, currency", per_option=False),
            Arg("vols", "float8[]", "annualised vol per factor, decimal", per_option=False),
            Arg("correlation", "float8[]", "n x n correlation, row-major", per_option=False),
            Arg("confidence", "float8", "VaR confidence, e.g. 0.99"),
            Arg("horizon_days", "integer", "horizon, trading days"),
            Arg("paths", "integer", "Monte Carlo paths"),
            Arg("seed", "bigint", "PCG64 seed"),
        ),
        "quant.var_es_result",
        "python_udfs.risk:mc_var_es",
        "Monte Carlo value at risk and expected shortfall of a linear book (python_udfs.risk."
        "mc_var_es): P&L = sum_i e_i r_i with r ~ N(0, diag(vols) C diag(vols) h / 252), "
        "factor normals drawn in chunks from numpy PCG64(seed) (same seed, same numbers); a "
        "correlation that is not positive semi-definite is repaired to the nearest "
        "correlation matrix (Higham 2002) and reported (repaired = 1), asymmetric or mis-sized "
        "input is an error. Use: SELECT * FROM risk.mc_var_es(...).",
        schema="risk",
        plain_scalars=True,
        cost=1000000,
    ),
)
