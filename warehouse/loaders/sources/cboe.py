"""Cboe delayed-quote SPX option table and Federal Reserve H.15 rates (pyql examples).

``SPX-Options-24jan2011.csv`` is the canonical quote file: the raw Cboe "delayed quotes"
download. ``df_SPX_24jan2011.csv`` is a pyql re-shaping of the same snapshot whose
``dtExpiry`` is computed by pyql (e.g. 2011-01-19 for the January standard, which expired
2011-01-21/22), and ``df_options_SPX_24jan2011.csv`` adds pyql-derived IVs: both are derived
data and are not loaded (``files()`` leaves them out, ``parse()`` refuses them).

Delayed-quote layout::

    SPX (S&P 500 INDEX),1290.59,+7.24,           <- underlying, spot, change
    Jan 24 2011 @ 14:03 ET,                      <- snapshot time (New York)
    Calls,Last Sale,Net,Bid,Ask,Vol,Open Int,Puts,Last Sale,Net,Bid,Ask,Vol,Open Int,
    11 Jan 1075.00 (SPXW1128A1075-E),0.0,0.0,215.30,217.00,0,0,11 Jan 1075.00 (SPXW1128M1075-E),...

Each line holds a call and a put -> two ``raw.option_quotes`` rows (same ``_line``). The
series id ``SPXW1128A1075-E`` is Cboe's pre-OSI form: root, yy, dd, month code (A-L = calls
Jan-Dec, M-X = puts Jan-Dec), strike, ``-E`` (exchange). Expiration = 20yy-month-dd (pre-2015
standard months carry the Saturday; normalised to the Friday like every source), strike from
the ``1075.00`` label, right from the column side. quote_ts = the snapshot time; underlying =
the first line's symbol; underlying_last = its spot.

``frb_h15.csv`` (H.15 download: 5 description lines, then ``Time Period`` + series ids) ->
``ref.rates`` with source ``frb_h15``. Tenors from the series ids: ``RIFLDIYnn`` = nn-year swap,
``RILSPDEPMnn`` = nn-month eurodollar deposit. tenor_days: months x 365/12 rounded (1M=30,
3M=91, 6M=183), years x 365. Conversion to continuously compounded ACT/365 decimals:

* deposits (simple interest, ACT/360): ``z = 365/d * ln(1 + r * d/360)``;
* swaps (par rates, semi-annual fixed leg): the par yield is taken as a semi-annually
  compounded zero yield, ``z = 2 * ln(1 + r/2)``. This ignores the coupon effect (the par and
  zero curves differ by a few bp at 2-5y, more at 30y on steep curves): a documented
  approximation, not a bootstrap.

Empty cells (series not yet published), ``ND`` (no data) and ``NC`` (not calculated), both
written by the Fed on holidays, are absences, not records: they produce no row (a line with no
value at all produces nothing). Any other non-numeric value is a ``malformed_number`` row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.loaders.base import Batch, LoadError, register_source
from warehouse.loaders.fileio import read_bytes, read_csv_strings
from warehouse.loaders.parsing import (
    Flags,
    assemble_contracts,
    canonical_frame,
    list_files,
    local_to_utc,
    number,
    parse_dates,
    read_text_csv,
)
from warehouse.loaders.tables import OPTION_QUOTES, RATES

RATE_SOURCE = "frb_h15"
NO_DATA = ("ND", "NC")  # H.15 markers: no data, not calculated
QUOTE_HEADER = [
    "Calls",
    "Last Sale",
    "Net",
    "Bid",
    "Ask",
    "Vol",
    "Open Int",
    "Puts",
    "Last Sale",
    "Net",
    "Bid",
    "Ask",
    "Vol",
    "Open Int",
]
_SIDE_COLS = ["desc", "last", "net", "bid", "ask", "volume", "open_interest"]
_COLUMNS = [f"c_{c}" for c in _SIDE_COLS] + [f"p_{c}" for c in _SIDE_COLS] + ["trailing"]
_SERIES = (
    r"^(?P<year>\d{2}) (?P<mon>[A-Za-z]{3}) (?P<label_strike>[0-9.]+) "
    r"\((?P<root>[A-Z]+)(?P<yy>\d{2})(?P<dd>\d{2})(?P<code>[A-X])(?P<strike>[0-9.]+)"
    r"-(?P<exch>[A-Z0-9]+)\)$"
)
# month codes: A-L calls Jan-Dec, M-X puts Jan-Dec
_MONTH_OF_CODE = {chr(ord("A") + i): f"{i % 12 + 1:02d}" for i in range(24)}


def _parse_underlying(path: Path, line: str) -> tuple[str, float]:
    m = re.match(r"^\s*([A-Z0-9.^$]+)\s*\([^)]*\)\s*,\s*([0-9.]+)", line)
    if not m:
        raise LoadError(f"{path}: first line is not '<SYMBOL> (<name>),<spot>,...': {line!r}")
    return m.group(1).lstrip("^$"), float(m.group(2))


def _parse_snapshot(path: Path, line: str) -> pd.Timestamp:
    m = re.match(r"^\s*([A-Za-z]{3} \d{1,2} \d{4}) @ (\d{1,2}:\d{2}) ET", line)
    if not m:
        raise LoadError(f"{path}: second line is not a 'Mon dd yyyy @ HH:MM ET' time: {line!r}")
    return pd.to_datetime(f"{m.group(1)} {m.group(2)}", format="%b %d %Y %H:%M")


class CboeSource:
    """``cboe``: the SPX delayed-quote table -> option quotes; H.15 -> ref.rates."""

    name = "cboe"
    description = (
        "Cboe delayed-quote option table (calls|puts side by side) and Federal "
        "Reserve H.15 rate download (frb_h15.csv)"
    )

    def files(self, path: Path) -> list[Path]:
        found = list_files(path, ("*.csv", "*.csv.gz"))
        if path.is_file():
            return found
        return [p for p in found if not p.name.startswith("df_")]

    def parse(self, path: Path) -> Iterator[Batch]:
        if path.name.startswith("df_"):
            raise LoadError(
                f"{path}: pyql-derived file (computed expiries/IVs); load the raw "
                "Cboe table SPX-Options-*.csv instead"
            )
        head = read_bytes(path)[:4096].decode("utf-8", "replace")
        if head.lstrip('"').startswith("Series Description"):
            yield self._h15(path)
        else:
            yield self._quotes(path)

    # -- delayed quotes -----------------------------------------------------------------------
    def _quotes(self, path: Path) -> Batch:
        data = read_bytes(path)
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        lines = data.split(b"\n", 3)
        if len(lines) < 4:
            raise LoadError(f"{path}: not a Cboe delayed-quote table (fewer than 4 lines)")
        text = [b.decode("utf-8", "replace").rstrip("\r") for b in lines[:3]]
        underlying, spot = _parse_underlying(path, text[0])
        snap = _parse_snapshot(path, text[1])
        header = [h.strip() for h in text[2].split(",")]
        if header[:14] != QUOTE_HEADER:
            raise LoadError(f"{path}: unexpected quote header {text[2]!r}")
        res = read_csv_strings(data, str(path), column_names=_COLUMNS, skip_rows=3)
        f = res.frame
        n = len(f)
        quote_ts = local_to_utc(pd.Series([snap]), None, "America/New_York").iloc[0]
        sides = []
        for side, right in (("c", "C"), ("p", "P")):
            flags = Flags(n)
            parts = f[f"{side}_desc"].astype(object).str.extract(_SERIES)
            iso = "20" + parts["yy"] + "-" + parts["code"].map(_MONTH_OF_CODE) + "-" + parts["dd"]
            exp = parse_dates(iso.where(parts["yy"].notna()), flags, ("%Y-%m-%d",))
            flags.add("bad_value", (f[f"{side}_desc"].notna() & parts["yy"].isna()).to_numpy())
            out = pd.DataFrame(
                {
                    "quote_ts": quote_ts,
                    "underlying": underlying,
                    "root": parts["root"],
                    "expiration": exp,
                    "strike": number(parts["label_strike"], flags),
                    "option_right": right,
                    "last": number(f[f"{side}_last"], flags),
                    "bid": number(f[f"{side}_bid"], flags),
                    "ask": number(f[f"{side}_ask"], flags),
                    "volume": number(f[f"{side}_volume"], flags),
                    "open_interest": number(f[f"{side}_open_interest"], flags),
                    "underlying_last": spot,
                    "_line": f["_line"].to_numpy(),
                }
            )
            number(f[f"{side}_net"], flags)
            sides.append((assemble_contracts(out), flags))
        frame = pd.concat([s for s, _ in sides], ignore_index=True)
        flags = Flags(len(frame))
        for i, (_, fl) in enumerate(sides):
            for reason, mask in fl.masks.items():
                full = np.zeros(len(frame), dtype=bool)
                full[i * n : (i + 1) * n] = mask
                flags.add(reason, full)
        return Batch(
            OPTION_QUOTES.name,
            canonical_frame(frame),
            res.rejects,
            flags.frame(),
            None,
            res.index.lookup if res.index is not None else None,
        )

    # -- H.15 ---------------------------------------------------------------------------------
    def _h15(self, path: Path) -> Batch:
        res = read_text_csv(path, skip_rows=5)
        f = res.frame
        cols = [c for c in f.columns if c != "_line"]
        if not cols or cols[0].strip() != "Time Period":
            raise LoadError(f"{path}: H.15 header line 6 should start with 'Time Period'")
        tenors: dict[str, int] = {}
        for c in cols[1:]:
            m_swap = re.match(r"^RIFLDIY(\d{2})_", c.strip())
            m_dep = re.match(r"^RILSPDEPM(\d{2})_", c.strip())
            if m_swap:
                tenors[c] = int(m_swap.group(1)) * 365
            elif m_dep:
                tenors[c] = int(np.floor(int(m_dep.group(1)) * 365 / 12 + 0.5))
            else:
                raise LoadError(
                    f"{path}: unknown H.15 series {c!r} (expected RIFLDIYnn_* swap "
                    "or RILSPDEPMnn_* eurodollar deposit)"
                )
        dflags = Flags(len(f))
        as_of = parse_dates(f[cols[0]], dflags, ("%Y-%m-%d",))
        frames = []
        for c, days in tenors.items():
            raw = f[c].astype(object)
            present = raw.notna() & ~raw.str.upper().isin(list(NO_DATA))
            sub = np.flatnonzero(present.to_numpy())
            flags = dflags.take(sub)
            pct = number(raw.iloc[sub].reset_index(drop=True), flags) / 100.0
            if c.startswith("RILSPDEPM"):
                z = 365.0 / days * np.log1p(pct * days / 360.0)
            else:
                z = 2.0 * np.log1p(pct / 2.0)
            frames.append(
                (
                    pd.DataFrame(
                        {
                            "as_of": as_of.iloc[sub].to_numpy(),
                            "tenor_days": float(days),
                            "zero_rate": z,
                            "source": RATE_SOURCE,
                            "_line": f["_line"].to_numpy()[sub],
                        }
                    ),
                    flags,
                )
            )
        frame = pd.concat([x for x, _ in frames], ignore_index=True)
        order = np.lexsort((frame["tenor_days"].to_numpy(), frame["_line"].to_numpy()))
        flags = Flags(len(frame))
        start = 0
        for x, fl in frames:
            for reason, mask in fl.masks.items():
                full = np.zeros(len(frame), dtype=bool)
                full[start : start + len(x)] = mask
                flags.add(reason, full)
            start += len(x)
        frame = frame.iloc[order].reset_index(drop=True)
        flags = flags.take(order)
        return Batch(
            RATES.name,
            canonical_frame(frame, RATES.name),
            res.rejects,
            flags.frame(),
            None,
            res.index.lookup if res.index is not None else None,
        )


register_source(CboeSource())
