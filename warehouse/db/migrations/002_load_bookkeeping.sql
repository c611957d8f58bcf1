-- Every load attempt writes one report row; every loaded file one manifest row; every bad
-- record one quarantine row. Nothing read from a file is ever silently dropped.

CREATE TABLE raw.load_reports (
    load_id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source               text        NOT NULL,
    file_path            text        NOT NULL,
    file_sha256          text        NOT NULL,
    file_bytes           bigint      NOT NULL,
    status               text        NOT NULL
        CHECK (status IN ('loaded', 'skipped_already_loaded', 'failed')),
    started_at           timestamptz NOT NULL,
    finished_at          timestamptz NOT NULL DEFAULT now(),
    rows_read            bigint      NOT NULL DEFAULT 0,
    rows_loaded          bigint      NOT NULL DEFAULT 0,
    rows_duplicate       bigint      NOT NULL DEFAULT 0,
    rows_quarantined     bigint      NOT NULL DEFAULT 0,
    quarantined_by_reason jsonb      NOT NULL DEFAULT '{}'::jsonb,
    rows_by_table        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error                text,
    CHECK (rows_read = rows_loaded + rows_duplicate + rows_quarantined OR status <> 'loaded')
);
COMMENT ON TABLE raw.load_reports IS
    'One row per load attempt: read = loaded + duplicate (already in the warehouse) + quarantined.';

CREATE TABLE raw.file_manifest (
    source         text        NOT NULL,
    file_sha256    text        NOT NULL,
    file_identity  text        NOT NULL DEFAULT '',
    load_id        bigint      NOT NULL REFERENCES raw.load_reports (load_id),
    file_path      text        NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, file_sha256, file_identity)
);
COMMENT ON TABLE raw.file_manifest IS
    'Files loaded successfully, by content hash: loading the same bytes again is a no-op. '
    'file_identity is what a file means beyond its bytes, for formats whose path carries data '
    '(a Lean file''s symbol and date live in its path): empty for self-describing formats.';

CREATE TABLE raw.quarantine (
    quarantine_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    load_id        bigint      NOT NULL REFERENCES raw.load_reports (load_id),
    source         text        NOT NULL,
    target_table   text        NOT NULL,
    source_file    text        NOT NULL,
    line_no        bigint,
    reason         text        NOT NULL,
    reasons        text[]      NOT NULL,
    raw_record     text        NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_load_idx ON raw.quarantine (load_id);
CREATE INDEX quarantine_reason_idx ON raw.quarantine (reason);
COMMENT ON TABLE raw.quarantine IS
    'Rejected records with their source file, line (1-based, header = line 1) or row offset, '
    'the raw record as read, the first failing reason and all failing reasons.';
