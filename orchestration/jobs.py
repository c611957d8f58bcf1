"""The jobs: nightly (full), pre-market (reference refresh, warm-start check), intraday
(surface models of the watch list) and landing (loads picked up by the sensor).

Runs of a job that writes the same tables carry the tag ``warehouse/serial`` (``dbt`` for the
jobs that build dbt models, ``load:<source>`` for landing runs); the Dagster instance written by
``orchestration.instance.ensure_dagster_home`` limits runs to one per value of that tag, so a
backfill of the nightly job runs its dates one after another (the dbt models are not
partitioned) and two drops of the same source load in order.
"""

from __future__ import annotations

import dagster as dg

from orchestration.assets.dbt import dbt_model_keys, dbt_models, dbt_option_models
from orchestration.assets.downstream import downstream_assets, warm_start_check
from orchestration.assets.loads import (
    LANDING_TABLES,
    REFERENCE_SOURCES,
    landing_tables,
    load_asset_key,
    registered_sources,
    source_tables,
    trading_calendar,
)
from orchestration.assets.udfs import quant_udfs

SERIAL_TAG = "warehouse/serial"
# Intraday: the IV model and every surface model (name or dbt folder containing "surface").
INTRADAY_MODELS = ("int_option_quotes_iv",)


def _load_keys(sources) -> list[dg.AssetKey]:
    known = set(registered_sources())
    return [load_asset_key(s) for s in sources if s in known]


def landing_keys_for(sources) -> list[dg.AssetKey]:
    """Landing-table keys written by the given sources."""
    tables = {t for s in sources for t in source_tables(s)}
    return [LANDING_TABLES[t].key for t in sorted(tables) if t in LANDING_TABLES]


def surface_model_keys() -> list[dg.AssetKey]:
    """The models of the intraday job (IV and surfaces), from the dbt manifest."""
    import json

    from orchestration.resources import dbt_project

    manifest = json.loads(dbt_project().manifest_path.read_text())
    names = set(INTRADAY_MODELS)
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and any("surface" in p for p in node["fqn"]):
            names.add(node["name"])
    keys = dbt_model_keys()
    return [keys[n] for n in sorted(names) if n in keys]


NIGHTLY_SELECTION = (
    dg.AssetSelection.assets(*_load_keys(registered_sources()))
    | dg.AssetSelection.assets(landing_tables)
    | dg.AssetSelection.assets(quant_udfs)
    | dg.AssetSelection.assets(dbt_option_models, dbt_models)
    | dg.AssetSelection.assets(*downstream_assets())
)

nightly_job = dg.define_asset_job(
    "nightly",
    selection=NIGHTLY_SELECTION,
    description="After the close: loads of the trading date, landing tables and their quality "
    "gates, UDF deployment, every dbt model (IV, features, surfaces, signals) with its tests, "
    "then risk, ranking and the outbox publication.",
    tags={SERIAL_TAG: "dbt"},
)

premarket_job = dg.define_asset_job(
    "premarket",
    selection=(
        dg.AssetSelection.assets(*_load_keys(REFERENCE_SOURCES))
        | dg.AssetSelection.assets(*landing_keys_for(REFERENCE_SOURCES))
        | dg.AssetSelection.assets(trading_calendar, warm_start_check)
        | dg.AssetSelection.assets(
            *(k for n, k in dbt_model_keys().items() if n.startswith("stg_ref__"))
        )
    ),
    description="Before the open: rates and reference data loads, the XNYS calendar refresh, "
    "reference staging models, and the warm-start check of last night's state.",
    tags={SERIAL_TAG: "dbt"},
)

intraday_job = dg.define_asset_job(
    "intraday_surfaces",
    selection=dg.AssetSelection.assets(*surface_model_keys()),
    description="Every 15 minutes in session: the IV and surface models (the watch list is "
    "passed to dbt as var `watch_list`).",
    tags={SERIAL_TAG: "dbt"},
)

landing_job = dg.define_asset_job(
    "landing",
    selection=dg.AssetSelection.assets(*_load_keys(registered_sources()))
    | dg.AssetSelection.assets(landing_tables),
    description="Loads of newly landed files (launched by the landing sensor for one source "
    "and trading date), the landing tables and their quality gates.",
)

JOBS = (nightly_job, premarket_job, intraday_job, landing_job)
