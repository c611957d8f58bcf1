"""Assets after the dbt models: the nightly risk run, the ranking and the outbox publication,
plus the pre-market warm-start check.

Each nightly step is a small asset that calls one warehouse function, ``fn(session_date:
date) -> Mapping[str, Any] | None`` (the mapping becomes the materialisation's metadata). The
functions come with issue 6 (``warehouse.risk``: ``run_nightly_risk``,
``build_nightly_ranking``, ``publish_nightly_ranking``); until a function exists its asset is
a no-op that materialises with ``status: not implemented yet`` and names the function it
waits for. They are in the nightly
job already, downstream of the option models, so a failed blocking chain or IV check stops
them today, and the day the functions land they run without a change here (the dbt mart a
step reads becomes its upstream automatically when the model exists).
"""

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext

from orchestration.assets.dbt import dbt_model_keys, run_date
from orchestration.calendar import previous_session, session_on_or_before
from orchestration.resources import TRANSIENT_RETRY, transient_guard

DOWNSTREAM_GROUP = "downstream"
NOT_IMPLEMENTED = "not implemented yet"
# Option lineage the steps hang off while their marts do not exist.
FALLBACK_UPSTREAM = ("int_option_surface_quotes", "int_option_quotes_iv")


@dataclass(frozen=True)
class NightlyStep:
    """One downstream step: ``function`` is ``module:attribute``; ``models`` the dbt marts it
    reads (those that exist become upstream deps); ``after`` other steps it follows."""

    name: str
    function: str
    description: str
    models: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


STEPS: tuple[NightlyStep, ...] = (
    NightlyStep(
        "risk_run",
        "warehouse.risk:run_nightly_risk",
        "Nightly portfolio risk (greeks, scenarios, limits) over fct_portfolio_risk.",
        models=("fct_portfolio_risk",),
    ),
    NightlyStep(
        "nightly_ranking",
        "warehouse.risk:build_nightly_ranking",
        "Rank the night's signals (fct_nightly_ranking).",
        models=("fct_nightly_ranking",),
        after=("risk_run",),
    ),
    NightlyStep(
        "outbox_publication",
        "warehouse.risk:publish_nightly_ranking",
        "Publish the ranking's order intents to ops.outbox (the worker executes them).",
        after=("nightly_ranking",),
    ),
)


def resolve_function(path: str) -> Callable[[date], Mapping[str, Any] | None] | None:
    """The callable at ``module:attribute``, or None while it does not exist."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):  # the module itself is missing
            return None
        raise
    fn = getattr(module, attr, None)
    return fn if callable(fn) else None


def metadata_value(value: Any) -> Any:
    """A step's returned value as Dagster metadata (JSON for containers, text otherwise)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return dg.MetadataValue.json(json.loads(json.dumps(value, default=str)))
    return str(value)


def _upstream(step: NightlyStep) -> list[dg.AssetKey]:
    models = dbt_model_keys()
    deps = [models[m] for m in step.models if m in models]
    if not deps and not step.after:  # hang off the option lineage until its mart exists
        deps = [models[m] for m in FALLBACK_UPSTREAM if m in models][:1]
    return deps + [dg.AssetKey(a) for a in step.after]


def build_step(step: NightlyStep) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(step.name),
        group_name=DOWNSTREAM_GROUP,
        deps=_upstream(step),
        retry_policy=TRANSIENT_RETRY,
        kinds={"python"},
        description=f"{step.description} Calls `{step.function}(session_date)`.",
    )
    def _step(context: AssetExecutionContext) -> dg.MaterializeResult:
        day = run_date(context) or session_on_or_before(date.today())
        fn = resolve_function(step.function)
        if fn is None:
            context.log.info(f"{step.name}: {step.function} does not exist yet; no-op")
            return dg.MaterializeResult(
                metadata={
                    "status": NOT_IMPLEMENTED,
                    "waits_for": step.function,
                    "session_date": str(day),
                }
            )
        with transient_guard(step.name):
            out = fn(day) or {}
        return dg.MaterializeResult(
            metadata={
                "status": "done",
                "session_date": str(day),
                **{str(k): metadata_value(v) for k, v in dict(out).items()},
            }
        )

    return _step


def downstream_assets() -> list[dg.AssetsDefinition]:
    return [build_step(s) for s in STEPS]


@dg.asset(
    key=dg.AssetKey("warm_start_check"),
    group_name="premarket",
    retry_policy=TRANSIENT_RETRY,
    kinds={"python", "postgres"},
    description="Before the open: is last night's state there to warm-start today's fits? "
    "(UDFs deployed and current, the previous session's IVs and underlying features "
    "built.) Reports; never blocks.",
)
def warm_start_check(context: AssetExecutionContext) -> dg.MaterializeResult:
    from warehouse.db.connect import connect
    from warehouse.udfs.deploy import status as udf_status

    day = run_date(context) or date.today()
    prev = previous_session(day)
    checks: dict[str, Any] = {"session_date": str(day), "previous_session": str(prev)}
    with transient_guard("warm-start check"), connect("analyst", autocommit=True) as conn:
        st = udf_status(conn)
        checks["udfs_up_to_date"] = st.up_to_date
        for name, relation, column in (
            ("iv_rows_previous_session", "intermediate.int_option_quotes_iv", "quote_date"),
            (
                "features_rows_previous_session",
                "intermediate.int_underlying_daily_features",
                "trade_date",
            ),
        ):
            checks[name] = _rows_on(conn, relation, column, prev)
    warm = bool(
        checks["udfs_up_to_date"]
        and checks["iv_rows_previous_session"]
        and checks["features_rows_previous_session"]
    )
    checks["warm"] = warm
    if not warm:
        context.log.warning(f"warm start not possible: {checks}")
    return dg.MaterializeResult(metadata=checks)


def _rows_on(conn, relation: str, column: str, day: date | None) -> int:
    from psycopg import sql

    if day is None:
        return 0
    if not conn.execute("SELECT to_regclass(%s) IS NOT NULL", (relation,)).fetchone()[0]:
        return 0
    schema, name = relation.split(".")
    q = sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
        sql.Identifier(schema, name), sql.Identifier(column)
    )
    return conn.execute(q, (day,)).fetchone()[0]
