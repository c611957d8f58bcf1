"""Mapping-driven loader for option-chain files (CSV, CSV.gz, Parquet, Yahoo JSON).

A ``ChainMapping`` says which source column feeds which canonical column of
``raw.option_quotes`` and how to convert units. Ready mappings:

* ``generic-optionmetrics``: IvyDB ``opprcd`` exports (``secid, date, symbol, exdate, cp_flag,
  strike_price`` (x1000), ``best_bid, best_offer, volume, open_interest, impl_volatility,
  delta, gamma, vega, theta``). IV and greeks use -99.99 for "missing". The OptionMetrics
  ``symbol`` ("AAPL 240119C190000") is not OSI: only its root is used; the OSI symbol is built
  from exdate/cp_flag/strike.
* ``generic-polygon``: Polygon flat files (quotes: ``ticker, bid_price, ask_price, bid_size,
  ask_size, sip_timestamp``; day aggregates: ``ticker, open, high, low, close, volume,
  window_start``), tickers ``O:AAPL240119C00190000``, timestamps in ns since the epoch.
* ``generic-yahoo``: Yahoo/yfinance chains (``contractSymbol, strike, lastPrice, bid, ask,
  volume, openInterest, impliedVolatility`` ...), CSV or the Yahoo v7 ``optionChain`` JSON.
  A CSV has no snapshot time: give a ``quote_ts`` column or put the date in the file name
  (quote_ts = that date's XNYS close).

A file name holding exactly one date (``chain_2024-01-02.csv``, ``..._20160601.csv``) declares
the trading day of the file (``Batch.file_day``): rows stamped on another New York day are
quarantined by the engine (``ts_outside_file_day``).
* ``generic-canonical``: columns named exactly like ``raw.option_quotes`` (quote_ts ISO 8601,
  naive = UTC; expiration ISO date). Values are taken as they are (no expiry normalisation).

Units of the output: prices in currency units, vol as a decimal (0.25), strike in currency
units, timestamps tz-aware UTC (microseconds), dates as ``datetime64`` at midnight.
End-of-day snapshots (a date without a time) are stamped at the XNYS close of that date:
16:00 New York, 13:00 on half days (a fixed 16:00 would fall outside the session on half
days such as 2015-12-24).

The helpers every source module uses live in ``warehouse.loaders.parsing``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warehouse.loaders.base import Batch, LoadError, register_source
from warehouse.loaders.fileio import read_bytes
from warehouse.loaders.occ import (
    normalize_occ,
)
from warehouse.loaders.parsing import (
    DATE_FORMATS,
    NY,
    Flags,
    assemble_contracts,
    canonical_frame,
    eod_stamp,
    file_date,
    header_map,
    list_files,
    local_to_utc,
    map_rights,
    null_iv_sentinel,
    number,
    parse_dates,
    read_text_csv,
)
from warehouse.loaders.tables import OPTION_QUOTES

# --------------------------------------------------------------------------------------------
# mappings
# --------------------------------------------------------------------------------------------

CANONICAL_TARGETS = set(OPTION_QUOTES.column_names) | {"quote_date", "root", "root_symbol"}


@dataclass(frozen=True)
class ChainMapping:
    """How one vendor's chain columns become ``raw.option_quotes`` columns.

    ``columns``: source column (case-insensitive) -> canonical target; several source names
    may feed one target (the first present wins). Extra targets: ``quote_date`` (a date,
    stamped ``eod_time`` in ``tz``), ``root`` (option root), ``root_symbol`` (a vendor symbol
    whose root is the text before the first space, e.g. OptionMetrics). ``scale``: target ->
    multiplier (0.001 for strike x 1000, 0.01 for percent vol). ``missing``: target -> sentinel
    values meaning NULL. ``iv_sentinels``: vendor IV values meaning "not computed" (see
    ``null_iv_sentinel``). ``ts_unit``: numeric ``quote_ts`` as epoch in this unit.
    ``naive_tz``: zone of text timestamps without offset. ``eod_time``: stamp of a date-only
    snapshot, ``"close"`` (XNYS close: 16:00, 13:00 on half days), ``"close-15"`` or ``"HH:MM"``.
    """

    name: str
    description: str
    columns: dict[str, str]
    required: tuple[str, ...]
    scale: dict[str, float] = field(default_factory=dict)
    missing: dict[str, tuple[float, ...]] = field(default_factory=dict)
    ts_unit: str | None = None
    naive_tz: str = NY
    tz: str = NY
    eod_time: str = "close"
    iv_sentinels: tuple[float, ...] = ()
    date_formats: tuple[str, ...] = DATE_FORMATS
    quote_date_from_filename: bool = False
    friday_expiry: bool = True

    def __post_init__(self) -> None:
        bad = set(self.columns.values()) - CANONICAL_TARGETS
        if bad:
            raise ValueError(f"mapping {self.name}: unknown target column(s) {sorted(bad)}")


OPTIONMETRICS = ChainMapping(
    name="generic-optionmetrics",
    description="OptionMetrics IvyDB option prices (opprcd): EOD best bid/offer, IV, greeks",
    columns={
        "date": "quote_date",
        "symbol": "root_symbol",
        "exdate": "expiration",
        "cp_flag": "option_right",
        "strike_price": "strike",
        "best_bid": "bid",
        "best_offer": "ask",
        "volume": "volume",
        "open_interest": "open_interest",
        "impl_volatility": "vendor_iv",
        "delta": "vendor_delta",
        "gamma": "vendor_gamma",
        "vega": "vendor_vega",
        "theta": "vendor_theta",
        "ticker": "underlying",
    },
    required=("quote_date", "root_symbol", "expiration", "option_right", "strike"),
    scale={"strike": 0.001},
    missing={
        k: (-99.99, -99.0)
        for k in ("vendor_iv", "vendor_delta", "vendor_gamma", "vendor_vega", "vendor_theta")
    },
)

POLYGON = ChainMapping(
    name="generic-polygon",
    description="Polygon options flat files (quotes or day aggregates), O: tickers, ns epochs",
    columns={
        "ticker": "contract_symbol",
        "bid_price": "bid",
        "ask_price": "ask",
        "bid_size": "bid_size",
        "ask_size": "ask_size",
        "sip_timestamp": "quote_ts",
        "participant_timestamp": "quote_ts",
        "window_start": "quote_ts",
        "close": "last",
        "volume": "volume",
        "underlying_ticker": "underlying",
        "open_interest": "open_interest",
        "implied_volatility": "vendor_iv",
        "delta": "vendor_delta",
        "gamma": "vendor_gamma",
        "vega": "vendor_vega",
        "theta": "vendor_theta",
    },
    required=("contract_symbol", "quote_ts"),
    ts_unit="ns",
)

YAHOO = ChainMapping(
    name="generic-yahoo",
    description="Yahoo/yfinance option chains (CSV with contractSymbol..., or v7 optionChain JSON)",
    columns={
        "contractSymbol": "contract_symbol",
        "strike": "strike",
        "lastPrice": "last",
        "bid": "bid",
        "ask": "ask",
        "volume": "volume",
        "openInterest": "open_interest",
        "impliedVolatility": "vendor_iv",
        "quote_ts": "quote_ts",
        "quoteTime": "quote_ts",
        "underlyingSymbol": "underlying",
        "underlyingPrice": "underlying_last",
        "expiration_date": "expiration",
    },
    required=("contract_symbol", "quote_ts"),
    quote_date_from_filename=True,
)

CANONICAL = ChainMapping(
    name="generic-canonical",
    description="Option chain CSV/Parquet whose columns are exactly raw.option_quotes' names",
    columns={c: c for c in OPTION_QUOTES.column_names},
    required=OPTION_QUOTES.required,
    naive_tz="UTC",
    date_formats=("%Y-%m-%d",),
    friday_expiry=False,
)

MAPPINGS: dict[str, ChainMapping] = {m.name: m for m in (OPTIONMETRICS, POLYGON, YAHOO, CANONICAL)}


# --------------------------------------------------------------------------------------------
# the source
# --------------------------------------------------------------------------------------------


def _yahoo_json(path: Path) -> tuple[pd.DataFrame, Callable[[np.ndarray], list[str]]]:
    """Rows of a Yahoo v7 ``optionChain`` JSON (calls then puts of each expiry)."""
    try:
        doc = json.loads(read_bytes(path))
        results = doc["optionChain"]["result"]
    except (ValueError, KeyError, TypeError) as exc:
        raise LoadError(f"{path}: not a Yahoo optionChain JSON ({exc})") from exc
    records: list[dict] = []
    rows: list[dict] = []
    for res in results:
        quote = res.get("quote", {}) or {}
        qts = quote.get("regularMarketTime")
        for chain in res.get("options", []):
            for side in ("calls", "puts"):
                for rec in chain.get(side, []):
                    records.append(rec)
                    row = {k: (None if v is None else str(v)) for k, v in rec.items()}
                    row["quoteTime"] = (
                        None
                        if qts is None
                        else pd.Timestamp(int(qts), unit="s", tz="UTC").isoformat()
                    )
                    row["underlyingSymbol"] = res.get("underlyingSymbol")
                    price = quote.get("regularMarketPrice")
                    row["underlyingPrice"] = None if price is None else str(price)
                    exp = rec.get("expiration")
                    row["expiration_date"] = (
                        None
                        if exp is None
                        else pd.Timestamp(int(exp), unit="s", tz="UTC").strftime("%Y-%m-%d")
                    )
                    rows.append(row)
    if not rows:
        raise LoadError(f"{path}: Yahoo optionChain JSON holds no contracts")
    frame = pd.DataFrame(rows)
    frame["_line"] = np.arange(1, len(rows) + 1, dtype=np.int64)

    def lookup(lines: np.ndarray) -> list[str]:
        return [json.dumps(records[int(i) - 1], sort_keys=True) for i in lines]

    return frame, lookup


def read_table(path: Path) -> tuple[pd.DataFrame, list, Callable | None]:
    """(frame with ``_line``, rejects, raw lookup) of a CSV/CSV.gz/TSV, Parquet or Yahoo JSON.

    CSV values are strings (None when empty); Parquet keeps its types and numbers rows from 0
    (``_line`` = row offset); JSON rows are numbered from 1.
    """
    name = path.name.lower()
    if name.endswith(".parquet"):
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise LoadError(f"{path}: unreadable Parquet ({exc})") from exc
        if table.num_rows == 0:
            raise LoadError(f"{path}: file is empty")
        frame = table.to_pandas()
        frame["_line"] = np.arange(len(frame), dtype=np.int64)
        return frame, [], None
    if name.endswith(".json"):
        frame, lookup = _yahoo_json(path)
        return frame, [], lookup
    delim = "\t" if name.endswith((".txt", ".tsv", ".tsv.gz", ".txt.gz")) else ","
    res = read_text_csv(path, delimiter=delim)
    lookup = res.index.lookup if res.index is not None else None
    return res.frame, res.rejects, lookup


def mapping_fits(mapping: ChainMapping, src: pd.DataFrame, path: Path) -> list[str]:
    """Canonical targets the mapping requires but ``src``'s header cannot supply."""
    hm = header_map(src)
    chosen = {t for c, t in mapping.columns.items() if c.lower() in hm}
    need = set(mapping.required)
    if (
        "quote_ts" in need
        and "quote_ts" not in chosen
        and (
            "quote_date" in chosen
            or (mapping.quote_date_from_filename and file_date(path) is not None)
        )
    ):
        need.discard("quote_ts")
    return sorted(t for t in need if t not in chosen)


def apply_mapping(
    mapping: ChainMapping, src: pd.DataFrame, path: Path
) -> tuple[pd.DataFrame, Flags]:
    """Canonical ``raw.option_quotes`` frame (with ``_line``) and parse flags for ``src``.

    Raises ``LoadError`` when the header cannot supply the mapping's required columns.
    """
    m = mapping
    missing = mapping_fits(m, src, path)
    if missing:
        want = [c for c, t in m.columns.items() if t in missing]
        raise LoadError(
            f"{path}: header does not fit mapping {m.name}: no column for "
            f"{', '.join(missing)} (expected one of {', '.join(want)})"
        )
    hm = header_map(src)
    chosen: dict[str, str] = {}
    for col, target in m.columns.items():
        if col.lower() in hm and target not in chosen:
            chosen[target] = hm[col.lower()]
    n = len(src)
    flags = Flags(n)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    text_targets = {"underlying", "contract_symbol", "root"}
    for target, col in chosen.items():
        values = src[col].reset_index(drop=True)
        if target == "quote_ts":
            out[target] = _timestamps(m, values, flags)
        elif target in ("quote_date", "expiration"):
            out[target] = parse_dates(values, flags, m.date_formats)
        elif target == "option_right":
            out[target] = map_rights(values, flags)
        elif target == "root_symbol":
            txt = pd.Series(values.astype(object).where(values.notna(), None), dtype=object)
            out["root"] = txt.str.strip().str.split(" ").str[0]
        elif target in text_targets:
            txt = pd.Series(values.astype(object).where(values.notna(), None), dtype=object)
            out[target] = txt.str.strip()
        else:
            vals = number(values, flags, m.scale.get(target, 1.0))
            for sentinel in m.missing.get(target, ()):
                vals = np.where(np.isclose(vals, sentinel), np.nan, vals)
            out[target] = vals
    if "quote_ts" not in out.columns:
        if "quote_date" in out.columns:
            out["quote_ts"] = eod_stamp(out["quote_date"], m.eod_time, m.tz, flags)
        else:
            day = file_date(path)
            out["quote_ts"] = eod_stamp(pd.Series([day] * n), m.eod_time, m.tz, flags)
    null_iv_sentinel(out, m.iv_sentinels)
    out = out.drop(columns=["quote_date"], errors="ignore")
    if "underlying" in out.columns and m.name != CANONICAL.name:
        # Cboe writes index underlyings with a caret (^VIX, ^SPX)
        out["underlying"] = pd.Series(out["underlying"], dtype=object).str.lstrip("^")
    if m.name == CANONICAL.name:
        # canonical files: values as written, the symbol only normalised to the padded form
        out["contract_symbol"] = normalize_occ(out["contract_symbol"])
    else:
        out = assemble_contracts(out, friday=m.friday_expiry)
    out["_line"] = src["_line"].to_numpy()
    return canonical_frame(out), flags


def _timestamps(m: ChainMapping, values: pd.Series, flags: Flags) -> pd.Series:
    """quote_ts from datetimes, epoch numbers (``m.ts_unit``) or ISO 8601 text."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if values.dt.tz is None:
            return local_to_utc(values, flags, m.naive_tz)
        return values.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if m.ts_unit is not None:
        ints, ok = _epoch_ints(values, flags)
        ts = pd.to_datetime(np.where(ok, ints, 0), unit=m.ts_unit, utc=True)
        return pd.Series(ts).where(ok).astype("datetime64[us, UTC]")
    text = pd.Series(values.astype(object).where(values.notna(), None), dtype=object)
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    parsed = parsed.astype("datetime64[us, UTC]")
    # text without an offset is wall-clock time in naive_tz (to_datetime read it as UTC)
    has_offset = text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True, na=False).to_numpy()
    if m.naive_tz != "UTC" and (~has_offset).any():
        local = local_to_utc(parsed.dt.tz_localize(None), None, m.naive_tz)
        parsed = parsed.where(has_offset, local)
    flags.add("malformed_timestamp", (text.notna() & parsed.isna()).to_numpy())
    return parsed


def _epoch_ints(values: pd.Series, flags: Flags) -> tuple[np.ndarray, np.ndarray]:
    """Epoch numbers as exact int64 (ns epochs do not fit a float64), plus a validity mask;
    unparseable values are flagged ``malformed_timestamp``."""
    if pd.api.types.is_integer_dtype(values.dtype):
        ok = values.notna().to_numpy()
        return values.fillna(0).to_numpy(dtype=np.int64), ok
    txt = pd.Series(values.astype(object).where(values.notna(), None), dtype=object)
    arr = pa.array(txt, type=pa.string(), from_pandas=True)
    try:
        ints = pc.cast(arr, pa.int64())
        ok = pc.is_valid(ints).to_numpy(zero_copy_only=False)
        return pc.fill_null(ints, 0).to_numpy(), ok
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    tmp = Flags(len(txt))
    nums = number(txt, tmp)  # decimals or exponents: float precision is all there is
    ok = np.isfinite(nums)
    flags.add("malformed_timestamp", txt.notna().to_numpy() & ~ok)
    return np.where(ok, nums, 0).astype(np.int64), ok


@dataclass
class GenericChainSource:
    """A ``Source`` for option chains: the first of ``mappings`` that fits a file's header."""

    name: str
    description: str
    mappings: tuple[ChainMapping, ...]
    patterns: tuple[str, ...] = ("*.csv", "*.csv.gz", "*.parquet", "*.json", "*.txt", "*.tsv")

    def files(self, path: Path) -> list[Path]:
        return list_files(path, self.patterns)

    def pick(self, src: pd.DataFrame, path: Path) -> ChainMapping:
        for m in self.mappings:
            if not mapping_fits(m, src, path):
                return m
        if len(self.mappings) == 1:
            apply_mapping(self.mappings[0], src, path)  # raises, naming the missing columns
        cols = ", ".join(c for c in src.columns if c != "_line")
        raise LoadError(
            f"{path}: header fits none of {', '.join(m.name for m in self.mappings)}"
            f" (columns: {cols})"
        )

    def parse(self, path: Path) -> Iterator[Batch]:
        src, rejects, lookup = read_table(path)
        frame, flags = apply_mapping(self.pick(src, path), src, path)
        day = file_date(path)
        yield Batch(
            table=OPTION_QUOTES.name,
            frame=frame,
            rejects=rejects,
            bad=flags.frame(),
            file_day=None if day is None else day.date(),
            raw_lookup=lookup,
        )


for _mapping in MAPPINGS.values():
    register_source(GenericChainSource(_mapping.name, _mapping.description, (_mapping,)))
