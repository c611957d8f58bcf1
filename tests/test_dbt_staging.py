"""dbt builds the staging layer (views + source and model tests) over loaded data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from warehouse.dbt import run_dbt
from warehouse.loaders.engine import load_path
from warehouse.sim import simulate


@pytest.fixture(scope="module")
def loaded_sim(warehouse_db, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim_for_dbt")
    # its own dates: one simulated world per database (truth rows key on symbol and date)
    simulate(out, seed=21, preset="ci", start=date(2023, 3, 1))
    reports = load_path("sim", out, progress=False)
    assert all(r.status in ("loaded", "skipped_already_loaded") for r in reports)
    return out


def test_dbt_build_staging(loaded_sim, conn):
    assert run_dbt(["build", "--select", "staging", "--quiet"]) == 0
    n = conn.execute("SELECT count(*) FROM staging.stg_raw__option_quotes").fetchone()[0]
    raw = conn.execute("SELECT count(*) FROM raw.option_quotes").fetchone()[0]
    assert n == raw > 0
    # staging derives the New York quote date and ACT/365 year fraction
    row = conn.execute(
        "SELECT quote_date, t_years, days_to_expiry FROM staging.stg_raw__option_quotes "
        "ORDER BY quote_ts, contract_symbol LIMIT 1"
    ).fetchone()
    assert row[1] == pytest.approx(row[2] / 365.0)
