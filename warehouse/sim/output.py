"""Deterministic file writers: Parquet (zstd, no wall-clock metadata) and small CSVs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.loaders.tables import TableSpec
from warehouse.sim.schema import ARROW_TYPES

US_TS = pa.timestamp("us", tz="UTC")


def _array(values, kind: str) -> pa.Array:
    typ = ARROW_TYPES[kind]
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if values.type == typ else values.cast(typ)
    if kind == "ts":
        arr = np.asarray(values)
        if arr.dtype.kind in "iu":
            return pa.array(arr.astype(np.int64), type=pa.int64()).cast(US_TS)
        return pa.array(values, type=US_TS)
    if kind == "date":
        arr = np.asarray(values)
        if arr.dtype.kind == "M":
            return pa.array(arr.astype("datetime64[D]"), type=pa.date32())
        return pa.array(list(values), type=pa.date32())
    if kind == "float":
        return pa.array(np.asarray(values, dtype=np.float64), type=typ, from_pandas=True)
    if kind == "int":
        return pa.array(np.asarray(values, dtype=np.int64), type=typ)
    if kind == "bool":
        return pa.array(np.asarray(values, dtype=bool), type=typ)
    if kind == "json":
        return pa.array([json.dumps(v, sort_keys=True) for v in values], type=typ)
    if kind == "text[]":
        return pa.array(list(values), type=typ)
    arr = np.asarray(values)
    return pa.array(arr.astype(str) if arr.dtype.kind != "O" else list(values), type=typ)


def table(spec: TableSpec, columns: dict) -> pa.Table:
    """An Arrow table with exactly the canonical columns of ``spec`` (names, order, types).

    ``columns`` maps every column name to its values; a ``ts`` column may be given as int64
    UTC epoch microseconds (or an Arrow array with a ``(values, mask)`` tuple for nulls).
    """
    missing = [c for c in spec.column_names if c not in columns]
    if missing:
        raise KeyError(f"{spec.name}: missing columns {missing}")
    arrays = []
    for name, kind in spec.columns:
        values = columns[name]
        if isinstance(values, tuple):  # (values, null mask)
            vals, mask = values
            mask = np.asarray(mask, dtype=bool)
            if kind == "ts":
                raw = pa.array(np.asarray(vals, dtype=np.int64), type=pa.int64(), mask=mask)
                arrays.append(raw.cast(US_TS))
            else:
                arrays.append(pa.array(np.asarray(vals), mask=mask).cast(ARROW_TYPES[kind]))
        else:
            arrays.append(_array(values, kind))
    return pa.Table.from_arrays(arrays, names=spec.column_names)


def write_parquet(path: Path, tbl: pa.Table) -> int:
    """Write ``tbl`` (zstd) and return its row count. Bytes depend only on the data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        tbl.replace_schema_metadata(None),
        path,
        compression="zstd",
        compression_level=3,
        row_group_size=1 << 20,
        write_statistics=True,
    )
    return tbl.num_rows


def write_csv(path: Path, spec: TableSpec, rows: list[dict]) -> int:
    """Write ``rows`` as CSV with the canonical column order (header row, '\\n' endings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(spec.column_names)
    for row in rows:
        writer.writerow([_csv_value(row.get(c)) for c in spec.column_names])
    path.write_text(buf.getvalue())
    return len(rows)


def _csv_value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float | np.floating):
        return repr(float(v))
    return str(v)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()
