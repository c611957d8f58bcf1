"""The load engine against the real database: quarantine reasons, idempotency, atomicity.

Crafted files use the ``generic-canonical`` option-chain format (columns named like
``raw.option_quotes``), so each test can break exactly one rule.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from warehouse.loaders.engine import load_path

HEADER = (
    "quote_ts,underlying,contract_symbol,expiration,strike,option_right,bid,ask,"
    "bid_size,ask_size,last,volume,open_interest,vendor_iv,vendor_delta,vendor_gamma"
)
# a good row: 2024-01-02 15:45 New York (20:45 UTC), inside the XNYS session
GOOD = (
    "2024-01-02T20:45:00Z,TSTA,TSTA  240119C00100000,2024-01-19,100,C,1.00,1.10,"
    "10,12,1.05,5,100,0.25,0.55,0.04"
)


def good_row(strike: int) -> str:
    return GOOD.replace("C00100000", f"C{strike * 1000:08d}").replace(",100,C,", f",{strike},C,")


@pytest.fixture(scope="module")
def instruments(warehouse_db, tmp_path_factory) -> None:
    f = tmp_path_factory.mktemp("ref") / "instruments.csv"
    f.write_text(
        "symbol,name,asset_class,option_exercise_style,source\n"
        "TSTA,Test A,equity,A,test\nTSTX,Test index,index,E,test\n"
    )
    (report,) = load_path("ref-instruments", f, progress=False)
    assert report.status == "loaded" and report.rows_loaded == 2


def write(tmp_path: Path, name: str, lines: list[str], newline_at_end: bool = True) -> Path:
    f = tmp_path / name
    f.write_text("\n".join([HEADER, *lines]) + ("\n" if newline_at_end else ""))
    return f


def quarantined(conn, load_id: int) -> list[tuple]:
    return conn.execute(
        "SELECT line_no, reason, reasons, raw_record FROM raw.quarantine WHERE load_id = %s "
        "ORDER BY line_no",
        (load_id,),
    ).fetchall()


# each case: (reason, how to break the good row)
BREAKS = {
    "crossed_quote": lambda r: r.replace("1.00,1.10", "1.20,1.10"),
    "negative_price": lambda r: r.replace("1.00,1.10", "-1.00,1.10"),
    "zero_ask": lambda r: r.replace("1.00,1.10", "0,0"),
    "iv_out_of_range": lambda r: r.replace(",0.25,", ",5.5,"),
    "delta_out_of_range": lambda r: r.replace(",0.55,", ",1.2,"),
    "negative_gamma": lambda r: r.replace(",0.04", ",-0.04"),
    "negative_oi_volume": lambda r: r.replace(",5,100,", ",5,-100,"),
    "negative_size": lambda r: r.replace(",10,12,", ",-10,12,"),
    "expiry_before_quote": lambda r: r.replace("240119", "231229").replace(
        "2024-01-19", "2023-12-29"
    ),
    "bad_occ_symbol": lambda r: r.replace("TSTA  240119C", "TSTA  24O119C"),
    "occ_field_mismatch": lambda r: r.replace(",C,1.00", ",P,1.00"),
    "unknown_underlying": lambda r: r.replace("TSTA", "ZZZZ"),
    "ts_outside_session": lambda r: r.replace("20:45:00Z", "03:15:00Z"),
    "malformed_number": lambda r: r.replace("1.00,1.10", "1.0O,1.10"),
    "malformed_timestamp": lambda r: r.replace("2024-01-02T20:45:00Z", "2024-13-45T99:00:00Z"),
    "missing_required": lambda r: r.replace("2024-01-02T20:45:00Z", ""),
    "nonpositive_strike": lambda r: re.sub(r",(\d+),C,", r",-\1,C,", r, count=1),
}


@pytest.mark.parametrize("reason", sorted(BREAKS))
def test_each_reason_lands_in_quarantine(reason, instruments, conn, tmp_path):
    strike = 100 + sorted(BREAKS).index(reason)
    bad = BREAKS[reason](good_row(strike + 50))
    f = write(tmp_path, f"{reason}.csv", [good_row(strike), bad])
    (report,) = load_path("generic-canonical", f, progress=False)
    assert report.status == "loaded", report.error
    assert report.rows_read == 2
    assert report.rows_loaded + report.rows_duplicate == 1
    rows = quarantined(conn, report.load_id)
    assert len(rows) == 1
    line_no, first, reasons, raw = rows[0]
    assert (line_no, first, raw) == (3, reason, bad)
    assert reason in reasons


def test_wrong_column_count_blank_line_and_truncated_last_line(instruments, conn, tmp_path):
    lines = [good_row(300), "1,2,3", "", good_row(301), good_row(302)[:40]]
    f = write(tmp_path, "ragged.csv", lines, newline_at_end=False)
    (report,) = load_path("generic-canonical", f, progress=False)
    assert report.status == "loaded"
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (5, 2, 3)
    got = [(line, reason) for line, reason, _, _ in quarantined(conn, report.load_id)]
    assert got == [(3, "wrong_column_count"), (4, "wrong_column_count"), (6, "truncated_line")]


def test_duplicate_key_within_a_file(instruments, conn, tmp_path):
    f = write(tmp_path, "dups.csv", [good_row(310), good_row(311), good_row(310)])
    (report,) = load_path("generic-canonical", f, progress=False)
    assert (report.rows_loaded, report.rows_quarantined) == (2, 1)
    assert quarantined(conn, report.load_id)[0][:2] == (4, "duplicate_key_in_file")


def test_timestamp_outside_the_files_day(instruments, conn, tmp_path):
    other_day = good_row(320).replace("2024-01-02T20:45:00Z", "2024-01-03T20:45:00Z")
    f = write(tmp_path, "chain_2024-01-02.csv", [good_row(321), other_day])
    (report,) = load_path("generic-canonical", f, progress=False)
    assert quarantined(conn, report.load_id)[0][:2] == (3, "ts_outside_file_day")


def test_reload_is_a_no_op(instruments, conn, tmp_path):
    f = write(tmp_path, "reload.csv", [good_row(330), good_row(331)])
    before = conn.execute("SELECT count(*) FROM raw.option_quotes").fetchone()[0]
    (first,) = load_path("generic-canonical", f, progress=False)
    (second,) = load_path("generic-canonical", f, progress=False)
    after = conn.execute("SELECT count(*) FROM raw.option_quotes").fetchone()[0]
    assert first.status == "loaded" and second.status == "skipped_already_loaded"
    assert after - before == 2


def test_overlapping_file_counts_duplicates_not_new_rows(instruments, conn, tmp_path):
    (a,) = load_path("generic-canonical", write(tmp_path, "a.csv", [good_row(340)]), progress=False)
    (b,) = load_path(
        "generic-canonical",
        write(tmp_path, "b.csv", [good_row(340), good_row(341)]),
        progress=False,
    )
    assert (a.rows_loaded, b.rows_loaded, b.rows_duplicate) == (1, 1, 1)


def test_truncated_archive_fails_cleanly_with_nothing_loaded(instruments, conn, tmp_path):
    body = ("\n".join([HEADER, *[good_row(400 + i) for i in range(2000)]]) + "\n").encode()
    gz = gzip.compress(body)
    f = tmp_path / "cut.csv.gz"
    f.write_bytes(gz[: len(gz) // 2])
    before = conn.execute("SELECT count(*) FROM raw.option_quotes").fetchone()[0]
    (report,) = load_path("generic-canonical", f, progress=False)
    after = conn.execute("SELECT count(*) FROM raw.option_quotes").fetchone()[0]
    assert report.status == "failed"
    assert str(f) in report.error
    assert after == before
    row = conn.execute(
        "SELECT status, error FROM raw.load_reports WHERE file_path = %s", (str(f),)
    ).fetchone()
    assert row[0] == "failed" and "truncated" in row[1]
    manifest = conn.execute(
        "SELECT count(*) FROM raw.file_manifest WHERE file_path = %s", (str(f),)
    ).fetchone()[0]
    assert manifest == 0


def test_empty_file_is_a_clear_error(instruments, tmp_path):
    f = tmp_path / "empty.csv"
    f.write_text("")
    (report,) = load_path("generic-canonical", f, progress=False)
    assert report.status == "failed" and "empty" in report.error and str(f) in report.error


def test_report_accounts_for_every_record(instruments, conn):
    bad = conn.execute(
        "SELECT count(*) FROM raw.load_reports WHERE status = 'loaded' AND "
        "rows_read <> rows_loaded + rows_duplicate + rows_quarantined"
    ).fetchone()[0]
    assert bad == 0
    per_load = conn.execute(
        "SELECT r.load_id, r.rows_quarantined, count(q.*) FROM raw.load_reports r "
        "LEFT JOIN raw.quarantine q USING (load_id) WHERE r.status = 'loaded' "
        "GROUP BY 1, 2 HAVING r.rows_quarantined <> count(q.*)"
    ).fetchall()
    assert per_load == []


def test_new_contracts_are_registered_with_occ_fields(instruments, conn):
    row = conn.execute(
        "SELECT root, underlying, expiration, option_right, strike, multiplier, exercise_style, "
        "settlement FROM ref.option_contracts WHERE contract_symbol = 'TSTA  240119C00330000'"
    ).fetchone()
    assert row is not None
    root, und, exp, right, strike, mult, style, settle = row
    assert (root, und, str(exp), right, strike, mult, style, settle) == (
        "TSTA",
        "TSTA",
        "2024-01-19",
        "C",
        330.0,
        100,
        "A",
        "PM",
    )
