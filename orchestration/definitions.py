"""The code location: ``dagster dev -m orchestration.definitions`` (``make ui``)."""

from __future__ import annotations

import dagster as dg

from orchestration.assets.dbt import dbt_models, dbt_option_models
from orchestration.assets.downstream import downstream_assets, warm_start_check
from orchestration.assets.loads import landing_tables, load_assets, trading_calendar
from orchestration.assets.udfs import quant_udfs
from orchestration.checks.gx import gx_checks
from orchestration.jobs import JOBS
from orchestration.resources import dbt_resource, export_warehouse_env
from orchestration.schedules import SCHEDULES
from orchestration.sensors import SENSORS

export_warehouse_env()

defs = dg.Definitions(
    assets=[
        *load_assets(),
        landing_tables,
        trading_calendar,
        quant_udfs,
        dbt_option_models,
        dbt_models,
        *downstream_assets(),
        warm_start_check,
    ],
    asset_checks=gx_checks(),
    jobs=list(JOBS),
    schedules=list(SCHEDULES),
    sensors=list(SENSORS),
    resources={"dbt": dbt_resource()},
    # one process per run: on a small machine the steps' import time would dominate, and dbt
    # uses the cores itself (threads: 2)
    executor=dg.in_process_executor,
)
