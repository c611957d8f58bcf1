"""Vectorised row validation: one boolean mask per reason code, first failing reason wins.

Rules are the warehouse's landing contract (see ``base.REASONS``). They run over whole
batches with numpy/pandas; there is no per-row Python on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from warehouse.loaders.base import REASONS, Batch
from warehouse.loaders.calendar import local_days, session_bounds
from warehouse.loaders.tables import TableSpec

REASON_INDEX = {r: i for i, r in enumerate(REASONS)}


@dataclass
class Validated:
    good: pd.DataFrame  # rows to write, canonical columns (+ _line)
    bad_rows: np.ndarray  # positions in the batch frame of quarantined rows
    bad_reasons: list[list[str]]  # all failing reasons per quarantined row, check order


def _num(frame: pd.DataFrame, col: str) -> np.ndarray | None:
    if col not in frame:
        return None
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _lt(a: np.ndarray | None, b: float | np.ndarray) -> np.ndarray | bool:
    return False if a is None else np.less(a, b, where=~np.isnan(a), out=np.zeros(len(a), bool))


class Checker:
    """Accumulates reason masks for one batch."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.masks = np.zeros((n, len(REASONS)), dtype=bool)

    def flag(self, reason: str, mask: np.ndarray | bool) -> None:
        if mask is False:
            return
        self.masks[:, REASON_INDEX[reason]] |= np.asarray(mask, dtype=bool)

    @property
    def any_bad(self) -> np.ndarray:
        return self.masks.any(axis=1)


def validate(batch: Batch, spec: TableSpec, known_symbols: frozenset[str] | None) -> Validated:
    """Split a batch into loadable rows and quarantined rows with their reasons."""
    frame = batch.frame
    n = len(frame)
    chk = Checker(n)
    if batch.bad is not None:
        for reason in batch.bad.columns:
            chk.flag(reason, batch.bad[reason].to_numpy(dtype=bool))

    for col in spec.required:
        if col not in frame:
            chk.flag("missing_required", np.ones(n, bool))
        else:
            chk.flag("missing_required", frame[col].isna().to_numpy())

    for col, kind in spec.columns:
        if kind == "int" and col in frame and frame[col].dtype.kind == "f":
            v = frame[col].to_numpy()
            chk.flag("malformed_number", ~np.isnan(v) & (v != np.floor(v)))

    table = spec.name
    if table == "raw.option_quotes":
        _check_option_quotes(frame, chk, known_symbols)
    elif table in ("raw.equity_trades", "raw.equity_quotes", "raw.equity_bars"):
        _check_equity(frame, table, chk, known_symbols)

    if spec.time_col and spec.time_col in frame and n:
        _check_times(frame[spec.time_col], batch, spec, chk)

    if spec.extra.get("domains"):
        for col, allowed in spec.extra["domains"].items():
            if col in frame:
                chk.flag(
                    "bad_value",
                    frame[col].notna().to_numpy() & ~frame[col].isin(allowed).to_numpy(),
                )

    # duplicates are judged among rows that are otherwise good: the first occurrence loads
    ok = ~chk.any_bad
    if ok.any() and all(k in frame for k in spec.key):
        dup = np.zeros(n, dtype=bool)
        dup[ok] = frame.loc[ok, list(spec.key)].duplicated(keep="first").to_numpy()
        chk.flag("duplicate_key_in_file", dup)

    bad = chk.any_bad
    bad_rows = np.flatnonzero(bad)
    reasons = [[REASONS[j] for j in np.flatnonzero(chk.masks[i])] for i in bad_rows]
    good = frame.loc[~bad] if bad.any() else frame
    return Validated(good=good, bad_rows=bad_rows, bad_reasons=reasons)


def _unknown(series: pd.Series, known: frozenset[str] | None) -> np.ndarray | bool:
    if known is None:
        return False
    return series.notna().to_numpy() & ~series.isin(known).to_numpy()


def _check_option_quotes(frame: pd.DataFrame, chk: Checker, known: frozenset[str] | None) -> None:
    from warehouse.loaders.occ import format_occ, parse_occ

    n = len(frame)
    if "contract_symbol" in frame and n:
        parsed = parse_occ(frame["contract_symbol"])
        valid = parsed["valid"].to_numpy(dtype=bool)
        chk.flag("bad_occ_symbol", frame["contract_symbol"].notna().to_numpy() & ~valid)
        mismatch = np.zeros(n, dtype=bool)
        if "expiration" in frame:
            exp = pd.to_datetime(frame["expiration"], errors="coerce").to_numpy("datetime64[D]")
            pexp = pd.to_datetime(parsed["expiration"], errors="coerce").to_numpy("datetime64[D]")
            mismatch |= valid & ~np.isnat(exp) & (exp != pexp)
        if "option_right" in frame:
            mismatch |= (
                valid
                & frame["option_right"].notna().to_numpy()
                & (frame["option_right"].to_numpy() != parsed["option_right"].to_numpy())
            )
        if "strike" in frame:
            k = _num(frame, "strike")
            pk = parsed["strike"].to_numpy(dtype=np.float64, na_value=np.nan)
            mismatch |= valid & ~np.isnan(k) & (np.round(k * 1000) != np.round(pk * 1000))
        chk.flag("occ_field_mismatch", mismatch)
        # store the canonical padded 21-character form (a valid 21-character symbol already is)
        reformat = valid & (frame["contract_symbol"].str.len().to_numpy() != 21)
        if reformat.any():
            sym = frame["contract_symbol"].to_numpy(dtype=object).copy()
            sym[reformat] = format_occ(
                parsed["root"][reformat],
                parsed["expiration"][reformat],
                parsed["option_right"][reformat],
                parsed["strike"][reformat],
            )
            frame["contract_symbol"] = sym
    if "underlying" in frame:
        chk.flag("unknown_underlying", _unknown(frame["underlying"], known))
    if "option_right" in frame:
        chk.flag(
            "bad_value",
            frame["option_right"].notna().to_numpy()
            & ~frame["option_right"].isin(("C", "P")).to_numpy(),
        )
    bid, ask, last = _num(frame, "bid"), _num(frame, "ask"), _num(frame, "last")
    for v in (bid, ask, last):
        chk.flag("negative_price", _lt(v, 0.0))
    if bid is not None and ask is not None:
        chk.flag("crossed_quote", _lt(ask, np.nan_to_num(bid, nan=-np.inf)))
    if ask is not None:
        chk.flag("zero_ask", ask == 0.0)
    strike = _num(frame, "strike")
    if strike is not None:
        chk.flag("nonpositive_strike", ~np.isnan(strike) & (strike <= 0))
    iv = _num(frame, "vendor_iv")
    if iv is not None:
        chk.flag("iv_out_of_range", ~np.isnan(iv) & ((iv <= 0) | (iv >= 5)))
    delta = _num(frame, "vendor_delta")
    if delta is not None:
        chk.flag("delta_out_of_range", ~np.isnan(delta) & (np.abs(delta) > 1))
    chk.flag("negative_gamma", _lt(_num(frame, "vendor_gamma"), 0.0))
    chk.flag("negative_oi_volume", _lt(_num(frame, "open_interest"), 0.0))
    chk.flag("negative_oi_volume", _lt(_num(frame, "volume"), 0.0))
    chk.flag("negative_size", _lt(_num(frame, "bid_size"), 0.0))
    chk.flag("negative_size", _lt(_num(frame, "ask_size"), 0.0))
    if "expiration" in frame and "quote_ts" in frame and n:
        exp = pd.to_datetime(frame["expiration"], errors="coerce").to_numpy("datetime64[D]")
        ts = frame["quote_ts"]
        ok = ts.notna().to_numpy() & ~np.isnat(exp)
        if ok.any():
            qday = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
            qday[ok] = local_days(ts[ok])
            chk.flag("expiry_before_quote", ok & (exp < qday))


def _check_equity(
    frame: pd.DataFrame, table: str, chk: Checker, known: frozenset[str] | None
) -> None:
    if "symbol" in frame:
        chk.flag("unknown_underlying", _unknown(frame["symbol"], known))
    for col in ("price", "bid", "ask", "open", "high", "low", "close", "adj_close"):
        chk.flag("negative_price", _lt(_num(frame, col), 0.0))
    if table == "raw.equity_trades":
        price, size = _num(frame, "price"), _num(frame, "size")
        if price is not None:
            chk.flag("negative_price", ~np.isnan(price) & (price <= 0))
        if size is not None:
            chk.flag("negative_size", ~np.isnan(size) & (size <= 0))
    if table == "raw.equity_quotes":
        bid, ask = _num(frame, "bid"), _num(frame, "ask")
        if bid is not None and ask is not None:
            both = ~np.isnan(bid) & ~np.isnan(ask) & (bid > 0) & (ask > 0)
            chk.flag("crossed_quote", both & (ask < bid))
        chk.flag("negative_size", _lt(_num(frame, "bid_size"), 0.0))
        chk.flag("negative_size", _lt(_num(frame, "ask_size"), 0.0))
    if table == "raw.equity_bars":
        hi, lo = _num(frame, "high"), _num(frame, "low")
        if hi is not None and lo is not None:
            chk.flag("bad_value", ~np.isnan(hi) & ~np.isnan(lo) & (hi < lo))
        chk.flag("negative_size", _lt(_num(frame, "volume"), 0.0))


def _check_times(ts: pd.Series, batch: Batch, spec: TableSpec, chk: Checker) -> None:
    ok = ts.notna().to_numpy()
    if not ok.any():
        return
    n = len(ts)
    days = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    days[ok] = local_days(ts[ok])
    if batch.file_day is not None:
        chk.flag("ts_outside_file_day", ok & (days != np.datetime64(batch.file_day, "D")))
    if spec.session:
        start, end = session_bounds(days[ok], spec.session)
        v = pd.to_datetime(ts[ok], utc=True).dt.as_unit("ns").array.asi8
        outside = np.zeros(n, dtype=bool)
        outside[ok] = (v < start) | (v > end)
        chk.flag("ts_outside_session", outside)
