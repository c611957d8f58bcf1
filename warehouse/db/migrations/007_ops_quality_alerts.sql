-- Data-quality results and alerts (the orchestration issue).
-- ops.quality_results: one row per expectation of every Great Expectations suite run (the
-- Dagster asset checks in orchestration/checks/gx.py, suites in expectations/).
-- ops.alert_rules / ops.alerts: warehouse/alerts.py evaluates the rules (a SQL query per rule
-- over a named relation), suppresses repeats inside each rule's cooldown, writes every raised
-- alert here and hands it to the configured notifiers (log, file, webhook).

CREATE TABLE ops.quality_results (
    result_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    validation_id   uuid        NOT NULL,  -- one suite run: every expectation row of it shares this
    run_id          text,                  -- Dagster run id; null when run outside Dagster
    suite           text        NOT NULL,
    asset           text        NOT NULL,  -- Dagster asset key, e.g. 'raw/option_quotes'
    partition_date  date,                  -- the trading date validated; null = whole relation
    expectation     text        NOT NULL,  -- the suite's stable name for the expectation
    expectation_type text       NOT NULL,  -- GX type, e.g. 'expect_column_values_to_not_be_null'
    success         boolean     NOT NULL,
    observed_value  jsonb,
    details         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    blocking        boolean     NOT NULL DEFAULT false,
    severity        text        NOT NULL DEFAULT 'ERROR' CHECK (severity IN ('WARN', 'ERROR')),
    checked_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quality_results_suite_asset_idx ON ops.quality_results (suite, asset, checked_at DESC);
CREATE INDEX quality_results_validation_idx ON ops.quality_results (validation_id);
CREATE INDEX quality_results_failed_idx ON ops.quality_results (checked_at) WHERE NOT success;
COMMENT ON TABLE ops.quality_results IS
    'One row per expectation per suite run (Great Expectations 1.x, run as Dagster asset checks). '
    'A suite passed when every row of its validation_id has success; blocking suites stop the '
    'downstream assets of the run.';
COMMENT ON COLUMN ops.quality_results.observed_value IS
    'What GX observed (a count, a max, a share ...), as JSON; null for per-row expectations.';
COMMENT ON COLUMN ops.quality_results.details IS
    'GX result summary: element_count, unexpected_count, unexpected_percent, '
    'partial_unexpected_list and the expectation kwargs.';

CREATE TABLE ops.alert_rules (
    rule             text        PRIMARY KEY,
    severity         text        NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    cooldown_seconds integer     NOT NULL DEFAULT 300 CHECK (cooldown_seconds >= 0),
    enabled          boolean     NOT NULL DEFAULT true,
    relation         text        NOT NULL,  -- the relation the rule's query reads
    params           jsonb       NOT NULL DEFAULT '{}'::jsonb,  -- overrides of the rule's thresholds
    description      text,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.alert_rules IS
    'Alert rules (their queries live in warehouse/alerts.py; rows are added there when missing). '
    'Operators tune severity, cooldown, enabled and threshold params here.';

CREATE TABLE ops.alerts (
    alert_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule         text             NOT NULL REFERENCES ops.alert_rules (rule),
    severity     text             NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
    subject      text             NOT NULL,  -- what breached: an underlying, a suite, a portfolio
    value        double precision,
    message      text             NOT NULL,
    details      jsonb            NOT NULL DEFAULT '{}'::jsonb,
    raised_at    timestamptz      NOT NULL DEFAULT now(),
    delivery     jsonb            NOT NULL DEFAULT '{}'::jsonb,  -- notifier -> 'ok' | error text
    acknowledged_at timestamptz
);
CREATE INDEX alerts_rule_subject_idx ON ops.alerts (rule, subject, raised_at DESC);
CREATE INDEX alerts_raised_idx ON ops.alerts (raised_at DESC);
COMMENT ON TABLE ops.alerts IS
    'Raised alerts. A (rule, subject) is not raised again inside the rule''s cooldown_seconds.';
