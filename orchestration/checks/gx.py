"""Great Expectations 1.x suites (``expectations/*.py``) run as Dagster asset checks.

dagster-ge does not support GX 1.x, so the integration is here: for one suite and one trading
date, :func:`run_suite` builds an ephemeral GX context (``gx.get_context(mode="ephemeral")``),
a PostgreSQL data source from ``warehouse.config`` (analyst role: read-only), a query asset over
the date's rows, the expectation suite and a ``ValidationDefinition``, runs it, stores one row
per expectation in ``ops.quality_results`` and returns the outcome. :func:`build_check` wraps a
suite as an ``@asset_check`` (blocking suites stop the downstream assets of the run when they
fail); a failed suite also evaluates the ``quality_gate_failure`` alert rule at once.
"""

import importlib.util
import json
import logging
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from dagster import AssetCheckExecutionContext
from psycopg import sql
from psycopg.types.json import Jsonb

from orchestration.calendar import day_bounds, is_session, session_bounds, trading_day_partitions
from orchestration.checks.suites import Suite, Window
from orchestration.resources import TRANSIENT_RETRY, transient_guard
from orchestration.settings import orchestration_settings
from warehouse.config import REPO_ROOT, settings

SUITES_DIR = REPO_ROOT / "expectations"
PARTITION_TAG = "dagster/partition"
LOG = logging.getLogger("orchestration.gx")


def load_suites(directory: Path = SUITES_DIR) -> list[Suite]:
    """Every suite declared in ``directory/*.py`` (``SUITE`` or ``SUITES``), by file name."""
    suites: list[Suite] = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"expectations_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import suite file {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found = list(getattr(module, "SUITES", ()))
        if hasattr(module, "SUITE"):
            found.append(module.SUITE)
        if not found or not all(isinstance(s, Suite) for s in found):
            raise ValueError(f"{path}: define SUITE or SUITES (orchestration.checks.suites.Suite)")
        suites.extend(found)
    names = [s.name for s in suites]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate suite names in {directory}: {', '.join(sorted(dupes))}")
    return suites


def window_for(day: date) -> Window:
    lo, hi = day_bounds(day)
    opened, closed = session_bounds(day) if is_session(day) else (None, None)
    return Window(day, lo, hi, opened, closed)


@dataclass
class ExpectationOutcome:
    name: str
    type: str
    success: bool
    observed_value: Any
    details: dict[str, Any]


@dataclass
class SuiteResult:
    """One suite run over one trading date."""

    suite: str
    asset: str
    trading_date: date | None
    validation_id: str
    success: bool
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    error: str | None = None

    @property
    def failed(self) -> list[str]:
        return [o.name for o in self.outcomes if not o.success]

    def markdown(self) -> str:
        lines = ["| expectation | ok | observed | unexpected |", "|---|---|---|---|"]
        for o in self.outcomes:
            unexpected = o.details.get("unexpected_count")
            if unexpected is not None and o.details.get("unexpected_percent") is not None:
                unexpected = f"{unexpected} ({o.details['unexpected_percent']:.2g} %)"
            observed = json.dumps(o.observed_value, default=str)
            lines.append(
                f"| {o.name} | {'yes' if o.success else '**NO**'} | "
                f"{observed if o.observed_value is not None else ''} | {unexpected or ''} |"
            )
        return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _gx_context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx


def _connection_string() -> str:
    return settings().dsn("analyst").replace("postgresql://", "postgresql+psycopg2://", 1)


def resolve_date(conn: psycopg.Connection, suite: Suite, day: date | None) -> date | None:
    if day is not None or suite.latest_date_query is None:
        return day
    row = conn.execute(sql.SQL(suite.latest_date_query)).fetchone()  # static text of the suite
    return row[0] if row else None


def run_suite(
    suite: Suite,
    day: date | None,
    *,
    run_id: str | None = None,
    persist: bool = True,
) -> SuiteResult:
    """Validate the suite's rows of ``day`` (None: the suite's latest date) and store the
    results in ``ops.quality_results``. Never raises for a failed expectation; raises for a
    database error (transient ones are retried by the check's policy)."""
    from great_expectations import ExpectationSuite, ValidationDefinition
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    from warehouse.db.connect import connect

    validation_id = str(uuid.uuid4())
    asset = suite.asset_key.to_user_string()
    with connect("analyst", autocommit=True) as conn:
        day = resolve_date(conn, suite, day)
        if day is None:
            result = SuiteResult(
                suite.name,
                asset,
                None,
                validation_id,
                False,
                error="no trading date to validate (empty relation)",
            )
            result.outcomes.append(
                ExpectationOutcome(
                    "has_data",
                    "expect_table_row_count_to_be_between",
                    False,
                    0,
                    {"error": result.error},
                )
            )
            if persist:
                store_result(result, suite, run_id)
            return result
        window = window_for(day)
        query = (
            sql.SQL(suite.query)
            .format(**{k: sql.Literal(v) for k, v in window.literals().items()})
            .as_string(conn)
        )
        params: dict[str, Any] = window.parameters()
        if suite.parameters is not None:
            params.update(suite.parameters(conn, window))

    ctx = _gx_context()
    source = ctx.data_sources.add_or_update_postgres(
        name="warehouse", connection_string=_connection_string()
    )
    data_asset = source.add_query_asset(name=f"{suite.name}_{day.isoformat()}", query=query)
    batch = data_asset.add_batch_definition_whole_table("rows")
    gx_suite = ctx.suites.add(ExpectationSuite(name=suite.name))
    for e in suite.expectations:
        config = ExpectationConfiguration(type=e.type, kwargs=dict(e.kwargs), meta={"name": e.name})
        gx_suite.add_expectation(config.to_domain_obj())
    definition = ctx.validation_definitions.add(
        ValidationDefinition(name=f"{suite.name}_validation", data=batch, suite=gx_suite)
    )
    validation = definition.run(expectation_parameters=params, result_format="SUMMARY")

    outcomes: list[ExpectationOutcome] = []
    for r in validation.results:
        cfg = r.expectation_config
        res = dict(r.result or {})
        details = {
            k: res[k]
            for k in ("element_count", "unexpected_count", "unexpected_percent", "missing_count")
            if k in res
        }
        if res.get("partial_unexpected_list"):
            details["partial_unexpected_list"] = res["partial_unexpected_list"][:20]
        details["kwargs"] = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
        if r.exception_info and r.exception_info.get("raised_exception"):
            details["exception"] = r.exception_info.get("exception_message")
        outcomes.append(
            ExpectationOutcome(
                name=(cfg.meta or {}).get("name", cfg.type),
                type=cfg.type,
                success=bool(r.success),
                observed_value=_jsonable(res.get("observed_value")),
                details=_jsonable(details),
            )
        )
    order = {e.name: i for i, e in enumerate(suite.expectations)}
    outcomes.sort(key=lambda o: order.get(o.name, len(order)))
    result = SuiteResult(
        suite.name, asset, day, validation_id, all(o.success for o in outcomes), outcomes
    )
    if persist:
        store_result(result, suite, run_id)
    return result


def store_result(result: SuiteResult, suite: Suite, run_id: str | None) -> None:
    """One ``ops.quality_results`` row per expectation of the run."""
    from warehouse.db.connect import connect

    rows = [
        (
            result.validation_id,
            run_id,
            result.suite,
            result.asset,
            result.trading_date,
            o.name,
            o.type,
            o.success,
            Jsonb(o.observed_value),
            Jsonb(o.details),
            suite.blocking,
            suite.severity,
        )
        for o in result.outcomes
    ]
    with connect("pipeline") as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ops.quality_results (validation_id, run_id, suite, asset, "
            "partition_date, expectation, expectation_type, success, observed_value, details, "
            "blocking, severity) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        conn.commit()


def raise_quality_alert(log: logging.Logger | Any = LOG) -> None:
    """Evaluate the quality-gate alert rule now (notifiers from the settings)."""
    from warehouse import alerts

    try:
        report = alerts.evaluate(
            rules=["quality_gate_failure"],
            notifiers=alerts.notifiers_from_spec(orchestration_settings().alert_notifiers),
        )
        log.info(f"quality-gate alert rule: {report.summary()}")
    except Exception as exc:  # the check's verdict matters more than its alert
        log.warning(f"quality-gate alert rule failed: {exc}")


def build_check(suite: Suite) -> dg.AssetChecksDefinition:
    """The suite as an asset check on ``suite.asset``."""
    with warnings.catch_warnings():
        # partitioned asset checks are a Dagster "preview" feature (1.11+)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _build_check(suite)


def _build_check(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=suite.asset_key,
        name=suite.check_name,
        blocking=suite.blocking,
        description=f"Great Expectations suite `{suite.name}`"
        + (" (blocking)" if suite.blocking else "")
        + (f": {suite.description}" if suite.description else ""),
        retry_policy=TRANSIENT_RETRY,
        partitions_def=trading_day_partitions() if suite.partitioned else None,
    )
    def _check(context: AssetCheckExecutionContext) -> dg.AssetCheckResult:
        if suite.partitioned:
            day: date | None = date.fromisoformat(context.partition_key)
        else:
            tag = context.run.tags.get(PARTITION_TAG)
            day = date.fromisoformat(tag) if tag else None
        with transient_guard(f"suite {suite.name}"):
            result = run_suite(suite, day, run_id=context.run.run_id)
        if not result.success:
            context.log.warning(f"suite {suite.name} failed: {', '.join(result.failed)}")
            raise_quality_alert(context.log)
        return dg.AssetCheckResult(
            passed=result.success,
            severity=dg.AssetCheckSeverity.ERROR if suite.blocking else dg.AssetCheckSeverity.WARN,
            metadata={
                "suite": suite.name,
                "trading_date": result.trading_date.isoformat() if result.trading_date else "",
                "validation_id": result.validation_id,
                "expectations": len(result.outcomes),
                "failed": dg.MetadataValue.json(result.failed),
                "results": dg.MetadataValue.md(result.markdown()),
                "blocking": suite.blocking,
            },
        )

    return _check


def gx_checks(suites: Sequence[Suite] | None = None) -> list[dg.AssetChecksDefinition]:
    return [build_check(s) for s in (load_suites() if suites is None else suites)]
