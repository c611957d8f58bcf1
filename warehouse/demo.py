"""``make demo``: simulate a market, load it and the real samples, build, summarise.

Every stage is idempotent: a second run finds the simulated files and the loaded files
already there and takes seconds.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import date
from pathlib import Path

from warehouse.config import settings
from warehouse.db.connect import connect
from warehouse.loaders.engine import LoadReport, load_path
from warehouse.sim.presets import simulation_is_current
from warehouse.summary import print_summary

# (source, path relative to the real samples folder), in load order: reference data first.
REAL_LOADS: tuple[tuple[str, str], ...] = (
    ("sp500", "sp500_daily_2018_2021_pooksoft"),
    ("cboe", "spx_cboe_20110124_pyql"),
    ("lean", "lean_quantconnect"),
    ("ivolatility", "spx_aapl_ivolatility_optionsuite"),
    ("datashop", "optopsy_mit_samples"),
    ("generic-yahoo", "pypi_package_datasets/pandas_datareader_yahoo_options1_AAPL_20160906.json"),
    ("headlines", "news_sentiment_labelled"),
)
# The instruments the real samples trade (symbols and asset classes, written by hand: the
# samples carry no reference data of their own except the S&P 500 constituents file).
REAL_INSTRUMENTS = Path(__file__).with_name("refdata_files") / "instruments_real_samples.csv"


def _stage(name: str):
    print(f"\n== {name}", flush=True)
    return time.perf_counter()


def _done(t0: float, reports: list[LoadReport] | None = None) -> None:
    extra = ""
    if reports:
        loaded = sum(r.rows_loaded for r in reports)
        quarantined = sum(r.rows_quarantined for r in reports)
        skipped = sum(r.status == "skipped_already_loaded" for r in reports)
        failed = [r for r in reports if r.status == "failed"]
        extra = (
            f": {len(reports)} files, {loaded:,} rows loaded, {quarantined:,} quarantined, "
            f"{skipped} already loaded, {len(failed)} failed"
        )
        for r in failed:
            print(f"   FAILED {r.error}")
    print(f"   done in {time.perf_counter() - t0:.1f}s{extra}", flush=True)


def simulated_dir(preset: str, seed: int) -> Path:
    return settings().var_dir / "sim" / f"{preset}-seed{seed}"


def run_demo(preset: str = "demo", seed: int = 7, real: bool = True, nights: int = 2) -> int:
    """Simulate, load, deploy, build, then run the last ``nights`` sessions' nights through
    Dagster one after the other (the first night starts from the seeded demo book; each
    later night sees the positions the previous night's fills left)."""
    if nights < 1:
        raise ValueError(f"nights must be >= 1, got {nights}")
    from warehouse import sim
    from warehouse.dbt import run_dbt

    t_start = time.perf_counter()
    out = simulated_dir(preset, seed)
    t0 = _stage(f"simulate preset={preset} seed={seed} -> {out}")
    if simulation_is_current(out, preset):
        print("   already simulated (same arguments, same bytes)")
    else:
        if out.exists():
            print("   the preset changed since the last simulation: simulating again")
            shutil.rmtree(out)
        sim.simulate(out=out, seed=seed, preset=preset)
    _done(t0)

    t0 = _stage("load the simulated market")
    reports = load_path("sim", out)
    _done(t0, reports)

    real_dir = settings().real_data_dir
    if real and real_dir.is_dir():
        t0 = _stage(f"load the real samples from {real_dir}")
        reports = load_path("ref-instruments", REAL_INSTRUMENTS)
        for source, rel in REAL_LOADS:
            path = real_dir / rel
            if path.exists():
                reports += load_path(source, path)
            else:
                print(f"   (absent: {path})")
        _done(t0, reports)
    else:
        print(f"\n== real samples folder {real_dir} absent: simulated market only")

    t0 = _stage("deploy UDFs (python_udfs -> schema quant)")
    from warehouse.udfs.deploy import deploy as deploy_udfs

    print("   " + deploy_udfs().summary().replace("\n", "\n   "))
    _done(t0)

    t0 = _stage("dbt build (staging and what exists downstream)")
    code = run_dbt(["build", "--quiet"])
    _done(t0)
    if code != 0:
        print("   dbt build FAILED (see above)")

    if code == 0:
        sessions = _last_sessions(out, nights)
        t0 = _stage(f"seed the demo book (ops.positions) as of {sessions[0]}")
        from warehouse.risk.demo_book import seed_demo_book

        with connect("pipeline") as conn:
            book = seed_demo_book(conn, sessions[0])
            conn.commit()
        print(f"   {book}")
        _done(t0)
        for session in sessions:
            code = _night(session) or code

    with connect("pipeline") as conn:
        print_summary(conn)
    print(f"\nTotal {time.perf_counter() - t_start:.1f}s.")
    print('Query it: psql "$(.venv/bin/warehouse dsn --role analyst)"')
    print("  SELECT * FROM analytics.nightly_ranking ORDER BY as_of DESC, rank LIMIT 15;")
    print("  SELECT * FROM analytics.signals; SELECT * FROM analytics.options_features;")
    print("Look at the night in Dagster: make ui  (http://127.0.0.1:3000, runs -> nightly)")
    return code


def _last_sessions(sim_dir: Path, n: int) -> list[date]:
    """The simulated market's last ``n`` sessions (up to its manifest's end date), oldest
    first."""
    manifest = json.loads((sim_dir / "manifest.json").read_text())
    end = date.fromisoformat(manifest["end_date"])
    with connect("pipeline") as conn:
        rows = conn.execute(
            "SELECT session_date FROM ref.trading_calendar WHERE session_date <= %s "
            "ORDER BY session_date DESC LIMIT %s",
            (end, n),
        ).fetchall()
    return sorted(r[0] for r in rows)


def _night(session: date) -> int:
    """The night of ``session``: run the nightly job through Dagster (loads, UDFs, dbt models
    with their checks and GX gates, risk, ranking, outbox), then show the circuit breaker and
    drain the outbox with the execution worker into paper fills."""
    from orchestration.nightly import run_nightly
    from warehouse.execution.settings import WorkerConfig
    from warehouse.execution.worker import Worker

    t0 = _stage(f"the night of {session} through Dagster (orchestration.nightly.run_nightly)")
    summary = run_nightly(session.isoformat())
    print("   " + summary.render().replace("\n", "\n   "))
    _done(t0)

    t0 = _stage("circuit breaker and execution")
    with connect("pipeline") as conn:
        halted, reason = conn.execute("SELECT halted, reason FROM ops.trading_state").fetchone()
        held = conn.execute(
            "SELECT count(*) FROM ops.held_intents WHERE released_at IS NULL"
        ).fetchone()[0]
        print(f"   trading halted: {halted} ({reason}); intents held: {held}")
        if halted:
            conn.execute(
                "SELECT ops.resume_trading(%s, %s)",
                ("demo", "demo: resume after reviewing the breach, to show execution"),
            )
            released = conn.execute(
                "SELECT ops.release_held_intents(%s, %s)", (session, "demo")
            ).fetchone()[0]
            print(f"   resumed (audited in ops.trading_state_audit); released {released} intents")
        conn.commit()
    drained = Worker(worker_id="demo", config=WorkerConfig.from_settings()).run(once=True)
    with connect("pipeline") as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM ops.outbox GROUP BY 1 ORDER BY 1"
        ).fetchall()
        fills = conn.execute("SELECT count(*) FROM ops.fills").fetchone()[0]
        orders = conn.execute(
            "SELECT o.state, i.underlying, i.structure, o.reason FROM ops.orders AS o "
            "JOIN ops.order_intents AS i USING (intent_id) WHERE i.as_of = %s "
            "ORDER BY i.underlying, i.structure",
            (session,),
        ).fetchall()
    print(f"   worker exit {drained}; outbox {dict(rows)}; fills {fills}")
    for state, underlying, structure, why in orders:
        print(f"   order {underlying} {structure}: {state}" + (f" ({why})" if why else ""))
    _done(t0)
    return 0 if summary.success else 1
