-- kpi_facts: the facts the quarterly measures are summed from, one row per episode
-- (or per session for attendance) and measure, dated by the day that places it in a
-- period: admission measures by the admission date, end-of-treatment measures by the
-- discharge date, attendance by the session's date. kpis sums them by quarter; the report sums
-- them over any window. A rate whose follow-up has not elapsed by the cutoff leaves the
-- episode out. It is a view so that it always follows the model tables; it reads the
-- cutoff, access_target_days and satisfied_min_score from analysis_parameters.
-- Measures that are not a count over a count (medians of days to access, the mean
-- satisfaction score) are the values of the view kpi_values (0036) instead.
-- episode_id, last, lets a fact be broken down by the episode's patient
-- (kpis_by_group); kpis and the report sum over it.
CREATE OR REPLACE VIEW kpi_facts AS
WITH o AS (
    SELECT o.*, (SELECT CAST(value AS DATE) FROM analysis_parameters WHERE name = 'cutoff') AS cutoff,
           (SELECT CAST(value AS INTEGER) FROM analysis_parameters WHERE name = 'access_target_days') AS access_target,
           (SELECT CAST(value AS INTEGER) FROM analysis_parameters WHERE name = 'satisfied_min_score') AS satisfied_min
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
-- Symptom measures (issue 16) among episodes discharged with a baseline and a later
-- score (remission: with a baseline at or above its threshold); measured: the
-- instrument was used at all during the episode, among all discharged episodes.
SELECT program_id, discharge_date, m.measure, m.v::INTEGER, 1, episode_id
FROM o, LATERAL (VALUES ('phq9_response', phq9_response), ('phq9_remission', phq9_remission),
                        ('gad7_response', gad7_response), ('gad7_remission', gad7_remission)) m(measure, v)
WHERE discharge_date IS NOT NULL AND m.v IS NOT NULL
UNION ALL
SELECT program_id, discharge_date, 'phq9_measured', (phq9_scores > 0)::INTEGER, 1, episode_id FROM o WHERE discharge_date IS NOT NULL
UNION ALL
SELECT program_id, discharge_date, 'gad7_measured', (gad7_scores > 0)::INTEGER, 1, episode_id FROM o WHERE discharge_date IS NOT NULL
UNION ALL
-- Follow-up after discharge: the response (reached / due) and, among those reached
-- with an answer, abstinence; both dated by the discharge (episode_followups).
SELECT program_id, discharge_date, 'followup_contact_' || horizon_days, reached::INTEGER, 1, episode_id
FROM episode_followups WHERE due
UNION ALL
SELECT program_id, discharge_date, 'followup_abstinent_' || horizon_days, abstinent::INTEGER, 1, episode_id
FROM episode_followups WHERE due AND abstinent IS NOT NULL
UNION ALL
-- Access, dated by the admission: admitted within the target of the referral (among
-- episodes with a referral date), and a first attended session within the target of
-- admission (among episodes admitted at least the target before the cutoff; one with
-- no attended session is not within it).
SELECT program_id, admit_date, 'referral_within_target', (days_referral_to_admission <= access_target)::INTEGER, 1, episode_id
FROM o WHERE days_referral_to_admission IS NOT NULL
UNION ALL
SELECT program_id, admit_date, 'first_session_within_target', coalesce(first_attended_day <= access_target, false)::INTEGER, 1, episode_id
FROM o WHERE admit_date + access_target <= cutoff
UNION ALL
-- Satisfaction, dated by the discharge: the response (a CSQ-8 score / discharged, not
-- died) and the share satisfied (CSQ-8 at or above satisfied_min_score / those scored).
SELECT program_id, discharge_date, 'satisfaction_response', (csq8_score IS NOT NULL)::INTEGER, 1, episode_id
FROM o WHERE discharge_date IS NOT NULL AND discharge_reason IS DISTINCT FROM 'died'
UNION ALL
SELECT program_id, discharge_date, 'satisfied', (csq8_score >= satisfied_min)::INTEGER, 1, episode_id
FROM o WHERE discharge_date IS NOT NULL AND discharge_reason IS DISTINCT FROM 'died' AND csq8_score IS NOT NULL
UNION ALL
SELECT o.program_id, s.session_date, 'attendance_rate', (s.status = 'attended')::INTEGER,
       (s.status IN ('attended', 'no_show', 'cancelled_by_patient'))::INTEGER, episode_id
FROM sessions s JOIN o USING (episode_id)
WHERE s.session_date BETWEEN o.admit_date AND least(coalesce(o.discharge_date, o.cutoff), o.cutoff);

COMMENT ON VIEW kpi_facts IS 'The facts the measures of kpis are summed from: one row per episode (per session for attendance) and measure, dated by the day that places it in a period. Sum num and den over any window of fact_date for that window''s measure; retention rows hold the simple share, which kpis and the report replace by the Kaplan-Meier estimate.';
COMMENT ON COLUMN kpi_facts.episode_id IS 'The episode the fact belongs to (for attendance_rate, the session''s episode), so that a fact can be broken down by the episode''s patient (kpis_by_group).';

-- kpi_quarter_facts: the facts of kpi_facts placed in their calendar quarter (q, its
-- first day), with the census of each quarter (every episode active at any time in it)
-- as facts of its own: what kpis sums by program and kpis_by_group by group.
-- Like kpi_facts, a view reads the cutoff from analysis_parameters itself: the macros
-- exist only on the connection of a rebuild, and the view is read from any.
CREATE OR REPLACE VIEW kpi_quarter_facts AS
WITH cutoff AS (
    SELECT CAST(value AS DATE) AS d FROM analysis_parameters WHERE name = 'cutoff'
),
quarters AS (
    SELECT unnest(generate_series(
        (SELECT date_trunc('quarter', min(admit_date)) FROM episode_outcomes),
        date_trunc('quarter', (SELECT d FROM cutoff)),
        INTERVAL 3 MONTH))::DATE AS q
)
SELECT program_id, CAST(date_trunc('quarter', fact_date) AS DATE) AS q, measure, num, den, episode_id FROM kpi_facts
UNION ALL
SELECT o.program_id, quarters.q, 'census', 1, NULL, o.episode_id
FROM episode_outcomes o JOIN quarters
  ON o.admit_date < quarters.q + INTERVAL 3 MONTH
 AND coalesce(o.discharge_date, (SELECT d FROM cutoff)) >= quarters.q;

COMMENT ON VIEW kpi_quarter_facts IS 'The facts of kpi_facts by calendar quarter (q: its first day), with the census of each quarter (one row per episode active at any time in it): what kpis and kpis_by_group sum.';
COMMENT ON COLUMN kpi_quarter_facts.program_id IS 'Program of the episode.';
COMMENT ON COLUMN kpi_quarter_facts.q IS 'First day of the calendar quarter the fact falls in.';
COMMENT ON COLUMN kpi_quarter_facts.measure IS 'The measure (kpis.measure), census included.';
COMMENT ON COLUMN kpi_quarter_facts.num IS 'The fact''s part of the numerator (of the count, for a count).';
COMMENT ON COLUMN kpi_quarter_facts.den IS 'The fact''s part of the denominator; null for a count.';
COMMENT ON COLUMN kpi_quarter_facts.episode_id IS 'The episode the fact is of.';
