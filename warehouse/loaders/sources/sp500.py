"""S&P 500 daily bars 2018-01-02..2021-04-21 (Pooksoft, AlphaVantage "daily adjusted") and
the constituents list.

``sp500_daily_adjusted_*.parquet`` (ticker, timestamp (date), open, high, low, close,
adjusted_close, volume, dividend_amount, split_coefficient) ->

* ``raw.equity_bars``: bar_seconds 86400, ts = the session start, 09:30 America/New_York of
  the date, as UTC (the bar's start, like every bar in the warehouse); open/high/low/close
  raw (unadjusted) in USD, ``adj_close`` = AlphaVantage's split+dividend adjusted close,
  volume in shares. ``_line`` = row offset in the Parquet file (0-based).
* ``ref.dividends``: the rows with ``dividend_amount > 0`` (AlphaVantage reports the cash
  dividend on the ex-date): symbol, ex_date, amount (USD/share), source ``sp500_daily``.
  split_coefficient has no target table (splits are reflected in adj_close).

``constituents.csv`` (Symbol, Name, Sector) -> ``ref.instruments`` (asset_class equity,
currency USD, option multiplier 100, American exercise), source ``sp500_constituents``.
A folder loads the constituents first, so the bars find their symbols in ref.instruments.
Two sources are registered: ``sp500`` (both files) and ``sp500_constituents`` (the list only).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.loaders.base import Batch, LoadError, register_source
from warehouse.loaders.parsing import (
    Flags,
    at_local_time,
    canonical_frame,
    list_files,
    number,
    parse_dates,
    read_text_csv,
    require_columns,
)
from warehouse.loaders.tables import DIVIDENDS, EQUITY_BARS, INSTRUMENTS

BARS_SOURCE = "sp500_daily"
CONSTITUENTS_SOURCE = "sp500_constituents"
PARQUET_COLUMNS = [
    "ticker",
    "timestamp",
    "open",
    "high",
    "low",
    "close",
    "adjusted_close",
    "volume",
    "dividend_amount",
    "split_coefficient",
]


def parse_constituents(path: Path) -> Batch:
    """constituents.csv -> ref.instruments rows."""
    res = read_text_csv(path)
    cols = require_columns(path, res.frame, ["Symbol", "Name", "Sector"])
    f = res.frame
    out = pd.DataFrame(
        {
            "symbol": f[cols["Symbol"]].astype(object),
            "name": f[cols["Name"]].astype(object),
            "asset_class": "equity",
            "currency": "USD",
            "sector": f[cols["Sector"]].astype(object),
            "option_multiplier": 100.0,
            "option_exercise_style": "A",
            "source": CONSTITUENTS_SOURCE,
            "_line": f["_line"].to_numpy(),
        }
    )
    return Batch(
        INSTRUMENTS.name,
        canonical_frame(out, INSTRUMENTS.name),
        res.rejects,
        None,
        None,
        res.index.lookup if res.index is not None else None,
    )


def parse_daily(path: Path) -> Iterator[Batch]:
    """The daily Parquet -> raw.equity_bars (+ ref.dividends)."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LoadError(f"{path}: unreadable Parquet ({exc})") from exc
    missing = [c for c in PARQUET_COLUMNS if c not in table.column_names]
    if missing:
        raise LoadError(f"{path}: Parquet lacks column(s) {', '.join(missing)}")
    if table.num_rows == 0:
        raise LoadError(f"{path}: file is empty")
    f = table.select(PARQUET_COLUMNS).to_pandas()
    n = len(f)
    flags = Flags(n)
    day = parse_dates(f["timestamp"], flags)
    line = np.arange(n, dtype=np.int64)
    symbol = f["ticker"].astype(object).where(f["ticker"].notna(), None)
    bars = pd.DataFrame(
        {
            "ts": at_local_time(day, "09:30", "America/New_York", flags),
            "symbol": symbol,
            "bar_seconds": 86400.0,
            **{c: number(f[c], flags) for c in ("open", "high", "low", "close")},
            "volume": number(f["volume"], flags),
            "adj_close": number(f["adjusted_close"], flags),
            "_line": line,
        }
    )
    yield Batch(EQUITY_BARS.name, canonical_frame(bars, EQUITY_BARS.name), [], flags.frame())
    amount = number(f["dividend_amount"])
    has_div = np.flatnonzero(~np.isnan(amount) & (amount != 0))
    if len(has_div):
        div = pd.DataFrame(
            {
                "symbol": symbol.iloc[has_div].to_numpy(),
                "ex_date": day.iloc[has_div].to_numpy(),
                "amount": amount[has_div],
                "is_projected": False,
                "source": BARS_SOURCE,
                "_line": line[has_div],
            }
        )
        yield Batch(
            DIVIDENDS.name, canonical_frame(div, DIVIDENDS.name), [], flags.take(has_div).frame()
        )


class Sp500Source:
    """``sp500``: constituents.csv (-> ref.instruments) then the daily Parquet."""

    name = "sp500"
    description = (
        "S&P 500 constituents (ref.instruments) and daily adjusted bars "
        "2018-2021 (raw.equity_bars, ref.dividends)"
    )

    def files(self, path: Path) -> list[Path]:
        found = list_files(path, ("*.parquet", "constituents*.csv"))
        return sorted(found, key=lambda p: (p.suffix != ".csv", p.as_posix()))

    def parse(self, path: Path) -> Iterator[Batch]:
        if path.name.lower().endswith(".parquet"):
            yield from parse_daily(path)
        else:
            yield parse_constituents(path)


class Sp500ConstituentsSource:
    """``sp500_constituents``: the constituents list alone."""

    name = CONSTITUENTS_SOURCE
    description = "S&P 500 constituents list (Symbol, Name, Sector) -> ref.instruments"

    def files(self, path: Path) -> list[Path]:
        return list_files(path, ("constituents*.csv",))

    def parse(self, path: Path) -> Iterator[Batch]:
        yield parse_constituents(path)


register_source(Sp500Source())
register_source(Sp500ConstituentsSource())
