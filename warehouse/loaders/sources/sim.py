"""Source ``sim``: the folder written by ``warehouse simulate`` (see ``warehouse.sim``).

``files(folder)`` lists the files of the run's ``manifest.json`` in load order: the manifest
itself (-> sim.runs), the reference CSVs (instruments, rates, dividends, earnings), the
run-wide truth files, then the per-session files in date order. ``parse(file)`` yields one
``Batch`` per file: Parquet files carry the canonical columns already (``_line`` = 0-based
row offset, ``file_day`` = the session date for per-session files); CSV files are parsed as
text with per-line rejects and typed here (``_line`` = 1-based line, header = line 1).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from warehouse.loaders import tables
from warehouse.loaders.base import Batch, LoadError, register_source
from warehouse.loaders.fileio import read_bytes, read_csv_strings, to_number
from warehouse.sim import schema

MANIFEST = "manifest.json"
REF_FILES: dict[str, tables.TableSpec] = {
    "instruments.csv": tables.INSTRUMENTS,
    "rates.csv": tables.RATES,
    "dividends.csv": tables.DIVIDENDS,
    "earnings.csv": tables.EARNINGS,
}
TRUTH_FILES: dict[str, tables.TableSpec] = {
    "truth/underlyings.parquet": schema.UNDERLYINGS,
    "truth/factor_loadings.parquet": schema.FACTOR_LOADINGS,
    "truth/earnings_events.parquet": schema.EARNINGS_EVENTS,
    "truth/underlying_days.parquet": schema.UNDERLYING_DAYS,
}
DAY_DIRS: dict[str, tables.TableSpec] = {  # in load order within a session
    "option_quotes": tables.OPTION_QUOTES,
    "equity_trades": tables.EQUITY_TRADES,
    "equity_quotes": tables.EQUITY_QUOTES,
    "equity_bars": tables.EQUITY_BARS,
    "news": tables.NEWS,
    "truth/surface_params": schema.SURFACE_PARAMS,
    "truth/news_sentiment": schema.NEWS_SENTIMENT,
    "truth/efficient_prices": schema.EFFICIENT_PRICES,
}
_DAY_FILE = re.compile(r"^(?P<dir>.+)/(?P<day>\d{4}-\d{2}-\d{2})\.parquet$")


def _relative(path: Path) -> str:
    """Path of ``path`` relative to its run folder (the folder holding manifest.json)."""
    parts = path.resolve().parts
    for i in range(len(parts) - 1, 0, -1):
        if (Path(*parts[:i]) / MANIFEST).is_file():
            return "/".join(parts[i:])
    # no manifest found: recognise the layout from the last components
    tail = "/".join(parts[-3:])
    for rel in (*REF_FILES, *TRUTH_FILES, MANIFEST):
        if tail.endswith(rel):
            return rel
    for d in sorted(DAY_DIRS, key=len, reverse=True):
        if tail.endswith(f"{d}/{path.name}"):
            return f"{d}/{path.name}"
    return path.name


def _spec_for(rel: str) -> tuple[tables.TableSpec, date | None]:
    if rel == MANIFEST:
        return schema.RUNS, None
    if rel in REF_FILES:
        return REF_FILES[rel], None
    if rel in TRUTH_FILES:
        return TRUTH_FILES[rel], None
    m = _DAY_FILE.match(rel)
    if m and m["dir"] in DAY_DIRS:
        return DAY_DIRS[m["dir"]], date.fromisoformat(m["day"])
    raise LoadError(f"{rel}: not a file of a simulator run")


def _order_key(rel: str) -> tuple:
    if rel == MANIFEST:
        return (0, 0, "", 0)
    if rel in REF_FILES:
        return (1, list(REF_FILES).index(rel), "", 0)
    if rel in TRUTH_FILES:
        return (2, list(TRUTH_FILES).index(rel), "", 0)
    m = _DAY_FILE.match(rel)
    if m and m["dir"] in DAY_DIRS:
        return (3, 0, m["day"], list(DAY_DIRS).index(m["dir"]))
    return (4, 0, rel, 0)


class SimSource:
    """Loads a ``warehouse simulate`` output folder."""

    name = "sim"
    description = "simulated market from `warehouse simulate` (ref, raw and sim truth files)"

    def files(self, path: Path) -> list[Path]:
        """The files of the run in ``path`` in load order (``path`` may also be one file)."""
        path = Path(path)
        if path.is_file():
            return [path]
        manifest = path / MANIFEST
        if not manifest.is_file():
            raise LoadError(f"{path}: no {MANIFEST}; not a `warehouse simulate` output folder")
        try:
            listed = [f["path"] for f in json.loads(manifest.read_text())["files"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise LoadError(f"{manifest}: unreadable manifest ({exc})") from exc
        missing = [rel for rel in listed if not (path / rel).is_file()]
        if missing:
            raise LoadError(
                f"{path}: files listed in {MANIFEST} are missing: "
                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
            )
        rels = sorted([MANIFEST, *listed], key=_order_key)
        return [path / rel for rel in rels]

    def parse(self, path: Path) -> Iterator[Batch]:
        path = Path(path)
        rel = _relative(path)
        spec, day = _spec_for(rel)
        if rel == MANIFEST:
            yield _parse_manifest(path)
        elif path.suffix == ".csv":
            yield _parse_csv(path, spec)
        else:
            yield Batch(table=spec.name, frame=_read_parquet(path, spec), file_day=day)


def _read_parquet(path: Path, spec: tables.TableSpec) -> pd.DataFrame:
    try:
        tbl = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise LoadError(f"{path}: unreadable Parquet ({type(exc).__name__}: {exc})") from exc
    missing = [c for c in spec.column_names if c not in tbl.column_names]
    if missing:
        raise LoadError(f"{path}: missing columns {missing} for {spec.name}")
    # one C++ conversion for the whole table; list/JSON columns are fixed up afterwards
    frame = tbl.select(spec.column_names).to_pandas(date_as_object=False)
    for name, kind in spec.columns:
        if kind == "text[]":
            frame[name] = pd.Series(tbl.column(name).to_pylist(), dtype=object)
        elif kind == "json":
            values = tbl.column(name).to_pylist()
            frame[name] = pd.Series(
                [None if v is None else json.loads(v) for v in values], dtype=object
            )
    frame["_line"] = np.arange(len(frame), dtype=np.int64)
    return frame


def _parse_manifest(path: Path) -> Batch:
    raw = read_bytes(path)
    try:
        m = json.loads(raw)
        row = {
            "run_sha256": hashlib.sha256(raw).hexdigest(),
            "seed": int(m["seed"]),
            "preset": m["preset"],
            "arguments": m["arguments"],
            "start_date": date.fromisoformat(m["start_date"]),
            "end_date": date.fromisoformat(m["end_date"]),
            "n_underlyings": int(m["n_underlyings"]),
            "n_sessions": int(m["n_sessions"]),
            "format_version": int(m["format_version"]),
            "files": m["files"],
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise LoadError(f"{path}: not a simulator manifest ({exc})") from exc
    frame = pd.DataFrame({k: pd.Series([v], dtype=object) for k, v in row.items()})
    for c in ("seed", "n_underlyings", "n_sessions", "format_version"):
        frame[c] = frame[c].astype(np.int64)
    frame["_line"] = np.zeros(1, dtype=np.int64)
    return Batch(table=schema.RUNS.name, frame=frame)


def _parse_csv(path: Path, spec: tables.TableSpec) -> Batch:
    res = read_csv_strings(read_bytes(path), str(path))
    frame = res.frame
    missing = [c for c in spec.column_names if c not in frame.columns]
    if missing:
        raise LoadError(f"{path}: missing columns {missing} for {spec.name}")
    n = len(frame)
    bad_number = np.zeros(n, dtype=bool)
    bad_ts = np.zeros(n, dtype=bool)
    bad_value = np.zeros(n, dtype=bool)
    out: dict[str, object] = {}
    for name, kind in spec.columns:
        col = frame[name]
        if kind in ("float", "int"):
            values, bad = to_number(col)
            bad_number |= bad
            if kind == "int":
                whole = np.isnan(values) | (values == np.round(values))
                bad_number |= ~whole
                out[name] = pd.array(
                    np.where(np.isnan(values) | ~whole, 0, values).astype(np.int64), dtype="Int64"
                )
                out[name][np.isnan(values) | ~whole] = pd.NA
            else:
                out[name] = values
        elif kind == "date":
            parsed = pd.to_datetime(col, format="%Y-%m-%d", errors="coerce")
            bad_ts |= col.notna().to_numpy() & parsed.isna().to_numpy()
            out[name] = pd.Series([None if pd.isna(v) else v.date() for v in parsed], dtype=object)
        elif kind == "bool":
            low = col.str.lower()
            truth = low.map(
                {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}
            )
            bad_value |= col.notna().to_numpy() & truth.isna().to_numpy()
            out[name] = truth.astype(object).where(truth.notna(), None)
        else:
            out[name] = col.astype(object).where(col.notna(), None)
    typed = pd.DataFrame(out)
    typed["_line"] = frame["_line"].to_numpy()
    bad = pd.DataFrame(
        {"malformed_number": bad_number, "malformed_timestamp": bad_ts, "bad_value": bad_value}
    )
    return Batch(
        table=spec.name,
        frame=typed,
        rejects=res.rejects,
        bad=bad,
        raw_lookup=res.index.lookup if res.index is not None else None,
    )


SOURCE = register_source(SimSource())
