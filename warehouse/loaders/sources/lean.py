"""QuantConnect/Lean data folder (``Data/`` layout of github.com/QuantConnect/Lean).

Lean files are headerless CSV inside zip archives. Conventions (Lean docs, checked on the
files):

* time: ms since midnight of the date in the file name (minute/tick files), ``yyyymmdd
  HH:MM`` in daily/hour files, wall clock of the *data* time zone: America/New_York for
  equities, equity options and index options, but America/Chicago for indices (Lean's
  market-hours database; the files agree: SPX minute bars start at 08:30 = the 09:30 New York
  open, 3764.61 on 2021-01-04, while SPX option bars start at 09:30).
* prices: equity, equity-option and index-option files store deci-cents (price x 10000);
  index files store points; universe CSVs store currency units.
* paths name the security: ``equity/usa/minute/spy/20131004_trade.zip``; option entries
  name the contract: ``20230803_spy_minute_quote_american_call_4300000_20230901.csv``
  (strike x 10000, expiry yyyymmdd).

What goes where (one ``lean`` source dispatching on the path):

=================================================  ===============================================
``equity|index/usa/daily/<t>.zip``                 raw.equity_bars, bar_seconds 86400, ts = 09:30
                                                   New York of the date (session open = bar start)
``equity|index/usa/hour/<t>.zip``                  raw.equity_bars, bar_seconds 3600, ts = bar start
``equity|index/usa/minute/<t>/<d>_trade.zip``      raw.equity_bars, bar_seconds 60, ts = bar start
``equity/usa/minute/<t>/<d>_quote.zip``            raw.equity_quotes: the bar's closing bid/ask as a
                                                   snapshot at the bar end (start + 60 s), seq 0
``equity/usa/tick/<t>/<d>_trade.zip``              raw.equity_trades (ms, price, size, exchange,
                                                   condition, suspicious)
``equity/usa/tick/<t>/<d>_quote.zip``              raw.equity_quotes (ms, bid, bid size, ask, ask
                                                   size, exchange, condition, suspicious)
``option|indexoption/usa/universes/<t>/<d>.csv``   raw.option_quotes at the XNYS close (no bid/ask:
                                                   Lean's daily close -> ``last``, volume, OI,
                                                   vendor IV/greeks); first row = underlying daily
                                                   bar -> raw.equity_bars (and ``underlying_last``)
``option|indexoption/usa/minute/<t>/<d>_quote_*``  raw.option_quotes: closing bid/ask (+ sizes) of
                                                   each 1-minute quote bar at the bar end; the same
                                                   day's trade bars are merged on (contract,
                                                   minute) -> ``last``/``volume`` (trade minutes
                                                   without a quote bar become rows without
                                                   bid/ask); open interest merged as of its time
``..._trade_*`` (a day without a quote file)       raw.option_quotes from trade bars alone
``alternative/interest-rate/usa/interest-rate.csv`` ref.rates (Fed primary credit rate, see below)
=================================================  ===============================================

Not loaded (no target table): futures, factor files, map files; open-interest zips are only
merged into quote/trade rows of the same day. ``files()`` leaves them out of a folder;
``parse()`` on one of them raises ``LoadError``.

Open questions decided here: Lean's universe OHLC are the contract's daily price bar, built
from quote mids when there were no trades (volume 0 with a range), so ``last`` holds "Lean
daily close", not necessarily a trade; quote-bar snapshots are stamped at the bar end since
the close bid/ask is the state at that instant; in tick files a side with price 0 and size 0
means "side not updated" and is stored as NULL; suspicious ticks (flag 1) are kept with
``;suspicious`` appended to ``conditions``; a universe IV of exactly 0 is Lean's "could not
compute" marker: NULL vendor_iv (and NULL greeks where they are all 0 too). Universe rows are
stamped at the XNYS close of the file's date (16:00, 13:00 on half days like 2015-12-24).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from warehouse.loaders.base import Batch, LoadError, Reject, register_source
from warehouse.loaders.fileio import read_csv_strings
from warehouse.loaders.occ import format_occ, underlying_for_root
from warehouse.loaders.parsing import (
    Flags,
    at_local_time,
    canonical_frame,
    local_to_utc,
    null_iv_sentinel,
    number,
    parse_dates,
    read_text_csv,
    session_close,
)
from warehouse.loaders.tables import (
    EQUITY_BARS,
    EQUITY_QUOTES,
    EQUITY_TRADES,
    OPTION_QUOTES,
    RATES,
)

NY = "America/New_York"
CHICAGO = "America/Chicago"
DECI_CENTS = 1e-4
RATE_SOURCE = "lean_fed_primary_credit"

_TAIL = re.compile(
    r"(?:^|/)(?P<asset>equity|index|option|indexoption|future|futureoption|alternative)/"
    r"(?P<market>[a-z]+|interest-rate)/(?P<rest>.+)$"
)
_DAY_KIND = re.compile(
    r"^(?P<day>\d{8})_(?P<kind>trade|quote|openinterest)(?:_(?P<style>american|european))?"
    r"\.zip(?:\.zip)?$"
)
_OPTION_ENTRY = re.compile(
    r"^(?P<day>\d{8})_(?P<ticker>[a-z0-9.]+)_minute_(?P<kind>trade|quote|openinterest)_"
    r"(?P<style>american|european)_(?P<right>call|put)_(?P<strike>\d+)_(?P<expiry>\d{8})\.csv$",
    re.IGNORECASE,
)

BAR_COLS = ["t", "open", "high", "low", "close", "volume"]
QUOTE_BAR_COLS = [
    "t",
    "bid_open",
    "bid_high",
    "bid_low",
    "bid_close",
    "bid_size",
    "ask_open",
    "ask_high",
    "ask_low",
    "ask_close",
    "ask_size",
]
TICK_TRADE_COLS = ["t", "price", "size", "exchange", "condition", "suspicious"]
TICK_QUOTE_COLS = ["t", "bid", "bid_size", "ask", "ask_size", "exchange", "condition", "suspicious"]
OI_COLS = ["t", "open_interest"]
UNIVERSE_HEADER = [
    "#expiry",
    "strike",
    "right",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "open_interest",
    "implied_volatility",
    "delta",
    "gamma",
    "vega",
    "theta",
    "rho",
]


@dataclass(frozen=True)
class LeanFile:
    """What a Lean path is: ``kind`` plus the parts of its path that matter."""

    kind: str  # bars | minute | tick | universe | option_minute | rates | unsupported
    asset: str  # equity, index, option, indexoption, ...
    resolution: str  # daily, hour, minute, tick, universes
    ticker: str  # lower case, as in the path
    day: pd.Timestamp | None = None
    data_kind: str = ""  # trade | quote | openinterest
    style: str = ""  # american | european


def classify(path: Path) -> LeanFile:
    """Recognise a Lean data file from its path (raises ``LoadError`` when it is not one)."""
    m = _TAIL.search(path.as_posix())
    if not m:
        raise LoadError(f"{path}: not inside a Lean data folder (…/<asset>/<market>/…)")
    asset, rest = m.group("asset"), m.group("rest").split("/")
    if asset == "alternative":
        if path.name == "interest-rate.csv":
            return LeanFile("rates", asset, "daily", "interest-rate")
        return LeanFile("unsupported", asset, "", "")
    if asset in ("future", "futureoption"):
        return LeanFile("unsupported", asset, rest[0] if rest else "", "")
    resolution = rest[0] if rest else ""
    if resolution in ("factor_files", "map_files"):
        return LeanFile("unsupported", asset, resolution, "")
    if resolution in ("daily", "hour") and len(rest) == 2 and path.name.endswith(".zip"):
        return LeanFile("bars", asset, resolution, path.name.split(".")[0])
    if resolution == "universes" and len(rest) == 3 and path.suffix == ".csv":
        return LeanFile("universe", asset, resolution, rest[1], day=_day(path, path.stem))
    if resolution in ("minute", "tick") and len(rest) == 3:
        dm = _DAY_KIND.match(path.name)
        if dm:
            day = _day(path, dm.group("day"))
            kind = dm.group("kind")
            if asset in ("option", "indexoption") and resolution == "minute":
                return LeanFile(
                    "option_minute", asset, resolution, rest[1], day, kind, dm.group("style") or ""
                )
            if asset in ("equity", "index") and kind in ("trade", "quote"):
                return LeanFile(resolution, asset, resolution, rest[1], day, kind)
    return LeanFile("unsupported", asset, resolution, "")


def _day(path: Path, text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(pd.to_datetime(text, format="%Y%m%d"))
    except ValueError as exc:
        raise LoadError(f"{path}: no yyyymmdd date in the file name") from exc


# --------------------------------------------------------------------------------------------
# reading zips: every entry's lines, tagged with the entry, in one CSV pass
# --------------------------------------------------------------------------------------------


@dataclass
class ZipRows:
    frame: pd.DataFrame  # string columns + "entry" (int) + "_line"
    entries: list[str]
    rejects: list[Reject]
    lookup: Callable[[np.ndarray], list[str]]
    n_lines: int


def read_zip_csv(path: Path, columns: list[str]) -> ZipRows:
    """All entries of a Lean zip as one headerless CSV with ``columns``.

    ``_line`` is the record's ordinal across the entries (entries in archive order, lines in
    entry order, 1-based); the raw record of a row is ``"<entry>: <original line>"``.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            chunks: list[bytes] = []
            names: list[str] = []
            for info in infos:
                data = zf.read(info)
                if not data.strip():
                    continue
                if not data.endswith(b"\n"):
                    data += b"\n"
                k = len(names)
                prefix = f"{k},".encode()
                chunks.append(prefix + data[:-1].replace(b"\n", b"\n" + prefix) + b"\n")
                names.append(info.filename)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise LoadError(f"{path}: unreadable or truncated zip ({exc})") from exc
    if not chunks:
        raise LoadError(f"{path}: zip holds no data")
    buf = b"".join(chunks)
    res = read_csv_strings(buf, str(path), column_names=["entry", *columns])
    index = res.index

    def pretty(text: str) -> str:
        k, _, rest = text.partition(",")
        try:
            return f"{names[int(k)]}: {rest}"
        except (ValueError, IndexError):
            return text

    def lookup(lines: np.ndarray) -> list[str]:
        assert index is not None
        return [pretty(index.line(int(n))) for n in lines]

    rejects = [Reject(r.line_no, r.reason, pretty(r.raw_record)) for r in res.rejects]
    frame = res.frame
    frame["entry"] = pd.to_numeric(frame["entry"], errors="coerce").fillna(-1).astype(np.int64)
    return ZipRows(frame, names, rejects, lookup, index.n_lines if index is not None else 0)


def data_tz(lf: LeanFile) -> str:
    """Lean's data time zone of a file: Chicago for indices, New York otherwise."""
    return CHICAGO if lf.asset == "index" else NY


def _ms_times(
    day: pd.Timestamp,
    ms_text: pd.Series,
    flags: Flags,
    offset: pd.Timedelta | None = None,
    tz: str = NY,
) -> tuple[pd.Series, np.ndarray]:
    """(UTC timestamps, ms as float) for ms-since-midnight text on ``day`` in ``tz``."""
    ms, bad = number(ms_text, None), np.zeros(len(ms_text), dtype=bool)
    ms_raw = pd.Series(ms_text).astype(object)
    bad = ms_raw.notna().to_numpy() & ~np.isfinite(ms)
    bad |= np.isfinite(ms) & ((ms < 0) | (ms != np.floor(ms)))
    missing = ms_raw.isna().to_numpy()
    flags.add("malformed_timestamp", bad | missing)
    ok = ~(bad | missing)
    naive = pd.Series(day + pd.to_timedelta(np.where(ok, ms, 0), unit="ms"))
    if offset is not None:
        naive = naive + offset
    ts = local_to_utc(naive.where(ok), flags, tz)
    return ts, np.where(ok, ms, np.nan)


# --------------------------------------------------------------------------------------------
# the source
# --------------------------------------------------------------------------------------------


class LeanSource:
    """``lean``: every supported file of a Lean ``Data/`` folder (see module docstring)."""

    name = "lean"
    description = (
        "QuantConnect/Lean data folder: equity/index bars, equity ticks, option "
        "universes and minute option quotes, Fed primary-credit rate"
    )

    _ORDER: ClassVar[dict[str, int]] = {
        "rates": 0,
        "bars": 1,
        "minute": 2,
        "tick": 3,
        "universe": 4,
        "option_minute": 5,
    }

    def identity(self, path: Path) -> str:
        """Lean keeps the symbol, resolution and date in the path: they are part of the data
        (two days with byte-identical files are two loads)."""
        return "/".join(path.parts[-4:])

    def files(self, path: Path) -> list[Path]:
        if path.is_file():
            return [path]
        if not path.is_dir():
            raise LoadError(f"{path}: no such file or folder")
        picked: list[tuple[int, str, Path]] = []
        for p in path.rglob("*"):
            if not p.is_file():
                continue
            try:
                lf = classify(p)
            except LoadError:
                continue
            if lf.kind == "unsupported":
                continue
            if lf.kind == "option_minute" and not self._is_primary(p, lf):
                continue
            picked.append((self._ORDER[lf.kind], p.as_posix(), p))
        return [p for _, _, p in sorted(picked)]

    @staticmethod
    def _siblings(path: Path, lf: LeanFile) -> dict[str, Path]:
        """The same day's quote/trade/openinterest zips of an option folder."""
        out: dict[str, Path] = {}
        for p in path.parent.iterdir():
            m = _DAY_KIND.match(p.name)
            if m and m.group("day") == path.name[:8] and (m.group("style") or "") == lf.style:
                out[m.group("kind")] = p
        return out

    def _is_primary(self, path: Path, lf: LeanFile) -> bool:
        sib = self._siblings(path, lf)
        if lf.data_kind == "quote":
            return True
        return lf.data_kind == "trade" and "quote" not in sib

    def parse(self, path: Path) -> Iterator[Batch]:
        lf = classify(path)
        if lf.kind == "unsupported":
            raise LoadError(
                f"{path}: Lean file kind not loaded (futures, factor/map files and "
                "other data without a target table)"
            )
        if lf.kind == "bars":
            yield self._bars(path, lf)
        elif lf.kind == "minute":
            yield self._minute(path, lf)
        elif lf.kind == "tick":
            yield self._tick(path, lf)
        elif lf.kind == "universe":
            yield from self._universe(path, lf)
        elif lf.kind == "option_minute":
            yield self._option_minute(path, lf)
        elif lf.kind == "rates":
            yield self._rates(path)

    # -- bars ---------------------------------------------------------------------------------
    def _bars(self, path: Path, lf: LeanFile) -> Batch:
        z = read_zip_csv(path, BAR_COLS)
        f = z.frame
        flags = Flags(len(f))
        scale = DECI_CENTS if lf.asset == "equity" else 1.0
        when = pd.to_datetime(f["t"], format="%Y%m%d %H:%M", errors="coerce")
        flags.add("malformed_timestamp", (f["t"].notna() & when.isna()).to_numpy())
        if lf.resolution == "daily":
            ts = at_local_time(when.dt.normalize(), "09:30", NY, flags)
            seconds = 86400
        else:
            ts = local_to_utc(when, flags, data_tz(lf))
            seconds = 3600
        out = pd.DataFrame(
            {
                "ts": ts,
                "symbol": lf.ticker.upper(),
                "bar_seconds": float(seconds),
                **{c: number(f[c], flags, scale) for c in ("open", "high", "low", "close")},
                "volume": number(f["volume"], flags),
                "_line": f["_line"].to_numpy(),
            }
        )
        return Batch(
            EQUITY_BARS.name,
            canonical_frame(out, EQUITY_BARS.name),
            z.rejects,
            flags.frame(),
            None,
            z.lookup,
        )

    # -- equity/index minute ------------------------------------------------------------------
    def _minute(self, path: Path, lf: LeanFile) -> Batch:
        scale = DECI_CENTS if lf.asset == "equity" else 1.0
        day = lf.day
        assert day is not None
        if lf.data_kind == "trade":
            z = read_zip_csv(path, BAR_COLS)
            f = z.frame
            flags = Flags(len(f))
            ts, _ = _ms_times(day, f["t"], flags, tz=data_tz(lf))
            out = pd.DataFrame(
                {
                    "ts": ts,
                    "symbol": lf.ticker.upper(),
                    "bar_seconds": 60.0,
                    **{c: number(f[c], flags, scale) for c in ("open", "high", "low", "close")},
                    "volume": number(f["volume"], flags),
                    "_line": f["_line"].to_numpy(),
                }
            )
            table = EQUITY_BARS.name
        else:
            z = read_zip_csv(path, QUOTE_BAR_COLS)
            f = z.frame
            flags = Flags(len(f))
            ts, _ = _ms_times(day, f["t"], flags, pd.Timedelta(minutes=1), data_tz(lf))
            for c in QUOTE_BAR_COLS[1:]:
                number(f[c], flags)  # flag malformed values in any field of the record
            out = pd.DataFrame(
                {
                    "ts": ts,
                    "symbol": lf.ticker.upper(),
                    "seq": 0.0,
                    "bid": number(f["bid_close"], None, scale),
                    "ask": number(f["ask_close"], None, scale),
                    "bid_size": number(f["bid_size"], None),
                    "ask_size": number(f["ask_size"], None),
                    "_line": f["_line"].to_numpy(),
                }
            )
            table = EQUITY_QUOTES.name
        return Batch(
            table, canonical_frame(out, table), z.rejects, flags.frame(), day.date(), z.lookup
        )

    # -- ticks --------------------------------------------------------------------------------
    def _tick(self, path: Path, lf: LeanFile) -> Batch:
        day = lf.day
        assert day is not None
        cols = TICK_TRADE_COLS if lf.data_kind == "trade" else TICK_QUOTE_COLS
        z = read_zip_csv(path, cols)
        f = z.frame
        flags = Flags(len(f))
        ts, _ = _ms_times(day, f["t"], flags)
        susp = f["suspicious"].astype(object)
        flags.add("bad_value", (susp.notna() & ~susp.isin(["0", "1"])).to_numpy())
        cond = f["condition"].astype(object)
        cond = cond.where(susp != "1", cond.fillna("").astype(str) + ";suspicious")
        seq = ts.groupby(ts.fillna(pd.Timestamp(0, tz="UTC"))).cumcount().to_numpy()
        base = {
            "ts": ts,
            "symbol": lf.ticker.upper(),
            "seq": seq.astype(np.float64),
            "exchange": f["exchange"].astype(object),
        }
        if lf.data_kind == "trade":
            out = pd.DataFrame(
                {
                    **base,
                    "price": number(f["price"], flags, DECI_CENTS),
                    "size": number(f["size"], flags),
                    "conditions": cond,
                    "_line": f["_line"].to_numpy(),
                }
            )
            table = EQUITY_TRADES.name
        else:
            bid, bsz = number(f["bid"], flags, DECI_CENTS), number(f["bid_size"], flags)
            ask, asz = number(f["ask"], flags, DECI_CENTS), number(f["ask_size"], flags)
            no_bid, no_ask = (bid == 0) & (bsz == 0), (ask == 0) & (asz == 0)
            out = pd.DataFrame(
                {
                    **base,
                    "bid": np.where(no_bid, np.nan, bid),
                    "bid_size": np.where(no_bid, np.nan, bsz),
                    "ask": np.where(no_ask, np.nan, ask),
                    "ask_size": np.where(no_ask, np.nan, asz),
                    "_line": f["_line"].to_numpy(),
                }
            )
            table = EQUITY_QUOTES.name
        return Batch(
            table, canonical_frame(out, table), z.rejects, flags.frame(), day.date(), z.lookup
        )

    # -- option universes ---------------------------------------------------------------------
    def _universe(self, path: Path, lf: LeanFile) -> Iterator[Batch]:
        day = lf.day
        assert day is not None
        res = read_text_csv(path)
        f = res.frame
        header = [c for c in f.columns if c != "_line"]
        if [h.strip().lower() for h in header] != UNIVERSE_HEADER:
            raise LoadError(
                f"{path}: unexpected header {','.join(header)}; expected "
                f"{','.join(UNIVERSE_HEADER)}"
            )
        f.columns = [*UNIVERSE_HEADER, "_line"]
        lookup = res.index.lookup if res.index is not None else None
        is_under = (f["#expiry"].isna() & f["strike"].isna() & f["right"].isna()).to_numpy()
        root = lf.ticker.upper()
        underlying = underlying_for_root(pd.Series([root])).iloc[0]

        u = f[is_under].reset_index(drop=True)
        under_last = np.nan
        if len(u):
            uflags = Flags(len(u))
            ubar = pd.DataFrame(
                {
                    "ts": at_local_time(pd.Series([day] * len(u)), "09:30", NY, uflags),
                    "symbol": underlying,
                    "bar_seconds": 86400.0,
                    **{c: number(u[c], uflags) for c in ("open", "high", "low", "close")},
                    "volume": number(u["volume"], uflags),
                    "_line": u["_line"].to_numpy(),
                }
            )
            under_last = float(ubar["close"].iloc[-1])
            yield Batch(
                EQUITY_BARS.name,
                canonical_frame(ubar, EQUITY_BARS.name),
                [],
                uflags.frame(),
                day.date(),
                lookup,
            )

        o = f[~is_under].reset_index(drop=True)
        flags = Flags(len(o))
        exp = parse_dates(o["#expiry"], flags, ("%Y%m%d",))
        right = o["right"].astype(object).str.strip().str.upper()
        flags.add("bad_value", (right.notna() & ~right.isin(["C", "P"])).to_numpy())
        strike = number(o["strike"], flags)
        out = pd.DataFrame(
            {
                "quote_ts": session_close(pd.Series([day] * len(o)), flags),
                "underlying": underlying,
                "contract_symbol": format_occ(pd.Series([root] * len(o)), exp, right, strike),
                "expiration": exp,
                "strike": strike,
                "option_right": right,
                "last": number(o["close"], flags),
                "volume": number(o["volume"], flags),
                "open_interest": number(o["open_interest"], flags),
                "underlying_last": under_last,
                "vendor_iv": number(o["implied_volatility"], flags),
                "vendor_delta": number(o["delta"], flags),
                "vendor_gamma": number(o["gamma"], flags),
                "vendor_vega": number(o["vega"], flags),
                "vendor_theta": number(o["theta"], flags),
                "_line": o["_line"].to_numpy(),
            }
        )
        null_iv_sentinel(out, (0.0,))
        for c in ("open", "high", "low", "rho"):
            number(o[c], flags)  # malformed values anywhere in the record are flagged
        yield Batch(
            OPTION_QUOTES.name, canonical_frame(out), res.rejects, flags.frame(), day.date(), lookup
        )

    # -- minute option bars -------------------------------------------------------------------
    @staticmethod
    def _contracts(entries: list[str], path: Path) -> pd.DataFrame:
        """Per zip entry: contract key and fields (None where the entry name is not Lean's)."""
        rows = []
        for k, name in enumerate(entries):
            m = _OPTION_ENTRY.match(Path(name).name)
            if m:
                rows.append(
                    {
                        "entry": k,
                        "ckey": f"{m['right']}_{m['strike']}_{m['expiry']}",
                        "root": m["ticker"].upper(),
                        "right": m["right"][0].upper(),
                        "strike_e4": m["strike"],
                        "expiry": m["expiry"],
                    }
                )
            else:
                rows.append(
                    {
                        "entry": k,
                        "ckey": f"?{k}",
                        "root": None,
                        "right": None,
                        "strike_e4": None,
                        "expiry": None,
                    }
                )
        return pd.DataFrame(rows)

    def _option_minute(self, path: Path, lf: LeanFile) -> Batch:
        day = lf.day
        assert day is not None
        if lf.data_kind == "openinterest":
            raise LoadError(
                f"{path}: open-interest files are merged into the same day's quote "
                "(or trade) file; load that one"
            )
        sib = self._siblings(path, lf)
        primary = read_zip_csv(path, QUOTE_BAR_COLS if lf.data_kind == "quote" else BAR_COLS)
        p = primary.frame.merge(self._contracts(primary.entries, path), on="entry", how="left")
        pflags = Flags(len(p))
        ts, ms = _ms_times(day, p["t"], pflags, pd.Timedelta(minutes=1))
        p["ms"] = np.where(np.isfinite(ms), ms, -1.0 - np.arange(len(p)))  # bad times match none
        p["quote_ts"] = ts
        rows_bad = pflags
        lookups: list[tuple[int, Callable]] = [(0, primary.lookup)]
        rejects = list(primary.rejects)

        if lf.data_kind == "quote":
            for c in QUOTE_BAR_COLS[1:]:
                p[c] = number(p[c], rows_bad, DECI_CENTS if "size" not in c else 1.0)
            p["last"], p["volume"] = np.nan, np.nan
            trade_path = sib.get("trade")
            if trade_path is not None:
                t = read_zip_csv(trade_path, BAR_COLS)
                rejects += [
                    Reject(
                        None if r.line_no is None else r.line_no + primary.n_lines,
                        r.reason,
                        f"{trade_path.name}/{r.raw_record}",
                    )
                    for r in t.rejects
                ]
                tf = t.frame.merge(self._contracts(t.entries, trade_path), on="entry", how="left")
                tflags = Flags(len(tf))
                tts, tms = _ms_times(day, tf["t"], tflags, pd.Timedelta(minutes=1))
                tf["ms"] = np.where(np.isfinite(tms), tms, -1e12 - np.arange(len(tf)))
                tf["quote_ts"] = tts
                tf["t_last"] = number(tf["close"], tflags, DECI_CENTS)
                tf["t_volume"] = number(tf["volume"], tflags)
                for c in ("open", "high", "low"):
                    number(tf[c], tflags)
                tbad = tflags.frame()
                tf["t_line"] = tf["_line"] + primary.n_lines
                merged = self._merge_trades(p, tf, rows_bad, tbad)
                p, rows_bad = merged
                lookups.append((primary.n_lines, t.lookup))
        else:  # a trade file on its own (no quote file that day)
            p["last"] = number(p["close"], rows_bad, DECI_CENTS)
            p["volume"] = number(p["volume"], rows_bad)
            for c in ("open", "high", "low"):
                number(p[c], rows_bad)
            for c in ("bid_close", "ask_close", "bid_size", "ask_size"):
                p[c] = np.nan

        oi_path = sib.get("openinterest")
        p["open_interest"] = np.nan
        if oi_path is not None:
            p = self._merge_oi(p, oi_path, day, rows_bad)

        root = p["root"]
        expiry = parse_dates(p["expiry"], None, ("%Y%m%d",))
        strike = number(p["strike_e4"], None, DECI_CENTS)
        out = pd.DataFrame(
            {
                "quote_ts": p["quote_ts"],
                "underlying": underlying_for_root(root).to_numpy(),
                "contract_symbol": format_occ(root, expiry, p["right"], strike),
                "expiration": expiry,
                "strike": strike,
                "option_right": p["right"],
                "bid": p["bid_close"],
                "ask": p["ask_close"],
                "bid_size": p["bid_size"],
                "ask_size": p["ask_size"],
                "last": p["last"],
                "volume": p["volume"],
                "open_interest": p["open_interest"],
                "_line": p["_line"].to_numpy(),
            }
        )

        def lookup(lines: np.ndarray) -> list[str]:
            res = []
            for n in lines:
                n = int(n)
                base, fn = max((b, f) for b, f in lookups if n > b)
                res.extend(fn(np.array([n - base])))
            return res

        return Batch(
            OPTION_QUOTES.name, canonical_frame(out), rejects, rows_bad.frame(), day.date(), lookup
        )

    @staticmethod
    def _merge_trades(
        p: pd.DataFrame, tf: pd.DataFrame, pflags: Flags, tbad: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, Flags]:
        """Outer-join trade bars on (contract, minute): last/volume on quote rows; trade-only
        minutes become extra rows without bid/ask. Quote minutes without a trade get volume 0."""
        tcols = tf[
            [
                "ckey",
                "ms",
                "t_last",
                "t_volume",
                "t_line",
                "quote_ts",
                "root",
                "right",
                "strike_e4",
                "expiry",
            ]
        ].rename(
            columns={
                "quote_ts": "t_ts",
                "root": "t_root",
                "right": "t_right",
                "strike_e4": "t_strike",
                "expiry": "t_expiry",
            }
        )
        tcols["t_pos"] = np.arange(len(tcols))
        dup = tcols.duplicated(["ckey", "ms"]).to_numpy()  # a second bar for one minute
        p = p.copy()
        p["p_pos"] = np.arange(len(p))
        m = p.merge(tcols[~dup], on=["ckey", "ms"], how="outer", sort=False)
        m = pd.concat([m, tcols[dup]], ignore_index=True)
        only_t = m["p_pos"].isna().to_numpy()
        m["last"] = m["t_last"]
        m["volume"] = m["t_volume"].fillna(0.0)
        for a, b in (
            ("quote_ts", "t_ts"),
            ("root", "t_root"),
            ("right", "t_right"),
            ("strike_e4", "t_strike"),
            ("expiry", "t_expiry"),
            ("_line", "t_line"),
        ):
            m[a] = m[a].where(~only_t, m[b])
        # keep file order: quote rows, then trade-only rows
        m["_order"] = np.where(only_t, len(p) + m["t_pos"].fillna(0), m["p_pos"].fillna(0))
        m = m.sort_values("_order", kind="stable").reset_index(drop=True)
        only_t = m["p_pos"].isna().to_numpy()
        flags = Flags(len(m))
        p_pos = m["p_pos"].fillna(-1).astype(np.int64).to_numpy()
        t_pos = m["t_pos"].fillna(-1).astype(np.int64).to_numpy()
        for reason, mask in pflags.masks.items():
            flags.add(reason, np.where(p_pos >= 0, mask[np.clip(p_pos, 0, None)], False))
        if tbad is not None:
            for reason in tbad.columns:
                mask = tbad[reason].to_numpy()
                flags.add(reason, np.where(t_pos >= 0, mask[np.clip(t_pos, 0, None)], False))
        m["_line"] = m["_line"].astype(np.int64)
        m.loc[only_t, ["bid_close", "ask_close", "bid_size", "ask_size"]] = np.nan
        return m, flags

    @staticmethod
    def _merge_oi(p: pd.DataFrame, oi_path: Path, day: pd.Timestamp, flags: Flags) -> pd.DataFrame:
        """Open interest of each contract as of each row's bar start (NaN before the first)."""
        z = read_zip_csv(oi_path, OI_COLS)
        o = z.frame.merge(LeanSource._contracts(z.entries, oi_path), on="entry", how="left")
        oflags = Flags(len(o))
        o["ms"] = number(o["t"], oflags)
        o["oi"] = number(o["open_interest"], oflags)
        o["oi_bad"] = oflags.masks.get("malformed_number", np.zeros(len(o), dtype=bool))
        o = o[np.isfinite(o["ms"])].sort_values("ms", kind="stable")
        if o.empty:
            return p
        p = p.copy()
        p["_pos"] = np.arange(len(p))
        left = p.sort_values("ms", kind="stable")
        merged = pd.merge_asof(
            left,
            o[["ckey", "ms", "oi", "oi_bad"]].rename(columns={"ms": "oi_ms"}),
            left_on="ms",
            right_on="oi_ms",
            by="ckey",
            direction="backward",
        )
        merged = merged.sort_values("_pos", kind="stable").reset_index(drop=True)
        p["open_interest"] = merged["oi"].to_numpy()
        flags.add("malformed_number", merged["oi_bad"].fillna(False).to_numpy(dtype=bool))
        return p.drop(columns=["_pos"])

    # -- interest rate ------------------------------------------------------------------------
    def _rates(self, path: Path) -> Batch:
        """Fed primary-credit (discount window) rate changes -> ref.rates, tenor 1 day.

        The file lists the rate (percent, simple, ACT/360) from each change date on; each row
        is stored at its change date (a step series: valid until the next row). Converted to a
        continuously compounded ACT/365 overnight rate: z = 365 * ln(1 + r/360).
        """
        res = read_text_csv(path)
        cols = [c for c in res.frame.columns if c != "_line"]
        if [c.strip().upper() for c in cols] != ["DATE", "PCREDIT8"]:
            raise LoadError(f"{path}: unexpected header {','.join(cols)}; expected DATE,PCREDIT8")
        f = res.frame
        flags = Flags(len(f))
        as_of = parse_dates(f[cols[0]], flags, ("%Y-%m-%d",))
        pct = number(f[cols[1]], flags)
        out = pd.DataFrame(
            {
                "as_of": as_of,
                "tenor_days": 1.0,
                "zero_rate": 365.0 * np.log1p(pct / 100.0 / 360.0),
                "source": RATE_SOURCE,
                "_line": f["_line"].to_numpy(),
            }
        )
        return Batch(
            RATES.name,
            canonical_frame(out, RATES.name),
            res.rejects,
            flags.frame(),
            None,
            res.index.lookup if res.index is not None else None,
        )


register_source(LeanSource())
