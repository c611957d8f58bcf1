"""Generate the ``quant`` schema's DDL from the registry ``python_udfs.sql_api``.

Every statement is generated here, checked, and only then sent by ``deploy``:

- identifiers are validated (lower-case ``[a-z][a-z0-9_]*``, no reserved keyword) and SQL
  types are parsed with pglast and mapped onto the few the adapters support;
- each Python callable is imported in the venv and its parameter names compared with the SQL
  argument names (a registry entry whose module or function does not exist yet is *skipped*
  and reported, not deployed);
- each PL/Python body is compiled with ``compile()`` (as PL/Python wraps it: in a function);
- each statement is parsed with ``pglast.parse_sql`` and must be exactly one statement.

Objects are grouped into ``Unit`` s (a type, or a function with its COMMENT and grants); a
unit's sha256 over its statements is what ``deploy`` compares with ``quant.udf_deployments``.
Every PL/Python body embeds the package hash, so a new package version changes every unit
that runs Python.

Batch functions are two objects: a PL/Python function ``quant._<name>_raw`` taking and
returning binary array images (bytea, see ``python_udfs._plpython``), and the public SQL
function ``quant.<name>`` (SECURITY DEFINER, so that it alone may call
``quant._float8_array_from_image``) converting the arrays on both sides.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

import pglast
from pglast import keywords
from psycopg import sql

SCHEMA = "quant"
BOOTSTRAP_PATH = Path(__file__).with_name("bootstrap.py")
_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED_ARG_NAMES = {"args", "plpy", "sd", "gd", "td"}
_DOLLAR_BODY = "$udf$"
_DOLLAR_COMMENT = "$c$"

# canonical SQL types understood by the adapters (python_udfs._plpython)
SCALAR_ARG_KINDS = {
    "float8": "float8",
    "boolean": "boolean",
    "float8[]": "float8[]",
    "boolean[]": "boolean[]",
    "integer": "bigint",
    "bigint": "bigint",
    "text": "text",
    "text[]": "text[]",
    "jsonb": "jsonb",
}
BATCH_ELEM_KINDS = {"float8[]": "elem float8", "boolean[]": "elem boolean", "text[]": "elem text"}
SCALAR_RETURNS = {"float8": "float8", "text": "text", "jsonb": "jsonb", "float8[]": "float8[]"}
BATCH_RETURNS = {"float8[]": "float8[]", "text[]": "text[]"}


class UdfGenerationError(RuntimeError):
    """A registry entry or a generated statement is invalid; nothing was sent."""


@dataclass(frozen=True)
class Unit:
    """One deployable object: its statements (create, comment, grants) and how to drop it."""

    key: str  # "function quant.bs_price(float8, ...)" / "type quant.greeks"
    kind: str  # "type" | "function"
    identity: str  # to_regprocedure / to_regtype argument
    statements: tuple[str, ...]
    drop: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256("\n;\n".join(self.statements).encode()).hexdigest()


@dataclass
class Plan:
    """The generated deployment: infrastructure statements, units in creation order, skips."""

    package_hash: str
    infrastructure: list[str]
    units: list[Unit]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (sql name, reason)


# --------------------------------------------------------------------------- checks


def check_sql(statement: str, what: str = "statement") -> str:
    """Parse ``statement`` with pglast; it must be exactly one statement. Returns it."""
    try:
        parsed = pglast.parse_sql(statement)
    except pglast.parser.ParseError as exc:
        raise UdfGenerationError(
            f"{what}: generated SQL does not parse: {exc}\n{statement}"
        ) from exc
    if len(parsed) != 1:
        raise UdfGenerationError(f"{what}: expected one statement, got {len(parsed)}")
    return statement


def check_identifier(name: str, what: str) -> str:
    """A plain lower-case identifier that needs no quoting (and is not a reserved keyword)."""
    if not _IDENT.match(name) or name in keywords.RESERVED_KEYWORDS:
        raise UdfGenerationError(f"{what}: invalid identifier {name!r}")
    return name


def canonical_type(sql_type: str, what: str) -> str:
    """Parse a SQL type name with pglast; return it canonically (``float8[]``, ``quant.x``)."""
    try:
        parsed = pglast.parse_sql(f"SELECT NULL::{sql_type}")
        type_name = parsed[0].stmt.targetList[0].val.typeName
    except (pglast.parser.ParseError, AttributeError, IndexError) as exc:
        raise UdfGenerationError(f"{what}: invalid SQL type {sql_type!r}: {exc}") from exc
    names = [n.sval for n in type_name.names]
    if names[:1] == ["pg_catalog"]:
        names = names[1:]
    aliases = {
        "bool": "boolean",
        "float8": "float8",
        "text": "text",
        "int4": "integer",
        "int8": "bigint",
        "jsonb": "jsonb",
    }
    if len(names) == 1 and names[0] in aliases:
        base = aliases[names[0]]
    elif len(names) == 2 and names[0] == SCHEMA:
        base = f"{SCHEMA}.{check_identifier(names[1], what)}"
    else:
        raise UdfGenerationError(f"{what}: unsupported SQL type {sql_type!r}")
    if type_name.typmods:
        raise UdfGenerationError(f"{what}: type modifiers are not supported ({sql_type!r})")
    bounds = type_name.arrayBounds or ()
    if len(bounds) > 1:
        raise UdfGenerationError(f"{what}: only one-dimensional arrays ({sql_type!r})")
    return base + ("[]" if bounds else "")


def plpython_munge(body: str, name: str = "__plpython_procedure") -> str:
    """The source PL/Python compiles for a function body (``PLy_procedure_munge_source``):
    ``def name():`` and the body with a tab inserted after every newline, string literals
    included."""
    return f"def {name}():\n\t" + body.replace("\r\n", "\n").replace("\r", "\n").replace(
        "\n", "\n\t"
    )


def check_python_body(body: str, what: str) -> str:
    """Compile a PL/Python body as PL/Python will (munged, inside a function); return it."""
    try:
        compile(plpython_munge(body), f"<{what}>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise UdfGenerationError(f"{what}: generated Python body does not compile: {exc}") from exc
    if _DOLLAR_BODY in body:
        raise UdfGenerationError(f"{what}: body contains the quote tag {_DOLLAR_BODY}")
    return body


def _comment_literal(text: str, what: str) -> str:
    if _DOLLAR_COMMENT in text or "\0" in text:
        raise UdfGenerationError(f"{what}: comment contains {_DOLLAR_COMMENT} or NUL")
    return f"{_DOLLAR_COMMENT}{text}{_DOLLAR_COMMENT}"


def resolve_callable(path: str):
    """Import ``"module:function"`` in the venv; raises ImportError/AttributeError if absent."""
    module_name, _, attr = path.partition(":")
    if not module_name.startswith("python_udfs.") or not attr:
        raise UdfGenerationError(f"callable {path!r} is not 'python_udfs.<module>:<function>'")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


# --------------------------------------------------------------------------- helpers


def _grants(identity_sql: sql.Composable, roles: tuple[str, ...]) -> list[str]:
    stmts = [sql.SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(identity_sql)]
    if roles:
        stmts.append(
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
                identity_sql, sql.SQL(", ").join(sql.Identifier(r) for r in roles)
            )
        )
    return [s.as_string() for s in stmts]


def _function_unit(
    name: str,
    arg_types: tuple[str, ...],
    create: str,
    comment: str | None,
    roles: tuple[str, ...],
    schema: str = SCHEMA,
) -> Unit:
    identity = f"{schema}.{name}({', '.join(arg_types)})"
    ident_sql = sql.SQL("{}({})").format(
        sql.Identifier(schema, name), sql.SQL(", ").join(sql.SQL(t) for t in arg_types)
    )
    what = f"function {identity}"
    stmts = [check_sql(create, what)]
    if comment is not None:
        stmts.append(
            check_sql(f"COMMENT ON FUNCTION {identity} IS {_comment_literal(comment, what)}", what)
        )
    stmts += [check_sql(s, what) for s in _grants(ident_sql, roles)]
    drop = check_sql(f"DROP FUNCTION IF EXISTS {identity}", what)
    return Unit(f"function {identity}", "function", identity, tuple(stmts), drop)


def _options(volatility: str, parallel: str, strict: bool, cost: int) -> str:
    if volatility not in ("IMMUTABLE", "STABLE", "VOLATILE"):
        raise UdfGenerationError(f"invalid volatility {volatility!r}")
    if parallel not in ("SAFE", "RESTRICTED", "UNSAFE"):
        raise UdfGenerationError(f"invalid parallel safety {parallel!r}")
    parts = [volatility]
    if strict:
        parts.append("STRICT")
    parts += [f"PARALLEL {parallel}", f"COST {int(cost)}"]
    return " ".join(parts)


def _ensure_lines(package_hash: str) -> list[str]:
    return [
        f'    if GD.get("quant.udf_package") != "{package_hash}":',
        f"        plpy.execute(\"SELECT quant.udf_import('{package_hash}')\")",
    ]


def _python_body(
    sql_name: str,
    package_hash: str,
    callable_path: str,
    adapter: str,
    kinds: tuple[str, ...],
    output: str,
    fields: tuple[str, ...],
    arg_names: tuple[str, ...],
) -> str:
    module_name, _, attr = callable_path.partition(":")
    lines = [
        f"# {SCHEMA}.{sql_name}: generated by `warehouse udfs deploy` from python_udfs.sql_api;",
        f"# do not edit. python_udfs package {package_hash}",
        '_f = SD.get("f")',
        "if _f is None:",
        *_ensure_lines(package_hash),
        f"    from python_udfs._plpython import {adapter} as _adapter",
        f"    from {module_name} import {attr} as _fn",
        f'    _f = SD["f"] = _adapter(_fn, {kinds!r}, {output!r}, {fields!r})',
        f"return _f({', '.join(arg_names)})",
    ]
    body = "\n".join(lines)
    return check_python_body(body, f"{SCHEMA}.{sql_name}")


def _plpython_create(
    name: str,
    params: list[tuple[str, str]],
    returns: str,
    options: str,
    body: str,
    security_definer: bool = False,
    schema: str = SCHEMA,
) -> str:
    args = ", ".join(f"{n} {t}" for n, t in params)
    sec = " SECURITY DEFINER" if security_definer else ""
    return (
        f"CREATE OR REPLACE FUNCTION {schema}.{name}({args})\n"
        f"RETURNS {returns}\nLANGUAGE plpython3u {options}{sec}\n"
        f"AS {_DOLLAR_BODY}\n{body}\n{_DOLLAR_BODY}"
    )


def _comment_text(fn, python_path: str) -> str:
    units = "; ".join(f"{a.name}: {a.doc}" for a in fn.args if a.doc)
    return f"{fn.comment} Arguments: {units}. Python: {python_path.replace(':', '.')}."


# --------------------------------------------------------------------------- infrastructure


def infrastructure(roles: tuple[str, ...]) -> list[str]:
    """Schema and bookkeeping tables (idempotent; run by every deploy), read grants."""
    stmts = [
        f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
        f"COMMENT ON SCHEMA {SCHEMA} IS {_DOLLAR_COMMENT}In-database quant functions "
        "(pricing, implied volatility, greeks) generated from python_udfs.sql_api by "
        f"`warehouse udfs deploy`; the Python package itself is stored in "
        f"{SCHEMA}.udf_modules.{_DOLLAR_COMMENT}",
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.udf_modules (\n"
        "    module      text PRIMARY KEY,\n"
        "    is_package  boolean NOT NULL DEFAULT false,\n"
        "    source      text NOT NULL,\n"
        "    sha256      text NOT NULL,\n"
        "    deployed_at timestamptz NOT NULL DEFAULT now())",
        f"COMMENT ON TABLE {SCHEMA}.udf_modules IS {_DOLLAR_COMMENT}Sources of the python_udfs "
        "package, imported by PL/Python sessions through quant.udf_import (never from files); "
        f"written by `warehouse udfs deploy` only.{_DOLLAR_COMMENT}",
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.udf_deployments (\n"
        "    object         text PRIMARY KEY,\n"
        "    kind           text NOT NULL,\n"
        "    identity       text NOT NULL,\n"
        "    ddl_sha256     text NOT NULL,\n"
        "    drop_sql       text NOT NULL,\n"
        "    package_sha256 text NOT NULL,\n"
        "    deployed_at    timestamptz NOT NULL DEFAULT now())",
        f"COMMENT ON TABLE {SCHEMA}.udf_deployments IS {_DOLLAR_COMMENT}One row per deployed "
        "quant type/function: the sha256 of its generated DDL (a redeploy re-creates only "
        f"objects whose DDL changed).{_DOLLAR_COMMENT}",
    ]
    if roles:
        who = sql.SQL(", ").join(sql.Identifier(r) for r in roles)
        stmts += [
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}")
            .format(sql.Identifier(SCHEMA), who)
            .as_string(),
            sql.SQL("GRANT SELECT ON TABLE {}, {} TO {}")
            .format(
                sql.Identifier(SCHEMA, "udf_modules"),
                sql.Identifier(SCHEMA, "udf_deployments"),
                who,
            )
            .as_string(),
        ]
    return [check_sql(s, "infrastructure") for s in stmts]


# --------------------------------------------------------------------------- units


def _bootstrap_units(package_hash: str, roles: tuple[str, ...]) -> list[Unit]:
    source = BOOTSTRAP_PATH.read_text()
    if "'''" in source or "\t" in source or "\r" in source or source.endswith("\\"):
        raise UdfGenerationError("bootstrap.py must have no tab, CR, ''' or final backslash")
    try:  # what the body will exec: PL/Python's munging inserts a tab after each newline
        compile(source, "quant.udf_import", "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise UdfGenerationError(f"bootstrap.py does not compile: {exc}") from exc
    boot_sha = hashlib.sha256(source.encode()).hexdigest()[:16]
    import_body = check_python_body(
        "\n".join(
            [
                "# quant.udf_import: generated by `warehouse udfs deploy` from",
                "# warehouse/udfs/bootstrap.py; do not edit.",
                f'_boot = GD.get("quant.udf_bootstrap:{boot_sha}")',
                "if _boot is None:",
                "    import types",
                "    # PL/Python inserted a tab after every newline of this literal: remove them",
                "    _source = r'''" + source + '\'\'\'.replace("\\n\\t", "\\n")',
                '    _boot = types.ModuleType("quant_udf_bootstrap")',
                '    exec(compile(_source, "quant.udf_import", "exec"), _boot.__dict__)',
                f'    GD["quant.udf_bootstrap:{boot_sha}"] = _boot',
                "return _boot.ensure(plpy, GD, expected_hash)",
            ]
        ),
        "quant.udf_import",
    )
    info_body = check_python_body(
        "\n".join(
            [
                "# quant.udf_info: generated by `warehouse udfs deploy`; do not edit.",
                f"# python_udfs package {package_hash}",
                "if True:",
                *_ensure_lines(package_hash),
                "import importlib, json, sys",
                "_finder = [f for f in sys.meta_path if getattr(f, 'quant_udf_loader', False)][0]",
                "_info = {'package': GD.get('quant.udf_package'),",
                "         'finder': type(_finder).__qualname__,",
                "         'meta_path_position': sys.meta_path.index(_finder),",
                "         'python': sys.version.split()[0], 'modules': {}}",
                "for _name in sorted(_finder.sources):",
                "    try:",
                "        _m = importlib.import_module(_name)",
                "        _info['modules'][_name] = {",
                "            'origin': _m.__spec__.origin,",
                "            'loader': type(_m.__loader__).__qualname__,",
                "            'loader_is_finder': _m.__loader__ is _finder,",
                "            'file': getattr(_m, '__file__', None)}",
                "    except Exception as _exc:",
                "        _info['modules'][_name] = {'error': f'{type(_exc).__name__}: {_exc}'}",
                "for _lib in ('numpy', 'scipy'):",
                "    try:",
                "        _info[_lib] = importlib.import_module(_lib).__version__",
                "    except ImportError:",
                "        _info[_lib] = None",
                "return json.dumps(_info)",
            ]
        ),
        "quant.udf_info",
    )
    warm_body = check_python_body(
        "\n".join(
            [
                "# quant.udf_warm: generated by `warehouse udfs deploy`; do not edit.",
                f"# python_udfs package {package_hash}",
                "if True:",
                *_ensure_lines(package_hash),
                'return GD.get("quant.udf_package")',
            ]
        ),
        "quant.udf_warm",
    )
    units = [
        _function_unit(
            "_array_bytes",
            ("anyarray",),
            f"CREATE OR REPLACE FUNCTION {SCHEMA}._array_bytes(arr anyarray)\n"
            "RETURNS bytea\nLANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE\nAS 'byteasend'",
            "Internal (batch functions): the array's in-memory image as bytea (the built-in "
            "byteasend returns a detoasted copy of any varlena); read by "
            "python_udfs._plpython.array_from_image.",
            roles,
        ),
        _function_unit(
            "_float8_array_from_image",
            ("bytea",),
            f"CREATE OR REPLACE FUNCTION {SCHEMA}._float8_array_from_image(image bytea)\n"
            "RETURNS float8[]\nLANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE\n"
            "AS 'byteasend'",
            "Internal (batch functions): reinterprets a float8[] image written by "
            "python_udfs._plpython.float8_array_image as float8[] (no per-element text "
            "conversion). Unchecked: arbitrary bytes would be read as an array, so only the "
            "deploy role may execute it; the SECURITY DEFINER batch wrappers call it.",
            (),
        ),
        _function_unit(
            "udf_import",
            ("text",),
            _plpython_create(
                "udf_import",
                [("expected_hash", "text")],
                "text",
                "VOLATILE STRICT PARALLEL SAFE",
                import_body,
            ),
            "Loads the python_udfs package version expected_hash from quant.udf_modules into "
            "this session (sys.meta_path finder; purges an older version from sys.modules). "
            "Called by the generated functions when their baked-in package hash differs from "
            "the session's; returns the hash.",
            roles,
        ),
        _function_unit(
            "udf_warm",
            (),
            _plpython_create("udf_warm", [], "text", "VOLATILE PARALLEL SAFE", warm_body),
            "Makes this session run the deployed python_udfs version (quant.udf_import when it "
            "does not yet) without importing any of its modules; returns the package hash. The "
            "dbt pre-hook warm_quant_udfs calls it so that no import's SPI query runs inside a "
            "parallel plan; each function imports only the modules it needs at its first call.",
            roles,
        ),
        _function_unit(
            "udf_info",
            (),
            _plpython_create("udf_info", [], "jsonb", "VOLATILE PARALLEL SAFE", info_body),
            "This session's python_udfs: package hash, the finder, each module's origin and "
            "loader (quant.udf_modules, never a file), Python/numpy/scipy versions.",
            roles,
        ),
    ]
    return units


def _type_units(types) -> list[Unit]:
    units = []
    for t in types:
        name = check_identifier(t.name, f"type {t.name}")
        what = f"type {SCHEMA}.{name}"
        cols = ", ".join(
            f"{check_identifier(f, what)} {canonical_type(ty, what)}" for f, ty in t.fields
        )
        stmts = (
            check_sql(f"CREATE TYPE {SCHEMA}.{name} AS ({cols})", what),
            check_sql(
                f"COMMENT ON TYPE {SCHEMA}.{name} IS {_comment_literal(t.comment, what)}", what
            ),
        )
        drop = check_sql(f"DROP TYPE IF EXISTS {SCHEMA}.{name}", what)
        units.append(Unit(what, "type", f"{SCHEMA}.{name}", stmts, drop))
    return units


def _composite_fields(returns: str, types, what: str, array: bool) -> tuple[str, ...]:
    name = returns.split(".", 1)[1].removesuffix("[]")
    for t in types:
        if t.name == name:
            want = "float8[]" if array else "float8"
            for f, ty in t.fields:
                if canonical_type(ty, what) != want:
                    raise UdfGenerationError(f"{what}: field {name}.{f} must be {want}")
            return tuple(f for f, _ in t.fields)
    raise UdfGenerationError(f"{what}: unknown composite type {returns!r}")


def _check_signature(fn_obj, arg_names: tuple[str, ...], what: str) -> None:
    try:
        params = list(inspect.signature(fn_obj).parameters)
    except (TypeError, ValueError):
        return
    if tuple(params[: len(arg_names)]) != arg_names:
        raise UdfGenerationError(
            f"{what}: SQL arguments ({', '.join(arg_names)}) do not match the Python "
            f"parameters ({', '.join(params)})"
        )


def _scalar_params(fn, arg_names, arg_types, what: str) -> list[tuple[str, str]]:
    """(name, type [DEFAULT expr]) pairs; optional arguments must trail and need non-STRICT."""
    params, seen_default = [], False
    for a, n, t in zip(fn.args, arg_names, arg_types, strict=True):
        if a.default is None:
            if seen_default:
                raise UdfGenerationError(f"{what}: argument {n} without a default follows one")
            params.append((n, t))
            continue
        if fn.strict:
            raise UdfGenerationError(f"{what}: optional argument {n} needs a non-STRICT function")
        seen_default = True
        params.append((n, f"{t} DEFAULT {a.default}"))
    return params


def _registry_units(fn, package_hash: str, types, roles: tuple[str, ...]) -> list[Unit]:
    name = check_identifier(fn.name, f"function {fn.name}")
    schema = check_identifier(fn.schema, f"function {fn.name} schema")
    what = f"function {schema}.{name}"
    if schema != SCHEMA and fn.batch:
        raise UdfGenerationError(f"{what}: batch functions live in schema {SCHEMA}")
    arg_names = tuple(check_identifier(a.name, what) for a in fn.args)
    for a in arg_names:
        if a in _RESERVED_ARG_NAMES:
            raise UdfGenerationError(f"{what}: argument name {a!r} is reserved in PL/Python")
    if len(set(arg_names)) != len(arg_names):
        raise UdfGenerationError(f"{what}: duplicate argument names")
    arg_types = tuple(canonical_type(a.sql_type, f"{what} argument {a.name}") for a in fn.args)
    returns = canonical_type(fn.returns, f"{what} return type")
    options = _options(fn.volatility, fn.parallel, fn.strict, fn.cost)
    comment = _comment_text(fn, fn.python)

    if not fn.batch:
        kinds = []
        for a, t in zip(fn.args, arg_types, strict=True):
            if t not in SCALAR_ARG_KINDS:
                raise UdfGenerationError(f"{what}: unsupported argument type {t} ({a.name})")
            kind = SCALAR_ARG_KINDS[t]
            if (returns == "jsonb" or fn.plain_scalars) and kind in ("float8", "boolean"):
                kind += " value"  # fits take plain Python scalars, not one-element arrays
            kinds.append(kind)
        if returns in SCALAR_RETURNS:
            output, fields = SCALAR_RETURNS[returns], ()
        elif returns.startswith(f"{SCHEMA}.") and not returns.endswith("[]"):
            output, fields = "record", _composite_fields(returns, types, what, array=False)
        else:
            raise UdfGenerationError(f"{what}: unsupported return type {returns}")
        body = _python_body(
            name, package_hash, fn.python, "scalar", tuple(kinds), output, fields, arg_names
        )
        create = _plpython_create(
            name,
            _scalar_params(fn, arg_names, arg_types, what),
            returns,
            options,
            body,
            schema=schema,
        )
        return [_function_unit(name, arg_types, create, comment, roles, schema=schema)]

    # batch: PL/Python raw function on images + SQL wrapper
    if any(a.default is not None for a in fn.args):
        raise UdfGenerationError(f"{what}: batch functions take no optional arguments")
    kinds = []
    for a, t in zip(fn.args, arg_types, strict=True):
        if not a.per_option and t == "float8[]":
            kinds.append("whole float8[]")
        elif a.per_option and t in BATCH_ELEM_KINDS:
            kinds.append(BATCH_ELEM_KINDS[t])
        else:
            raise UdfGenerationError(f"{what}: unsupported batch argument type {t} ({a.name})")
    if returns == "float8[]":
        output, fields, raw_returns = "float8[]", (), "bytea"
    elif returns == "text[]":
        output, fields, raw_returns = "text[]", (), "text[]"
    elif returns.startswith(f"{SCHEMA}.") and not returns.endswith("[]"):
        fields = _composite_fields(returns, types, what, array=True)
        output, raw_returns = "record of float8[]", "bytea[]"
    else:
        raise UdfGenerationError(f"{what}: unsupported batch return type {returns}")
    raw_name = f"_{name}_raw"  # name is a checked identifier
    # images of float8[] / boolean[] arguments; text[] passes as it is (a list in PL/Python)
    raw_types = tuple("text[]" if k == "elem text" else "bytea" for k in kinds)
    raw_body = _python_body(
        raw_name, package_hash, fn.python, "batch", tuple(kinds), output, fields, arg_names
    )
    raw_create = _plpython_create(
        raw_name, list(zip(arg_names, raw_types, strict=True)), raw_returns, options, raw_body
    )
    raw_comment = (
        f"Internal: PL/Python body of {SCHEMA}.{name} on binary array images "
        "(python_udfs._plpython)."
    )
    passed = (
        n if k == "elem text" else f"{SCHEMA}._array_bytes({n})"
        for n, k in zip(arg_names, kinds, strict=True)
    )
    call = f"{SCHEMA}.{raw_name}({', '.join(passed)})"
    params = ", ".join(f"{n} {t}" for n, t in zip(arg_names, arg_types, strict=True))
    head = (
        f"CREATE OR REPLACE FUNCTION {SCHEMA}.{name}({params})\n"
        f"RETURNS {returns}\nLANGUAGE sql {options} SECURITY DEFINER\n"
    )
    if output == "float8[]":
        wrapper = head + f"RETURN {SCHEMA}._float8_array_from_image({call})"
    elif output == "text[]":
        wrapper = head + f"RETURN {call}"
    else:
        cols = ",\n       ".join(
            f"{SCHEMA}._float8_array_from_image(raw.images[{i}]) AS {f}"
            for i, f in enumerate(fields, start=1)
        )
        wrapper = head + f"BEGIN ATOMIC\nSELECT {cols}\nFROM {call} AS raw(images);\nEND"
    return [
        _function_unit(raw_name, raw_types, raw_create, raw_comment, roles),
        _function_unit(name, arg_types, wrapper, comment, roles),
    ]


def generate(
    package_hash: str,
    roles: tuple[str, ...],
    functions=None,
    types=None,
    check_callables: bool = True,
) -> Plan:
    """Generate and check every statement of a deployment of package ``package_hash``.

    ``functions``/``types`` default to ``python_udfs.sql_api.FUNCTIONS``/``TYPES``. With
    ``check_callables`` a function whose Python callable cannot be imported in the venv is
    skipped (listed in ``Plan.skipped``); a callable whose parameters do not match is an error.
    Raises ``UdfGenerationError`` before anything is sent.
    """
    if functions is None or types is None:
        from python_udfs import sql_api

        functions = sql_api.FUNCTIONS if functions is None else functions
        types = sql_api.TYPES if types is None else types
    if not re.fullmatch(r"[0-9a-f]{64}", package_hash):
        raise UdfGenerationError(f"invalid package hash {package_hash!r}")
    for r in roles:
        if not r or "\0" in r:
            raise UdfGenerationError(f"invalid role name {r!r}")
    plan = Plan(package_hash, infrastructure(roles), [])
    plan.units += _type_units(types)
    plan.units += _bootstrap_units(package_hash, roles)
    seen: set[str] = set()
    for fn in functions:
        if fn.name in seen:
            raise UdfGenerationError(f"function quant.{fn.name} is declared twice")
        seen.add(fn.name)
        if check_callables:
            try:
                fn_obj = resolve_callable(fn.python)
            except ModuleNotFoundError as exc:
                if exc.name != fn.python.partition(":")[0]:
                    raise UdfGenerationError(f"quant.{fn.name}: {fn.python}: {exc}") from exc
                plan.skipped.append((f"{SCHEMA}.{fn.name}", f"not yet available: {exc}"))
                continue
            except AttributeError as exc:
                plan.skipped.append((f"{SCHEMA}.{fn.name}", f"not yet available: {exc}"))
                continue
            except Exception as exc:  # the module exists but does not import
                raise UdfGenerationError(
                    f"quant.{fn.name}: {fn.python.partition(':')[0]} does not import: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            _check_signature(fn_obj, tuple(a.name for a in fn.args), f"quant.{fn.name}")
        plan.units += _registry_units(fn, package_hash, types, roles)
    keys = [u.key for u in plan.units]
    if len(set(keys)) != len(keys):
        raise UdfGenerationError("two generated objects have the same identity")
    return plan
