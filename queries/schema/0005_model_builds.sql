-- Bookkeeping that lets a model rebuild recompute only the episodes a load changed.

CREATE TABLE model_builds (
    built_at        TIMESTAMP NOT NULL,
    mode            VARCHAR NOT NULL,
    reason          VARCHAR NOT NULL,
    through_file_id INTEGER NOT NULL,
    episodes        BIGINT NOT NULL,
    models_sha256   VARCHAR NOT NULL
);
COMMENT ON TABLE model_builds IS 'One row per model rebuild: whether it recomputed every episode (full) or only those the loads since the last rebuild could change (incremental), and why.';
COMMENT ON COLUMN model_builds.built_at IS 'When the rebuild ran (UTC).';
COMMENT ON COLUMN model_builds.mode IS 'full or incremental.';
COMMENT ON COLUMN model_builds.reason IS 'Why this mode: for a full rebuild, what made it necessary (first build, a parameter or the tool version changed, the cutoff moved back).';
COMMENT ON COLUMN model_builds.through_file_id IS 'The last load_files.file_id whose rows the models include.';
COMMENT ON COLUMN model_builds.episodes IS 'Episodes recomputed.';
COMMENT ON COLUMN model_builds.models_sha256 IS 'Fingerprint of the model SQL the rebuild ran; a different one makes the next rebuild full.';

CREATE TABLE model_pending (
    episode_id  VARCHAR,
    patient_key VARCHAR
);
COMMENT ON TABLE model_pending IS 'Episodes and patients whose loaded rows a later export replaced since the last model rebuild; the next rebuild recomputes them with every episode of their patients, then empties this table.';
COMMENT ON COLUMN model_pending.episode_id IS 'Episode of a replaced row, when the row had one.';
COMMENT ON COLUMN model_pending.patient_key IS 'Patient of a replaced row.';
