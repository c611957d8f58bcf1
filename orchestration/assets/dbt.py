"""The dbt models as Dagster assets (dagster-dbt), their tests as asset checks.

* Keys: ``<schema>/<model>`` (``staging/stg_raw__option_quotes``,
  ``intermediate/int_option_quotes_iv``, ``marts/...``); dbt sources ``raw.*``, ``ref.*`` and
  ``sim.*`` map onto the landing-table assets of the loads (``assets/loads.py``), so every model
  is downstream of the loads that feed it; models that call ``quant.*`` also depend on the UDF
  deployment asset.
* Two dbt ops: the option-chain lineage (everything downstream of ``raw.option_quotes``) and
  the rest. A failed blocking chain check (``expectations/raw_chains.py``) then stops the
  option models and what follows them (risk, ranking) while equity, news and reference models
  still build.
* Metadata: row counts of every model (``fetch_row_counts``) plus, for the models in
  ``SUMMARIES``, a look at the data: IV fit quality, the surface snapshot as a table.
"""

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.assets.loads import LANDING_TABLES
from orchestration.assets.udfs import UDF_KEY
from orchestration.resources import (
    TRANSIENT_RETRY,
    dbt_project,
    is_transient,
    remove_dbt_target,
    transient_guard,
)

OPTION_SELECT = "source:raw.option_quotes+"
# Models the nightly steps build themselves (assets/downstream.py; e.g. warehouse.risk builds
# its marts with var risk_as_of), left out of the dbt ops: a dbt selector, or "" for none.
STEP_BUILT_MODELS = ""
PARTITION_TAG = "dagster/partition"


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Keys ``<schema>/<name>``; sources onto the landing tables; quant callers depend on the
    UDF deployment; groups by layer."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            name = f"{props['source_name']}.{props['name']}"
            if name in LANDING_TABLES:
                spec = spec.replace_attributes(key=LANDING_TABLES[name].key)
            return spec
        if "quant." in (props.get("raw_code") or ""):
            spec = spec.merge_attributes(deps=[UDF_KEY])
        return spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "landing"
        schema = dbt_resource_props.get("config", {}).get("schema")
        fqn = dbt_resource_props.get("fqn", [])
        return schema or (fqn[1] if len(fqn) > 2 else "dbt")


TRANSLATOR = WarehouseDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtRunConfig(dg.Config):
    """Run options of the dbt ops (all optional)."""

    test_window_days: int | None = None  # dbt var: tests scan only the last N days
    watch_list: list[str] | None = None  # dbt var `watch_list` (intraday surface job)
    full_refresh: bool = False


def run_date(context: AssetExecutionContext) -> date | None:
    """The trading date of the run (its partition tag), if any."""
    tag = context.run.tags.get(PARTITION_TAG)
    try:
        return date.fromisoformat(tag) if tag else None
    except ValueError:
        return None


# --- looks at the data ------------------------------------------------------------------------


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return ""
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def _latest_date(conn, relation: str, column: str, day: date | None) -> date | None:
    from psycopg import sql

    schema, name = relation.split(".")
    q = sql.SQL("SELECT max({c}) FROM {t} WHERE %(day)s::date IS NULL OR {c} <= %(day)s").format(
        c=sql.Identifier(column), t=sql.Identifier(schema, name)
    )
    return conn.execute(q, {"day": day}).fetchone()[0]


def iv_fit_summary(conn, day: date | None) -> dict[str, Any]:
    """IV fit quality of one quote date: share ok, reasons, distance to the vendor IV."""
    d = _latest_date(conn, "intermediate.int_option_quotes_iv", "quote_date", day)
    if d is None:
        return {"summary": "no rows"}
    n, ok, iv_null, med, p95 = conn.execute(
        """SELECT count(*), count(*) FILTER (WHERE is_quality_ok),
                  count(*) FILTER (WHERE iv_mid IS NULL),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(iv_vendor_diff)),
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY abs(iv_vendor_diff))
             FROM intermediate.int_option_quotes_iv WHERE quote_date = %s""",
        (d,),
    ).fetchone()
    reasons = conn.execute(
        "SELECT coalesce(quality_reason, 'ok'), count(*) FROM intermediate.int_option_quotes_iv "
        "WHERE quote_date = %s GROUP BY 1 ORDER BY 2 DESC",
        (d,),
    ).fetchall()
    return {
        "quote_date": d.isoformat(),
        "quotes_on_date": n,
        "share_quality_ok": round(ok / n, 4) if n else None,
        "share_iv_failed": round(iv_null / n, 4) if n else None,
        "median_abs_iv_vs_vendor": float(med) if med is not None else None,
        "p95_abs_iv_vs_vendor": float(p95) if p95 is not None else None,
        "quality_reasons": dg.MetadataValue.md(_md_table(["reason", "quotes"], reasons)),
    }


SMILE_BUCKETS = (-0.2, -0.1, -0.05, 0.0, 0.05, 0.1, 0.2)
PLOT_UNDERLYINGS = 6


def _surface_plot(conn, d: date, atm: list[tuple], underlyings: list[str]) -> str:
    """The plot of :func:`surface_summary`: ``atm`` its (underlying, expiration, days, ATM iv)
    rows; the smiles are read here (see orchestration.plots.surface_plot)."""
    from orchestration.plots import surface_plot

    points = conn.execute(
        """WITH nearest AS (
               SELECT underlying, min(expiration) AS expiration
                 FROM intermediate.int_option_surface_quotes
                WHERE quote_date = %(d)s AND t_years > 7.0 / 365 AND iv_mid IS NOT NULL
                  AND underlying = ANY(%(u)s)
                GROUP BY underlying)
           SELECT q.underlying, q.log_moneyness, q.iv_mid
             FROM intermediate.int_option_surface_quotes AS q
             JOIN nearest AS n USING (underlying, expiration)
            WHERE q.quote_date = %(d)s AND q.iv_mid IS NOT NULL AND abs(q.log_moneyness) <= 0.5
            ORDER BY 1, 2""",
        {"d": d, "u": underlyings},
    ).fetchall()
    smiles: dict[str, tuple[list[float], list[float]]] = {}
    for u, k, v in points:
        xs, ys = smiles.setdefault(u, ([], []))
        xs.append(float(k))
        ys.append(float(v))
    term: dict[str, tuple[list[float], list[float]]] = {}
    for u, _, days, v in atm:
        if u in underlyings:
            xs, ys = term.setdefault(u, ([], []))
            xs.append(float(days))
            ys.append(float(v))
    return surface_plot(smiles, term, f"closing implied vol surfaces {d.isoformat()}")


def surface_summary(conn, day: date | None) -> dict[str, Any]:
    """The closing surface snapshot: a plot (the nearest expiry's smile and the ATM term
    structure of up to PLOT_UNDERLYINGS underlyings, PNG in markdown) and the same as tables:
    ATM vol term structure (underlying x expiry) and the nearest expiry's vol at log-moneyness
    buckets."""
    d = _latest_date(conn, "intermediate.int_option_surface_quotes", "quote_date", day)
    if d is None:
        return {"summary": "no rows"}
    atm = conn.execute(
        """SELECT DISTINCT ON (underlying, expiration) underlying, expiration,
                  round(t_years * 365.0), iv_mid
             FROM intermediate.int_option_surface_quotes
            WHERE quote_date = %s AND iv_mid IS NOT NULL
            ORDER BY underlying, expiration, abs(log_moneyness)""",
        (d,),
    ).fetchall()
    expiries = sorted({e for _, e, _, _ in atm})[:6]
    underlyings = sorted({u for u, _, _, _ in atm})[:20]
    grid = {(u, e): v for u, e, _, v in atm}
    term = [[u, *(grid.get((u, e)) for e in expiries)] for u in underlyings]
    smile_rows = conn.execute(
        """WITH nearest AS (
               SELECT underlying, min(expiration) AS expiration
                 FROM intermediate.int_option_surface_quotes
                WHERE quote_date = %(d)s AND t_years > 7.0 / 365 AND iv_mid IS NOT NULL
                GROUP BY underlying),
           buckets AS (SELECT unnest(%(b)s::float8[]) AS k)
           SELECT n.underlying, b.k,
                  (SELECT q.iv_mid FROM intermediate.int_option_surface_quotes q
                    WHERE q.quote_date = %(d)s AND q.underlying = n.underlying
                      AND q.expiration = n.expiration AND q.iv_mid IS NOT NULL
                    ORDER BY abs(q.log_moneyness - b.k) LIMIT 1)
             FROM nearest n CROSS JOIN buckets b ORDER BY 1, 2""",
        {"d": d, "b": list(SMILE_BUCKETS)},
    ).fetchall()
    smile: dict[str, dict[float, float]] = {}
    for u, k, v in smile_rows:
        smile.setdefault(u, {})[k] = v
    smile_table = [[u, *(smile[u].get(k) for k in SMILE_BUCKETS)] for u in sorted(smile)[:20]]
    return {
        "quote_date": d.isoformat(),
        "surface_plot": dg.MetadataValue.md(
            _surface_plot(conn, d, atm, underlyings[:PLOT_UNDERLYINGS])
        ),
        "atm_term_structure": dg.MetadataValue.md(
            "ATM implied vol (mid) by expiry\n\n"
            + _md_table(["underlying", *(e.isoformat() for e in expiries)], term)
        ),
        "nearest_expiry_smile": dg.MetadataValue.md(
            "Implied vol of the nearest expiry beyond 7 days by ln(K/F)\n\n"
            + _md_table(["underlying", *(f"{k:+.2f}" for k in SMILE_BUCKETS)], smile_table)
        ),
    }


def vix_summary(conn, day: date | None) -> dict[str, Any]:
    """The VIX-style index of each underlying on the date."""
    d = _latest_date(conn, "marts.fct_vix_index", "quote_date", day)
    if d is None:
        return {"summary": "no rows"}
    rows = conn.execute(
        "SELECT underlying, target_days, vix_index, interpolation_mode FROM marts.fct_vix_index "
        "WHERE quote_date = %s ORDER BY underlying LIMIT 50",
        (d,),
    ).fetchall()
    return {
        "quote_date": d.isoformat(),
        "index": dg.MetadataValue.md(
            _md_table(["underlying", "target days", "index", "interpolation"], rows)
        ),
    }


# model name -> summary(conn, trading date or None) -> metadata
SUMMARIES: dict[str, Callable[[Any, date | None], dict[str, Any]]] = {
    "int_option_quotes_iv": iv_fit_summary,
    "int_option_surface_quotes": surface_summary,
    "fct_vix_index": vix_summary,
}


def _with_summary(context: AssetExecutionContext, event: Any, conn_holder: dict) -> Any:
    """Add the model's summary metadata to its materialisation (a failing summary only logs)."""
    key = getattr(event, "asset_key", None)
    if key is None and isinstance(event, dg.Output):
        key = context.asset_key_for_output(event.output_name)
    if key is None or key.path[-1] not in SUMMARIES:
        return event
    try:
        if "conn" not in conn_holder:
            from warehouse.db.connect import connect

            conn_holder["conn"] = connect("analyst", autocommit=True)
        extra = SUMMARIES[key.path[-1]](conn_holder["conn"], run_date(context))
    except Exception as exc:  # metadata is a convenience, never a reason to fail the build
        context.log.warning(f"summary of {key.to_user_string()} failed: {exc}")
        return event
    if isinstance(event, dg.Output):
        return event.with_metadata({**event.metadata, **extra})
    if isinstance(event, dg.AssetMaterialization):
        return dg.AssetMaterialization(
            asset_key=event.asset_key,
            description=event.description,
            metadata={**event.metadata, **extra},
            partition=event.partition,
        )
    return event


def run_dbt_build(
    context: AssetExecutionContext, dbt: DbtCliResource, config: DbtRunConfig
) -> Iterator[Any]:
    """``dbt build`` of the selected models and their tests, streaming Dagster events."""
    args = ["build"]
    dbt_vars: dict[str, Any] = {}
    if config.test_window_days is not None:
        dbt_vars["test_window_days"] = config.test_window_days
    if config.watch_list:
        dbt_vars["watch_list"] = list(config.watch_list)
    if dbt_vars:
        args += ["--vars", json.dumps(dbt_vars)]
    if config.full_refresh:
        args.append("--full-refresh")
    conn_holder: dict = {}
    # anything but a transient database error fails the step without a retry (a failing
    # model, or a project edited under a running build, fails the same way every time)
    with transient_guard("dbt build"):
        invocation = dbt.cli(args, context=context, raise_on_error=False)
        try:
            for event in invocation.stream().fetch_row_counts():
                yield _with_summary(context, event, conn_holder)
        finally:
            if "conn" in conn_holder:
                conn_holder["conn"].close()
        error = invocation.get_error()
    if error is None:
        remove_dbt_target(invocation.target_path)
        return
    if is_transient(error):
        raise error  # TRANSIENT_RETRY re-runs the step
    raise dg.Failure(description=str(error), allow_retries=False)


def _build_dbt_assets(name: str, select: str, exclude: str | None) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=dbt_project().manifest_path,
        project=dbt_project(),
        select=select,
        exclude=exclude,
        name=name,
        dagster_dbt_translator=TRANSLATOR,
        retry_policy=TRANSIENT_RETRY,
    )
    def _assets(context: AssetExecutionContext, dbt: DbtCliResource, config: DbtRunConfig):
        yield from run_dbt_build(context, dbt, config)

    return _assets


dbt_option_models = _build_dbt_assets("dbt_option_models", OPTION_SELECT, STEP_BUILT_MODELS)
dbt_models = _build_dbt_assets(
    "dbt_models", "fqn:*", " ".join(s for s in (OPTION_SELECT, STEP_BUILT_MODELS) if s)
)


def dbt_model_keys() -> dict[str, dg.AssetKey]:
    """Model name -> asset key, for every dbt model of the code location."""
    out: dict[str, dg.AssetKey] = {}
    for assets_def in (dbt_option_models, dbt_models):
        for key in assets_def.keys:
            out[key.path[-1]] = key
    return out
