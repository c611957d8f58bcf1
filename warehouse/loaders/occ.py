"""OCC/OSI option symbols: vectorised parsing and formatting.

The canonical form (what ``raw.option_quotes.contract_symbol`` holds) is the 21-character OSI
symbol: root left-justified and padded with spaces to 6 characters, expiration ``yymmdd``,
``C``/``P``, strike x 1000 as 8 zero-padded digits, e.g. ``"AAPL  240119C00190000"``.

``parse_occ`` also accepts the compact form without padding (``AAPL240119C00190000``, as used
by Yahoo, DataShop and Polygon) and an optional ``O:`` prefix (Polygon tickers). Everything
runs as Arrow compute kernels over the whole array: no per-row Python.

Expiration convention: OCC symbols listed before February 2015 carry the *Saturday* after the
last trading day (the then legal expiration date); since 2015 they carry the Friday. Vendors
disagree on which date they print (Lean and iVolatility's expiration column give the Friday,
the symbols of iVolatility/CBOE give the Saturday). ``friday_expiry`` maps a Saturday to the
preceding Friday so one contract has one key across sources; parsers apply it to vendor data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# root: 1-6 of A-Z/0-9; padding spaces (padded form) or none (compact); yymmdd; C/P; 8 digits
OCC_PATTERN = (
    r"^(?:O:)?(?P<root>[A-Z0-9]{1,6})(?P<pad> *)(?P<yy>[0-9]{2})(?P<mm>[0-9]{2})(?P<dd>[0-9]{2})"
    r"(?P<right>[CP])(?P<strike>[0-9]{8})$"
)

# Option roots whose underlying has another symbol (index option classes: weeklies, PM-settled).
ROOT_TO_UNDERLYING: dict[str, str] = {
    "SPXW": "SPX",
    "SPXPM": "SPX",
    "SPXQ": "SPX",
    "SPT": "SPX",
    "VIXW": "VIX",
    "BVZ": "VIX",
    "NDXP": "NDX",
    "NQX": "NDX",
    "RUTW": "RUT",
    "MRUT": "RUT",
    "DJXW": "DJX",
    "XSPW": "XSP",
}

OCC_LENGTH = 21


def _as_string_array(values: Sequence[str | None] | pd.Series | np.ndarray | pa.Array) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values.cast(pa.string()) if values.type != pa.string() else values
    if isinstance(values, pd.Series):
        values = values.astype(object).where(values.notna(), None).to_numpy()
    return pa.array(values, type=pa.string(), from_pandas=True)


def parse_occ(symbols: Sequence[str | None] | pd.Series | np.ndarray | pa.Array) -> pd.DataFrame:
    """Split OCC/OSI symbols into fields.

    Returns a frame aligned with ``symbols`` with columns ``root`` (str), ``expiration``
    (``datetime64[s]`` at midnight, NaT when invalid), ``option_right`` ('C'/'P'), ``strike``
    (float, currency units) and ``valid`` (bool). A symbol is valid when it matches the padded
    21-character form (root + spaces exactly 6 wide) or the compact form (no spaces), with an
    optional ``O:`` prefix, and its date is a real calendar date. Surrounding whitespace is
    ignored; lower case is not accepted. Invalid rows have null fields.
    """
    arr = pc.utf8_trim_whitespace(_as_string_array(symbols))
    parts = pc.extract_regex(arr, OCC_PATTERN)  # null where no match (or null input)
    matched = pc.fill_null(pc.is_valid(parts), False)
    root = pc.struct_field(parts, "root")
    pad = pc.struct_field(parts, "pad")
    width = pc.add(pc.utf8_length(root), pc.utf8_length(pad))
    pad_ok = pc.or_(pc.equal(pc.utf8_length(pad), 0), pc.equal(width, 6))
    iso = pc.binary_join_element_wise(
        "20",
        pc.struct_field(parts, "yy"),
        "-",
        pc.struct_field(parts, "mm"),
        "-",
        pc.struct_field(parts, "dd"),
        "",
    )
    expiration = pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls impossible days over (2024-02-30 -> 03-01): require the round trip
    real_day = pc.equal(pc.strftime(expiration, format="%Y-%m-%d"), iso)
    expiration = pc.if_else(
        pc.fill_null(real_day, False), expiration, pa.scalar(None, pa.timestamp("s"))
    )
    strike = pc.divide(pc.cast(pc.struct_field(parts, "strike"), pa.float64()), 1000.0)
    valid = pc.and_(
        pc.and_(matched, pc.fill_null(pad_ok, False)), pc.fill_null(pc.is_valid(expiration), False)
    )
    null_str = pa.scalar(None, pa.string())
    out = pd.DataFrame(
        {
            "root": pc.if_else(valid, root, null_str).to_pandas(),
            "expiration": pd.Series(
                pc.if_else(valid, expiration, pa.scalar(None, pa.timestamp("s"))).to_pandas(),
                dtype="datetime64[s]",
            ),
            "option_right": pc.if_else(
                valid, pc.struct_field(parts, "right"), null_str
            ).to_pandas(),
            "strike": pc.if_else(valid, strike, pa.scalar(None, pa.float64()))
            .to_numpy(zero_copy_only=False)
            .astype(np.float64),
            "valid": valid.to_numpy(zero_copy_only=False).astype(bool),
        }
    )
    return out


def format_occ(
    root: Sequence | pd.Series | np.ndarray | pa.Array,
    expiration: Sequence | pd.Series | np.ndarray,
    right: Sequence | pd.Series | np.ndarray | pa.Array,
    strike: Sequence | pd.Series | np.ndarray,
) -> np.ndarray:
    """Build 21-character OSI symbols (object array of str, None where a field is unusable).

    ``root``: 1-6 characters A-Z/0-9; ``expiration``: dates (anything ``pd.to_datetime``
    accepts); ``right``: 'C'/'P'; ``strike`` in currency units, rounded to 1/1000 and written
    as 8 digits (so 0 <= strike < 100000). A row with a missing or out-of-domain field gets
    None, never a malformed symbol.
    """
    roots = pc.utf8_trim_whitespace(_as_string_array(root))
    rights = _as_string_array(right)
    exp = pd.to_datetime(pd.Series(expiration), errors="coerce")
    exp_str = pc.strftime(pa.array(exp.dt.as_unit("s"), from_pandas=True), format="%y%m%d")
    k = np.asarray(pd.to_numeric(pd.Series(strike), errors="coerce"), dtype=np.float64)
    milli = np.rint(k * 1000.0)
    k_ok = np.isfinite(milli) & (milli >= 0) & (milli < 1e8)
    k_int = pa.array(np.where(k_ok, milli, 0).astype(np.int64), mask=~k_ok)
    k_str = pc.utf8_lpad(pc.cast(k_int, pa.string()), width=8, padding="0")
    root_ok = pc.fill_null(pc.match_substring_regex(roots, r"^[A-Z0-9]{1,6}$"), False)
    right_ok = pc.fill_null(pc.is_in(rights, value_set=pa.array(["C", "P"])), False)
    sym = pc.binary_join_element_wise(
        pc.utf8_rpad(roots, width=6, padding=" "),
        exp_str,
        rights,
        k_str,
        "",
    )
    ok = pc.and_(root_ok, right_ok)
    sym = pc.if_else(ok, sym, pa.scalar(None, pa.string()))
    return np.asarray(sym.to_numpy(zero_copy_only=False), dtype=object)


def normalize_occ(symbols: Sequence | pd.Series | np.ndarray | pa.Array) -> np.ndarray:
    """Valid symbols (any accepted form) rewritten to the padded 21-character form.

    Invalid symbols are returned unchanged (stripped), so that the engine can quarantine them
    as ``bad_occ_symbol`` with the value the vendor wrote.
    """
    arr = pc.utf8_trim_whitespace(_as_string_array(symbols))
    parsed = parse_occ(arr)
    fmt = format_occ(parsed["root"], parsed["expiration"], parsed["option_right"], parsed["strike"])
    raw = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    return np.where(parsed["valid"].to_numpy() & pd.notna(fmt), fmt, raw)


def friday_expiry(expiration: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Map Saturday expirations (pre-2015 OCC convention) to the preceding Friday.

    Returns (adjusted dates, mask of rows changed).
    """
    exp = pd.to_datetime(expiration, errors="coerce")
    sat = (exp.dt.day_of_week == 5).fillna(False).to_numpy(dtype=bool)
    return exp.where(~sat, exp - pd.Timedelta(days=1)), sat


def underlying_for_root(roots: pd.Series) -> pd.Series:
    """Underlying symbol of an option root (``SPXW`` -> ``SPX``; equity roots map to themselves)."""
    return roots.replace(ROOT_TO_UNDERLYING)
