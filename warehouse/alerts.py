"""Alert rules: evaluation with a cooldown, delivery to ``ops.alerts`` and pluggable notifiers.

A rule is a SQL query over one named relation, with bound parameters, that returns one row per
breach: ``subject`` (text), ``value`` (float) and optionally ``details`` (jsonb). A rule whose
relation does not exist yet (the features and risk marts come later) is skipped with that
reason; a rule whose query fails is reported, never raised, so one broken rule does not silence
the others.

Every rule has a row in ``ops.alert_rules`` (added on first evaluation) where operators tune its
severity, ``cooldown_seconds`` (default 300), ``enabled`` flag and threshold ``params``
(merged over the defaults below). A (rule, subject) raised less than ``cooldown_seconds`` ago is
suppressed. Raised alerts are written to ``ops.alerts`` (the table is the delivery of record),
then handed to each notifier; what each notifier did is stored in ``ops.alerts.delivery``.

Notifiers: :class:`LogNotifier` (Python logging), :class:`FileNotifier` (JSON lines) and
:class:`WebhookNotifier` (HTTP POST of the alert as JSON). ``notifiers_from_spec("log,file:
var/alerts.jsonl,webhook:https://...")`` builds them from one setting string.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
DEFAULT_COOLDOWN_SECONDS = 300
LOG = logging.getLogger("warehouse.alerts")


@dataclass(frozen=True)
class Rule:
    """One alert rule.

    ``query`` is SQL text whose ``{relation}`` placeholder becomes the (quoted) relation and
    whose ``%(name)s`` placeholders are bound from ``params`` (defaults, overridden by
    ``ops.alert_rules.params``). It returns ``subject, value[, details]`` per breach. The rule
    is skipped (with the reason) while ``relation`` or one of ``columns`` does not exist.
    """

    name: str
    severity: str
    relation: str
    query: str
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    message: str = "{rule}: {subject} = {value:.4g}"
    columns: tuple[str, ...] = ()  # the query needs these; skipped while one is missing

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.name}: severity {self.severity!r} not in {SEVERITIES}")
        if self.relation.count(".") != 1:
            raise ValueError(f"rule {self.name}: relation must be schema.name, not {self.relation}")

    def statement(self) -> sql.Composed:
        schema, name = self.relation.split(".")
        return sql.SQL(self.query).format(relation=sql.Identifier(schema, name))


_FEATURES = "marts.fct_options_features"
_LATEST_TRADE_DATE = "WHERE trade_date = (SELECT max(trade_date) FROM {relation}) "

RULES: tuple[Rule, ...] = (
    Rule(
        "pcr_extreme",
        "HIGH",
        _FEATURES,
        "SELECT underlying, pcr_oi FROM {relation} "
        + _LATEST_TRADE_DATE
        + "AND (pcr_oi > %(high)s OR pcr_oi < %(low)s)",
        {"high": 1.0, "low": 0.7},
        "Open-interest put/call ratio outside [low, high] (crowded puts or calls).",
        columns=("underlying", "trade_date", "pcr_oi"),
    ),
    Rule(
        "iv_percentile_high",
        "HIGH",
        _FEATURES,
        "SELECT underlying, iv_percentile_252d FROM {relation} "
        + _LATEST_TRADE_DATE
        + "AND iv_percentile_252d > %(threshold)s",
        {"threshold": 0.9},
        "ATM 30-day implied vol above the 90th percentile of its trailing 252 sessions.",
        columns=("underlying", "trade_date", "iv_percentile_252d"),
    ),
    Rule(
        "oi_change",
        "MEDIUM",
        _FEATURES,
        "SELECT underlying, oi_change_pct FROM {relation} "
        + _LATEST_TRADE_DATE
        + "AND abs(oi_change_pct) > %(threshold)s",
        {"threshold": 0.20},
        "Total open interest changed by more than 20 % day over day.",
        columns=("underlying", "trade_date", "oi_change_pct"),
    ),
    Rule(
        "gamma_concentration",
        "MEDIUM",
        _FEATURES,
        "SELECT underlying, gex_top3_share FROM {relation} "
        + _LATEST_TRADE_DATE
        + "AND gex_top3_share > %(threshold)s",
        {"threshold": 0.7},
        "More than 70 % of the dealer gamma exposure in three strikes.",
        columns=("underlying", "trade_date", "gex_top3_share"),
    ),
    Rule(
        "vol_index_high",
        "HIGH",
        "marts.fct_vix_index",
        "SELECT underlying, vix_index FROM {relation} "
        "WHERE quote_date = (SELECT max(quote_date) FROM {relation}) "
        "AND target_days = %(target_days)s AND vix_index > %(threshold)s",
        {"threshold": 30.0, "target_days": 30},
        "VIX-style 30-day index above 30.",
        columns=("underlying", "quote_date", "target_days", "vix_index"),
    ),
    Rule(
        "vol_term_inversion",
        "MEDIUM",
        "marts.fct_vix_index",
        "SELECT s.underlying, s.vix_index - l.vix_index FROM {relation} AS s "
        "JOIN {relation} AS l ON l.underlying = s.underlying AND l.quote_date = s.quote_date "
        "AND l.target_days = %(long_days)s "
        "WHERE s.quote_date = (SELECT max(quote_date) FROM {relation}) "
        "AND s.target_days = %(short_days)s AND s.vix_index > l.vix_index",
        {"short_days": 9, "long_days": 30},
        "9-day index above the 30-day index (inverted front of the term structure).",
        columns=("underlying", "quote_date", "target_days", "vix_index"),
    ),
    Rule(
        "calibration_rmse",
        "MEDIUM",
        "marts.fct_svi_slices",
        "SELECT underlying || ' ' || expiration, rmse_vol_points FROM {relation} "
        "WHERE quote_date = (SELECT max(quote_date) FROM {relation}) "
        "AND rmse_vol_points > %(threshold)s",
        {"threshold": 5.0},
        "SVI slice fit RMSE above 5 vol points (5 %).",
        columns=("underlying", "expiration", "quote_date", "rmse_vol_points"),
    ),
    Rule(
        "drawdown",
        "CRITICAL",
        "marts.fct_portfolio_risk",
        "SELECT 'portfolio', drawdown FROM {relation} "
        "WHERE as_of = (SELECT max(as_of) FROM {relation}) AND drawdown > %(threshold)s",
        {"threshold": 0.20},
        "Portfolio drawdown from its peak beyond 20 %.",
        columns=("as_of", "drawdown"),
    ),
    Rule(
        "limit_breach",
        "CRITICAL",
        "ops.limit_breaches",
        # breaches the risk checks recorded within max_age (risk.check_limits, migration 009)
        "SELECT limit_name, max(value), jsonb_build_object('as_of', max(as_of), "
        "'metric', min(metric), 'threshold', min(threshold), 'halts', bool_or(halts), "
        "'breaches', count(*)) FROM {relation} "
        "WHERE detected_at >= now() - make_interval(secs => %(max_age_seconds)s) "
        "GROUP BY limit_name",
        {"max_age_seconds": 86400},
        "A risk limit breached (value = the breaching metric value).",
        "limit breached: {subject} = {value:.4g}",
        columns=("limit_name", "value", "as_of", "metric", "threshold", "halts", "detected_at"),
    ),
    Rule(
        "quality_gate_failure",
        "HIGH",
        "ops.quality_results",
        # the latest validation of every (suite, asset) within max_age, if any expectation failed
        """WITH latest AS (
               SELECT DISTINCT ON (suite, asset) suite, asset, validation_id
                 FROM {relation}
                WHERE checked_at >= now() - make_interval(secs => %(max_age_seconds)s)
                ORDER BY suite, asset, checked_at DESC)
           SELECT l.suite || ' on ' || l.asset, count(*)::float8,
                  jsonb_build_object(
                      'validation_id', l.validation_id,
                      'run_id', min(q.run_id),
                      'partition_date', min(q.partition_date),
                      'blocking', bool_or(q.blocking),
                      'failed', jsonb_agg(q.expectation ORDER BY q.expectation))
             FROM latest l
             JOIN {relation} q ON q.validation_id = l.validation_id AND NOT q.success
            GROUP BY l.suite, l.asset, l.validation_id""",
        {"max_age_seconds": 86400},
        "The latest run of a data-quality suite failed (value = failed expectations).",
        "quality gate failed: {subject} ({value:.0f} expectation(s))",
        columns=("suite", "asset", "validation_id", "success", "checked_at"),
    ),
    Rule(
        "worker_dead_letter",
        "HIGH",
        "ops.outbox",
        "SELECT aggregate, count(*)::float8, "
        "jsonb_build_object('event_types', jsonb_agg(DISTINCT event_type), "
        "'last_error', max(last_error)) "
        "FROM {relation} WHERE status = %(status)s GROUP BY aggregate",
        {"status": "dead_letter"},
        "Outbox messages the worker gave up on (dead letters).",
        "{value:.0f} dead-lettered outbox message(s) on {subject}",
        columns=("aggregate", "event_type", "status", "last_error"),
    ),
)
RULES_BY_NAME: dict[str, Rule] = {r.name: r for r in RULES}


@dataclass
class Alert:
    """A raised alert, as stored in ``ops.alerts`` and sent to notifiers."""

    alert_id: int
    rule: str
    severity: str
    subject: str
    value: float | None
    message: str
    details: dict[str, Any]
    raised_at: datetime

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["raised_at"] = self.raised_at.isoformat()
        return out


class Notifier(Protocol):
    """Delivers an alert somewhere; raising marks the delivery failed (it is not retried)."""

    name: str

    def send(self, alert: Alert) -> None: ...


class LogNotifier:
    """Logs each alert on ``warehouse.alerts`` (CRITICAL/HIGH as errors, else warnings)."""

    name = "log"

    def send(self, alert: Alert) -> None:
        level = logging.ERROR if alert.severity in ("HIGH", "CRITICAL") else logging.WARNING
        LOG.log(level, "[%s] %s", alert.severity, alert.message)


class FileNotifier:
    """Appends each alert as one JSON line to a file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.name = f"file:{self.path}"

    def send(self, alert: Alert) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(alert.as_json(), default=str) + "\n")


class WebhookNotifier:
    """POSTs each alert as JSON to a URL (Slack-style ``text`` field included)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s): {url!r}")
        self.url = url
        self.timeout = timeout
        self.name = f"webhook:{url}"

    def send(self, alert: Alert) -> None:
        body = json.dumps({"text": alert.message, **alert.as_json()}, default=str).encode()
        req = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            resp.read()


def notifiers_from_spec(spec: str) -> list[Notifier]:
    """Notifiers from ``log``, ``file:PATH`` and ``webhook:URL`` items, comma-separated."""
    out: list[Notifier] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        kind, _, arg = item.partition(":")
        if kind == "log":
            out.append(LogNotifier())
        elif kind == "file" and arg:
            out.append(FileNotifier(arg))
        elif kind == "webhook" and arg:
            out.append(WebhookNotifier(arg))
        else:
            raise ValueError(f"unknown notifier {item!r} (log, file:PATH, webhook:URL)")
    return out


@dataclass
class AlertReport:
    """What one evaluation did."""

    raised: list[Alert] = field(default_factory=list)
    suppressed: list[tuple[str, str]] = field(default_factory=list)  # (rule, subject) in cooldown
    skipped: dict[str, str] = field(default_factory=dict)  # rule -> reason
    errors: dict[str, str] = field(default_factory=dict)  # rule -> query error

    def summary(self) -> str:
        return (
            f"{len(self.raised)} raised, {len(self.suppressed)} suppressed by cooldown, "
            f"{len(self.skipped)} rule(s) skipped, {len(self.errors)} rule error(s)"
        )


def sync_rules(conn: psycopg.Connection, rules: Iterable[Rule] = RULES) -> None:
    """Add a row to ``ops.alert_rules`` for every rule that has none (operators' edits stay)."""
    with conn.transaction():
        for r in rules:
            conn.execute(
                "INSERT INTO ops.alert_rules (rule, severity, cooldown_seconds, relation, "
                "description) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (rule) DO NOTHING",
                (r.name, r.severity, DEFAULT_COOLDOWN_SECONDS, r.relation, r.description),
            )


def missing_inputs(conn: psycopg.Connection, rule: Rule) -> str | None:
    """Why the rule cannot run yet (its relation or columns are missing), or None."""
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (rule.relation,)).fetchone()[0]
    if not exists:
        return f"relation {rule.relation} does not exist yet"
    have = {
        r[0]
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attnum > 0 AND NOT attisdropped",
            (rule.relation,),
        )
    }
    missing = [c for c in rule.columns if c not in have]
    if missing:
        return f"{rule.relation} has no column {', '.join(missing)} yet"
    return None


def evaluate(
    conn: psycopg.Connection | None = None,
    *,
    rules: Sequence[str] | None = None,
    notifiers: Sequence[Notifier] | None = None,
    catalog: Sequence[Rule] = RULES,
) -> AlertReport:
    """Evaluate the enabled rules (all, or those named in ``rules``), raise and deliver alerts.

    ``conn`` defaults to a new pipeline-role connection; a given one is committed as the
    evaluation goes (each rule's query and each alert in a transaction of its own).
    ``notifiers`` defaults to ``[LogNotifier()]``; the ``ops.alerts`` row is written whatever
    the notifiers do.
    """
    from warehouse.db.connect import connect

    notifiers = [LogNotifier()] if notifiers is None else list(notifiers)
    selected = [r for r in catalog if rules is None or r.name in rules]
    unknown = set(rules or ()) - {r.name for r in catalog}
    if unknown:
        raise ValueError(f"unknown alert rule(s): {', '.join(sorted(unknown))}")
    own = conn is None
    conn = conn if conn is not None else connect("pipeline")
    report = AlertReport()
    try:
        sync_rules(conn, selected)
        settings = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT rule, severity, cooldown_seconds, enabled, params FROM ops.alert_rules "
                "WHERE rule = ANY(%s)",
                ([r.name for r in selected],),
            )
        }
        conn.commit()
        for rule in selected:
            severity, cooldown, enabled, overrides = settings[rule.name]
            if not enabled:
                report.skipped[rule.name] = "disabled in ops.alert_rules"
                continue
            why_not = missing_inputs(conn, rule)
            conn.commit()  # no implicit transaction open: each block below is its own
            if why_not:
                report.skipped[rule.name] = why_not
                continue
            params = {**rule.params, **(overrides or {})}
            try:
                with conn.transaction():
                    rows = conn.execute(rule.statement(), params).fetchall()
            except psycopg.Error as exc:
                report.errors[rule.name] = f"{type(exc).__name__}: {exc}".strip()
                continue
            for row in rows:
                alert = _raise(conn, rule, severity, cooldown, row)
                if alert is None:
                    report.suppressed.append((rule.name, str(row[0])))
                else:
                    report.raised.append(alert)
        for alert in report.raised:
            _deliver(conn, alert, notifiers)
        return report
    finally:
        if own:
            conn.close()


def _raise(
    conn: psycopg.Connection, rule: Rule, severity: str, cooldown: int, row: tuple
) -> Alert | None:
    """Insert the alert unless the same (rule, subject) was raised inside the cooldown."""
    subject = str(row[0])
    value = None if row[1] is None else float(row[1])
    details = dict(row[2]) if len(row) > 2 and row[2] is not None else {}
    with conn.transaction():
        # serialise concurrent evaluations of the same (rule, subject)
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{rule.name}\x1f{subject}",))
        recent = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM ops.alerts WHERE rule = %s AND subject = %s "
            "AND raised_at > now() - make_interval(secs => %s))",
            (rule.name, subject, cooldown),
        ).fetchone()[0]
        if recent:
            return None
        try:
            message = rule.message.format(
                rule=rule.name, subject=subject, value=value if value is not None else float("nan")
            )
        except (ValueError, KeyError, IndexError):
            message = f"{rule.name}: {subject} = {value}"
        alert_id, raised_at = conn.execute(
            "INSERT INTO ops.alerts (rule, severity, subject, value, message, details) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING alert_id, raised_at",
            (rule.name, severity, subject, value, message, Jsonb(details)),
        ).fetchone()
    return Alert(alert_id, rule.name, severity, subject, value, message, details, raised_at)


def _deliver(conn: psycopg.Connection, alert: Alert, notifiers: Sequence[Notifier]) -> None:
    delivery: dict[str, str] = {"table": "ok"}
    for n in notifiers:
        try:
            n.send(alert)
            delivery[n.name] = "ok"
        except Exception as exc:  # a notifier failing must not stop the others
            delivery[n.name] = f"{type(exc).__name__}: {exc}"
            LOG.warning("alert %s: notifier %s failed: %s", alert.alert_id, n.name, exc)
    with conn.transaction():
        conn.execute(
            "UPDATE ops.alerts SET delivery = %s WHERE alert_id = %s",
            (Jsonb(delivery), alert.alert_id),
        )


__all__ = [
    "RULES",
    "Alert",
    "AlertReport",
    "FileNotifier",
    "LogNotifier",
    "Notifier",
    "Rule",
    "WebhookNotifier",
    "evaluate",
    "missing_inputs",
    "notifiers_from_spec",
    "sync_rules",
]
