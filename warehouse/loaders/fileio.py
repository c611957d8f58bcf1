"""Reading source files: decompression, CSV parsing with per-line rejects, number parsing.

Every function here either returns data with the bad records identified, or raises
``LoadError`` naming the file: a truncated archive or an empty file is never a silent skip.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from warehouse.loaders.base import LoadError, Reject


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_bytes(path: Path, member: str | None = None) -> bytes:
    """Whole (decompressed) content of ``path``; ``.gz`` and ``.zip`` are opened transparently.

    For a zip, ``member`` names the entry (default: the only entry). Truncated or corrupt
    archives raise ``LoadError``.
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        elif path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                if member is None:
                    if len(names) != 1:
                        raise LoadError(f"{path}: zip holds {len(names)} entries, expected one")
                    member = names[0]
                data = zf.read(member)
        else:
            data = path.read_bytes()
    except (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, OSError) as exc:
        raise LoadError(
            f"{path}: unreadable or truncated archive ({type(exc).__name__}: {exc})"
        ) from exc
    return data


def zip_members(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise LoadError(f"{path}: unreadable or truncated zip ({exc})") from exc


class LineIndex:
    """Byte offsets of the lines of a text buffer, to return raw records by line number."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
        self.starts = np.concatenate(([0], nl + 1))
        self.ends = np.concatenate((nl, [len(data)]))
        # a final newline does not open another line
        if len(data) and data.endswith(b"\n"):
            self.starts, self.ends = self.starts[:-1], self.ends[:-1]

    @property
    def n_lines(self) -> int:
        return len(self.starts)

    @property
    def ends_with_newline(self) -> bool:
        return self.data.endswith(b"\n")

    def line(self, line_no: int) -> str:
        i = line_no - 1
        return self.data[self.starts[i] : self.ends[i]].decode("utf-8", "replace").rstrip("\r")

    def lookup(self, line_nos: np.ndarray) -> list[str]:
        return [self.line(int(n)) for n in line_nos]


@dataclass
class CsvResult:
    frame: pd.DataFrame  # every column as str (None for empty), plus _line
    rejects: list[Reject] = field(default_factory=list)
    index: LineIndex | None = None


def read_csv_strings(
    data: bytes,
    name: str,
    *,
    column_names: list[str] | None = None,
    delimiter: str = ",",
    skip_rows: int = 0,
) -> CsvResult:
    """Parse CSV text into string columns, one row per line, rejecting malformed lines.

    ``column_names`` given means the file has no header row. Lines with the wrong number of
    fields become ``wrong_column_count`` rejects (``truncated_line`` for a last line without
    its newline); blank lines are rejects too. Values are stripped; empty fields are None.
    """
    if not data.strip():
        raise LoadError(f"{name}: file is empty")
    index = LineIndex(data)
    invalid: list[tuple[int, int, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    header_lines = skip_rows + (0 if column_names else 1)
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(
                use_threads=False,
                column_names=column_names,
                skip_rows=skip_rows,
                block_size=1 << 26,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                invalid_row_handler=on_invalid,
                ignore_empty_lines=False,
            ),
            convert_options=_string_convert_options(data, column_names, delimiter, skip_rows),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise LoadError(f"{name}: not parseable as CSV ({exc})") from exc
    if table.num_columns == 0:
        raise LoadError(f"{name}: no columns")

    rejects: list[Reject] = []
    bad_lines = set()
    for number, _expected, _actual in invalid:
        bad_lines.add(number)
        last = number == index.n_lines and not index.ends_with_newline
        rejects.append(
            Reject(number, "truncated_line" if last else "wrong_column_count", index.line(number))
        )
    all_lines = np.arange(header_lines + 1, index.n_lines + 1, dtype=np.int64)
    lines = np.setdiff1d(all_lines, np.fromiter(bad_lines, dtype=np.int64), assume_unique=True)
    if len(lines) != table.num_rows:
        # quoted fields spanning lines: fall back to record numbers
        lines = np.arange(header_lines + 1, header_lines + 1 + table.num_rows, dtype=np.int64)
        index = None
    cols = {c: _strip(table.column(c)) for c in table.column_names}
    frame = pd.DataFrame({c: a.to_numpy(zero_copy_only=False) for c, a in cols.items()})
    frame["_line"] = lines
    # blank lines come through as all-null rows: they are malformed lines, not records
    if index is not None and len(frame):
        empty = frame.drop(columns="_line").isna().all(axis=1).to_numpy()
        blank = np.zeros(len(frame), dtype=bool)
        for i in np.flatnonzero(empty):
            if not index.line(int(lines[i])).strip():
                blank[i] = True
                rejects.append(Reject(int(lines[i]), "wrong_column_count", ""))
        if blank.any():
            frame = frame[~blank].reset_index(drop=True)
    return CsvResult(frame, rejects, index)


def _string_convert_options(
    data: bytes, column_names, delimiter, skip_rows
) -> pacsv.ConvertOptions:
    """Convert options that read every column as a string (header sniffed for the names)."""
    if column_names is None:
        lines = data.split(b"\n", skip_rows + 1)
        header = lines[skip_rows].decode("utf-8", "replace").rstrip("\r")
        names = pd.read_csv(io.StringIO(header + "\n"), sep=delimiter, dtype=str).columns.to_list()
    else:
        names = column_names
    return pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        strings_can_be_null=True,
    )


def _strip(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def to_number(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse strings to float64. Returns (values with NaN for empty/bad, mask of malformed).

    Empty/None is a NULL, not malformed. The fast path is one Arrow cast; only when it fails
    does the slow element-wise path run to find the offending rows.
    """
    arr = pa.array(values, type=pa.string(), from_pandas=True)
    try:
        out = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        return out.astype(np.float64, copy=False), np.zeros(len(arr), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    ser = pd.Series(arr.to_pandas(), dtype=object)
    num = pd.to_numeric(ser, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ser.notna().to_numpy() & np.isnan(num)
    # literal "nan" spellings are a NULL the source wrote on purpose
    literal_nan = ser.str.lower().isin(["nan", "na", "null", "none"]).to_numpy()
    return num, bad & ~literal_nan
