"""Files whose columns are named exactly like a target table's canonical columns.

One converter serves every such "canonical CSV" source: text columns are kept, numbers go
through ``to_number`` (malformed -> ``malformed_number``), timestamps through ISO 8601 parsing
(naive = UTC; unparseable -> ``malformed_timestamp``), booleans from true/false/t/f/1/0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.loaders.base import Batch, LoadError, register_source
from warehouse.loaders.fileio import read_bytes, read_csv_strings, to_number
from warehouse.loaders.tables import TABLES, TableSpec

TRUE = {"true", "t", "1", "yes", "y"}
FALSE = {"false", "f", "0", "no", "n"}


def convert_canonical(text: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """String columns -> typed canonical columns, plus a frame of per-row reason flags."""
    n = len(text)
    out = pd.DataFrame(index=text.index)
    bad = pd.DataFrame(
        {
            "malformed_number": np.zeros(n, bool),
            "malformed_timestamp": np.zeros(n, bool),
            "bad_value": np.zeros(n, bool),
        },
        index=text.index,
    )
    for col, kind in spec.columns:
        if col not in text:
            continue
        s = text[col]
        present = s.notna().to_numpy()
        if kind in ("float", "int"):
            values, malformed = to_number(s.to_numpy(dtype=object))
            out[col] = values
            bad["malformed_number"] |= malformed
        elif kind == "ts":
            values = pd.to_datetime(s, utc=True, errors="coerce", format="ISO8601")
            bad["malformed_timestamp"] |= present & values.isna().to_numpy()
            out[col] = values
        elif kind == "date":
            values = pd.to_datetime(s, errors="coerce", format="ISO8601")
            bad["malformed_timestamp"] |= present & values.isna().to_numpy()
            out[col] = values
        elif kind == "bool":
            low = s.str.lower()
            out[col] = low.map(lambda v: True if v in TRUE else False if v in FALSE else None)
            bad["bad_value"] |= present & ~low.isin(TRUE | FALSE).to_numpy()
        elif kind == "text[]":
            out[col] = s.map(
                lambda v: [] if v is None else [x.strip() for x in str(v).split("|") if x.strip()]
            )
        else:
            out[col] = s
    return out, bad


def canonical_csv_batch(path: Path, spec: TableSpec, file_day=None) -> Batch:
    """Read a canonical CSV for ``spec`` into one batch (rejects and flags included)."""
    result = read_csv_strings(read_bytes(path), str(path))
    missing = [c for c in spec.required if c not in result.frame.columns]
    if missing:
        raise LoadError(f"{path}: missing required column(s) {', '.join(missing)} for {spec.name}")
    frame, bad = convert_canonical(result.frame, spec)
    frame["_line"] = result.frame["_line"].to_numpy()
    return Batch(
        spec.name,
        frame,
        result.rejects,
        bad,
        file_day=file_day,
        raw_lookup=result.index.lookup if result.index else None,
    )


@dataclass
class CanonicalCsvSource:
    """A source for canonical CSVs of one table (``text[]`` values separated by ``|``)."""

    name: str
    table: str
    description: str

    def files(self, path: Path) -> list[Path]:
        if path.is_dir():
            return sorted(p for p in path.iterdir() if p.suffix in (".csv", ".gz"))
        return [path]

    def parse(self, path: Path) -> Iterator[Batch]:
        yield canonical_csv_batch(path, TABLES[self.table])


for _name, _table in (
    ("ref-instruments", "ref.instruments"),
    ("ref-rates", "ref.rates"),
    ("ref-dividends", "ref.dividends"),
    ("ref-earnings", "ref.earnings"),
    ("canonical-news", "raw.news"),
):
    register_source(
        CanonicalCsvSource(
            _name, _table, f"CSV with the canonical columns of {_table} (one header row)"
        )
    )
