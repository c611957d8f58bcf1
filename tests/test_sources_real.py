"""Parsers of the real market-data samples, checked against the raw files read independently.

Every expected count and value below is read from the sample with plain ``csv``/``zipfile``/
``pyarrow`` (not with the parser under test). The tests skip, saying why, when the samples
folder (``warehouse.config.settings().real_data_dir``) or one of its files is absent. The last
section loads a subset through the engine into the test database and checks that every
record is accounted for (loaded + duplicate + quarantined == records in the file).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from warehouse.config import settings
from warehouse.loaders.base import SOURCES, Batch, LoadError
from warehouse.loaders.occ import parse_occ
from warehouse.loaders.sources import load_all

load_all()

pytestmark = pytest.mark.real_data


# --------------------------------------------------------------------------------------------
# helpers: locating samples, reading them independently
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> Path:
    path = settings().real_data_dir
    if not path.is_dir():
        pytest.skip(f"real samples folder {path} absent (set WAREHOUSE_REAL_DATA_DIR)")
    return path


def sample(real: Path, rel: str) -> Path:
    p = real / rel
    if not p.exists():
        pytest.skip(f"real sample {rel} absent from {real}")
    return p


def text_of(path: Path) -> str:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return raw.decode("utf-8-sig")


def csv_rows(path: Path, skip: int = 1) -> list[list[str]]:
    """All non-blank rows after ``skip`` header lines (csv handles CR, LF and CRLF)."""
    rows = list(csv.reader(io.StringIO(text_of(path), newline="")))
    return [r for r in rows[skip:] if r]


def zip_entries(path: Path) -> dict[str, list[str]]:
    """Entry name -> its non-empty lines."""
    with zipfile.ZipFile(path) as zf:
        return {
            n: [ln for ln in zf.read(n).decode().splitlines() if ln.strip()] for n in zf.namelist()
        }


def parse(source: str, path: Path) -> list[Batch]:
    return list(SOURCES[source].parse(path))


def only(batches: list[Batch], table: str) -> Batch:
    got = [b for b in batches if b.table == table]
    assert len(got) == 1, [b.table for b in batches]
    return got[0]


def n_records(batches: list[Batch]) -> int:
    return sum(len(b.frame) + len(b.rejects) for b in batches)


def n_bad(batch: Batch) -> int:
    return 0 if batch.bad is None else int(batch.bad.any(axis=1).sum())


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def row_of(frame: pd.DataFrame, **eq) -> pd.Series:
    mask = np.ones(len(frame), dtype=bool)
    for col, val in eq.items():
        mask &= (frame[col] == val).to_numpy()
    hits = frame[mask]
    assert len(hits) == 1, (eq, len(hits))
    return hits.iloc[0]


def check_canonical(batch: Batch) -> None:
    """Frames use canonical names only, UTC microsecond timestamps, ``_line`` present."""
    from warehouse.loaders.tables import TABLES

    spec = TABLES[batch.table]
    extra = set(batch.frame.columns) - set(spec.column_names) - {"_line"}
    assert not extra, extra
    assert "_line" in batch.frame
    for col, kind in spec.columns:
        if col in batch.frame and kind == "ts":
            assert str(batch.frame[col].dtype) == "datetime64[us, UTC]", col
    if batch.bad is not None:
        assert len(batch.bad) == len(batch.frame)


# --------------------------------------------------------------------------------------------
# Lean
# --------------------------------------------------------------------------------------------

LEAN = "lean_quantconnect"


def test_lean_universe_aapl(real):
    path = sample(real, f"{LEAN}/option/usa/universes/aapl/20140602.csv")
    rows = csv_rows(path)
    under = [r for r in rows if r[0] == r[1] == r[2] == ""]
    opts = [r for r in rows if r[0]]
    batches = parse("lean", path)
    bars, quotes = only(batches, "raw.equity_bars"), only(batches, "raw.option_quotes")
    for b in batches:
        check_canonical(b)
        assert b.file_day == pd.Timestamp("2014-06-02").date()
    assert (len(bars.frame), len(quotes.frame)) == (len(under), len(opts)) == (1, 4532)
    assert n_records(batches) == len(rows)
    bar = bars.frame.iloc[0]
    assert (bar["symbol"], bar["bar_seconds"]) == ("AAPL", 86400)
    assert bar["ts"] == utc("2014-06-02 13:30")  # 09:30 New York
    assert bar["close"] == float(under[0][6]) and bar["volume"] == float(under[0][7])

    raw = next(r for r in opts if r[:3] == ["20140606", "490", "C"])
    q = row_of(quotes.frame, contract_symbol="AAPL  140606C00490000")
    assert q["quote_ts"] == utc("2014-06-02 20:00")  # XNYS close
    assert (q["underlying"], q["option_right"], q["strike"]) == ("AAPL", "C", 490.0)
    assert q["last"] == float(raw[6]) and q["vendor_iv"] == float(raw[9])
    assert q["vendor_delta"] == float(raw[10]) and q["underlying_last"] == float(under[0][6])
    # IV exactly 0 is Lean's "not computed": NULL, and the quote still parses
    zero_iv = sum(1 for r in opts if float(r[9]) == 0.0)
    assert zero_iv > 0 and int(quotes.frame["vendor_iv"].isna().sum()) == zero_iv
    assert n_bad(quotes) == 0


def test_lean_universe_malformed_record_and_half_day(real):
    path = sample(real, f"{LEAN}/option/usa/universes/spy/20240105.csv")
    lines = text_of(path).splitlines()
    bad_line = next(i + 1 for i, ln in enumerate(lines) if re.search(r"\d\.\d+\.\d", ln))
    quotes = only(parse("lean", path), "raw.option_quotes")
    flagged = np.flatnonzero(quotes.bad["malformed_number"].to_numpy())
    assert quotes.frame["_line"].to_numpy()[flagged].tolist() == [bad_line]
    assert quotes.raw_records(flagged) == [lines[bad_line - 1]]

    half = sample(real, f"{LEAN}/option/usa/universes/goog/20151224.csv")
    q = only(parse("lean", half), "raw.option_quotes").frame
    assert (q["quote_ts"] == utc("2015-12-24 18:00")).all()  # 13:00 close on the half day


def test_lean_index_universe_weeklies_map_to_spx(real):
    path = sample(real, f"{LEAN}/indexoption/usa/universes/spxw/20230623.csv")
    rows = csv_rows(path)
    batches = parse("lean", path)
    quotes = only(batches, "raw.option_quotes").frame
    assert len(quotes) == len(rows) - 1
    assert set(quotes["underlying"]) == {"SPX"}
    assert quotes["contract_symbol"].str.startswith("SPXW  ").all()
    assert only(batches, "raw.equity_bars").frame["symbol"].tolist() == ["SPX"]


def test_lean_minute_option_quotes_with_trades_merged(real):
    path = sample(real, f"{LEAN}/option/usa/minute/spy/20230803_quote_american.zip")
    trade = sample(real, f"{LEAN}/option/usa/minute/spy/20230803_trade_american.zip")
    quotes, trades = zip_entries(path), zip_entries(trade)
    qkeys = {
        (n.replace("_quote_", "_"), ln.split(",")[0]) for n, lns in quotes.items() for ln in lns
    }
    tkeys = {
        (n.replace("_trade_", "_"), ln.split(",")[0]) for n, lns in trades.items() for ln in lns
    }
    (batch,) = parse("lean", path)
    check_canonical(batch)
    f = batch.frame
    assert len(f) == sum(map(len, quotes.values())) + len(tkeys - qkeys)
    assert batch.file_day == pd.Timestamp("2023-08-03").date()

    entry = "20230803_spy_minute_quote_american_call_4300000_20230901.csv"
    first = quotes[entry][0].split(",")
    sym = "SPY   230901C00430000"
    q = row_of(f, contract_symbol=sym, quote_ts=utc("2023-08-03 13:31"))  # bar 09:30-09:31
    assert q["bid"] == int(first[4]) / 1e4 and q["ask"] == int(first[9]) / 1e4
    assert (q["bid_size"], q["ask_size"]) == (float(first[5]), float(first[10]))
    assert q["volume"] == 0 and math.isnan(q["last"])
    t = trades[entry.replace("_quote_", "_trade_")][0].split(",")
    ts = pd.Timestamp("2023-08-03", tz="America/New_York") + pd.Timedelta(
        milliseconds=int(t[0]) + 60_000
    )
    q = row_of(f, contract_symbol=sym, quote_ts=ts.tz_convert("UTC"))
    assert q["last"] == int(t[4]) / 1e4 and q["volume"] == float(t[5])
    assert batch.raw_records(np.array([0]))[0] == f"{entry}: {quotes[entry][0]}"


def test_lean_minute_open_interest_merge_and_trade_only_day(real):
    path = sample(real, f"{LEAN}/option/usa/minute/goog/20151223_quote_american.zip")
    oi_zip = f"{LEAN}/option/usa/minute/goog/20151223_openinterest_american.zip"
    oi = zip_entries(sample(real, oi_zip))
    name, lines = max(oi.items(), key=lambda kv: int(kv[1][0].split(",")[1]))
    _, _, _, _, _, right, strike, expiry = Path(name).stem.split("_")
    sym = f"GOOG  {expiry[2:]}{right[0].upper()}{int(strike) // 10:08d}"
    f = parse("lean", path)[0].frame
    rows = f[f["contract_symbol"] == sym]
    assert len(rows) > 0 and (rows["open_interest"] == int(lines[0].split(",")[1])).all()

    trade = sample(real, f"{LEAN}/option/usa/minute/goog/20151224_trade_american.zip")
    entries = zip_entries(trade)
    (batch,) = parse("lean", trade)
    assert len(batch.frame) == sum(map(len, entries.values()))
    assert batch.frame["bid"].isna().all() and batch.frame["last"].notna().all()
    assert batch.frame["open_interest"].notna().mean() > 0.9


def test_lean_folder_expansion(real):
    root = sample(real, LEAN)
    files = SOURCES["lean"].files(root)
    names = [p.as_posix() for p in files]
    assert not [
        n
        for n in names
        if "openinterest" in n or "/future/" in n or "factor_files" in n or "map_files" in n
    ]
    # option minute: one primary per day (quote, else trade); .zip.zip trade siblings merged
    assert f"{root}/indexoption/usa/minute/spxw/20210104_quote_european.zip" in names
    assert not [n for n in names if n.endswith(".zip.zip")]
    assert f"{root}/option/usa/minute/goog/20151224_trade_american.zip" in names
    assert names.index(f"{root}/alternative/interest-rate/usa/interest-rate.csv") == 0
    with pytest.raises(LoadError, match="open-interest"):
        parse("lean", root / "option/usa/minute/goog/20151223_openinterest_american.zip")
    with pytest.raises(LoadError, match="not loaded"):
        parse("lean", sample(real, f"{LEAN}/equity/usa/factor_files/spy.csv"))


def test_lean_equity_ticks(real):
    path = sample(real, f"{LEAN}/equity/usa/tick/spy/20131007_trade.zip")
    (lines,) = zip_entries(path).values()
    (batch,) = parse("lean", path)
    check_canonical(batch)
    f = batch.frame
    assert batch.table == "raw.equity_trades" and len(f) == len(lines) == 250_601
    ms, price, size, exch, cond, _ = lines[0].split(",")
    first = f.iloc[0]
    assert first["ts"] == utc("2013-10-07 04:00") + pd.Timedelta(milliseconds=int(ms))
    assert (first["price"], first["size"]) == (int(price) / 1e4, float(size))
    assert (first["exchange"], first["conditions"], first["seq"]) == (exch, cond, 0)
    assert not f.duplicated(["ts", "seq"]).any()

    qpath = sample(real, f"{LEAN}/equity/usa/tick/ibm/20131007_quote.zip")
    (qlines,) = zip_entries(qpath).values()
    (qb,) = parse("lean", qpath)
    assert qb.table == "raw.equity_quotes" and len(qb.frame) == len(qlines)
    ask_only = sum(1 for ln in qlines if ln.split(",")[1:3] == ["0", "0"])
    assert int(qb.frame["bid"].isna().sum()) == ask_only  # "side not updated" -> NULL


def test_lean_equity_and_index_bars(real):
    path = sample(real, f"{LEAN}/equity/usa/minute/spy/20131004_trade.zip")
    (lines,) = zip_entries(path).values()
    (batch,) = parse("lean", path)
    f = batch.frame
    assert len(f) == len(lines) and (f["bar_seconds"] == 60).all()
    ms, o, *_ = lines[0].split(",")
    assert f.iloc[0]["ts"] == utc("2013-10-04 04:00") + pd.Timedelta(milliseconds=int(ms))
    assert f.iloc[0]["open"] == int(o) / 1e4

    qpath = sample(real, f"{LEAN}/equity/usa/minute/spy/20131004_quote.zip")
    (qlines,) = zip_entries(qpath).values()
    (qb,) = parse("lean", qpath)
    q = qb.frame.iloc[0]
    fields = qlines[0].split(",")
    assert qb.table == "raw.equity_quotes" and len(qb.frame) == len(qlines)
    assert q["ts"] == utc("2013-10-04 04:01") + pd.Timedelta(milliseconds=int(fields[0]))
    assert (q["bid"], q["ask"]) == (int(fields[4]) / 1e4, int(fields[9]) / 1e4)

    daily = sample(real, f"{LEAN}/equity/usa/daily/spy.zip")
    (dlines,) = zip_entries(daily).values()
    (db,) = parse("lean", daily)
    assert len(db.frame) == len(dlines) and (db.frame["bar_seconds"] == 86400).all()
    assert db.frame.iloc[0]["ts"] == utc("1998-01-02 14:30")  # 09:30 New York (EST)
    assert db.frame.iloc[0]["close"] == int(dlines[0].split(",")[4]) / 1e4

    # index files: points (not deci-cents), Chicago wall clock: 08:30 CT = the 09:30 ET open
    idx = sample(real, f"{LEAN}/index/usa/minute/spx/20210104_trade.zip")
    (ilines,) = zip_entries(idx).values()
    first = parse("lean", idx)[0].frame.iloc[0]
    assert ilines[0].startswith("30600000,3764.61")
    assert first["ts"] == utc("2021-01-04 14:30") and first["open"] == 3764.61


def test_lean_interest_rate(real):
    path = sample(real, f"{LEAN}/alternative/interest-rate/usa/interest-rate.csv")
    rows = csv_rows(path)
    (batch,) = parse("lean", path)
    f = batch.frame
    assert batch.table == "ref.rates" and len(f) == len(rows)
    assert (f["tenor_days"] == 1).all() and (f["source"] == "lean_fed_primary_credit").all()
    pct = float(rows[-1][1]) / 100
    assert f.iloc[-1]["zero_rate"] == pytest.approx(365 * math.log(1 + pct / 360))


# --------------------------------------------------------------------------------------------
# iVolatility
# --------------------------------------------------------------------------------------------

IVOL = "spx_aapl_ivolatility_optionsuite"


def test_ivolatility_rawiv_cr_line_ends(real):
    path = sample(real, f"{IVOL}/RawIV_5day_sample.csv.gz")
    raw = gzip.decompress(path.read_bytes())
    assert b"\n" not in raw  # old-Mac CR line ends, BOM: the parser must cope
    rows = csv_rows(path)
    (batch,) = parse("ivolatility", path)
    check_canonical(batch)
    f = batch.frame
    assert len(f) == len(rows) == 8184 and n_bad(batch) == 0 and not batch.rejects
    r = next(r for r in rows if r[5] == "SPX   110122C00200000" and r[3] == "1/3/11")
    # pre-2015 OSI Saturday (110122) -> the Friday of option_expiration (1/21/11)
    q = row_of(f, contract_symbol="SPX   110121C00200000", quote_ts=utc("2011-01-03 21:00"))
    assert q["expiration"] == pd.Timestamp("2011-01-21")
    assert (q["bid"], q["ask"], q["open_interest"]) == (float(r[11]), float(r[10]), int(r[16]))
    assert (q["vendor_iv"], q["underlying_last"]) == (float(r[14]), float(r[4]))
    assert "\r" not in batch.raw_records(np.array([0]))[0]


def test_ivolatility_spx_sample_sentinels_and_aapl_relabelled_day(real):
    path = sample(real, f"{IVOL}/spx_sample_ivolatility.csv.gz")
    rows = csv_rows(path)
    (batch,) = parse("ivolatility", path)
    assert len(batch.frame) == len(rows)
    sentinel = sum(1 for r in rows if float(r[14]) == -1.0)
    assert sentinel > 0 and int(batch.frame["vendor_iv"].isna().sum()) == sentinel
    assert batch.frame["contract_symbol"].str.startswith(("SPX ", "SPXW ", "SPXPM")).all()

    aapl = sample(real, f"{IVOL}/aapl_sample_ivolatility.csv.gz")
    arows = csv_rows(aapl)
    f = parse("ivolatility", aapl)[0].frame
    assert len(f) == len(arows)
    # the sample's second day is AAPL's chain relabelled "SPY" with a 5-wide OSI root: the
    # symbols stay as written, so the engine quarantines them as bad_occ_symbol
    spy = [r for r in arows if r[0] == "SPY"]
    valid = parse_occ(f["contract_symbol"])["valid"].to_numpy()
    assert int((~valid).sum()) == len(spy) > 0


# --------------------------------------------------------------------------------------------
# Cboe
# --------------------------------------------------------------------------------------------

CBOE = "spx_cboe_20110124_pyql"


def test_cboe_delayed_quotes(real):
    path = sample(real, f"{CBOE}/SPX-Options-24jan2011.csv")
    rows = csv_rows(path, skip=3)
    (batch,) = parse("cboe", path)
    check_canonical(batch)
    f = batch.frame
    assert len(f) == 2 * len(rows) == 1920 and n_bad(batch) == 0
    assert (f["quote_ts"] == utc("2011-01-24 19:03")).all()  # 14:03 ET
    assert (f["underlying"] == "SPX").all() and (f["underlying_last"] == 1290.59).all()
    r = rows[0]
    assert r[0] == "11 Jan 1075.00 (SPXW1128A1075-E)"
    c = row_of(f, contract_symbol="SPXW  110128C01075000")
    p = row_of(f, contract_symbol="SPXW  110128P01075000")
    assert (c["bid"], c["ask"], c["last"]) == (float(r[3]), float(r[4]), float(r[1]))
    assert (p["bid"], p["ask"], p["open_interest"]) == (float(r[10]), float(r[11]), int(r[13]))
    # standard February series (SPX1119B...) carries Saturday 2011-02-19 -> Friday 02-18
    feb = next(r for r in rows if "(SPX1119B1300-E)" in r[0])
    q = row_of(f, contract_symbol="SPX   110218C01300000")
    assert q["expiration"] == pd.Timestamp("2011-02-18") and q["bid"] == float(feb[3])
    assert set(f["underlying"]) == {"SPX"}
    assert {s[:6].strip() for s in f["contract_symbol"]} == {"SPX", "SPXW", "SPXPM"}


def test_cboe_folder_skips_pyql_derived_files(real):
    root = sample(real, CBOE)
    assert [p.name for p in SOURCES["cboe"].files(root)] == [
        "SPX-Options-24jan2011.csv",
        "frb_h15.csv",
    ]
    with pytest.raises(LoadError, match="pyql-derived"):
        parse("cboe", root / "df_SPX_24jan2011.csv")


def test_h15_rates(real):
    path = sample(real, f"{CBOE}/frb_h15.csv")
    rows = csv_rows(path, skip=6)
    cells = sum(1 for r in rows for v in r[1:] if v.strip() and v.strip() not in ("ND", "NC"))
    (batch,) = parse("cboe", path)
    f = batch.frame
    assert batch.table == "ref.rates" and len(f) == cells and n_bad(batch) == 0
    assert sorted(f["tenor_days"].unique()) == [
        30,
        91,
        183,
        365,
        730,
        1095,
        1460,
        1825,
        2555,
        3650,
        10950,
    ]
    first = rows[0]
    dep1m = row_of(f, as_of=pd.Timestamp(first[0]), tenor_days=30)
    r = float(first[9]) / 100
    assert dep1m["zero_rate"] == pytest.approx(365 / 30 * math.log(1 + r * 30 / 360))
    last = rows[-1]
    swap10 = row_of(f, as_of=pd.Timestamp(last[0]), tenor_days=3650)
    assert swap10["zero_rate"] == pytest.approx(2 * math.log(1 + float(last[7]) / 200))


# --------------------------------------------------------------------------------------------
# S&P 500, DataShop/optopsy, headlines, Yahoo
# --------------------------------------------------------------------------------------------

SP = "sp500_daily_2018_2021_pooksoft"


def test_sp500_daily_and_dividends(real):
    path = sample(real, f"{SP}/sp500_daily_adjusted_2018-01-02_2021-04-21.parquet")
    table = pq.read_table(
        path, columns=["ticker", "timestamp", "close", "adjusted_close", "dividend_amount"]
    )
    batches = parse("sp500", path)
    bars, divs = only(batches, "raw.equity_bars"), only(batches, "ref.dividends")
    check_canonical(bars)
    assert len(bars.frame) == table.num_rows == 415_080
    n_div = int((table.column("dividend_amount").to_numpy() > 0).sum())
    assert len(divs.frame) == n_div
    raw = table.to_pandas()
    r = raw[(raw["ticker"] == "AAPL") & (raw["timestamp"].astype(str) == "2020-08-31")].iloc[0]
    b = row_of(bars.frame, symbol="AAPL", ts=utc("2020-08-31 13:30"))
    assert (b["close"], b["adj_close"]) == (r["close"], r["adjusted_close"])


def test_sp500_constituents(real):
    path = sample(real, f"{SP}/constituents.csv")
    rows = csv_rows(path)
    (batch,) = parse("sp500_constituents", path)
    f = batch.frame
    assert batch.table == "ref.instruments" and len(f) == len(rows)
    assert (f["source"] == "sp500_constituents").all()
    assert row_of(f, symbol="MMM")["sector"] == "Industrials"
    assert SOURCES["sp500"].files(real / SP)[0].name == "constituents.csv"


OPT = "optopsy_mit_samples"


def test_datashop_layouts(real):
    a = sample(real, f"{OPT}/A.csv")
    rows = csv_rows(a)
    (batch,) = parse("datashop", a)
    assert len(batch.frame) == len(rows) == 208
    r = rows[0]
    q = row_of(batch.frame, contract_symbol="A     160115C00020000")
    assert (q["bid"], q["ask"], q["vendor_iv"]) == (float(r[9]), float(r[10]), float(r[14]))
    assert q["quote_ts"] == utc("2016-01-05 21:00")

    vxx = sample(real, f"{OPT}/VXX.csv.gz")
    vrows = csv_rows(vxx)
    (vb,) = parse("datashop", vxx)
    assert len(vb.frame) == len(vrows) == 27_940
    assert vb.frame["quote_ts"].nunique() == 20


def test_datashop_cboe_two_snapshots(real):
    path = sample(real, f"{OPT}/vix_options_cboe_datashop_20160601.csv")
    rows = csv_rows(path)
    (batch,) = parse("datashop", path)
    f = batch.frame
    assert len(f) == 2 * len(rows) and batch.file_day == pd.Timestamp("2016-06-01").date()
    assert sorted(f["quote_ts"].unique()) == [utc("2016-06-01 19:45"), utc("2016-06-01 20:00")]
    assert (f["underlying"] == "VIX").all()
    # volume only on the EOD row: summing rows does not double count
    assert f["volume"].sum() == sum(int(r[10]) for r in rows)
    r = next(r for r in rows if float(r[12]) > 0)
    sym = f"{r[2]:<6}{r[3][2:4]}{r[3][5:7]}{r[3][8:10]}{r[5]}{round(float(r[4]) * 1000):08d}"
    q1545 = row_of(f, contract_symbol=sym, quote_ts=utc("2016-06-01 19:45"))
    qeod = row_of(f, contract_symbol=sym, quote_ts=utc("2016-06-01 20:00"))
    assert (q1545["bid"], q1545["ask"]) == (float(r[12]), float(r[14]))
    assert (qeod["bid"], qeod["ask"]) == (float(r[18]), float(r[20]))


def test_headlines(real):
    for split, expect in (("train", 9543), ("valid", 2388)):
        path = sample(real, f"news_sentiment_labelled/twitter_financial_news_sent_{split}.csv.gz")
        rows = csv_rows(path)
        (batch,) = parse("headlines", path)
        f = batch.frame
        assert batch.table == "raw.sentiment_benchmark" and len(f) == len(rows) == expect
        assert (f["split"] == split).all() and f["row_no"].tolist() == list(range(len(rows)))
        # values are read whitespace-trimmed (read_csv_strings), e.g. a trailing U+00A0
        assert f["headline"].tolist() == [r[0].strip() for r in rows]
        names = {0: "Bearish", 1: "Bullish", 2: "Neutral"}
        assert f["label_name"].tolist() == [names[int(r[1])] for r in rows]


def test_generic_yahoo_json(real):
    path = sample(real, "pypi_package_datasets/pandas_datareader_yahoo_options1_AAPL_20160906.json")
    import json

    doc = json.loads(path.read_text())["optionChain"]["result"][0]
    calls, puts = doc["options"][0]["calls"], doc["options"][0]["puts"]
    (batch,) = parse("generic-yahoo", path)
    f = batch.frame
    assert len(f) == len(calls) + len(puts) == 76
    c = calls[0]
    q = row_of(f, contract_symbol="AAPL  160909C00080000")
    assert c["contractSymbol"] == "AAPL160909C00080000"
    assert (q["bid"], q["ask"], q["strike"]) == (c["bid"], c["ask"], c["strike"])
    assert q["quote_ts"] == utc("2016-09-06 20:00")  # regularMarketTime
    assert '"contractSymbol": "AAPL160909C00080000"' in batch.raw_records(np.array([0]))[0]


# --------------------------------------------------------------------------------------------
# generic mappings without a real sample: crafted files in each vendor's layout
# --------------------------------------------------------------------------------------------


def test_generic_optionmetrics_layout(tmp_path):
    f = tmp_path / "opprcd2024.csv"
    f.write_text(
        "secid,date,symbol,exdate,cp_flag,strike_price,best_bid,best_offer,volume,"
        "open_interest,impl_volatility,delta,gamma,vega,theta\n"
        "101594,2024-01-02,AAPL 240119C190000,2024-01-19,C,190000,1.5,1.6,100,2000,0.25,0.55,"
        "0.04,0.1,-0.05\n"
        "108105,2011-01-03,SPX 110122P1200000,2011-01-22,P,1200000,5.1,5.4,3,10,-99.99,-99.99,"
        "-99.99,-99.99,-99.99\n"
        "101594,2024-01-02,AAPL 240119C190000,2024-01-19,C,19x000,1.5,1.6,1,1,0.2,0.5,0.1,0.1,"
        "-0.1\n"
    )
    (batch,) = parse("generic-optionmetrics", f)
    fr = batch.frame
    assert fr["contract_symbol"].tolist()[:2] == ["AAPL  240119C00190000", "SPX   110121P01200000"]
    assert fr.iloc[0]["strike"] == 190.0 and fr.iloc[0]["quote_ts"] == utc("2024-01-02 21:00")
    assert fr.iloc[1][["vendor_iv", "vendor_delta"]].isna().all()  # -99.99 = missing
    assert batch.bad["malformed_number"].tolist() == [False, False, True]


def test_generic_polygon_layout(tmp_path):
    f = tmp_path / "quotes.csv"
    f.write_text(
        "ticker,ask_exchange,ask_price,ask_size,bid_exchange,bid_price,bid_size,"
        "sequence_number,sip_timestamp\n"
        "O:SPXW240119P04700000,301,10.6,10,302,10.5,12,1,1704213000123456789\n"
        "O:AAPL240119C00190000,301,1.6,10,302,1.5,12,2,later\n"
    )
    (batch,) = parse("generic-polygon", f)
    fr = batch.frame
    assert fr.iloc[0]["contract_symbol"] == "SPXW  240119P04700000"
    assert fr.iloc[0]["underlying"] == "SPX"
    assert fr.iloc[0]["quote_ts"] == utc("2024-01-02 16:30:00.123456")
    assert batch.bad["malformed_timestamp"].tolist() == [False, True]


def test_generic_canonical_header_errors(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(LoadError, match="does not fit mapping generic-canonical"):
        parse("generic-canonical", f)


# --------------------------------------------------------------------------------------------
# round trip through the engine: every record of a file is loaded, duplicate or quarantined
# --------------------------------------------------------------------------------------------

INSTRUMENTS = (
    "symbol,name,asset_class,option_exercise_style,source\n"
    "SPX,S&P 500 index,index,E,test\nVIX,Cboe VIX,index,E,test\n"
    "SPY,SPDR S&P 500 ETF,etf,A,test\nVXX,iPath VIX ETN,etn,A,test\n"
    "IBM,IBM,equity,A,test\nGOOG,Alphabet C,equity,A,test\n"
)


@pytest.fixture(scope="module")
def loaded_refs(warehouse_db, real, tmp_path_factory) -> None:
    from warehouse.loaders.engine import load_path

    f = tmp_path_factory.mktemp("refs") / "instruments.csv"
    f.write_text(INSTRUMENTS)
    (rep,) = load_path("ref-instruments", f, progress=False)
    assert rep.status == "loaded", rep.error
    (rep,) = load_path("sp500_constituents", sample(real, f"{SP}/constituents.csv"), progress=False)
    assert rep.status == "loaded", rep.error


def _zip_records(path: Path) -> int:
    return sum(map(len, zip_entries(path).values()))


ROUND_TRIP = [
    # (source, sample, independent record count, expected quarantine reasons)
    (
        "lean",
        f"{LEAN}/option/usa/universes/spy/20240105.csv",
        lambda p: len(csv_rows(p)),
        {"malformed_number": 1},
    ),
    ("lean", f"{LEAN}/equity/usa/tick/ibm/20131007_trade.zip", _zip_records, None),
    ("lean", f"{LEAN}/indexoption/usa/minute/spxw/20210105_quote_european.zip", None, None),
    (
        "ivolatility",
        f"{IVOL}/RawIV_5day_sample.csv.gz",
        lambda p: len(csv_rows(p)),
        {"zero_ask": 1},
    ),
    ("cboe", f"{CBOE}/SPX-Options-24jan2011.csv", lambda p: 2 * len(csv_rows(p, skip=3)), None),
    (
        "datashop",
        f"{OPT}/vix_options_cboe_datashop_20160601.csv",
        lambda p: 2 * len(csv_rows(p)),
        None,
    ),
    (
        "headlines",
        "news_sentiment_labelled/twitter_financial_news_sent_valid.csv.gz",
        lambda p: len(csv_rows(p)),
        {},
    ),
    (
        "generic-yahoo",
        "pypi_package_datasets/pandas_datareader_yahoo_options1_AAPL_20160906.json",
        lambda p: 76,
        {},
    ),
]


@pytest.mark.parametrize(
    ("source", "rel", "count", "reasons"),
    ROUND_TRIP,
    ids=[f"{s}:{Path(r).name}" for s, r, _, _ in ROUND_TRIP],
)
def test_round_trip_accounts_for_every_record(source, rel, count, reasons, real, loaded_refs, conn):
    from psycopg import sql

    from warehouse.loaders.engine import load_path

    path = sample(real, rel)
    (rep,) = load_path(source, path, progress=False)
    assert rep.status == "loaded", rep.error
    if count is not None:
        assert rep.rows_read == count(path)
    assert rep.rows_read == rep.rows_loaded + rep.rows_duplicate + rep.rows_quarantined
    assert rep.rows_loaded > 0
    if reasons is not None:
        assert dict(rep.quarantined_by_reason) == reasons
    q = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE raw_record = '') "
        "FROM raw.quarantine WHERE load_id = %s",
        (rep.load_id,),
    ).fetchone()
    assert q == (rep.rows_quarantined, 0)  # every quarantined record keeps its text
    for table, n in rep.rows_by_table.items():
        if table.startswith("raw."):
            schema, name = table.split(".")
            got = conn.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE load_id = %s").format(
                    sql.Identifier(schema, name)
                ),
                (rep.load_id,),
            ).fetchone()[0]
            assert got == n


def test_round_trip_values_and_rates(real, loaded_refs, conn):
    from warehouse.loaders.engine import load_path

    (rep,) = load_path("cboe", sample(real, f"{CBOE}/frb_h15.csv"), progress=False)
    assert rep.status == "loaded" and rep.rows_quarantined == 0
    n = conn.execute("SELECT count(*) FROM ref.rates WHERE source = 'frb_h15'").fetchone()[0]
    assert n == rep.rows_read > 30_000
    spx = sample(real, f"{CBOE}/SPX-Options-24jan2011.csv")
    load_path("cboe", spx, progress=False)  # loaded above or now; a reload is a no-op
    row = conn.execute(
        "SELECT bid, ask, expiration, underlying FROM raw.option_quotes "
        "WHERE contract_symbol = 'SPXW  110128C01075000' "
        "AND quote_ts = '2011-01-24 19:03:00+00'"
    ).fetchone()
    first = csv_rows(spx, skip=3)[0]
    assert row == (float(first[3]), float(first[4]), pd.Timestamp("2011-01-28").date(), "SPX")
    quarantined = conn.execute(
        "SELECT q.line_no, q.reason, q.raw_record FROM raw.quarantine q "
        "JOIN raw.load_reports r USING (load_id) WHERE r.file_path LIKE %s",
        ("%/spy/20240105.csv",),
    ).fetchall()
    if quarantined:  # loaded by the round-trip case above
        lines = text_of(sample(real, f"{LEAN}/option/usa/universes/spy/20240105.csv"))
        ((line_no, reason, raw),) = quarantined
        assert reason == "malformed_number" and raw == lines.splitlines()[line_no - 1]
