"""The UDF deployment as an asset: ``python_udfs`` installed as the ``quant`` SQL API."""

import dagster as dg
from dagster import AssetExecutionContext

from orchestration.resources import TRANSIENT_RETRY, transient_guard

UDF_KEY = dg.AssetKey("quant_udfs")


@dg.asset(
    key=UDF_KEY,
    group_name="udfs",
    retry_policy=TRANSIENT_RETRY,
    kinds={"python", "postgres"},
    description="`warehouse udfs deploy`: python_udfs -> schema quant (idempotent: unchanged "
    "objects are not re-created; self-tested inside the deploy transaction).",
)
def quant_udfs(context: AssetExecutionContext) -> dg.MaterializeResult:
    from warehouse.udfs.deploy import deploy

    with transient_guard("udfs deploy"):
        report = deploy()
    context.log.info(report.summary())
    return dg.MaterializeResult(
        metadata={
            "package_hash": report.package,
            "changed": report.changed,
            "created": len(report.created),
            "replaced": len(report.replaced),
            "dropped": len(report.dropped),
            "unchanged": len(report.unchanged),
            "modules_changed": len(report.modules_changed),
            "self_tested": report.self_tested,
            "skipped": dg.MetadataValue.json([f"{n}: {why}" for n, why in report.skipped]),
            "summary": dg.MetadataValue.text(report.summary()),
        },
        data_version=dg.DataVersion(report.package[:16]),
    )
