"""``warehouse udfs``: install ``python_udfs`` into the database as the ``quant`` SQL API.

- ``generate``: the DDL, generated from ``python_udfs.sql_api`` and checked (pglast, compile)
  before anything is sent;
- ``bootstrap``: the loader that imports the package inside PL/Python from
  ``quant.udf_modules`` (its source travels in the SQL);
- ``deploy``: idempotent, content-hashed deployment as the admin role, and ``status``.
"""
