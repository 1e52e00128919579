-- 0009_dq_history: the history of data quality across loads, read from the ledger:
-- per load run and per export file, the rows read and the share rejected, by reason.
-- A view, so that it follows the ledger.

CREATE VIEW dq_history AS
WITH files AS (
    SELECT f.run_id, r.finished_at, f.file_id, f.path, f.entity, f.status, f.rows_read, f.rows_rejected
    FROM load_files f JOIN load_runs r USING (run_id)
),
-- Rows rejected for each reason: a row with two problems of one reason counts once,
-- a row with problems of two reasons under each; a file refused whole counts all its
-- rows under the reason of its one reject.
reasons AS (
    SELECT j.file_id, j.reason,
           CASE WHEN any_value(f.status) = 'failed' THEN any_value(f.rows_rejected) ELSE count(DISTINCT j.line) END AS rows_with_reason
    FROM rejects j JOIN files f USING (file_id)
    GROUP BY j.file_id, j.reason
),
by_file AS (
    SELECT 'file' AS level, f.run_id, f.finished_at, f.file_id, f.path, f.entity,
           f.rows_read, f.rows_rejected, x.reason, coalesce(x.rows_with_reason, 0) AS rows_with_reason
    FROM files f LEFT JOIN reasons x USING (file_id)
),
runs AS (
    SELECT r.run_id, r.finished_at, r.rows_read, r.rows_rejected FROM load_runs r
),
run_reasons AS (
    SELECT f.run_id, x.reason, sum(x.rows_with_reason) AS rows_with_reason
    FROM reasons x JOIN files f USING (file_id)
    GROUP BY f.run_id, x.reason
),
by_run AS (
    SELECT 'run' AS level, r.run_id, r.finished_at, NULL::INTEGER AS file_id, NULL::VARCHAR AS path, NULL::VARCHAR AS entity,
           r.rows_read, r.rows_rejected, x.reason, coalesce(x.rows_with_reason, 0) AS rows_with_reason
    FROM runs r LEFT JOIN run_reasons x USING (run_id)
)
SELECT level, run_id, finished_at, file_id, path, entity, rows_read, rows_rejected,
       rows_rejected / nullif(rows_read, 0) AS share_rejected,
       reason, rows_with_reason,
       rows_with_reason / nullif(rows_read, 0) AS share_with_reason
FROM (SELECT * FROM by_run UNION ALL SELECT * FROM by_file)
ORDER BY run_id, level = 'file', file_id NULLS FIRST, reason NULLS FIRST;

COMMENT ON VIEW dq_history IS 'Data quality across loads, from the ledger: one row per load run (level run) and per export file (level file) and reason of rejection, with the rows read and the share rejected; a run or file with no rejected row has one row with no reason.';
COMMENT ON COLUMN dq_history.level IS 'run: the totals of a load run; file: one export file of it.';
COMMENT ON COLUMN dq_history.run_id IS 'The load run (load_runs.run_id).';
COMMENT ON COLUMN dq_history.finished_at IS 'When the run committed (UTC): the time axis of the history.';
COMMENT ON COLUMN dq_history.file_id IS 'The export file (load_files.file_id); null on a run''s rows.';
COMMENT ON COLUMN dq_history.path IS 'Path of the export file as given to etl; null on a run''s rows.';
COMMENT ON COLUMN dq_history.entity IS 'Core table the file feeds; null on a run''s rows.';
COMMENT ON COLUMN dq_history.rows_read IS 'Data rows read from the file (or from every file of the run).';
COMMENT ON COLUMN dq_history.rows_rejected IS 'Rows rejected, for any reason.';
COMMENT ON COLUMN dq_history.share_rejected IS 'rows_rejected / rows_read; null when nothing was read.';
COMMENT ON COLUMN dq_history.reason IS 'Reason code of rejects.reason; null on the one row of a file or run with nothing rejected.';
COMMENT ON COLUMN dq_history.rows_with_reason IS 'Rows rejected with at least one problem of this reason (a row with problems of two reasons counts under each, so the reasons can add up to more than rows_rejected); for a file refused whole, all its rows.';
COMMENT ON COLUMN dq_history.share_with_reason IS 'rows_with_reason / rows_read: the share of the rows read rejected for this reason.';
