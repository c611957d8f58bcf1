"""Load assets (one per raw source, partitioned by trading date) and the landing tables.

Files are dropped into the landing folder, one sub-folder per source
(``<landing>/<source>/...``, see ``orchestration.settings``). The load of source S for
trading date D loads, in the source's own order, every file under ``<landing>/S`` that belongs
to D: a file whose path (relative to ``<landing>/S``) names a date belongs to the latest
session on or before that date (``2024-01-05``, ``20240105``: the last one in the path wins);
a file whose path names no date (reference files, a simulator's manifest, a Lean daily-bar zip)
belongs to every date. Loading is idempotent (``raw.file_manifest`` skips bytes already loaded),
so re-running a partition, or a date-less file seen again, is a no-op.

Each landing table (``raw/option_quotes``, ``ref/rates``, ``sim/surface_params`` ...) is an
asset downstream of the loads that write it; its materialisation records the rows it holds
for the date. dbt's sources map onto these keys (``assets/dbt.py``), and the data-quality
suites (``expectations/``) run as checks on them.
"""

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext
from psycopg import sql

from orchestration.calendar import day_bounds, partition_for, trading_day_partitions
from orchestration.resources import TRANSIENT_RETRY, transient_guard
from orchestration.settings import orchestration_settings

LOAD_GROUP = "loads"
LANDING_GROUP = "landing"
BOOKKEEPING = ("raw.load_reports", "raw.file_manifest", "raw.quarantine")
OPTION_TABLES = ("raw.option_quotes", "ref.option_contracts")
SIM_TABLES = (
    "sim.runs",
    "sim.underlyings",
    "sim.factor_loadings",
    "sim.earnings_events",
    "sim.underlying_days",
    "sim.surface_params",
    "sim.news_sentiment",
    "sim.efficient_prices",
)
_CHAIN = ("raw.option_quotes",)
# What each source writes (besides the load bookkeeping). A source missing here gets only the
# bookkeeping tables; tests/test_orchestration.py checks that every registered source is listed.
SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "sim": (
        "ref.instruments",
        "ref.rates",
        "ref.dividends",
        "ref.earnings",
        "raw.option_quotes",
        "raw.equity_trades",
        "raw.equity_quotes",
        "raw.equity_bars",
        "raw.news",
        *SIM_TABLES,
    ),
    "lean": (
        "raw.equity_bars",
        "raw.equity_trades",
        "raw.equity_quotes",
        "raw.option_quotes",
        "ref.rates",
    ),
    "ivolatility": _CHAIN,
    "cboe": ("raw.option_quotes", "ref.rates"),
    "sp500": ("raw.equity_bars", "ref.dividends", "ref.instruments"),
    "sp500_constituents": ("ref.instruments",),
    "datashop": _CHAIN,
    "headlines": ("raw.sentiment_benchmark",),
    "generic-optionmetrics": _CHAIN,
    "generic-polygon": _CHAIN,
    "generic-yahoo": _CHAIN,
    "generic-canonical": _CHAIN,
    "ref-instruments": ("ref.instruments",),
    "ref-rates": ("ref.rates",),
    "ref-dividends": ("ref.dividends",),
    "ref-earnings": ("ref.earnings",),
    "canonical-news": ("raw.news",),
}
# Sources of the pre-market refresh (rates and reference data).
REFERENCE_SOURCES = ("ref-rates", "ref-instruments", "ref-dividends", "ref-earnings")


@dataclass(frozen=True)
class LandingTable:
    """A table the loads write. ``time_col``/``time_kind`` select the rows of a trading date
    (``ts``: timestamptz on the New York calendar day; ``date``: equal to the date); tables
    without one report their total row count."""

    name: str
    time_col: str | None = None
    time_kind: str | None = None

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey(self.name.split("."))


LANDING_TABLES: dict[str, LandingTable] = {
    t.name: t
    for t in (
        LandingTable("raw.option_quotes", "quote_ts", "ts"),
        LandingTable("raw.equity_trades", "ts", "ts"),
        LandingTable("raw.equity_quotes", "ts", "ts"),
        LandingTable("raw.equity_bars", "ts", "ts"),
        LandingTable("raw.news", "published_ts", "ts"),
        LandingTable("raw.sentiment_benchmark"),
        LandingTable("raw.load_reports"),
        LandingTable("raw.file_manifest"),
        LandingTable("raw.quarantine"),
        LandingTable("ref.instruments"),
        LandingTable("ref.option_contracts", "first_seen", "ts"),
        LandingTable("ref.rates", "as_of", "date"),
        LandingTable("ref.dividends", "ex_date", "date"),
        LandingTable("ref.earnings", "event_date", "date"),
        LandingTable("sim.runs"),
        LandingTable("sim.underlyings"),
        LandingTable("sim.factor_loadings"),
        LandingTable("sim.earnings_events", "event_date", "date"),
        LandingTable("sim.underlying_days", "session_date", "date"),
        LandingTable("sim.surface_params", "quote_date", "date"),
        LandingTable("sim.news_sentiment", "published_ts", "ts"),
        LandingTable("sim.efficient_prices", "ts", "ts"),
    )
}


def source_tables(source: str) -> tuple[str, ...]:
    """Every table a load of ``source`` writes: its data tables and the bookkeeping."""
    tables = SOURCE_TABLES.get(source, ())
    extra = ("ref.option_contracts",) if "raw.option_quotes" in tables else ()
    return (*tables, *extra, *BOOKKEEPING)


def load_asset_key(source: str) -> dg.AssetKey:
    """``load_<source>`` with '-' as '_' (asset names are identifiers)."""
    return dg.AssetKey(f"load_{source.replace('-', '_')}")


def registered_sources() -> list[str]:
    from warehouse.loaders.base import SOURCES
    from warehouse.loaders.sources import load_all

    load_all()
    return sorted(SOURCES)


# --- landing folder -------------------------------------------------------------------------

_DATE = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


def path_date(relative: str) -> date | None:
    """The last valid date named in a relative path (``2024-01-05`` or ``20240105``)."""
    found = None
    for m in _DATE.finditer(relative):
        try:
            d = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            continue
        if 1990 <= d.year <= 2100:
            found = d
    return found


def landing_source_dir(source: str, landing_dir: Path | None = None) -> Path:
    return (landing_dir or orchestration_settings().landing_dir) / source


def landing_entries(source: str, landing_dir: Path | None = None) -> Iterator[Path]:
    """Top-level entries of a source's landing folder (hidden and partial files skipped)."""
    folder = landing_source_dir(source, landing_dir)
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")) or entry.suffix in (".tmp", ".part", ".partial"):
            continue
        yield entry


def expand_entry(source_name: str, entry: Path) -> list[Path]:
    """The files of one landing entry in the source's load order ([] if not the source's)."""
    from warehouse.loaders.base import LoadError
    from warehouse.loaders.engine import get_source, source_files

    source = get_source(source_name)
    if entry.is_dir() and not hasattr(source, "files"):
        return sorted(p for p in entry.rglob("*") if p.is_file() and not p.name.startswith("."))
    try:
        return source_files(source, entry)
    except LoadError:
        return []


ANY_DATE = "*"


def file_partition(relative: str) -> str | None:
    """Partition key of a landed file: ``ANY_DATE`` when its path names no date (it belongs to
    every date), None when it names a date before the first partition (never loaded here)."""
    d = path_date(relative)
    return partition_for(d) if d else ANY_DATE


def landing_files(source: str, partition_key: str, landing_dir: Path | None = None) -> list[Path]:
    """The landed files of ``source`` that belong to the trading date ``partition_key``."""
    root = landing_source_dir(source, landing_dir)
    out: list[Path] = []
    for entry in landing_entries(source, landing_dir):
        for f in expand_entry(source, entry):
            rel = f.relative_to(root).as_posix() if f.is_relative_to(root) else f.name
            key = file_partition(rel)
            if key in (ANY_DATE, partition_key):
                out.append(f)
    return out


# --- assets ---------------------------------------------------------------------------------


def _report_table(reports: list, root: Path) -> str:
    lines = ["| file | status | loaded | duplicate | quarantined |", "|---|---|---:|---:|---:|"]
    for r in reports[:50]:
        path = Path(r.file_path)
        name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        lines.append(
            f"| {name} | {r.status} | {r.rows_loaded} | {r.rows_duplicate} | {r.rows_quarantined} |"
        )
    if len(reports) > 50:
        lines.append(f"| ... {len(reports) - 50} more | | | | |")
    return "\n".join(lines)


def load_source_partition(source_name: str, partition_key: str) -> dict:
    """Load the landed files of one source for one trading date; returns the metadata.

    Raises ``psycopg.OperationalError`` when a file failed on a transient database error or on
    a concurrent load of the same file (the retry policy re-runs the partition: files already
    committed are skipped by the manifest) and ``dagster.Failure`` (not retried) when a file is
    bad.
    """
    import psycopg

    from warehouse.db.connect import connect
    from warehouse.loaders.engine import get_source, load_file, register_contracts

    files = landing_files(source_name, partition_key)
    meta: dict = {"source": source_name, "trading_date": partition_key, "files": len(files)}
    if not files:
        meta["note"] = f"no files for {partition_key} in {landing_source_dir(source_name)}"
        return meta
    source = get_source(source_name)
    with connect("pipeline") as conn:
        reports = [load_file(conn, source, f, progress=False) for f in files]
        new_contracts = register_contracts(
            conn, [r.contracts for r in reports if r.contracts is not None]
        )
    status = Counter(r.status for r in reports)
    by_table: Counter = Counter()
    by_reason: Counter = Counter()
    for r in reports:
        by_table.update(r.rows_by_table)
        by_reason.update(r.quarantined_by_reason)
    meta.update(
        {
            "files_loaded": status.get("loaded", 0),
            "files_already_loaded": status.get("skipped_already_loaded", 0),
            "files_failed": status.get("failed", 0),
            "rows_loaded": sum(r.rows_loaded for r in reports),
            "rows_duplicate": sum(r.rows_duplicate for r in reports),
            "rows_quarantined": sum(r.rows_quarantined for r in reports),
            "new_option_contracts": new_contracts,
            "rows_by_table": dg.MetadataValue.json(dict(by_table)),
            "quarantined_by_reason": dg.MetadataValue.json(dict(by_reason)),
            "files_report": dg.MetadataValue.md(
                _report_table(reports, landing_source_dir(source_name))
            ),
        }
    )
    failed = [r for r in reports if r.status == "failed"]
    # transient: the connection, or another run loading the same file at the same moment (a
    # unique violation: the loader itself never inserts a key twice); the retry skips what the
    # other run committed
    transient = ("OperationalError", "UniqueViolation")
    if any(any(t in (r.error or "") for t in transient) for r in failed):
        raise psycopg.OperationalError(
            f"{source_name} {partition_key}: transient database error: {failed[0].error}"
        )
    if failed:
        raise dg.Failure(
            description=f"{len(failed)} file(s) of {source_name} for {partition_key} failed to "
            f"load (nothing of them landed): {failed[0].error}",
            metadata={**meta, "errors": dg.MetadataValue.json([r.error for r in failed])},
            allow_retries=False,
        )
    return meta


def build_load_asset(source_name: str) -> dg.AssetsDefinition:
    """The load asset of one source, partitioned by trading date."""
    from warehouse.loaders.engine import get_source

    description = getattr(get_source(source_name), "description", "")

    @dg.asset(
        key=load_asset_key(source_name),
        group_name=LOAD_GROUP,
        partitions_def=trading_day_partitions(),
        retry_policy=TRANSIENT_RETRY,
        kinds={"python", "postgres"},
        description=f"Load the landed `{source_name}` files of the trading date "
        f"(<landing>/{source_name}/): {description}",
        tags={"source": source_name.replace("_", "-")},
    )
    def _load(context: AssetExecutionContext) -> dg.MaterializeResult:
        with transient_guard(f"load {source_name} {context.partition_key}"):
            meta = load_source_partition(source_name, context.partition_key)
        context.log.info(
            f"{source_name} {context.partition_key}: {meta.get('files', 0)} file(s), "
            f"{meta.get('rows_loaded', 0)} rows loaded"
        )
        return dg.MaterializeResult(metadata=meta)

    return _load


def load_assets() -> list[dg.AssetsDefinition]:
    return [build_load_asset(s) for s in registered_sources()]


def landing_specs() -> list[dg.AssetSpec]:
    """One spec per landing table, depending on the load assets that write it."""
    writers: dict[str, list[dg.AssetKey]] = {name: [] for name in LANDING_TABLES}
    for source in registered_sources():
        for table in source_tables(source):
            if table in writers:
                writers[table].append(load_asset_key(source))
    return [
        dg.AssetSpec(
            key=t.key,
            deps=writers[t.name],
            group_name=LANDING_GROUP,
            partitions_def=trading_day_partitions(),
            kinds={"postgres"},
            description=f"`{t.name}` as landed by the loads"
            + (f" (rows of the trading date by `{t.time_col}`)." if t.time_col else "."),
        )
        for t in LANDING_TABLES.values()
    ]


def count_rows(conn, table: LandingTable, day: date) -> int:
    schema, name = table.name.split(".")
    rel = sql.Identifier(schema, name)
    if table.time_kind == "ts":
        lo, hi = day_bounds(day)
        q = sql.SQL("SELECT count(*) FROM {} WHERE {} >= %s AND {} < %s").format(
            rel, sql.Identifier(table.time_col), sql.Identifier(table.time_col)
        )
        return conn.execute(q, (lo, hi)).fetchone()[0]
    if table.time_kind == "date":
        q = sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
            rel, sql.Identifier(table.time_col)
        )
        return conn.execute(q, (day,)).fetchone()[0]
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(rel)).fetchone()[0]


@dg.multi_asset(
    name="landing_tables",
    specs=landing_specs(),
    can_subset=True,
    retry_policy=TRANSIENT_RETRY,
    partitions_def=trading_day_partitions(),
)
def landing_tables(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
    """Record what each selected landing table holds for the trading date (after the loads)."""
    from warehouse.db.connect import connect

    day = date.fromisoformat(context.partition_key)
    by_key = {t.key: t for t in LANDING_TABLES.values()}
    with transient_guard("landing tables"), connect("analyst") as conn:
        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            table = by_key[key]
            n = count_rows(conn, table, day)
            meta: dict = {"table": table.name}
            if table.time_col:
                meta["dagster/partition_row_count"] = n
            else:
                meta["dagster/row_count"] = n
            yield dg.MaterializeResult(asset_key=key, metadata=meta)


@dg.asset(
    key=dg.AssetKey(["ref", "trading_calendar"]),
    group_name=LANDING_GROUP,
    retry_policy=TRANSIENT_RETRY,
    kinds={"python", "postgres"},
    description="XNYS sessions (open, close, half days) from exchange_calendars, upserted into "
    "ref.trading_calendar (pre-market refresh).",
)
def trading_calendar() -> dg.MaterializeResult:
    from warehouse.db.connect import connect
    from warehouse.refdata import refresh_trading_calendar

    with transient_guard("trading calendar"), connect("pipeline") as conn:
        n = refresh_trading_calendar(conn)
        half = conn.execute(
            "SELECT count(*) FROM ref.trading_calendar WHERE is_half_day"
        ).fetchone()[0]
        conn.commit()
    return dg.MaterializeResult(metadata={"dagster/row_count": n, "half_days": half})
