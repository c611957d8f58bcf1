"""What a parser hands the engine: canonical batches plus the records it could not parse."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

# Reason codes, in the order they are checked (the first failing one is the row's `reason`).
REASONS: tuple[str, ...] = (
    "truncated_line",  # last line of a file cut short
    "wrong_column_count",  # a line with more or fewer fields than the header (blank lines too)
    "malformed_number",  # a numeric field that does not parse
    "malformed_timestamp",  # a date/time field that does not parse
    "missing_required",  # a NOT NULL field is empty
    "nonpositive_strike",  # strike <= 0
    "bad_occ_symbol",  # option symbol that is not valid OCC/OSI
    "occ_field_mismatch",  # OCC symbol disagrees with the row's expiry/strike/right
    "unknown_underlying",  # underlying/symbol not in ref.instruments
    "negative_price",  # bid, ask, last or trade price < 0
    "crossed_quote",  # ask < bid
    "zero_ask",  # ask == 0 (no offer: not a market)
    "iv_out_of_range",  # vendor IV outside (0, 5)
    "delta_out_of_range",  # |vendor delta| > 1
    "negative_gamma",  # vendor gamma < 0
    "negative_oi_volume",  # open interest or volume < 0
    "negative_size",  # trade/quote size < 0 or trade size == 0
    "expiry_before_quote",  # expiration date earlier than the quote's date
    "ts_outside_file_day",  # timestamp not on the trading day the file is for
    "ts_outside_session",  # timestamp outside the exchange session
    "bad_value",  # a categorical field with a value outside its domain
    "duplicate_key_in_file",  # second and later rows with the same natural key in one file
)


@dataclass
class Reject:
    """A record the parser could not turn into a row."""

    line_no: int | None
    reason: str
    raw_record: str


@dataclass
class Batch:
    """Rows for one target table from one file.

    ``frame`` holds canonical columns (see ``tables.py``) and ``_line``: the 1-based line of
    the record in its file (header = line 1), or the row offset for binary formats.
    ``bad`` holds per-row reason codes found while parsing (e.g. malformed numbers), as a
    frame of boolean columns named by reason, aligned with ``frame``.
    """

    table: str
    frame: pd.DataFrame
    rejects: list[Reject] = field(default_factory=list)
    bad: pd.DataFrame | None = None
    file_day: date | None = None
    raw_lookup: Callable[[np.ndarray], list[str]] | None = None

    def raw_records(self, rows: np.ndarray) -> list[str]:
        """The raw text of the given row positions (original line where the parser kept it)."""
        if self.raw_lookup is not None:
            return self.raw_lookup(self.frame["_line"].to_numpy()[rows])
        sub = self.frame.iloc[rows].drop(columns=["_line"], errors="ignore")
        return [json.dumps(r, default=str) for r in sub.to_dict(orient="records")]


class LoadError(RuntimeError):
    """A file could not be loaded; the message names the file and the cause."""


class Source(Protocol):
    """A loader for one file format.

    Optional methods: ``files(path) -> list[Path]`` expands a folder into the files to load,
    in order; ``identity(path) -> str`` names what a file means beyond its bytes when the
    format keeps data in the path (the manifest keys on content hash + identity).
    """

    name: str
    description: str

    def parse(self, path: Path) -> Iterator[Batch]: ...


SOURCES: dict[str, Source] = {}


def register_source(source: Source) -> Source:
    SOURCES[source.name] = source
    return source
