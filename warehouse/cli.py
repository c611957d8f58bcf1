"""``warehouse`` command line: database runtime, loads, simulation, demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from warehouse.config import settings


def _db(ns: argparse.Namespace) -> int:
    from warehouse.db import runtime

    if ns.action == "up":
        applied = runtime.up()
        print(f"warehouse up; migrations applied now: {', '.join(applied) or 'none'}")
    elif ns.action == "down":
        runtime.down()
        print("warehouse cluster stopped (data kept)")
    else:
        st = runtime.status()
        print(st.detail)
        return 0 if st.online else 1
    return 0


def _dsn(ns: argparse.Namespace) -> int:
    print(settings().dsn(ns.role))
    return 0


def _load(ns: argparse.Namespace) -> int:
    from warehouse.loaders.engine import load_path
    from warehouse.loaders.report import print_reports

    reports = load_path(ns.source, Path(ns.path), progress=not ns.quiet)
    print_reports(reports)
    return 1 if any(r.status == "failed" for r in reports) else 0


def _sources(ns: argparse.Namespace) -> int:
    from warehouse.loaders.base import SOURCES
    from warehouse.loaders.sources import load_all

    load_all()
    for name in sorted(SOURCES):
        print(f"{name:24s} {SOURCES[name].description}")
    return 0


def _simulate(ns: argparse.Namespace) -> int:
    from warehouse import sim

    return sim.run_from_args(ns)


def _retention(ns: argparse.Namespace) -> int:
    from warehouse.db.retention import drop_old_chunks

    for table, dropped in drop_old_chunks(ns.older_than, ns.table, dry_run=ns.dry_run).items():
        verb = "would drop" if ns.dry_run else "dropped"
        print(f"{table}: {verb} {len(dropped)} chunk(s) {' '.join(dropped)}")
    return 0


def _compression(ns: argparse.Namespace) -> int:
    from warehouse.db.connect import connect
    from warehouse.db.retention import compression_available, enable_compression

    if not ns.enable:
        with connect("pipeline") as conn:
            ok, lic = compression_available(conn)
        print(f"timescaledb.license={lic}: compression {'available' if ok else 'not available'}")
        return 0
    for table in enable_compression(ns.older_than):
        print(f"{table}: compression on, policy compresses chunks older than {ns.older_than}")
    return 0


def _dbt(ns: argparse.Namespace) -> int:
    from warehouse.dbt import run_dbt

    return run_dbt(ns.dbt_args)


def _udfs(ns: argparse.Namespace) -> int:
    from warehouse.udfs import deploy as udfs

    if ns.action == "deploy":
        report = udfs.deploy(force=ns.force, dry_run=ns.dry_run)
        print(("(dry run, rolled back) " if ns.dry_run else "") + report.summary())
        if ns.verbose:
            for label, keys in (
                ("created", report.created),
                ("replaced", report.replaced),
                ("dropped", report.dropped),
                ("unchanged", report.unchanged),
            ):
                for key in keys:
                    print(f"  {label:9s} {key}")
        return 0
    st = udfs.status()
    print(st.render(verbose=ns.verbose))
    return 0 if st.up_to_date else 1


def _demo(ns: argparse.Namespace) -> int:
    from warehouse.demo import run_demo

    return run_demo(preset=ns.preset, seed=ns.seed, real=not ns.no_real, nights=ns.nights)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="warehouse", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser(
        "db",
        help="provision, start, stop or inspect the local warehouse",
        description="up: install (if needed), start, migrate and grant; "
        "down: stop the cluster; status: connectivity and versions.",
    )
    db.add_argument("action", choices=["up", "down", "status"])
    db.set_defaults(func=_db)

    dsn = sub.add_parser("dsn", help="print the libpq URI of the running warehouse")
    dsn.add_argument(
        "--role", default="pipeline", choices=["admin", "pipeline", "analyst", "worker"]
    )
    dsn.set_defaults(func=_dsn)

    load = sub.add_parser(
        "load",
        help="load a file or folder of a source format",
        description="Bulk-load through COPY with validation and quarantine. "
        "Idempotent: a file already loaded (same bytes) is skipped. "
        "`warehouse sources` lists the formats.",
    )
    load.add_argument("source", help="source format (see `warehouse sources`)")
    load.add_argument("path", help="file or folder")
    load.add_argument("--quiet", action="store_true", help="no progress bar")
    load.set_defaults(func=_load)

    srcs = sub.add_parser("sources", help="list the loadable source formats")
    srcs.set_defaults(func=_sources)

    simp = sub.add_parser(
        "simulate",
        help="write a deterministic simulated market to files",
        description="Same arguments, same bytes (numpy PCG64).",
    )
    try:
        from warehouse import sim

        sim.add_arguments(simp)
    except (ImportError, AttributeError):  # pragma: no cover - simulator missing
        pass
    simp.set_defaults(func=_simulate)

    ret = sub.add_parser(
        "retention",
        help="drop raw hypertable chunks older than an interval",
        description="Housekeeping with TimescaleDB drop_chunks.",
    )
    ret.add_argument("--older-than", required=True, help="interval, e.g. '400 days'")
    ret.add_argument("--table", action="append", help="raw hypertable (default: all)")
    ret.add_argument("--dry-run", action="store_true", help="list the chunks, drop nothing")
    ret.set_defaults(func=_retention)

    comp = sub.add_parser(
        "compression",
        help="check for / enable native compression (optional)",
        description="Compression needs the Timescale-licensed TimescaleDB build; the Apache "
        "build has none. The license is checked at run time; nothing depends on compression.",
    )
    comp.add_argument("--enable", action="store_true", help="enable it where licensed")
    comp.add_argument("--older-than", default="7 days", help="compress chunks older than this")
    comp.set_defaults(func=_compression)

    dbt = sub.add_parser(
        "dbt",
        help="run dbt with the warehouse's connection settings",
        description="Everything after `dbt` is passed to dbt, e.g. "
        "`warehouse dbt build --select staging`.",
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=_dbt)

    udfs = sub.add_parser(
        "udfs",
        help="deploy the python_udfs package as SQL functions in schema quant, or check it",
        description="deploy: install python_udfs into the database as the quant SQL API "
        "(as the admin role: PL/Python is untrusted). The module sources are stored in "
        "quant.udf_modules and imported from there by every session (the server never reads "
        "the repository); the DDL is generated from python_udfs/sql_api.py and parsed with "
        "pglast before it is sent; objects whose generated DDL is unchanged are not re-created "
        "(a second deploy reports 0 changed). status: package hash vs deployed hash, and every "
        "generated object (exit 1 when a deploy is needed).",
    )
    udfs_sub = udfs.add_subparsers(dest="action", required=True, metavar="ACTION")
    udfs_deploy = udfs_sub.add_parser(
        "deploy",
        help="install/update the quant functions (idempotent)",
        description="Store the package sources, (re-)create the changed quant types and "
        "functions, grant USAGE/EXECUTE to the pipeline and analyst roles, self-test inside "
        "the transaction; any failure rolls everything back.",
    )
    udfs_deploy.add_argument(
        "--force", action="store_true", help="re-create every function (unchanged types stay)"
    )
    udfs_deploy.add_argument(
        "--dry-run", action="store_true", help="do everything, report, then roll back"
    )
    udfs_deploy.add_argument("-v", "--verbose", action="store_true", help="list every object")
    udfs_status = udfs_sub.add_parser(
        "status",
        help="deployed vs package hash, functions (exit 1 if a deploy is needed)",
        description="Compare the package and its generated DDL with quant.udf_modules and "
        "quant.udf_deployments (as the analyst role), and show which modules a server session "
        "imports and from where.",
    )
    udfs_status.add_argument("-v", "--verbose", action="store_true", help="list every object")
    udfs.set_defaults(func=_udfs)

    demo = sub.add_parser(
        "demo", help="simulate, load, build and summarise (what `make demo` runs)"
    )
    demo.add_argument("--preset", default="demo")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--no-real", action="store_true", help="skip the real samples folder")
    demo.add_argument(
        "--nights", type=int, default=2, help="run the last N sessions' nights (default 2)"
    )
    demo.set_defaults(func=_demo)

    from warehouse.execution.commands import add_execution_commands

    add_execution_commands(sub)  # worker, outbox, reconcile, halt, resume

    from warehouse.risk.commands import add_risk_commands

    add_risk_commands(sub)  # risk seed-demo-book, run, check, ranking, night, ...
    return p


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return int(ns.func(ns) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # clear one-line error for operators, traceback with -v later
        from warehouse.loaders.base import LoadError

        if isinstance(exc, LoadError | RuntimeError | OSError):
            print(f"warehouse: error: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
