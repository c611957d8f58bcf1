"""Parsing helpers every source format uses: reason flags, numbers, dates, session time
stamps, OSI contract assembly, canonical frames, file listing.

Units: prices in currency units, vol as a decimal, timestamps tz-aware UTC (microseconds),
dates as ``datetime64`` at midnight. Per-row problems become reason flags (``Flags``), never
silent drops: the engine quarantines the flagged rows with their reasons.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from warehouse.loaders.base import REASONS, LoadError
from warehouse.loaders.fileio import CsvResult, read_bytes, read_csv_strings, to_number
from warehouse.loaders.occ import (
    format_occ,
    friday_expiry,
    normalize_occ,
    parse_occ,
    underlying_for_root,
)
from warehouse.loaders.tables import OPTION_QUOTES

NY = "America/New_York"
EOD_TIME = "16:00"
# tried in order; the one parsing most values of a column wins
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%Y%m%d",
    "%d%b%Y",
    "%d-%b-%Y",
    "%Y/%m/%d",
)
RIGHTS: dict[str, str] = {
    "C": "C",
    "P": "P",
    "CALL": "C",
    "PUT": "P",
    "CALLS": "C",
    "PUTS": "P",
}


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------


class Flags:
    """Per-row reason flags found while parsing, turned into ``Batch.bad``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.masks: dict[str, np.ndarray] = {}

    def add(self, reason: str, mask: np.ndarray | pd.Series) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason code {reason!r}")
        m = np.asarray(mask, dtype=bool)
        if m.shape != (self.n,):
            raise ValueError(f"flag mask for {reason} has shape {m.shape}, expected ({self.n},)")
        if reason in self.masks:
            self.masks[reason] = self.masks[reason] | m
        else:
            self.masks[reason] = m.copy()

    def take(self, rows: np.ndarray) -> Flags:
        out = Flags(len(rows))
        out.masks = {k: v[rows] for k, v in self.masks.items()}
        return out

    def frame(self) -> pd.DataFrame | None:
        cols = {k: v for k, v in self.masks.items() if v.any()}
        if not cols:
            return None
        return pd.DataFrame({r: cols[r] for r in REASONS if r in cols})


def number(
    values: pd.Series | np.ndarray | pa.Array, flags: Flags | None = None, scale: float = 1.0
) -> np.ndarray:
    """Float64 values (NaN when empty); malformed strings are flagged ``malformed_number``."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = values.to_pandas()
    ser = pd.Series(values) if not isinstance(values, pd.Series) else values
    if pd.api.types.is_numeric_dtype(ser.dtype) and not pd.api.types.is_bool_dtype(ser.dtype):
        out = ser.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        out, bad = to_number(ser.astype(object).where(ser.notna(), None).to_numpy())
        if flags is not None:
            flags.add("malformed_number", bad)
    if scale == 1.0:
        return out
    inverse = 1.0 / scale
    if inverse > 1.0 and inverse == round(inverse):
        return out / round(inverse)  # exact decimals: 223300 / 10000 == 22.33
    return out * scale


def parse_dates(
    values: pd.Series, flags: Flags | None = None, formats: tuple[str, ...] = DATE_FORMATS
) -> pd.Series:
    """Dates (``datetime64[us]`` at midnight, NaT when empty/bad) from text in one of ``formats``.

    The format parsing the most values of the column is used for the whole column; values it
    cannot parse are flagged ``malformed_timestamp``.
    """
    ser = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(ser.dtype):
        out = ser.dt.tz_localize(None) if ser.dt.tz is not None else ser
        return out.dt.normalize().astype("datetime64[us]")
    present = ser.notna().to_numpy()
    nonnull = ser.dropna()
    if len(nonnull) and not isinstance(nonnull.iloc[0], str):  # date objects (Parquet, JSON)
        parsed = pd.to_datetime(ser, errors="coerce")
        if flags is not None:
            flags.add("malformed_timestamp", present & parsed.isna().to_numpy())
        return parsed.dt.normalize().astype("datetime64[us]")
    best, best_n = None, -1
    for fmt in formats:
        parsed = pd.to_datetime(ser, format=fmt, errors="coerce")
        n = int(parsed.notna().sum())
        if n > best_n:
            best, best_n = parsed, n
        if n == int(present.sum()):
            break
    assert best is not None
    if flags is not None:
        flags.add("malformed_timestamp", present & best.isna().to_numpy())
    return best.astype("datetime64[us]")


def local_to_utc(naive: pd.Series, flags: Flags | None = None, tz: str = NY) -> pd.Series:
    """Naive local wall-clock times in ``tz`` -> tz-aware UTC (microseconds).

    Wall-clock times that do not exist or are ambiguous (DST changes) become NaT and are
    flagged ``malformed_timestamp``.
    """
    ser = pd.Series(naive).astype("datetime64[us]")
    loc = ser.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    if flags is not None:
        flags.add("malformed_timestamp", (ser.notna() & loc.isna()).to_numpy())
    return loc.dt.tz_convert("UTC").astype("datetime64[us, UTC]")


def at_local_time(
    dates: pd.Series, hhmm: str = EOD_TIME, tz: str = NY, flags: Flags | None = None
) -> pd.Series:
    """Each date's wall-clock ``hhmm`` in ``tz`` as UTC (e.g. the 16:00 New York close)."""
    h, m = (int(x) for x in hhmm.split(":"))
    naive = pd.Series(dates).astype("datetime64[us]") + pd.Timedelta(hours=h, minutes=m)
    return local_to_utc(naive, flags, tz)


def session_close(
    dates: pd.Series, flags: Flags | None = None, minutes_before: int = 0
) -> pd.Series:
    """The XNYS close of each date (16:00 New York, 13:00 on half days) minus
    ``minutes_before``, as UTC: the time stamp of an end-of-day snapshot.

    Dates that are not XNYS sessions (weekends, holidays, before 2000) get 16:00 New York
    (minus ``minutes_before``); the engine's session check then judges them.
    """
    from warehouse.loaders.calendar import sessions_between

    day = pd.Series(dates).astype("datetime64[us]").dt.normalize().reset_index(drop=True)
    hh, mm = divmod(16 * 60 - minutes_before, 60)
    fallback = at_local_time(day, f"{hh:02d}:{mm:02d}", NY, flags)
    known = day.dropna()
    if known.empty:
        return fallback
    sched = sessions_between(known.min(), known.max())
    if sched.empty:
        return fallback
    closes = pd.Series(sched["close"].to_numpy(), index=pd.DatetimeIndex(sched.index).as_unit("us"))
    close = day.map(closes).astype("datetime64[us, UTC]") - pd.Timedelta(minutes=minutes_before)
    return close.where(close.notna(), fallback).astype("datetime64[us, UTC]")


def eod_stamp(dates: pd.Series, when: str, tz: str = NY, flags: Flags | None = None) -> pd.Series:
    """Snapshot time of each date: ``"close"``, ``"close-15"`` (minutes before the XNYS close)
    or a wall-clock ``"HH:MM"`` in ``tz``."""
    if when.startswith("close"):
        before = int(when[len("close-") :]) if when.startswith("close-") else 0
        return session_close(dates, flags, before)
    return at_local_time(dates, when, tz, flags)


def null_iv_sentinel(out: pd.DataFrame, sentinels: tuple[float, ...]) -> None:
    """Vendor "IV not computed" markers (e.g. iVolatility -1, Lean 0) -> NULL vendor_iv; the
    greeks of such rows become NULL too where they are all exactly 0 (also not computed)."""
    if "vendor_iv" not in out.columns or not sentinels:
        return
    iv = out["vendor_iv"].to_numpy(dtype=np.float64)
    hit = np.isin(iv, np.asarray(sentinels, dtype=np.float64))
    if not hit.any():
        return
    out.loc[hit, "vendor_iv"] = np.nan
    greeks = [
        c
        for c in ("vendor_delta", "vendor_gamma", "vendor_vega", "vendor_theta")
        if c in out.columns
    ]
    if greeks:
        g = out[greeks].to_numpy(dtype=np.float64)
        all_zero = hit & (np.nan_to_num(np.abs(g), nan=0.0).sum(axis=1) == 0)
        out.loc[all_zero, greeks] = np.nan


def map_rights(values: pd.Series, flags: Flags | None = None) -> np.ndarray:
    """'C'/'P' from C/P/Call/Put (any case); other values kept as written, flagged bad_value."""
    ser = pd.Series(values).astype(object)
    up = ser.where(ser.isna(), ser.astype(str).str.strip().str.upper())
    mapped = up.map(RIGHTS)
    unknown = up.notna() & mapped.isna()
    if flags is not None:
        flags.add("bad_value", unknown.to_numpy())
    return np.asarray(mapped.where(~unknown, ser).to_numpy(), dtype=object)


def assemble_contracts(df: pd.DataFrame, *, friday: bool = True) -> pd.DataFrame:
    """Fill ``contract_symbol``/``expiration``/``strike``/``option_right``/``underlying``.

    Input columns (any subset): ``contract_symbol`` (OSI, padded/compact/``O:``), ``root``,
    ``underlying``, ``expiration`` (datetime64), ``strike`` (float), ``option_right``.
    Fields missing as columns are taken from the symbol; without a symbol, the symbol is
    built from root (or underlying) + expiration + right + strike. Valid symbols are
    rewritten to the padded 21-character form, invalid ones kept as written (the engine
    quarantines them). With ``friday`` a Saturday expiration (pre-2015 OSI) becomes the
    preceding Friday in both the symbol and the expiration column. ``root`` is dropped.
    """
    out = df.copy()
    has_sym = "contract_symbol" in out.columns
    if has_sym:
        parsed = parse_occ(out["contract_symbol"])
        valid = parsed["valid"].to_numpy()
        for col in ("expiration", "strike", "option_right", "root"):
            if col not in out.columns:
                out[col] = parsed[col].to_numpy()
        sym_exp = parsed["expiration"].astype("datetime64[us]")
        if friday:
            sym_exp, _ = friday_expiry(sym_exp)
        rebuilt = format_occ(parsed["root"], sym_exp, parsed["option_right"], parsed["strike"])
        raw = normalize_occ(out["contract_symbol"])  # stripped text for invalid rows
        out["contract_symbol"] = np.where(valid & pd.notna(rebuilt), rebuilt, raw)
    if "expiration" in out.columns:
        exp = pd.Series(out["expiration"]).astype("datetime64[us]")
        if friday:
            exp, _ = friday_expiry(exp)
        out["expiration"] = exp.to_numpy()
    if "root" not in out.columns and "underlying" in out.columns:
        out["root"] = out["underlying"]
    if "underlying" not in out.columns and "root" in out.columns:
        out["underlying"] = underlying_for_root(pd.Series(out["root"])).to_numpy()
    if not has_sym:
        needed = ("root", "expiration", "option_right", "strike")
        if all(c in out.columns for c in needed):
            out["contract_symbol"] = format_occ(
                out["root"], out["expiration"], out["option_right"], out["strike"]
            )
        else:
            out["contract_symbol"] = None
    return out.drop(columns=["root"], errors="ignore")


def canonical_frame(df: pd.DataFrame, table: str = OPTION_QUOTES.name) -> pd.DataFrame:
    """Keep the canonical columns of ``table`` (in spec order) plus ``_line``, with kinds fixed."""
    from warehouse.loaders.tables import TABLES

    spec = TABLES[table]
    cols = {}
    for name, kind in spec.columns:
        if name not in df.columns:
            continue
        col = df[name]
        if kind == "ts":
            col = pd.Series(col).astype("datetime64[us, UTC]")
        elif kind == "date":
            col = pd.Series(col).astype("datetime64[us]")
        elif kind == "float":
            col = pd.Series(col).astype(np.float64)
        elif kind == "int":
            col = _as_int(pd.Series(col))
        elif kind == "text":
            col = pd.Series(col).astype(object).where(pd.Series(col).notna(), None)
        cols[name] = pd.Series(col).reset_index(drop=True)
    out = pd.DataFrame(cols)
    out["_line"] = np.asarray(df["_line"], dtype=np.int64)
    return out


def _as_int(col: pd.Series) -> pd.Series:
    """Int64 (nullable) when every value is integral, else float64 (the engine decides)."""
    vals = col.astype(np.float64)
    finite = vals[np.isfinite(vals)]
    if (finite == np.floor(finite)).all() and (finite.abs() < 2**62).all():
        return vals.round().astype("Int64")
    return vals


def read_text_csv(path: Path, **kwargs) -> CsvResult:
    """``read_csv_strings`` over a (possibly compressed) file, after removing a UTF-8 BOM and
    turning old-Mac CR-only line ends into LF (the raw records keep their text)."""
    data = read_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\r" in data and b"\n" not in data:
        data = data.replace(b"\r", b"\n")
    return read_csv_strings(data, str(path), **kwargs)


def header_map(frame: pd.DataFrame) -> dict[str, str]:
    """Stripped, case-folded header name -> column name as read."""
    return {c.strip().lower(): c for c in frame.columns if c != "_line"}


def require_columns(path: Path, frame: pd.DataFrame, names: list[str]) -> dict[str, str]:
    """Map each expected column (case-insensitive) to its name in the file or raise LoadError."""
    hm = header_map(frame)
    missing = [n for n in names if n.lower() not in hm]
    if missing:
        raise LoadError(
            f"{path}: unexpected header, missing column(s) {', '.join(missing)}; "
            f"found {', '.join(hm)}"
        )
    return {n: hm[n.lower()] for n in names}


def file_date(path: Path) -> pd.Timestamp | None:
    """The date a file name declares (``20240105``, ``2024-01-05`` or ``2024_01_05``).

    Only a name with exactly one such date declares one (``..._2018-01-02_2021-04-21`` is a
    range, not a day).
    """
    found = re.findall(r"(?<!\d)(\d{4})[-_]?(\d{2})[-_]?(\d{2})(?!\d)", path.name)
    if len(found) != 1:
        return None
    y, m, d = found[0]
    try:
        return pd.Timestamp(int(y), int(m), int(d))
    except ValueError:
        return None


def list_files(path: Path, patterns: tuple[str, ...]) -> list[Path]:
    """A file -> [file]; a folder -> its files matching ``patterns`` (recursive, sorted)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise LoadError(f"{path}: no such file or folder")
    found = {p for pat in patterns for p in path.rglob(pat) if p.is_file()}
    return sorted(found)
