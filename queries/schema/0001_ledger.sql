-- 0001_ledger: the ingest ledger. Every committed run and every file it loaded is
-- recorded here, with the row accounting that must balance:
-- rows_read = rows_loaded + rows_rejected + rows_duplicate.

CREATE TABLE schema_migrations (
    version    INTEGER NOT NULL,
    name       VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
);
COMMENT ON TABLE schema_migrations IS 'Schema files applied to this database, one row each, in order.';
COMMENT ON COLUMN schema_migrations.version IS 'Number prefix of the schema file (queries/schema/NNNN_name.sql).';
COMMENT ON COLUMN schema_migrations.name IS 'Name of the schema file without number and extension.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When the file was applied (UTC).';

CREATE TABLE site_key (
    fingerprint VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
COMMENT ON TABLE site_key IS 'Fingerprint of the site key the pseudonyms in this database were made with. The key itself is kept outside the database; a load under a different key is refused.';
COMMENT ON COLUMN site_key.fingerprint IS 'HMAC-SHA256 of a fixed label under the site key, hex; identifies the key without revealing it.';
COMMENT ON COLUMN site_key.created_at IS 'When the first load under this key was committed (UTC).';

CREATE TABLE load_runs (
    run_id         INTEGER NOT NULL,
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP NOT NULL,
    tool_version   VARCHAR NOT NULL,
    profile        VARCHAR NOT NULL,
    files_loaded   INTEGER NOT NULL,
    files_failed   INTEGER NOT NULL,
    files_skipped  INTEGER NOT NULL,
    rows_read      BIGINT NOT NULL,
    rows_rejected  BIGINT NOT NULL,
    max_reject_rate DOUBLE NOT NULL
);
COMMENT ON TABLE load_runs IS 'One row per committed etl run. A run that fails commits nothing, so it leaves no row.';
COMMENT ON COLUMN load_runs.run_id IS 'Run number, increasing by one per committed run.';
COMMENT ON COLUMN load_runs.started_at IS 'When the run started (UTC).';
COMMENT ON COLUMN load_runs.finished_at IS 'When the run committed (UTC).';
COMMENT ON COLUMN load_runs.tool_version IS 'Version of the etl tool that made the run.';
COMMENT ON COLUMN load_runs.profile IS 'Source profile the files were read with (canonical is the project''s own layout).';
COMMENT ON COLUMN load_runs.files_loaded IS 'Files read and applied in this run.';
COMMENT ON COLUMN load_runs.files_failed IS 'Files refused whole (for example a missing required column); their rows are counted as rejected.';
COMMENT ON COLUMN load_runs.files_skipped IS 'Files skipped because a file with the same sha256 was loaded by an earlier run.';
COMMENT ON COLUMN load_runs.rows_read IS 'Data rows read from all files of the run.';
COMMENT ON COLUMN load_runs.rows_rejected IS 'Rows rejected in this run, with reasons in rejects.';
COMMENT ON COLUMN load_runs.max_reject_rate IS 'Reject rate above which the run would have failed and committed nothing.';

CREATE TABLE load_files (
    file_id        INTEGER NOT NULL,
    run_id         INTEGER NOT NULL,
    path           VARCHAR NOT NULL,
    sha256         VARCHAR NOT NULL,
    bytes          BIGINT NOT NULL,
    entity         VARCHAR NOT NULL,
    profile        VARCHAR NOT NULL,
    rows_read      BIGINT NOT NULL,
    rows_loaded    BIGINT NOT NULL,
    rows_inserted  BIGINT NOT NULL,
    rows_updated   BIGINT NOT NULL,
    rows_rejected  BIGINT NOT NULL,
    rows_duplicate BIGINT NOT NULL,
    status         VARCHAR NOT NULL,
    message        VARCHAR
);
COMMENT ON TABLE load_files IS 'One row per export file applied by a committed run. For every row rows_read = rows_loaded + rows_rejected + rows_duplicate; the run checks this before it commits.';
COMMENT ON COLUMN load_files.file_id IS 'File number, unique in the database; core rows point here through load_file_id.';
COMMENT ON COLUMN load_files.run_id IS 'The run (load_runs.run_id) that applied the file.';
COMMENT ON COLUMN load_files.path IS 'Path of the file as it was given to etl.';
COMMENT ON COLUMN load_files.sha256 IS 'SHA-256 of the file''s bytes, hex. A file whose hash is already here is skipped.';
COMMENT ON COLUMN load_files.bytes IS 'Size of the file in bytes.';
COMMENT ON COLUMN load_files.entity IS 'Core table the file feeds: programs, patients, episodes, sessions or observations.';
COMMENT ON COLUMN load_files.profile IS 'Source profile the file was read with.';
COMMENT ON COLUMN load_files.rows_read IS 'Data rows in the file (records after the header).';
COMMENT ON COLUMN load_files.rows_loaded IS 'Rows that were new or changed a record: rows_inserted + rows_updated.';
COMMENT ON COLUMN load_files.rows_inserted IS 'Rows that added a record not seen before.';
COMMENT ON COLUMN load_files.rows_updated IS 'Rows that replaced a record loaded earlier (the newer export wins).';
COMMENT ON COLUMN load_files.rows_rejected IS 'Rows refused, each with at least one row in rejects; for a failed file, all its rows, with one reject at line 1 saying why.';
COMMENT ON COLUMN load_files.rows_duplicate IS 'Rows that changed nothing: a repeat of an earlier row of the same file, or identical to the record already loaded.';
COMMENT ON COLUMN load_files.status IS 'loaded, or failed when the whole file was refused (see message).';
COMMENT ON COLUMN load_files.message IS 'Why a failed file was refused, and what to do.';

CREATE TABLE rejects (
    run_id   INTEGER NOT NULL,
    file_id  INTEGER NOT NULL,
    file     VARCHAR NOT NULL,
    line     BIGINT NOT NULL,
    "column" VARCHAR,
    value    VARCHAR,
    reason   VARCHAR NOT NULL,
    message  VARCHAR NOT NULL
);
COMMENT ON TABLE rejects IS 'One row per problem found in an export row; a row with two problems has two rows here. Patient and clinician identifiers appear only as their pseudonyms.';
COMMENT ON COLUMN rejects.run_id IS 'The run that read the row.';
COMMENT ON COLUMN rejects.file_id IS 'The file (load_files.file_id) that held the row.';
COMMENT ON COLUMN rejects.file IS 'Path of the file, as given to etl.';
COMMENT ON COLUMN rejects.line IS 'Record number in the file counting the header as line 1 (equal to the text line unless a quoted field spans lines).';
COMMENT ON COLUMN rejects."column" IS 'Column of the export the problem is in; null when it concerns the whole row.';
COMMENT ON COLUMN rejects.value IS 'The offending value as read (identifiers replaced by their pseudonym); null when the value was empty.';
COMMENT ON COLUMN rejects.reason IS 'Reason code: missing_value, bad_type, bad_date, unknown_code, out_of_range, discharge_before_admission, session_outside_episode, unknown_episode, unknown_patient, unknown_program, patient_mismatch, ambiguous_episode, duplicate_key, malformed_row (the row is not CSV of the header''s shape), missing_column and malformed_file (the whole file was refused; one row at line 1).';
COMMENT ON COLUMN rejects.message IS 'What is wrong and what to do about it, in words.';
