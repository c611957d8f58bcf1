"""Housekeeping: drop_chunks retention on the raw hypertables, compression license check."""

from __future__ import annotations

import pytest

from warehouse.db.retention import compression_available, drop_old_chunks
from warehouse.loaders.engine import load_path


def test_drop_chunks_removes_only_old_chunks(warehouse_db, conn, tmp_path):
    f = tmp_path / "news.csv"
    f.write_text(
        "published_ts,source,vendor_id,headline,tickers\n"
        "2001-03-05T15:00:00Z,retention-test,old-1,An old headline,AAPL|MSFT\n"
        "2030-03-05T15:00:00Z,retention-test,new-1,A headline from the future,AAPL\n"
    )
    (report,) = load_path("canonical-news", f, progress=False)
    assert report.rows_loaded == 2
    listed = drop_old_chunks("20 years", ["raw.news"], dry_run=True)["raw.news"]
    assert len(listed) >= 1
    kept = conn.execute("SELECT count(*) FROM raw.news WHERE source = 'retention-test'").fetchone()
    assert kept[0] == 2  # a dry run drops nothing
    dropped = drop_old_chunks("20 years", ["raw.news"])["raw.news"]
    assert dropped == listed
    left = conn.execute(
        "SELECT vendor_id, tickers FROM raw.news WHERE source = 'retention-test'"
    ).fetchall()
    assert left == [("new-1", ["AAPL"])]


def test_retention_refuses_other_tables(warehouse_db):
    with pytest.raises(ValueError, match="not a raw hypertable"):
        drop_old_chunks("1 day", ["ref.instruments"])


def test_compression_license_is_detected(conn):
    ok, lic = compression_available(conn)
    assert lic in ("apache", "timescale", "community")
    assert ok == (lic != "apache")
