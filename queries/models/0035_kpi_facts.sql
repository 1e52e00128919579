-- kpi_facts: the facts the quarterly measures are summed from, one row per episode
-- (or per session for attendance) and measure, dated by the day that places it in a
-- period: admission measures by the admission date, end-of-treatment measures by the
-- discharge date, attendance by the session's date. kpis sums them by quarter; the report sums
-- them over any window. A rate whose follow-up has not elapsed by the cutoff leaves the
-- episode out. It is a view so that it always follows the model tables; it reads the
-- cutoff from analysis_parameters. episode_id, last, lets a fact be broken down by
-- the episode's patient (kpis_by_group); kpis and the report sum over it.
CREATE OR REPLACE VIEW kpi_facts AS
WITH o AS (
    SELECT o.*, (SELECT CAST(value AS DATE) FROM analysis_parameters WHERE name = 'cutoff') AS cutoff
    FROM episode_outcomes o
)
SELECT program_id, admit_date AS fact_date, 'admissions' AS measure, 1 AS num, NULL::INTEGER AS den, episode_id FROM o
UNION ALL
SELECT program_id, discharge_date, 'discharges', 1, NULL, episode_id FROM o WHERE discharge_date IS NOT NULL
UNION ALL
SELECT program_id, discharge_date, 'completion_rate', (discharge_reason = 'completed')::INTEGER, 1, episode_id
FROM o WHERE discharge_date IS NOT NULL
UNION ALL
-- Placeholders: the models runner and the report replace the retention rates by
-- Kaplan-Meier estimates over the same episodes (pipeline/models RetentionEstimate).
SELECT program_id, admit_date, 'retention_' || n, (NOT (dropout_event AND retention_days < n))::INTEGER, 1, episode_id
FROM o, (VALUES (30), (60), (90)) v(n)
WHERE admit_date + n <= cutoff
UNION ALL
SELECT program_id, admit_date, 'initiation', initiated::INTEGER, 1, episode_id FROM o WHERE admit_date + 14 <= cutoff
UNION ALL
SELECT program_id, admit_date, 'engagement', engaged::INTEGER, 1, episode_id FROM o WHERE admit_date + 48 <= cutoff
UNION ALL
SELECT program_id, discharge_date, 'relapse_rate', relapse_event::INTEGER, 1, episode_id
FROM o WHERE discharge_date IS NOT NULL AND relapse_event IS NOT NULL
UNION ALL
SELECT program_id, discharge_date, 'readmission_30', readmit_30::INTEGER, 1, episode_id FROM o WHERE readmit_30 IS NOT NULL
UNION ALL
SELECT program_id, discharge_date, 'readmission_90', readmit_90::INTEGER, 1, episode_id FROM o WHERE readmit_90 IS NOT NULL
UNION ALL
SELECT program_id, discharge_date, 'phq9_reliable_improvement', phq9_reliable_improvement::INTEGER, 1, episode_id
FROM o WHERE discharge_date IS NOT NULL AND phq9_reliable_improvement IS NOT NULL
UNION ALL
SELECT program_id, discharge_date, 'gad7_reliable_improvement', gad7_reliable_improvement::INTEGER, 1, episode_id
FROM o WHERE discharge_date IS NOT NULL AND gad7_reliable_improvement IS NOT NULL
UNION ALL
SELECT o.program_id, s.session_date, 'attendance_rate', (s.status = 'attended')::INTEGER,
       (s.status IN ('attended', 'no_show', 'cancelled_by_patient'))::INTEGER, episode_id
FROM sessions s JOIN o USING (episode_id)
WHERE s.session_date BETWEEN o.admit_date AND least(coalesce(o.discharge_date, o.cutoff), o.cutoff);

COMMENT ON VIEW kpi_facts IS 'The facts the measures of kpis are summed from: one row per episode (per session for attendance) and measure, dated by the day that places it in a period. Sum num and den over any window of fact_date for that window''s measure; retention rows hold the simple share, which kpis and the report replace by the Kaplan-Meier estimate.';
COMMENT ON COLUMN kpi_facts.episode_id IS 'The episode the fact belongs to (for attendance_rate, the session''s episode), so that a fact can be broken down by the episode''s patient (kpis_by_group).';
