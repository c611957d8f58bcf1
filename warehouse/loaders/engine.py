"""The load engine: parse -> validate -> COPY, one transaction per file, nothing lost.

For each file:
1. hash it; a (source, sha256) already in ``raw.file_manifest`` is skipped (reported);
2. parse it into canonical batches (a structural failure is a ``LoadError`` naming the file);
3. in ONE transaction: validate every batch, COPY good rows into their table, COPY bad rows
   into ``raw.quarantine`` with line and reason, register new option contracts, write the
   manifest and the report row (read = loaded + duplicate + quarantined);
4. on any error the transaction rolls back (no half-loaded file) and a ``failed`` report
   row records the error.

Append tables take a fast path (plain COPY into the hypertable) when a probe shows no
loaded rows overlap the batch's time range and keys; otherwise rows go through a staging
table and ``INSERT ... ON CONFLICT DO NOTHING`` and existing keys count as duplicates.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from tqdm import tqdm

from warehouse.db.connect import connect
from warehouse.loaders import copyio
from warehouse.loaders.base import SOURCES, Batch, LoadError, Reject, Source
from warehouse.loaders.fileio import sha256_file
from warehouse.loaders.tables import TABLES, TableSpec
from warehouse.loaders.validate import validate

PROGRESS_MIN_BYTES = 8 << 20  # show a byte-level progress bar for files above 8 MiB


@dataclass
class LoadReport:
    source: str
    file_path: str
    status: str = "loaded"
    load_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    quarantined_by_reason: Counter = field(default_factory=Counter)
    rows_by_table: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    error: str | None = None
    # option contracts first seen in this file (registered after the file commits)
    contracts: pd.DataFrame | None = field(default=None, repr=False)


def get_source(name: str) -> Source:
    from warehouse.loaders.sources import load_all

    load_all()
    if name not in SOURCES:
        raise LoadError(f"unknown source {name!r}; known: {', '.join(sorted(SOURCES))}")
    return SOURCES[name]


def source_files(source: Source, path: Path) -> list[Path]:
    if not path.exists():
        raise LoadError(f"{path}: no such file or folder")
    files = source.files(path) if hasattr(source, "files") else [path]
    if not files:
        raise LoadError(f"{path}: no files of source {source.name!r} found")
    return files


def load_path(
    source_name: str, path: Path, *, progress: bool = True, conn: psycopg.Connection | None = None
) -> list[LoadReport]:
    """Load a file or folder of one source. Failed files are reported, not raised.

    Returns one report per file. A folder is expanded by the source into its files.
    """
    source = get_source(source_name)
    files = source_files(source, path)
    own = conn is None
    conn = conn or connect("pipeline")
    try:
        reports = []
        # progress bars show on a terminal only (disable=None), for folders and big files
        bar = tqdm(
            files,
            desc=f"load {source_name}",
            unit="file",
            disable=None if progress and len(files) > 1 else True,
            leave=False,
        )
        for f in bar:
            reports.append(load_file(conn, source, f, progress=progress))
        register_contracts(conn, [r.contracts for r in reports if r.contracts is not None])
        return reports
    finally:
        if own:
            conn.close()


def load_file(
    conn: psycopg.Connection, source: Source, path: Path, *, progress: bool = True
) -> LoadReport:
    t0 = time.perf_counter()
    started = datetime.now(UTC)
    report = LoadReport(source=source.name, file_path=str(path))
    sha = sha256_file(path)
    identity = source.identity(path) if hasattr(source, "identity") else ""
    nbytes = path.stat().st_size
    row = conn.execute(
        "SELECT load_id FROM raw.file_manifest "
        "WHERE source = %s AND file_sha256 = %s AND file_identity = %s",
        (source.name, sha, identity),
    ).fetchone()
    conn.commit()
    if row is not None:
        report.status = "skipped_already_loaded"
        report.seconds = time.perf_counter() - t0
        _write_report(conn, report, sha, nbytes, started)
        return report
    try:
        batches = list(source.parse(path))
        with conn.transaction():
            report.load_id = _write_report(conn, report, sha, nbytes, started, commit=False)
            known = _known_symbols(conn)
            bar = tqdm(
                total=sum(_estimate_bytes(b) for b in batches),
                unit="B",
                unit_scale=True,
                desc=path.name,
                leave=False,
                disable=None if progress and nbytes >= PROGRESS_MIN_BYTES else True,
            )
            with bar:
                for batch in batches:
                    _load_batch(conn, source, path, batch, report, known, bar)
                    if batch.table == "ref.instruments":
                        known = _known_symbols(conn)
            conn.execute(
                "INSERT INTO raw.file_manifest "
                "(source, file_sha256, file_identity, load_id, file_path) "
                "VALUES (%s, %s, %s, %s, %s)",
                (source.name, sha, identity, report.load_id, str(path)),
            )
            report.seconds = time.perf_counter() - t0
            _update_report(conn, report)
    except Exception as exc:  # any failure: roll back the whole file, record why
        conn.rollback()
        report.status = "failed"
        report.error = (
            str(exc) if isinstance(exc, LoadError) else f"{path}: {type(exc).__name__}: {exc}"
        )
        report.load_id = None
        report.rows_loaded = report.rows_duplicate = report.rows_quarantined = 0
        report.quarantined_by_reason.clear()
        report.rows_by_table.clear()
        report.seconds = time.perf_counter() - t0
        _write_report(conn, report, sha, nbytes, started)
    return report


def _estimate_bytes(batch: Batch) -> int:
    return int(len(batch.frame) * max(1, len(batch.frame.columns)) * 10)


def _known_symbols(conn: psycopg.Connection) -> frozenset[str]:
    return frozenset(r[0] for r in conn.execute("SELECT symbol FROM ref.instruments"))


CHUNK_ROWS = 65_536


def _chunks(frame: pd.DataFrame, spec: TableSpec) -> list[np.ndarray]:
    """Row positions in validation chunks. Rows whose natural key occurs more than once in
    the file go last, together, so the first good occurrence wins ("duplicate_key_in_file")
    while every other chunk streams without a cross-chunk lookup."""
    n = len(frame)
    key = list(spec.key)
    if n and all(k in frame for k in key):
        dup = frame.duplicated(key, keep=False).to_numpy()
    else:
        dup = np.zeros(n, dtype=bool)
    plain = np.flatnonzero(~dup)
    out = [plain[i : i + CHUNK_ROWS] for i in range(0, len(plain), CHUNK_ROWS)]
    if dup.any():
        out.append(np.flatnonzero(dup))
    return out


def _load_batch(
    conn, source: Source, path: Path, batch: Batch, report: LoadReport, known: frozenset[str], bar
) -> None:
    """Validate a batch chunk by chunk and stream the good rows into one COPY.

    Validation and binary encoding of chunk i+1 run in this thread while psycopg's writer
    thread sends chunk i and the server ingests it, so the client's work mostly hides
    behind the server's. Quarantined rows are written after the data COPY.
    """
    if batch.table not in TABLES:
        raise LoadError(f"{path}: parser produced rows for unregistered table {batch.table!r}")
    spec = TABLES[batch.table]
    frame = batch.frame.reset_index(drop=True)
    if "_line" not in frame:
        frame["_line"] = np.arange(1, len(frame) + 1)
    batch.frame = frame
    bad = batch.bad.reset_index(drop=True) if batch.bad is not None else None
    if "seq" in spec.column_names and "seq" not in frame and len(frame):
        frame["seq"] = frame.groupby(["symbol", spec.time_col], sort=False).cumcount().to_numpy()
    report.rows_read += len(frame) + len(batch.rejects)

    types = copyio.column_types(conn, spec.name)
    with_load_id = "load_id" in types
    columns = [c for c in types if c in frame.columns or (c == "load_id" and with_load_id)]
    target = copyio.qualified(spec.name)
    stage = None
    if spec.mode == "upsert" or _overlaps_loaded(conn, spec, frame):
        stage = sql.Identifier("_stage_" + spec.name.replace(".", "_"))
        conn.execute(
            sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                stage, target
            )
        )

    quarantine: list[tuple[int | None, str, list[str], str]] = [
        (r.line_no, r.reason, [r.reason], r.raw_record) for r in batch.rejects
    ]
    seen: list[pd.DataFrame] = []
    written = 0
    scope = known if spec.name.startswith("raw.") else None
    with conn.cursor() as cur, copyio.CopyStream(cur, stage or target, columns, types, bar) as out:
        for rows in _chunks(frame, spec):
            sub = Batch(
                spec.name,
                frame.iloc[rows].reset_index(drop=True),
                bad=None if bad is None else bad.iloc[rows].reset_index(drop=True),
                file_day=batch.file_day,
            )
            checked = validate(sub, spec, scope)
            if len(checked.bad_rows):
                positions = rows[checked.bad_rows]
                lines = frame["_line"].to_numpy()[positions]
                raws = batch.raw_records(positions)
                quarantine += [
                    (int(line), reasons[0], reasons, raw)
                    for line, reasons, raw in zip(lines, checked.bad_reasons, raws, strict=True)
                ]
            good = checked.good
            if with_load_id:
                good = good.assign(load_id=report.load_id)
            written += out.write(copyio.to_arrow(good, columns, types))
            if spec.name == "raw.option_quotes" and len(good):
                seen.append(_contracts_seen(good))

    if stage is None:
        loaded, duplicate = written, 0
    elif spec.mode == "upsert":
        loaded, duplicate = _merge_upsert(conn, spec, stage, columns), 0
    else:
        loaded = _merge_append(conn, spec, stage, columns)
        duplicate = written - loaded
    if stage is not None:
        conn.execute(sql.SQL("DROP TABLE {}").format(stage))
    _write_quarantine(conn, report, source, path, spec, quarantine)
    report.rows_loaded += loaded
    report.rows_duplicate += duplicate
    report.rows_by_table[spec.name] += loaded
    if seen:
        report.contracts = pd.concat(
            [*([report.contracts] if report.contracts is not None else []), *seen],
            ignore_index=True,
        )


def _contracts_seen(good: pd.DataFrame) -> pd.DataFrame:
    return (
        good.groupby("contract_symbol", sort=False)
        .agg(
            underlying=("underlying", "first"),
            expiration=("expiration", "first"),
            option_right=("option_right", "first"),
            strike=("strike", "first"),
            first_seen=("quote_ts", "min"),
        )
        .reset_index()
    )


def _overlaps_loaded(conn, spec: TableSpec, frame: pd.DataFrame) -> bool:
    """Could any row of the batch already be in the table? (A cheap, index-backed probe on
    the batch's time range and coarse keys; when it says no, rows go straight in by COPY.)"""
    if not (spec.time_col and spec.probe_col) or spec.time_col not in frame or not len(frame):
        return True
    ts = pd.to_datetime(frame[spec.time_col], utc=True).dropna()
    keys = frame[spec.probe_col].dropna().unique().tolist() if spec.probe_col in frame else []
    if ts.empty or not keys:
        return False
    probe = sql.SQL(
        "SELECT EXISTS (SELECT 1 FROM {} WHERE {} BETWEEN %s AND %s AND {} = ANY(%s))"
    ).format(
        copyio.qualified(spec.name), sql.Identifier(spec.time_col), sql.Identifier(spec.probe_col)
    )
    lo, hi = ts.min().to_pydatetime(), ts.max().to_pydatetime()
    return bool(conn.execute(probe, (lo, hi, keys)).fetchone()[0])


def _merge_append(conn, spec: TableSpec, stage: sql.Identifier, columns: list[str]) -> int:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    cur = conn.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING").format(
            copyio.qualified(spec.name), cols, cols, stage
        )
    )
    return cur.rowcount


def _merge_upsert(conn, spec: TableSpec, stage: sql.Identifier, columns: list[str]) -> int:
    updates = [c for c in columns if c not in spec.key]
    action = (
        sql.SQL("DO UPDATE SET ")
        + sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
            for c in updates
        )
        if updates
        else sql.SQL("DO NOTHING")
    )
    collist = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    cur = conn.execute(
        sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM {s} ON CONFLICT ({k}) ").format(
            t=copyio.qualified(spec.name),
            c=collist,
            s=stage,
            k=sql.SQL(", ").join(sql.Identifier(k) for k in spec.key),
        )
        + action
    )
    return cur.rowcount


def _write_quarantine(
    conn,
    report: LoadReport,
    source: Source,
    path: Path,
    spec: TableSpec,
    rows: list[tuple[int | None, str, list[str], str]],
) -> None:
    if not rows:
        return
    frame = pd.DataFrame(rows, columns=["line_no", "reason", "reasons", "raw_record"])
    frame["load_id"] = report.load_id
    frame["source"] = source.name
    frame["target_table"] = spec.name
    frame["source_file"] = str(path)
    frame["raw_record"] = frame["raw_record"].fillna("")
    copyio.copy_frame(conn, "raw.quarantine", frame)
    report.rows_quarantined += len(rows)
    report.quarantined_by_reason.update(frame["reason"].tolist())


def register_contracts(conn: psycopg.Connection, seen: list[pd.DataFrame]) -> int:
    """Add option contracts not yet in ``ref.option_contracts`` (one transaction, after the
    files that quoted them committed). Returns the number of new contracts.

    ``ref.option_contracts`` is derived data: it is kept out of the per-file transactions so
    that the first load of a chain (every contract new) is not twice the cost of its quotes.
    Settlement: standard index options whose root is the index itself (SPX, VIX, NDX, RUT
    monthlies) settle AM on the expiry morning; weeklies (SPXW...) and equity options settle
    PM. Exercise style and multiplier come from ``ref.instruments``.
    """
    from warehouse.loaders.occ import parse_occ

    if not seen:
        return 0
    frame = pd.concat(seen, ignore_index=True)
    frame = (
        frame.groupby("contract_symbol", sort=False)
        .agg(
            underlying=("underlying", "first"),
            expiration=("expiration", "first"),
            option_right=("option_right", "first"),
            strike=("strike", "first"),
            first_seen=("first_seen", "min"),
        )
        .reset_index()
    )
    frame["root"] = parse_occ(frame["contract_symbol"])["root"].to_numpy()
    types = {
        "contract_symbol": "text",
        "root": "text",
        "underlying": "text",
        "expiration": "date",
        "option_right": "text",
        "strike": "double precision",
        "first_seen": "timestamp with time zone",
    }
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE _seen_contracts (contract_symbol text, root text, "
            "underlying text, expiration date, option_right text, strike float8, "
            "first_seen timestamptz) ON COMMIT DROP"
        )
        copyio.copy_arrow(
            cur,
            sql.Identifier("_seen_contracts"),
            copyio.to_arrow(frame, list(types), types),
            types,
        )
        cur.execute(
            """INSERT INTO ref.option_contracts
                   (contract_symbol, root, underlying, expiration, option_right, strike,
                    multiplier, exercise_style, settlement, first_seen)
               SELECT n.contract_symbol, n.root, n.underlying, n.expiration, n.option_right,
                      n.strike, i.option_multiplier, i.option_exercise_style,
                      CASE WHEN i.asset_class = 'index' AND n.root = i.symbol THEN 'AM'
                           ELSE 'PM' END,
                      n.first_seen
                 FROM _seen_contracts n JOIN ref.instruments i ON i.symbol = n.underlying
               ON CONFLICT (contract_symbol) DO NOTHING"""
        )
        added = cur.rowcount
        cur.execute("DROP TABLE _seen_contracts")
    return added


def _write_report(
    conn, report: LoadReport, sha: str, nbytes: int, started: datetime, commit: bool = True
) -> int:
    load_id = conn.execute(
        """INSERT INTO raw.load_reports
               (source, file_path, file_sha256, file_bytes, status, started_at, error)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING load_id""",
        (report.source, report.file_path, sha, nbytes, report.status, started, report.error),
    ).fetchone()[0]
    if commit:
        conn.commit()
    return load_id


def _update_report(conn, report: LoadReport) -> None:
    from psycopg.types.json import Jsonb

    conn.execute(
        """UPDATE raw.load_reports
              SET rows_read = %s, rows_loaded = %s, rows_duplicate = %s, rows_quarantined = %s,
                  quarantined_by_reason = %s, rows_by_table = %s, finished_at = now()
            WHERE load_id = %s""",
        (
            report.rows_read,
            report.rows_loaded,
            report.rows_duplicate,
            report.rows_quarantined,
            Jsonb(dict(report.quarantined_by_reason)),
            Jsonb(dict(report.rows_by_table)),
            report.load_id,
        ),
    )


__all__ = ["LoadReport", "Reject", "load_file", "load_path"]
