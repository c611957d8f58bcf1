"""OCC/OSI symbol parsing and formatting (warehouse.loaders.occ)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from warehouse.loaders.occ import (
    format_occ,
    friday_expiry,
    normalize_occ,
    parse_occ,
    underlying_for_root,
)

KNOWN = [
    # symbol, root, expiration, right, strike
    ("AAPL  240119C00190000", "AAPL", dt.date(2024, 1, 19), "C", 190.0),
    ("SPXW  230317P03900000", "SPXW", dt.date(2023, 3, 17), "P", 3900.0),
    ("SPY   240105C00470500", "SPY", dt.date(2024, 1, 5), "C", 470.5),
    ("AAPL7 140620C00500000", "AAPL7", dt.date(2014, 6, 20), "C", 500.0),
    ("SPXPM 110121C01000000", "SPXPM", dt.date(2011, 1, 21), "C", 1000.0),
    ("BRKB  240119C00000500", "BRKB", dt.date(2024, 1, 19), "C", 0.5),
    ("ABCDEF240119P12345678", "ABCDEF", dt.date(2024, 1, 19), "P", 12345.678),
    # compact form and Polygon's O: prefix
    ("AAPL240119C00190000", "AAPL", dt.date(2024, 1, 19), "C", 190.0),
    ("O:AAPL240119C00190000", "AAPL", dt.date(2024, 1, 19), "C", 190.0),
    ("O:SPXW230317P03900000", "SPXW", dt.date(2023, 3, 17), "P", 3900.0),
    ("A160115C00020000", "A", dt.date(2016, 1, 15), "C", 20.0),
    # surrounding whitespace is ignored
    ("  VIX   160601C00010000 ", "VIX", dt.date(2016, 6, 1), "C", 10.0),
]

INVALID = [
    "garbage",
    "",
    None,
    "AAPL 240119C00190000",  # padding must make the root 6 wide
    "SPY  140808C00055000",  # the iVolatility sample's 5-wide pad
    "AAPL  241319C00190000",  # month 13
    "AAPL  240230C00190000",  # 30 February
    "AAPL  240119X00190000",  # right not C/P
    "AAPL  240119C0019000",  # 7 strike digits
    "aapl  240119C00190000",  # lower case
    "TOOLONG240119C00190000",  # 7-character root
    "O:AAPL  240119C0019000O",  # letter in the strike
    "AAPL  24O119C00190000",  # letter in the date
]


def test_known_symbols_parse():
    got = parse_occ([k[0] for k in KNOWN])
    assert got["valid"].all()
    for i, (sym, root, exp, right, strike) in enumerate(KNOWN):
        row = got.iloc[i]
        assert row["root"] == root, sym
        assert row["expiration"].date() == exp, sym
        assert row["option_right"] == right, sym
        assert row["strike"] == pytest.approx(strike), sym


def test_invalid_symbols():
    got = parse_occ(INVALID)
    assert not got["valid"].any()
    assert got["root"].isna().all() and got["expiration"].isna().all()
    assert got["strike"].isna().all() and got["option_right"].isna().all()


def test_accepts_pandas_arrow_and_numpy_inputs():
    syms = ["AAPL  240119C00190000", None, "junk"]
    expect = [True, False, False]
    assert parse_occ(pd.Series(syms))["valid"].tolist() == expect
    assert parse_occ(pa.array(syms))["valid"].tolist() == expect
    assert parse_occ(pa.chunked_array([syms[:1], syms[1:]]))["valid"].tolist() == expect
    assert parse_occ(np.array(syms, dtype=object))["valid"].tolist() == expect
    # output rows align with a non-default index of the input
    s = pd.Series(syms, index=[10, 20, 30])
    assert len(parse_occ(s)) == 3


def test_format_round_trips_the_known_symbols():
    parsed = parse_occ([k[0] for k in KNOWN])
    out = format_occ(parsed["root"], parsed["expiration"], parsed["option_right"], parsed["strike"])
    for (sym, *_), formatted in zip(KNOWN, out, strict=True):
        assert len(formatted) == 21
        assert parse_occ([formatted])["valid"].iloc[0]
        if " " in sym.strip() or sym.startswith("ABCDEF"):  # already the canonical form
            assert formatted == sym.strip()
    assert out[7] == out[8] == "AAPL  240119C00190000"  # compact and O: -> padded
    assert out[10] == "A     160115C00020000"


def test_format_examples_and_unusable_fields():
    out = format_occ(
        ["AAPL", "SPXW", "X", None, "TOOLONGX", "SPY", "SPY", "spy"],
        [
            "2024-01-19",
            dt.date(2023, 3, 17),
            "2024-01-19",
            "2024-01-19",
            "2024-01-19",
            None,
            "2024-01-05",
            "2024-01-05",
        ],
        ["C", "P", "C", "C", "C", "C", "Q", "C"],
        [190.0, 3900, -1.0, 5, 5, 470.5, 470.5, 470.5],
    )
    assert out[0] == "AAPL  240119C00190000"
    assert out[1] == "SPXW  230317P03900000"
    assert out[2:].tolist() == [None] * 6  # negative strike, no root, long root, no date,
    # bad right, lower-case root: never a malformed symbol


def test_strike_rounding_to_thousandths():
    out = format_occ(["SPY"] * 3, ["2024-01-05"] * 3, ["C"] * 3, [470.4999999, 0.001, 99999.999])
    assert out.tolist() == [
        "SPY   240105C00470500",
        "SPY   240105C00000001",
        "SPY   240105C99999999",
    ]
    assert format_occ(["SPY"], ["2024-01-05"], ["C"], [100000.0])[0] is None


def test_normalize_keeps_invalid_text_for_quarantine():
    out = normalize_occ(["O:AAPL240119C00190000", "junk ", None])
    assert out.tolist() == ["AAPL  240119C00190000", "junk", None]


def test_friday_expiry_maps_pre_2015_saturdays():
    exp, changed = friday_expiry(pd.Series(pd.to_datetime(["2011-01-22", "2011-01-21", None])))
    assert exp.iloc[0] == pd.Timestamp("2011-01-21") and exp.iloc[1] == pd.Timestamp("2011-01-21")
    assert pd.isna(exp.iloc[2])
    assert changed.tolist() == [True, False, False]


def test_underlying_for_root():
    got = underlying_for_root(pd.Series(["SPXW", "SPXPM", "VIXW", "AAPL", None]))
    assert got.iloc[:4].tolist() == ["SPX", "SPX", "VIX", "AAPL"]
    assert pd.isna(got.iloc[4])


def test_vectorised_speed():
    syms = pd.Series(["SPXW  230317P03900000", "AAPL240119C00190000"] * 100_000)
    import time

    t0 = time.perf_counter()
    got = parse_occ(syms)
    elapsed = time.perf_counter() - t0
    assert got["valid"].all()
    assert elapsed < 5.0
