"""Deploy ``python_udfs`` into the database (schema ``quant``) and report its status.

``deploy`` runs as the admin role (PL/Python is untrusted), in one transaction under an
advisory lock:

1. store the package's module sources in ``quant.udf_modules`` (changed rows only);
2. generate the DDL (``generate.generate``: checked with pglast and ``compile`` first) and
   compare each object's DDL sha256 with ``quant.udf_deployments`` and the catalog; only new,
   changed or missing objects are (re-)created, objects no longer generated are dropped;
   a change ``CREATE OR REPLACE`` cannot make (a composite type, a return type) rebuilds every
   generated object (no CASCADE: a dependent view stops the deploy with PostgreSQL's message);
3. grant USAGE on the schema and EXECUTE on the functions to the pipeline and analyst roles;
4. when anything changed, self-test inside the transaction (the session imports the new
   package from the table, and the binary array transport round-trips); a failure rolls
   everything back.

A second deploy of the same package reports "0 changed" and sends no DDL.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from importlib import util as importlib_util
from pathlib import Path

import numpy as np
import psycopg
from psycopg import errors, sql

from warehouse.config import settings
from warehouse.udfs import bootstrap
from warehouse.udfs.generate import Plan, Unit, check_sql, generate

PACKAGE = bootstrap.PACKAGE
LOCK_KEY = "quant.udf_deploy"


class DeployError(RuntimeError):
    """The deployment failed and was rolled back; the message says why."""


@dataclass(frozen=True)
class Module:
    name: str
    is_package: bool
    source: str

    @property
    def sha256(self) -> str:
        return bootstrap.source_hash(self.source)


def package_dir() -> Path:
    """The folder of the ``python_udfs`` package this venv imports."""
    spec = importlib_util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DeployError(f"package {PACKAGE} is not importable")
    return Path(next(iter(spec.submodule_search_locations)))


def collect_package(root: Path | None = None) -> dict[str, Module]:
    """Every ``.py`` file of the package (sub-packages included), by dotted module name."""
    root = root or package_dir()
    modules: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts:
            continue
        parts = [PACKAGE, *rel.with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        name = ".".join(parts)
        modules[name] = Module(name, is_package, path.read_text(encoding="utf-8"))
    if PACKAGE not in modules:
        raise DeployError(f"{root} has no __init__.py")
    return modules


def package_hash(modules: dict[str, Module]) -> str:
    """The package version hash (the same function the server's loader checks)."""
    return bootstrap.package_hash({m.name: (m.is_package, m.sha256) for m in modules.values()})


def deploy_roles() -> tuple[str, ...]:
    """The roles granted USAGE/EXECUTE: pipeline and analyst."""
    s = settings()
    return (s.user("pipeline"), s.user("analyst"))


@dataclass
class DeployReport:
    """What a deploy did. ``changed`` counts created, replaced and dropped objects."""

    package: str
    created: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    modules_changed: list[str] = field(default_factory=list)
    modules_removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    rebuilt: bool = False
    self_tested: bool = False
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return len(self.created) + len(self.replaced) + len(self.dropped)

    def summary(self) -> str:
        lines = [
            f"python_udfs {self.package[:12]} -> quant: {self.changed} changed "
            f"({len(self.created)} created, {len(self.replaced)} replaced, "
            f"{len(self.dropped)} dropped), {len(self.unchanged)} unchanged; modules: "
            f"{len(self.modules_changed)} changed, {len(self.modules_removed)} removed"
            + ("; rebuilt every object" if self.rebuilt else "")
            + ("; self-test ok" if self.self_tested else "")
            + f" ({self.seconds:.2f}s)"
        ]
        for name, reason in self.skipped:
            lines.append(f"  skipped {name}: {reason}")
        return "\n".join(lines)


def _exists(conn: psycopg.Connection, units: list[tuple[str, str]]) -> dict[str, bool]:
    """Which (kind, identity) objects exist in the catalog, by identity."""
    out: dict[str, bool] = {}
    for kind, identity in units:
        fn = "to_regprocedure" if kind == "function" else "to_regtype"
        q = sql.SQL("SELECT {}(%s) IS NOT NULL").format(sql.Identifier(fn))
        out[identity] = conn.execute(q, (identity,)).fetchone()[0]
    return out


def _sync_modules(
    conn: psycopg.Connection, modules: dict[str, Module], report: DeployReport
) -> None:
    stored = dict(
        conn.execute("SELECT module, sha256 || ':' || is_package::text FROM quant.udf_modules")
    )
    for m in modules.values():
        if stored.get(m.name) != f"{m.sha256}:{str(m.is_package).lower()}":
            conn.execute(
                "INSERT INTO quant.udf_modules (module, is_package, source, sha256) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (module) DO UPDATE SET "
                "is_package = excluded.is_package, source = excluded.source, "
                "sha256 = excluded.sha256, deployed_at = now()",
                (m.name, m.is_package, m.source, m.sha256),
            )
            report.modules_changed.append(m.name)
    for name in sorted(set(stored) - set(modules)):
        conn.execute("DELETE FROM quant.udf_modules WHERE module = %s", (name,))
        report.modules_removed.append(name)


def _send(conn: psycopg.Connection, statement: str, what: str) -> None:
    """Send one generated statement, parsed with pglast first (again: stored drop_sql too)."""
    conn.execute(check_sql(statement, what).encode())


def _record(conn: psycopg.Connection, unit: Unit, package: str) -> None:
    conn.execute(
        "INSERT INTO quant.udf_deployments "
        "(object, kind, identity, ddl_sha256, drop_sql, package_sha256) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (object) DO UPDATE SET "
        "kind = excluded.kind, identity = excluded.identity, ddl_sha256 = excluded.ddl_sha256, "
        "drop_sql = excluded.drop_sql, package_sha256 = excluded.package_sha256, "
        "deployed_at = now()",
        (unit.key, unit.kind, unit.identity, unit.sha256, unit.drop, package),
    )


def _drop_all(conn, plan: Plan, stored: dict[str, tuple[str, str, str]]) -> list[str]:
    """Drop every generated object (current and previously deployed), functions first."""
    drops: dict[str, tuple[str, str]] = {}
    for key, (kind, _sha, drop) in stored.items():
        drops[key] = (kind, drop)
    for u in plan.units:
        drops[u.key] = (u.kind, u.drop)
    # objects no longer in the plan first (they may depend on anything, e.g. a batch wrapper
    # on quant._float8_array_from_image), then the plan's in reverse creation order; an object
    # another generated object still depends on is retried after the others (savepoints), so
    # the order need not be exact
    planned = [u.key for u in plan.units]
    order = [k for k in drops if k not in set(planned)] + list(reversed(planned))
    return _drop_in_dependency_order(conn, [(key, *drops[key]) for key in order])


def _drop_in_dependency_order(conn, items: list[tuple[str, str, str]]) -> list[str]:
    """Run the DROP statements of ``items`` ((key, kind, drop sql)): functions before types;
    one that another object still depends on is retried after the others (savepoints), so
    the given order need not be exact. Returns the keys dropped."""
    drops = {key: (kind, drop) for key, kind, drop in items}
    order = [key for key, _, _ in items]
    dropped: list[str] = []
    for kind in ("function", "type"):
        pending = [key for key in order if drops[key][0] == kind]
        while pending:
            blocked: list[tuple[str, errors.DependentObjectsStillExist]] = []
            for key in pending:
                try:
                    with conn.transaction():
                        _send(conn, drops[key][1], key)
                except errors.DependentObjectsStillExist as exc:
                    blocked.append((key, exc))
                    continue
                dropped.append(key)
            if len(blocked) == len(pending):
                key, exc = blocked[0]
                raise DeployError(
                    f"cannot drop {key}: {exc.diag.message_primary}; "
                    f"{exc.diag.message_detail or ''} (drop or re-create the dependent "
                    "objects, e.g. re-run dbt after the deploy)"
                ) from exc
            pending = [key for key, _ in blocked]
    return dropped


def _apply(
    conn: psycopg.Connection,
    plan: Plan,
    stored: dict[str, tuple[str, str, str]],
    exists: dict[str, bool],
    report: DeployReport,
    force: bool,
    rebuild: bool,
) -> None:
    if rebuild:
        _drop_all(conn, plan, stored)
        report.rebuilt = True
    for unit in plan.units:
        known = stored.get(unit.key)
        present = exists.get(unit.identity, False) and not rebuild
        same = present and known is not None and known[1] == unit.sha256
        # CREATE TYPE cannot replace: --force re-creates functions, keeps unchanged types
        if same and (not force or unit.kind == "type"):
            report.unchanged.append(unit.key)
            continue
        for statement in unit.statements:
            _send(conn, statement, unit.key)
        _record(conn, unit, plan.package_hash)
        (report.replaced if present else report.created).append(unit.key)
    wanted = {u.key for u in plan.units}
    obsolete = [
        (key, kind, drop) for key, (kind, _sha, drop) in stored.items() if key not in wanted
    ]
    if not rebuild:
        # e.g. a batch function whose signature changed: its old SQL wrapper depends on its old
        # PL/Python body, so the order matters
        _drop_in_dependency_order(conn, obsolete)
    for key, _kind, _drop in obsolete:
        conn.execute("DELETE FROM quant.udf_deployments WHERE object = %s", (key,))
        report.dropped.append(key)


def _self_test(conn: psycopg.Connection, plan: Plan) -> None:
    """Inside the deploy transaction: import from the table, round-trip the array transport."""
    info = conn.execute("SELECT quant.udf_info()").fetchone()[0]
    if isinstance(info, str):
        info = json.loads(info)
    if info.get("package") != plan.package_hash:
        raise DeployError(f"self-test: session runs package {info.get('package')}")
    for name, m in info["modules"].items():
        if "error" in m:
            raise DeployError(f"self-test: importing {name} in the server failed: {m['error']}")
        if not m.get("loader_is_finder"):
            raise DeployError(f"self-test: {name} was not loaded from quant.udf_modules")
    if not any(u.identity.startswith("quant.black76_price_batch(") for u in plan.units):
        return
    from python_udfs.black_scholes import black76_price

    forward = [100.0, None, 80.0, 120.0, 100.0, 95.0, 105.0, 1e-3, 250.0]
    strike = [100.0, 100.0, 100.0, 90.0, None, 100.0, 100.0, 1.0, 100.0]
    got = conn.execute(
        "SELECT quant.black76_price_batch(%s::float8[], %s::float8[], ARRAY[0.5], ARRAY[0.03],"
        " ARRAY[0.25], ARRAY[true, false, true, false, true, false, true, false, true]),"
        " quant.black76_price_batch('{}'::float8[], '{}', '{}', '{}', '{}', '{}')",
        (forward, strike),
    ).fetchone()
    f = np.array([np.nan if v is None else v for v in forward])
    k = np.array([np.nan if v is None else v for v in strike])
    calls = np.array([i % 2 == 0 for i in range(len(forward))])
    want = black76_price(f, k, 0.5, 0.03, 0.25, calls)
    for i, (g, w) in enumerate(zip(got[0], want.tolist(), strict=True)):
        if (g is None) != bool(np.isnan(w)) or (g is not None and abs(g - w) > 1e-12 * abs(w)):
            raise DeployError(f"self-test: black76_price_batch element {i}: got {g}, want {w}")
    if got[1] != []:
        raise DeployError(f"self-test: empty batch returned {got[1]!r}")


def deploy(
    conn: psycopg.Connection | None = None,
    *,
    modules: dict[str, Module] | None = None,
    force: bool = False,
    dry_run: bool = False,
    self_test: bool = True,
) -> DeployReport:
    """Deploy the package (or ``modules``, e.g. a modified copy in tests) as the admin role.

    ``conn`` must be a superuser connection (default: ``connect("admin")`` to the configured
    database). ``force`` re-creates every object; ``dry_run`` computes the report and rolls
    back. Raises ``DeployError`` (or ``UdfGenerationError``) with everything rolled back.
    """
    from warehouse.db.connect import connect

    t0 = time.perf_counter()
    modules = modules if modules is not None else collect_package()
    phash = package_hash(modules)
    plan = generate(phash, deploy_roles())
    report = DeployReport(phash, skipped=list(plan.skipped))
    own = conn is None
    conn = conn if conn is not None else connect("admin", autocommit=True)
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            raise DeployError("deploy needs a connection without an open transaction")
        try:
            with conn.transaction() as tx:
                superuser = conn.execute(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                ).fetchone()[0]
                if not superuser:
                    raise DeployError(
                        "warehouse udfs deploy needs the admin (superuser) role: "
                        "PL/Python is untrusted"
                    )
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (LOCK_KEY,))
                conn.execute("SET LOCAL client_min_messages = warning")
                for statement in plan.infrastructure:
                    _send(conn, statement, "infrastructure")
                _sync_modules(conn, modules, report)
                stored = {
                    row[0]: (row[1], row[2], row[3])
                    for row in conn.execute(
                        "SELECT object, kind, ddl_sha256, drop_sql FROM quant.udf_deployments"
                    )
                }
                exists = _exists(conn, [(u.kind, u.identity) for u in plan.units])
                # CREATE TYPE cannot replace: a changed existing type rebuilds everything
                rebuild = any(
                    u.kind == "type"
                    and exists[u.identity]
                    and stored.get(u.key, ("", "", ""))[1] != u.sha256
                    for u in plan.units
                )
                try:
                    with conn.transaction():
                        _apply(conn, plan, stored, exists, report, force, rebuild)
                except errors.InvalidFunctionDefinition:
                    # e.g. "cannot change return type of existing function": start over
                    fresh = DeployReport(
                        phash,
                        skipped=report.skipped,
                        modules_changed=report.modules_changed,
                        modules_removed=report.modules_removed,
                    )
                    _apply(conn, plan, stored, exists, fresh, force, rebuild=True)
                    report = fresh
                if self_test and (report.changed or report.modules_changed or force):
                    _self_test(conn, plan)
                    report.self_tested = True
                if dry_run:
                    raise psycopg.Rollback(tx)
        except psycopg.Error as exc:
            raise DeployError(f"deploy failed and was rolled back: {exc}") from exc
    finally:
        if own:
            conn.close()
    report.seconds = time.perf_counter() - t0
    return report


@dataclass
class Status:
    """Deployed vs. package state of the ``quant`` schema."""

    package: str
    deployed: str | None
    objects: dict[str, str]  # key -> ok | changed | missing | obsolete
    skipped: list[tuple[str, str]]
    session: dict | None = None
    error: str | None = None

    @property
    def up_to_date(self) -> bool:
        return (
            self.deployed == self.package
            and all(v == "ok" for v in self.objects.values())
            and self.error is None
        )

    def render(self, verbose: bool = False) -> str:
        lines = [
            f"package  {self.package}",
            f"deployed {self.deployed or '(nothing deployed)'}"
            + ("  (up to date)" if self.up_to_date else "  (deploy needed)"),
        ]
        counts: dict[str, int] = {}
        for state in self.objects.values():
            counts[state] = counts.get(state, 0) + 1
        lines.append("objects  " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
        for key, state in self.objects.items():
            if verbose or state != "ok":
                lines.append(f"  {state:8s} {key}")
        for name, reason in self.skipped:
            lines.append(f"  skipped  {name}: {reason}")
        if self.session:
            mods = self.session.get("modules", {})
            bad = [n for n, m in mods.items() if "error" in m or not m.get("loader_is_finder")]
            lines.append(
                f"server   Python {self.session.get('python')}, numpy "
                f"{self.session.get('numpy')}, scipy {self.session.get('scipy')}; "
                f"{len(mods)} modules imported by {self.session.get('finder')} from "
                f"quant.udf_modules" + (f"; PROBLEMS: {', '.join(bad)}" if bad else "")
            )
        if self.error:
            lines.append(f"error    {self.error}")
        return "\n".join(lines)


def status(
    conn: psycopg.Connection | None = None, modules: dict[str, Module] | None = None
) -> Status:
    """Compare the package (or ``modules``) and its DDL with what the database holds."""
    from warehouse.db.connect import connect

    modules = modules if modules is not None else collect_package()
    phash = package_hash(modules)
    plan = generate(phash, deploy_roles())
    own = conn is None
    conn = conn if conn is not None else connect("analyst", autocommit=True)
    try:
        present = conn.execute("SELECT to_regclass('quant.udf_modules') IS NOT NULL").fetchone()[0]
        if not present:
            return Status(phash, None, {u.key: "missing" for u in plan.units}, plan.skipped)
        rows = conn.execute("SELECT module, is_package, sha256 FROM quant.udf_modules").fetchall()
        deployed = bootstrap.package_hash({m: (bool(p), s) for m, p, s in rows}) if rows else None
        stored = dict(conn.execute("SELECT object, ddl_sha256 FROM quant.udf_deployments"))
        exists = _exists(conn, [(u.kind, u.identity) for u in plan.units])
        objects: dict[str, str] = {}
        for u in plan.units:
            if not exists[u.identity]:
                objects[u.key] = "missing"
            elif stored.get(u.key) != u.sha256:
                objects[u.key] = "changed"
            else:
                objects[u.key] = "ok"
        for key in stored:
            if key not in objects:
                objects[key] = "obsolete"
        st = Status(phash, deployed, objects, plan.skipped)
        if deployed and exists.get("quant.udf_info()"):
            try:
                info = conn.execute("SELECT quant.udf_info()").fetchone()[0]
                st.session = json.loads(info) if isinstance(info, str) else info
            except psycopg.Error as exc:
                st.error = f"quant.udf_info() failed: {exc}".strip()
        return st
    finally:
        if own:
            conn.close()
