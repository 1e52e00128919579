-- episode_followups: the follow-up after discharge (issue 16), one row per episode
-- discharged by the cutoff (deaths excepted: nobody can be reached) and horizon, 30, 90
-- and 180 days after discharge. A follow-up contact counts for a horizon N when it is
-- recorded N - w to N + w days after discharge (w: parameter followup_window_days); the
-- episode is due for it once the window has closed by the cutoff. A follow-up
-- observation with no episode_id (the loader links only those inside an episode's
-- dates) belongs to the patient's episode discharged last before it. It is a table
-- rebuilt over every episode on each rebuild, as kpis is, because whether an episode
-- is due moves with the cutoff; kpi_facts reads it.
CREATE OR REPLACE TABLE episode_followups AS
WITH d AS (
    SELECT o.episode_id, o.program_id, o.discharge_date, h.horizon_days,
           param_int('followup_window_days') AS w
    FROM episode_outcomes o, (VALUES (30), (90), (180)) h(horizon_days)
    WHERE o.discharge_date IS NOT NULL AND o.discharge_reason IS DISTINCT FROM 'died'
),
f AS (
    SELECT episode_id, obs_date, measure, value
    FROM observations
    WHERE measure IN ('followup_contact', 'followup_abstinent') AND episode_id IS NOT NULL
      AND obs_date <= param_date('cutoff')
    UNION ALL
    SELECT e.episode_id, x.obs_date, x.measure, x.value
    FROM (SELECT patient_key, obs_date, measure, value FROM observations
          WHERE measure IN ('followup_contact', 'followup_abstinent') AND episode_id IS NULL
            AND obs_date <= param_date('cutoff')) x
    ASOF JOIN (SELECT episode_id, patient_key, discharge_date FROM episode_outcomes WHERE discharge_date IS NOT NULL) e
      ON x.patient_key = e.patient_key AND x.obs_date > e.discharge_date
),
-- A recorded abstinence answer means the person was reached, whatever the contact
-- record says; with several answers in a window the last one counts.
per AS (
    SELECT d.episode_id, d.horizon_days,
           count(*) FILTER (WHERE f.measure = 'followup_contact') AS attempts,
           bool_or((f.measure = 'followup_contact' AND f.value = 'reached') OR f.measure = 'followup_abstinent') AS reached,
           arg_max(f.value, f.obs_date) FILTER (WHERE f.measure = 'followup_abstinent') AS abstinent
    FROM d
    JOIN f ON f.episode_id = d.episode_id
          AND date_diff('day', d.discharge_date, f.obs_date) BETWEEN d.horizon_days - d.w AND d.horizon_days + d.w
    GROUP BY d.episode_id, d.horizon_days
)
SELECT d.episode_id, d.program_id, d.discharge_date, d.horizon_days,
       d.discharge_date + d.horizon_days - d.w AS window_from,
       d.discharge_date + d.horizon_days + d.w AS window_to,
       d.discharge_date + d.horizon_days + d.w <= param_date('cutoff') AS due,
       coalesce(p.attempts, 0) AS attempts,
       coalesce(p.reached, false) AS reached,
       CASE p.abstinent WHEN 'yes' THEN true WHEN 'no' THEN false END AS abstinent
FROM d
LEFT JOIN per p USING (episode_id, horizon_days)
ORDER BY d.episode_id, d.horizon_days;

COMMENT ON TABLE episode_followups IS 'Follow-up after discharge: one row per episode discharged by the cutoff (not died) and horizon (30, 90, 180 days). An outcome among those reached is not an outcome of everyone discharged: read reached beside abstinent.';
COMMENT ON COLUMN episode_followups.episode_id IS 'The episode (episodes.episode_id).';
COMMENT ON COLUMN episode_followups.program_id IS 'Program of the episode.';
COMMENT ON COLUMN episode_followups.discharge_date IS 'Discharge date: day 0 of the follow-up; kpi_facts dates the follow-up measures by it.';
COMMENT ON COLUMN episode_followups.horizon_days IS 'Follow-up horizon N: 30, 90 or 180 days after discharge.';
COMMENT ON COLUMN episode_followups.window_from IS 'First day a contact counts for this horizon: discharge + N - followup_window_days.';
COMMENT ON COLUMN episode_followups.window_to IS 'Last day a contact counts for this horizon: discharge + N + followup_window_days.';
COMMENT ON COLUMN episode_followups.due IS 'The window closed by the cutoff (window_to <= cutoff): the episode is in the denominator of the follow-up measures.';
COMMENT ON COLUMN episode_followups.attempts IS 'followup_contact records in the window, reached or not.';
COMMENT ON COLUMN episode_followups.reached IS 'The person was reached in the window (a followup_contact reached, or a followup_abstinent answer): the response.';
COMMENT ON COLUMN episode_followups.abstinent IS 'Abstinent since discharge, as reported at the last answer in the window; null when not reached or not asked.';
