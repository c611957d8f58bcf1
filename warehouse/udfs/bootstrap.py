"""Import ``python_udfs`` inside PL/Python from the sources stored in ``quant.udf_modules``.

This file travels into the database: its text is embedded in the generated PL/Python function
``quant.udf_import(expected_hash text)``, which executes it as a module once per session and
calls ``ensure``. The venv imports it too (``package_hash`` must agree on both sides).
Standard library only; nothing here may depend on the repository's files.

How a session gets (and refreshes) the package:

1. Every generated function body carries the package hash it was deployed with and, when its
   per-function cache (``SD``) is empty, compares it with ``GD["quant.udf_package"]`` (no query
   when equal).
2. On a mismatch it runs ``SELECT quant.udf_import('<hash>')``: ``ensure`` reads every row of
   ``quant.udf_modules``, checks each source against its sha256 and the package hash against
   the expected one, purges ``python_udfs`` and its submodules from ``sys.modules``, replaces
   the previous finder on ``sys.meta_path`` with a ``TableModuleLoader`` over the new sources
   and records the hash in ``GD``.
3. A deploy re-creates every function whose DDL changed, and a new package hash changes every
   body; PL/Python notices the new ``pg_proc`` row at the next call, recompiles the body (empty
   ``SD``), and step 1 finds the old hash in ``GD``: the session reloads once, then runs on the
   new code. Sessions never read files: ``python_udfs.__spec__.origin`` is
   ``quant.udf_modules:python_udfs`` and ``__file__`` is unset.
"""

import hashlib
import importlib
import importlib.abc
import importlib.util
import sys

PACKAGE = "python_udfs"
GD_KEY = "quant.udf_package"
MODULES_QUERY = "SELECT module, is_package, source, sha256 FROM quant.udf_modules ORDER BY module"


def source_hash(source: str) -> str:
    """SHA-256 (hex) of a module's source text (UTF-8)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def package_hash(modules: dict[str, tuple[bool, str]]) -> str:
    """The package version: SHA-256 over (module name, is_package, source sha256), sorted."""
    h = hashlib.sha256()
    for name in sorted(modules):
        is_package, sha = modules[name]
        h.update(f"{name}\0{int(is_package)}\0{sha}\n".encode())
    return h.hexdigest()


class TableModuleLoader(importlib.abc.MetaPathFinder, importlib.abc.InspectLoader):
    """Finder and loader of the modules of one package version, from in-memory sources."""

    quant_udf_loader = True

    def __init__(self, sources: dict[str, str], packages: set[str], version: str):
        self.sources = sources
        self.packages = packages
        self.quant_udf_package = version

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.sources:
            return None
        return importlib.util.spec_from_loader(
            fullname,
            self,
            origin=f"quant.udf_modules:{fullname}",
            is_package=fullname in self.packages,
        )

    def is_package(self, fullname):
        return fullname in self.packages

    def get_source(self, fullname):
        try:
            return self.sources[fullname]
        except KeyError:
            msg = f"no module {fullname!r} in quant.udf_modules"
            raise ImportError(msg, name=fullname) from None

    def filename(self, fullname):
        """Pseudo file name for tracebacks (not a path: nothing is read from disk)."""
        stem = fullname.replace(".", "/") + ("/__init__" if fullname in self.packages else "")
        return f"quant.udf_modules/{stem}.py"

    def get_code(self, fullname):
        source = self.get_source(fullname)
        return compile(source, self.filename(fullname), "exec", dont_inherit=True)


def purge() -> None:
    """Forget every imported module of the package and every finder installed by ``install``."""
    for name in list(sys.modules):
        if name == PACKAGE or name.startswith(PACKAGE + "."):
            del sys.modules[name]
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "quant_udf_loader", False)]
    importlib.invalidate_caches()


def install(sources: dict[str, str], packages: set[str], version: str) -> TableModuleLoader:
    """Purge the previous version and put a finder for ``sources`` first on ``sys.meta_path``."""
    purge()
    loader = TableModuleLoader(sources, packages, version)
    sys.meta_path.insert(0, loader)
    return loader


def installed_version() -> str | None:
    """The package hash of the finder currently installed in this interpreter, if any."""
    for finder in sys.meta_path:
        if getattr(finder, "quant_udf_loader", False):
            return finder.quant_udf_package
    return None


def ensure(plpy, GD, expected: str) -> str:
    """Make ``import python_udfs...`` load package version ``expected`` from the table.

    No-op when this session already runs ``expected``. Raises ``RuntimeError`` when the table
    holds another version (a deploy committed after this transaction's snapshot was taken, or
    one is in progress: retry) or a source does not match its recorded sha256.
    """
    if GD.get(GD_KEY) == expected and installed_version() == expected:
        return expected
    rows = plpy.execute(MODULES_QUERY)
    sources: dict[str, str] = {}
    packages: set[str] = set()
    digests: dict[str, tuple[bool, str]] = {}
    for row in rows:
        name, source = row["module"], row["source"]
        if source_hash(source) != row["sha256"]:
            raise RuntimeError(f"quant.udf_modules: source of {name} does not match its sha256")
        sources[name] = source
        if row["is_package"]:
            packages.add(name)
        digests[name] = (bool(row["is_package"]), row["sha256"])
    actual = package_hash(digests)
    if actual != expected:
        raise RuntimeError(
            f"quant.udf_modules holds python_udfs {actual[:12]}, but this function was deployed "
            f"with {expected[:12]}: a deploy committed after this transaction's snapshot (or "
            "is in progress); retry the statement"
        )
    install(sources, packages, expected)
    GD[GD_KEY] = expected
    return expected
