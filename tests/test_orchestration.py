"""The Dagster code location (orchestration/), the GX quality gates and the alert engine.

Real database (one of this module's own, dropped afterwards), real dbt, real Dagster (in-process
runs in a temporary instance): a ci market lands in a temporary landing folder; the nightly job
loads the first date, deploys the UDFs, builds every dbt model with its tests and runs the GX
suites; then a crossed quote written straight into raw.option_quotes makes the blocking chain
suite fail the second date and nothing downstream of the chains is materialised.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from warehouse.config import settings
from warehouse.sim import simulate

NY_TZ = "America/New_York"
# a week of its own with Thanksgiving (11-23, no session) and a half day (11-24)
SIM_START = date(2023, 11, 20)
D1, D2 = "2023-11-20", "2023-11-21"
INJECTED_STRIKE = 99999.0


@pytest.fixture(scope="module")
def isolated_db(module_db: str) -> str:
    """A database of this module's own (conftest ``module_db``): the nightly job builds every
    (incremental) dbt model, whose rebuild windows follow the newest date in the table, so
    sharing the session's database would couple this module's dates with other modules'."""
    return module_db


@pytest.fixture
def conn(isolated_db: str) -> Iterator[psycopg.Connection]:
    """A pipeline-role autocommit connection to this module's database."""
    with psycopg.connect(settings().dsn("pipeline"), autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def env(tmp_path_factory, isolated_db) -> Iterator[dict[str, Path]]:
    """Orchestration settings pointing at temporary folders (restored afterwards)."""
    root = tmp_path_factory.mktemp("orchestration")
    paths = {
        "landing": root / "landing",
        "home": root / "dagster_home",
        "alerts": root / "alerts.jsonl",
    }
    values = {
        "WAREHOUSE_LANDING_DIR": str(paths["landing"]),
        "WAREHOUSE_DAGSTER_HOME": str(paths["home"]),
        "WAREHOUSE_ALERT_NOTIFIERS": f"log,file:{paths['alerts']}",
        "WAREHOUSE_LANDING_SETTLE_SECONDS": "0",
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield paths
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


@pytest.fixture(scope="module")
def landed(env, isolated_db) -> Path:
    """A simulated ci market dropped into <landing>/sim/."""
    out = env["landing"] / "sim" / "ci-seed45"
    simulate(out, seed=45, preset="ci", start=SIM_START)
    return out


@pytest.fixture(scope="module")
def nightly_d1(landed, env, defs):
    from orchestration.nightly import run_nightly

    return run_nightly(D1, dagster_home=env["home"])


# --- definitions ------------------------------------------------------------------------------


def test_definitions_load(defs):
    from orchestration.assets.loads import SOURCE_TABLES, load_asset_key, registered_sources
    from orchestration.resources import dbt_project

    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    sources = registered_sources()
    assert set(SOURCE_TABLES) >= set(sources), "every loader source needs its table list"
    for s in sources:
        assert load_asset_key(s).to_user_string() in keys
    assert {"quant_udfs", "raw/option_quotes", "ref/trading_calendar", "risk_run"} <= keys
    manifest = json.loads(dbt_project().manifest_path.read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    for m in models:
        assert f"{m['config']['schema']}/{m['name']}" in keys
    # lineage: dbt sources are the landing tables, fed by the loads; quant callers need the UDFs
    iv = dg.AssetKey(["intermediate", "int_option_quotes_iv"])
    stg = dg.AssetKey(["staging", "stg_raw__option_quotes"])
    assert dg.AssetKey(["raw", "option_quotes"]) in graph.get(stg).parent_keys
    assert dg.AssetKey("load_sim") in graph.get(dg.AssetKey(["raw", "option_quotes"])).parent_keys
    assert dg.AssetKey("quant_udfs") in graph.get(iv).parent_keys
    # dbt tests are asset checks; the GX suites are checks, chains and IV blocking
    checks = {c.to_user_string(): c for c in graph.asset_check_keys}
    assert any(k.startswith("staging/stg_raw__option_quotes:") for k in checks)
    gx = {c.name: graph.get_check_spec(c) for c in graph.asset_check_keys if c.name[:3] == "gx_"}
    assert {"gx_raw_chains", "gx_option_iv", "gx_raw_news", "gx_raw_equity_trades"} <= set(gx)
    assert gx["gx_raw_chains"].blocking and gx["gx_option_iv"].blocking
    assert not gx["gx_raw_news"].blocking
    assert {j.name for j in defs.jobs} >= {"nightly", "premarket", "intraday_surfaces", "landing"}
    assert {s.name for s in defs.schedules} == {
        "nightly_schedule",
        "premarket_schedule",
        "intraday_schedule",
    }
    assert {s.name for s in defs.sensors} == {"landing_sensor", "alerts_sensor"}


def test_retry_policy_on_every_database_step(defs):
    from orchestration.resources import TRANSIENT_RETRY

    assert TRANSIENT_RETRY.backoff == dg.Backoff.EXPONENTIAL
    graph = defs.resolve_asset_graph()
    for key in (dg.AssetKey("load_sim"), dg.AssetKey("quant_udfs"), dg.AssetKey("risk_run")):
        assert graph.get(key).assets_def.op.retry_policy == TRANSIENT_RETRY
    iv = graph.get(dg.AssetKey(["intermediate", "int_option_quotes_iv"]))
    assert iv.assets_def.op.retry_policy == TRANSIENT_RETRY


def test_transient_errors_retry_others_fail_once():
    """psycopg.OperationalError is retried (backoff); any other error fails without retry."""
    from orchestration.resources import transient_guard

    calls = {"flaky": 0, "broken": 0}
    policy = dg.RetryPolicy(max_retries=3, delay=0.01, backoff=dg.Backoff.EXPONENTIAL)

    @dg.asset(retry_policy=policy)
    def flaky() -> None:
        calls["flaky"] += 1
        with transient_guard("flaky"):
            if calls["flaky"] < 3:
                raise psycopg.OperationalError("server closed the connection unexpectedly")

    @dg.asset(retry_policy=policy)
    def broken() -> None:
        calls["broken"] += 1
        with transient_guard("broken"):
            raise ValueError("bad file")

    with dg.DagsterInstance.ephemeral() as instance:
        assert dg.materialize([flaky], instance=instance).success
        assert not dg.materialize([broken], instance=instance, raise_on_error=False).success
    assert calls == {"flaky": 3, "broken": 1}


# --- calendar, schedules, sensor --------------------------------------------------------------


def test_partitions_are_xnys_sessions():
    from orchestration.calendar import partition_for, trading_day_partitions

    keys = set(trading_day_partitions().get_partition_keys())
    assert "2024-07-03" in keys and "2024-07-05" in keys
    assert "2024-07-04" not in keys  # Independence Day
    assert "2024-07-06" not in keys and "2024-07-07" not in keys  # weekend
    assert "2024-11-29" in keys  # half day: a session
    assert "2023-11-23" not in keys and "2023-11-24" in keys
    assert partition_for(date(2024, 7, 6)) == "2024-07-05"  # Saturday's file -> Friday
    assert partition_for(date(2024, 7, 4)) == "2024-07-03"


def _tick(schedule, defs, when: datetime):
    from zoneinfo import ZoneInfo

    ctx = dg.build_schedule_context(
        scheduled_execution_time=when.replace(tzinfo=ZoneInfo(NY_TZ)),
        repository_def=defs.get_repository_def(),
    )
    return schedule.evaluate_tick(ctx)


def test_schedules_skip_holidays_and_respect_half_days(defs):
    from orchestration.schedules import intraday_schedule, nightly_schedule, premarket_schedule

    def runs(schedule, when: datetime) -> list[dg.RunRequest]:
        data = _tick(schedule, defs, when)
        return list(data.run_requests or [])

    assert runs(nightly_schedule, datetime(2024, 7, 4, 17)) == []  # holiday
    assert (
        "not an XNYS session"
        in _tick(nightly_schedule, defs, datetime(2024, 7, 4, 17)).skip_message
    )
    [req] = runs(nightly_schedule, datetime(2024, 7, 5, 17))
    assert req.partition_key == "2024-07-05" and req.tags["half_day"] == "false"
    dg.validate_run_config(defs.resolve_job_def("nightly"), req.run_config)
    assert req.run_config["ops"]["dbt_models"]["config"]["test_window_days"] == 3
    [req] = runs(nightly_schedule, datetime(2024, 11, 29, 17))
    assert req.partition_key == "2024-11-29" and req.tags["half_day"] == "true"
    assert runs(premarket_schedule, datetime(2024, 7, 4, 8)) == []
    [req] = runs(premarket_schedule, datetime(2024, 7, 3, 8))
    assert req.partition_key == "2024-07-03"
    # intraday: from the open to the close, which is 13:00 on the day after Thanksgiving
    assert runs(intraday_schedule, datetime(2024, 7, 4, 10, 0)) == []
    assert runs(intraday_schedule, datetime(2024, 11, 27, 9, 15)) == []  # before the open
    assert len(runs(intraday_schedule, datetime(2024, 11, 27, 9, 30))) == 1
    assert len(runs(intraday_schedule, datetime(2024, 11, 27, 15, 45))) == 1
    assert len(runs(intraday_schedule, datetime(2024, 11, 27, 16, 0))) == 1  # the close
    assert runs(intraday_schedule, datetime(2024, 11, 27, 16, 15)) == []
    assert len(runs(intraday_schedule, datetime(2024, 11, 29, 12, 45))) == 1
    assert len(runs(intraday_schedule, datetime(2024, 11, 29, 13, 0))) == 1
    skipped = _tick(intraday_schedule, defs, datetime(2024, 11, 29, 13, 15))
    assert not skipped.run_requests and "half day" in skipped.skip_message
    [req] = runs(intraday_schedule, datetime(2024, 11, 29, 11, 0))
    assert req.tags["watch_list"]
    dg.validate_run_config(defs.resolve_job_def("intraday_surfaces"), req.run_config)
    assert req.run_config["ops"]["dbt_option_models"]["config"]["watch_list"]


def test_landing_sensor_launches_loads_per_source_and_date(env, defs, tmp_path, monkeypatch):
    from orchestration.assets.loads import landing_files
    from orchestration.calendar import NY, session_on_or_before
    from orchestration.sensors import landing_sensor

    landing = tmp_path / "landing"
    monkeypatch.setenv("WAREHOUSE_LANDING_DIR", str(landing))
    news = landing / "canonical-news" / "news_2023-11-21.csv"
    news.parent.mkdir(parents=True)
    news.write_text("published_ts,source,vendor_id,headline,body,tickers,url\n")
    weekend = landing / "canonical-news" / "news_20231125.csv"  # Saturday -> Friday 11-24
    weekend.write_text("published_ts,source,vendor_id,headline,body,tickers,url\n")
    old = landing / "canonical-news" / "news_2005-03-01.csv"  # before the partitions: never
    old.write_text("published_ts,source,vendor_id,headline,body,tickers,url\n")
    rates = landing / "ref-rates" / "rates.csv"  # no date: the latest session
    rates.parent.mkdir(parents=True)
    rates.write_text("as_of,tenor_days,zero_rate,source\n")

    def tick(cursor: str | None):
        ctx = dg.build_sensor_context(cursor=cursor, definitions=defs)
        return landing_sensor.evaluate_tick(ctx)

    first = tick(None)
    got = {(r.tags["source"], r.partition_key) for r in first.run_requests}
    today = session_on_or_before(datetime.now(NY).date()).isoformat()
    assert got == {
        ("canonical-news", "2023-11-21"),
        ("canonical-news", "2023-11-24"),
        ("ref-rates", today),
    }
    assert landing_files("canonical-news", "2023-11-21", landing) == [news]
    assert landing_files("ref-rates", "2023-11-21", landing) == [rates]  # date-less: every date
    req = next(r for r in first.run_requests if r.partition_key == "2023-11-21")
    assert dg.AssetKey("load_canonical_news") in req.asset_selection
    assert dg.AssetKey(["raw", "news"]) in req.asset_selection
    assert req.tags["warehouse/serial"] == "load:canonical-news"
    second = tick(first.cursor)
    assert not second.run_requests and "no new files" in second.skip_message
    news.write_text(news.read_text() + "\n")  # changed file: picked up again
    third = tick(second.cursor)
    assert [(r.tags["source"], r.partition_key) for r in third.run_requests] == [
        ("canonical-news", "2023-11-21")
    ]


def test_landing_files_of_a_partition(landed):
    from orchestration.assets.loads import landing_files

    files = [f.relative_to(landed).as_posix() for f in landing_files("sim", D1)]
    assert files[0] == "manifest.json"
    assert "instruments.csv" in files and f"option_quotes/{D1}.parquet" in files
    assert not any(D2 in f for f in files)


# --- the nightly job --------------------------------------------------------------------------


def test_nightly_job_end_to_end(nightly_d1, conn):
    s = nightly_d1
    assert s.success, s.render()
    for key in (
        "load_sim",
        "raw/option_quotes",
        "quant_udfs",
        "staging/stg_raw__option_quotes",
        "intermediate/int_option_quotes_iv",
        "intermediate/int_underlying_daily_features",
        "risk_run",
        "nightly_ranking",
        "outbox_publication",
    ):
        assert key in s.materialized, key
    assert not s.failed_checks, s.failed_checks
    for check in (
        "raw/option_quotes:gx_raw_chains",
        "intermediate/int_option_quotes_iv:gx_option_iv",
    ):
        assert s.checks[check] is True
    assert s.metadata["load_sim"]["files_loaded"] > 0
    assert s.metadata["raw/option_quotes"]["dagster/partition_row_count"] > 0
    # a placeholder until warehouse.risk provides the step (then it ran: "done")
    assert s.metadata["risk_run"]["status"] in ("not implemented yet", "done")
    assert s.metadata["intermediate/int_option_quotes_iv"]["share_quality_ok"] > 0.5
    surface = s.metadata["intermediate/int_option_surface_quotes"]
    assert "| underlying |" in surface["atm_term_structure"]
    # the surface plot: a PNG embedded in markdown (a data URI the UI renders)
    head, _, data = surface["surface_plot"].partition("(data:image/png;base64,")
    assert head.startswith("![") and data.endswith(")")
    assert base64.b64decode(data[:-1])[:8] == b"\x89PNG\r\n\x1a\n"
    # quality results persisted, one row per expectation, for every suite of the run
    rows = conn.execute(
        "SELECT suite, count(*), bool_and(success), min(partition_date) "
        "FROM ops.quality_results WHERE run_id = %s GROUP BY suite ORDER BY suite",
        (s.run_id,),
    ).fetchall()
    by_suite = {r[0]: r[1:] for r in rows}
    assert set(by_suite) == {
        "option_iv",
        "raw_chains",
        "raw_equity_quotes",
        "raw_equity_trades",
        "raw_news",
    }
    assert all(ok for _, ok, _ in by_suite.values())
    assert by_suite["raw_chains"][2] == date.fromisoformat(D1)
    assert by_suite["raw_chains"][0] >= 25


def test_rerun_of_a_partition_is_idempotent(nightly_d1, env, defs):
    """A partition's load re-run alone loads nothing twice (the manifest skips the files)."""
    from orchestration.instance import open_instance

    job = defs.resolve_job_def("landing")
    with open_instance(env["home"]) as instance:
        result = job.execute_in_process(
            partition_key=D1,
            instance=instance,
            asset_selection=[dg.AssetKey("load_sim")],
        )
    assert result.success
    [mat] = [
        e.step_materialization_data.materialization
        for e in result.get_asset_materialization_events()
    ]
    meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
    assert meta["files_loaded"] == 0 and meta["rows_loaded"] == 0
    assert meta["files_already_loaded"] == meta["files"] > 0


def test_bad_file_fails_its_partition_which_reruns_alone(env, defs, conn):
    """A structurally bad file fails the load (no retry: the same bytes fail the same way);
    once the file is replaced, that partition re-runs alone and loads it."""
    from orchestration.instance import open_instance

    day = "2023-11-22"
    bad = env["landing"] / "ref-rates" / f"rates_{day}.csv"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text("not,the,rates,columns\n1,2,3,4\n")
    job = defs.resolve_job_def("landing")
    selection = [dg.AssetKey("load_ref_rates")]
    with open_instance(env["home"]) as instance:
        failed = job.execute_in_process(
            partition_key=day, instance=instance, asset_selection=selection, raise_on_error=False
        )
        assert not failed.success
        [failure] = failed.get_step_failure_events()
        assert "failed to load" in failure.step_failure_data.error.message
        assert failed.retry_attempts_for_node("load_ref_rates") == 0  # not retried
        bad.write_text(f"as_of,tenor_days,zero_rate,source\n{day},30,0.05,orchestration_test\n")
        rerun = job.execute_in_process(
            partition_key=day, instance=instance, asset_selection=selection
        )
    assert rerun.success
    [mat] = [
        e.step_materialization_data.materialization
        for e in rerun.get_asset_materialization_events()
    ]
    assert mat.partition == day and mat.metadata["rows_loaded"].value == 1
    n = conn.execute(
        "SELECT count(*) FROM ref.rates WHERE source = 'orchestration_test'"
    ).fetchone()[0]
    assert n == 1
    conn.execute("DELETE FROM ref.rates WHERE source = 'orchestration_test'")


@pytest.fixture
def crossed_quote(nightly_d1, conn) -> Iterator[str]:
    """A crossed quote (bid > ask) of D2 written straight into raw.option_quotes."""
    cols = [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'option_quotes' ORDER BY ordinal_position"
        )
    ]
    replaced = {
        "quote_ts": sql.SQL("q.quote_ts + interval '1 day'"),
        "contract_symbol": sql.SQL("left(q.contract_symbol, 13) || '99999000'"),
        "strike": sql.Literal(INJECTED_STRIKE),
        "bid": sql.Literal(2.0),
        "ask": sql.Literal(1.0),
    }
    select_list = sql.SQL(", ").join(replaced.get(c, sql.Identifier("q", c)) for c in cols)
    conn.execute(
        sql.SQL(
            "INSERT INTO raw.option_quotes ({}) SELECT {} FROM raw.option_quotes q "
            "WHERE q.quote_ts >= %s::date AND q.quote_ts < %s::date + 1 "
            "AND q.expiration > %s::date ORDER BY q.contract_symbol LIMIT 1"
        ).format(sql.SQL(", ").join(map(sql.Identifier, cols)), select_list),
        (D1, D1, D2),
    )
    yield D2
    conn.execute("DELETE FROM raw.option_quotes WHERE strike = %s", (INJECTED_STRIKE,))


def test_blocking_chain_check_stops_downstream(crossed_quote, env, conn, defs):
    from orchestration.assets.dbt import dbt_option_models
    from orchestration.assets.downstream import STEPS
    from orchestration.nightly import run_nightly

    # the chain lineage only (the other dbt op has nothing to do with the chains: saves time)
    graph = defs.resolve_asset_graph()
    selection = [
        dg.AssetKey("load_sim"),
        *(k for k in graph.get_all_asset_keys() if k.path[0] in ("raw", "ref", "sim")),
        dg.AssetKey("quant_udfs"),
        *dbt_option_models.keys,
        *(dg.AssetKey(s.name) for s in STEPS),
    ]
    selection = [k for k in selection if k != dg.AssetKey(["ref", "trading_calendar"])]
    s = run_nightly(crossed_quote, dagster_home=env["home"], asset_selection=selection)
    assert not s.success
    assert "raw/option_quotes:gx_raw_chains" in s.failed_checks
    assert "load_sim" in s.materialized and "raw/option_quotes" in s.materialized
    for key in (
        "staging/stg_raw__option_quotes",
        "intermediate/int_option_quotes_iv",
        "risk_run",
        "nightly_ranking",
        "outbox_publication",
    ):
        assert key in s.not_materialized, key
        assert key not in s.materialized, key
    failed = conn.execute(
        "SELECT expectation, observed_value, details FROM ops.quality_results "
        "WHERE run_id = %s AND suite = 'raw_chains' AND NOT success",
        (s.run_id,),
    ).fetchall()
    assert [f[0] for f in failed] == ["crossed_quote"]
    assert failed[0][2]["unexpected_count"] == 1
    # the failed gate raised an alert at once: in ops.alerts and through the file notifier
    alert = conn.execute(
        "SELECT severity, details, delivery FROM ops.alerts WHERE rule = 'quality_gate_failure' "
        "AND subject = 'raw_chains on raw/option_quotes' ORDER BY raised_at DESC LIMIT 1"
    ).fetchone()
    assert alert is not None and alert[0] == "HIGH"
    assert alert[1]["failed"] == ["crossed_quote"] and alert[1]["blocking"] is True
    assert alert[2]["table"] == "ok" and alert[2][f"file:{env['alerts']}"] == "ok"
    lines = [json.loads(x) for x in env["alerts"].read_text().splitlines()]
    assert any(x["subject"] == "raw_chains on raw/option_quotes" for x in lines)


# --- alerts -----------------------------------------------------------------------------------


class _Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.sent: list = []

    def send(self, alert) -> None:
        self.sent.append(alert)


class _Broken:
    name = "broken"

    def send(self, alert) -> None:
        raise ConnectionError("no route")


def _failed_validation(conn, suite: str, asset: str) -> None:
    conn.execute(
        "INSERT INTO ops.quality_results (validation_id, run_id, suite, asset, partition_date, "
        "expectation, expectation_type, success, blocking) VALUES "
        "(gen_random_uuid(), 'test', %s, %s, %s, 'x_positive', "
        "'expect_column_values_to_be_between', false, true)",
        (suite, asset, date(2023, 11, 20)),
    )


def test_alerts_cooldown_and_delivery(conn, tmp_path):
    from warehouse import alerts

    subject = "alerts_test on raw/test_table"
    _failed_validation(conn, "alerts_test", "raw/test_table")
    rec = _Recorder()
    jsonl = tmp_path / "alerts.jsonl"
    notifiers = [rec, alerts.FileNotifier(jsonl), _Broken()]

    def ours(report) -> list:
        return [a for a in report.raised if a.subject == subject]

    first = alerts.evaluate(conn, rules=["quality_gate_failure"], notifiers=notifiers)
    [alert] = ours(first)
    assert alert.severity == "HIGH" and alert.value == 1.0
    assert alert.details["failed"] == ["x_positive"]
    assert [a.subject for a in rec.sent if a.subject == subject] == [subject]
    assert json.loads(jsonl.read_text().splitlines()[-1])["subject"] == subject
    delivery = conn.execute(
        "SELECT delivery FROM ops.alerts WHERE alert_id = %s", (alert.alert_id,)
    ).fetchone()[0]
    assert delivery["recorder"] == "ok" and delivery["broken"].startswith("ConnectionError")

    # inside the cooldown (300 s by default): suppressed, nothing sent
    second = alerts.evaluate(conn, rules=["quality_gate_failure"], notifiers=notifiers)
    assert not ours(second) and ("quality_gate_failure", subject) in second.suppressed
    assert (
        conn.execute(
            "SELECT cooldown_seconds FROM ops.alert_rules WHERE rule = 'quality_gate_failure'"
        ).fetchone()[0]
        == 300
    )
    # once the cooldown has passed: raised again
    conn.execute(
        "UPDATE ops.alerts SET raised_at = raised_at - interval '301 seconds' "
        "WHERE rule = 'quality_gate_failure' AND subject = %s",
        (subject,),
    )
    assert len(ours(alerts.evaluate(conn, rules=["quality_gate_failure"], notifiers=[rec]))) == 1
    n = conn.execute(
        "SELECT count(*) FROM ops.alerts WHERE rule = 'quality_gate_failure' AND subject = %s",
        (subject,),
    ).fetchone()[0]
    assert n == 2
    # a disabled rule is skipped
    conn.execute("UPDATE ops.alert_rules SET enabled = false WHERE rule = 'quality_gate_failure'")
    try:
        report = alerts.evaluate(conn, rules=["quality_gate_failure"], notifiers=[rec])
        assert report.skipped == {"quality_gate_failure": "disabled in ops.alert_rules"}
    finally:
        conn.execute(
            "UPDATE ops.alert_rules SET enabled = true WHERE rule = 'quality_gate_failure'"
        )


def test_alert_rules_without_their_relation_are_skipped(conn):
    from warehouse import alerts

    report = alerts.evaluate(conn, notifiers=[])
    assert not report.errors, report.errors  # the rules whose relation exists run cleanly
    for rule in alerts.RULES:
        if not _exists(conn, rule.relation):
            assert report.skipped[rule.name] == f"relation {rule.relation} does not exist yet"
            continue
        schema, name = rule.relation.split(".")
        have = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s",
                (schema, name),
            )
        }
        if set(rule.columns) <= have:
            assert rule.name not in report.skipped
        else:
            assert report.skipped[rule.name].startswith(f"{rule.relation} has no column")
    assert "quality_gate_failure" not in report.skipped
    assert len(alerts.RULES) == 11
    assert {r.severity for r in alerts.RULES if r.name in ("drawdown", "limit_breach")} == {
        "CRITICAL"
    }


def _exists(conn, relation: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (relation,)).fetchone()[0]


def test_webhook_and_spec_notifiers(tmp_path):
    """The webhook notifier POSTs JSON (to a server on localhost only)."""
    from warehouse import alerts

    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            """Keep the test output free of the server's request log."""

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        spec = alerts.notifiers_from_spec(f"log, file:{tmp_path / 'a.jsonl'}, webhook:{url}")
        assert [type(n).__name__ for n in spec] == [
            "LogNotifier",
            "FileNotifier",
            "WebhookNotifier",
        ]
        alert = alerts.Alert(
            1, "drawdown", "CRITICAL", "book", 0.25, "drawdown 25 %", {}, datetime.now()
        )
        for n in spec:
            n.send(alert)
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.shutdown()
    assert received[0]["rule"] == "drawdown" and received[0]["text"] == "drawdown 25 %"
    with pytest.raises(ValueError):
        alerts.notifiers_from_spec("pager:123")
