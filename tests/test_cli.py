"""The console script: every subcommand answers --help; dsn prints a working URI."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

CLI = [sys.executable, "-m", "warehouse.cli"]


@pytest.mark.parametrize(
    "sub",
    [
        [],
        ["db"],
        ["dsn"],
        ["load"],
        ["simulate"],
        ["sources"],
        ["retention"],
        ["compression"],
        ["udfs"],
        ["dbt"],
        ["demo"],
    ],
)
def test_help(sub):
    out = subprocess.run([*CLI, *sub, "--help"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "usage: warehouse" in out.stdout


def test_dsn_is_one_line_that_connects(warehouse_db):
    out = subprocess.run([*CLI, "dsn"], capture_output=True, text=True, check=True).stdout
    assert out.count("\n") == 1 and out.startswith("postgresql://")
    with psycopg.connect(out.strip()) as c:
        assert c.execute("SELECT current_database()").fetchone()[0] == warehouse_db


def test_unknown_source_is_a_clear_error(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a\n1\n")
    out = subprocess.run(
        [*CLI, "load", "no-such-source", str(f)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 1
    assert "unknown source 'no-such-source'" in out.stderr


def test_missing_path_is_a_clear_error(tmp_path):
    out = subprocess.run(
        [*CLI, "load", "generic-canonical", str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1
    assert "no such file or folder" in out.stderr
